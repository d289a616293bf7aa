"""Optional error reporting to Sentry (SENTRY_DSN), with what must never leave us scrubbed.

Off unless SENTRY_DSN is set. Then `create_app` starts `sentry-sdk` in every process that
builds the app (gunicorn workers, `flask worker` and its jobs, `flask cron`): unhandled errors
and ERROR log lines (with their tracebacks) become events; INFO lines become breadcrumbs.

Before anything is sent, `Scrubber` rewrites the whole event (and every breadcrumb):

- values under keys that name secrets or personal data (``billing_key``, ``authKey``,
  ``email``, ``password``, ``authorization``, ...) become ``[Filtered]``;
- in every string: this shop's own secrets (TOSS_SECRET_KEY and its Basic token, SECRET_KEY,
  ENCRYPTION_KEY(S), passwords in DATABASE_URL / REDIS_URL / SMTP_URL), billing keys in
  ``/v1/billing/<key>`` paths, one-time ``authKey=`` values, the tokens of emailed links,
  email addresses, and long opaque tokens (20+ characters mixing upper case, lower case and
  digits: the shape of a billing key) are replaced.

Also (sentry-sdk's ``data_collection``): no local variables with stack frames (a charge's frame
holds the plaintext billing key), no request bodies, no cookies, no user identity or IP, no SQL
parameters.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable
from urllib.parse import urlsplit

from storefront.config import Config

if TYPE_CHECKING:  # sentry-sdk is imported only when SENTRY_DSN is set
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

FILTERED = "[Filtered]"
DENY_KEYS = frozenset(
    {
        "billing_key",
        "billingkey",
        "authkey",
        "auth_key",
        "secret_key",
        "secretkey",
        "encryption_key",
        "sealed",
        "password",
        "passwd",
        "authorization",
        "cookie",
        "set-cookie",
        "email",
        "customer_email",
        "customeremail",
        "customer_name",
        "customername",
        "customer_mobile_phone",
        "customermobilephone",
        "phone",
        "to",
        "x-forwarded-for",
        "x-real-ip",
    }
)
_BILLING_PATH = re.compile(r"(/v1/billing/)(?!authorizations/)[^/\s?#\"']+")
_AUTH_KEY = re.compile(r"(authKey=)[^&\s\"']+")
_LINK_TOKENS = re.compile(r"(/(?:password/reset|signup/confirm)/)[^/?&\s\"']+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_T = r"[A-Za-z0-9_=-]"
_OPAQUE = re.compile(rf"(?<!{_T})(?={_T}*\d)(?={_T}*[a-z])(?={_T}*[A-Z]){_T}{{20,}}")


class Scrubber:
    """Rewrites Sentry events and breadcrumbs (see the module docstring); `secrets` are literal values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, FILTERED)
        value = _BILLING_PATH.sub(r"\1" + FILTERED, value)
        value = _AUTH_KEY.sub(r"\1" + FILTERED, value)
        value = _LINK_TOKENS.sub(r"\1" + FILTERED, value)
        value = _EMAIL.sub(FILTERED, value)
        return _OPAQUE.sub(FILTERED, value)

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (FILTERED if isinstance(k, str) and k.lower() in DENY_KEYS and v not in (None, "") else self.walk(v))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            # Sentry sends headers as [name, value] pairs in some places.
            if len(value) == 2 and isinstance(value[0], str) and value[0].lower() in DENY_KEYS:
                return [value[0], FILTERED]
            return [self.walk(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def before_send(self, event: Event, hint: Hint) -> Event:
        return self.walk(event)

    def before_breadcrumb(self, crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
        return self.walk(crumb)


def secrets_of(config: Config) -> list[str]:
    """Every literal secret of this configuration that could end up in a message or a URL."""
    found = [
        config.toss_secret_key,
        config.secret_key,
        config.encryption_key.hex(),
        *(key.hex() for key in config.old_encryption_keys),
    ]
    found.append(base64.b64encode(f"{config.toss_secret_key}:".encode()).decode())
    for url in (config.database_url, config.redis_url, config.smtp_url):
        password = urlsplit(url).password if url else None
        if password:
            found.append(password)
    return found


def init_error_reporting(config: Config, *, transport: Any = None) -> bool:
    """Start sentry-sdk when SENTRY_DSN is set; True if it was started. `transport` is for tests."""
    if not config.sentry_dsn:
        return False
    import sentry_sdk

    scrubber = Scrubber(secrets_of(config))
    sentry_sdk.init(
        dsn=config.sentry_dsn,
        environment=f"{config.app_env}-{config.toss_env}",
        # No user identity, cookies, request bodies, SQL parameters or stack-frame locals (a charge's
        # frame holds the plaintext billing key); headers and query strings pass the scrubber below.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        before_send=scrubber.before_send,
        before_breadcrumb=scrubber.before_breadcrumb,
        transport=transport,
    )
    return True
