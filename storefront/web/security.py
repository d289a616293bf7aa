"""Security headers, the Content-Security-Policy, and safe redirects."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, current_app, request


def safe_next_url(target: str | None, default: str = "/") -> str:
    """Return `target` only if it is a path on this site; otherwise `default`.

    A netloc check alone is not enough (`\\\\evil.com`, `/\\evil.com` and `//evil.com`
    are all read by browsers as other hosts), so require exactly one leading slash,
    no backslash and no control characters anywhere.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@lru_cache(maxsize=8)  # the same two settings on every answer: built once per process
def content_security_policy(sdk_url: str, api_base: str) -> str:
    sdk_origin = _origin(sdk_url)
    # The SDK opens Toss's window in an iframe/popup served from Toss's own hosts.
    frame_origins = " ".join(sorted({_origin(api_base), "https://*.tosspayments.com", sdk_origin}))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {sdk_origin}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {sdk_origin} https://*.tosspayments.com",
            f"frame-src {frame_origins}",
            "frame-ancestors 'none'",
            "form-action 'self' https://*.tosspayments.com " + _origin(api_base),
            "base-uri 'self'",
            "object-src 'none'",
        ]
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_ONE_TIME_KEYS = re.compile(r"(authKey=)[^&\s\"]+")
# The tokens of emailed links (비밀번호 찾기, 가입 확인) are in their paths.
_LINK_TOKENS = re.compile(r"(/(?:password/reset|signup/confirm)/)[^/?&\s\"]+")


class RedactAuthKeys(logging.Filter):
    """Access-log lines without Toss's one-time authKey (it arrives in /billing/success's query string)
    and without the tokens of emailed account links."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "authKey=" in message or "/password/reset/" in message or "/signup/confirm/" in message:
            message = _LINK_TOKENS.sub(r"\1[redacted]", _ONE_TIME_KEYS.sub(r"\1[redacted]", message))
            record.msg, record.args = message, ()
        return True


def install_access_log_redaction() -> None:
    """Attach the filter to the development server's and gunicorn's access loggers (once per process)."""
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactAuthKeys) for f in logger.filters):
            logger.addFilter(RedactAuthKeys())


def register(app: Flask) -> None:
    install_access_log_redaction()

    @app.after_request
    def set_headers(response):
        config = current_app.config["STOREFRONT"]
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", content_security_policy(config.toss_sdk_url, config.toss_api_base)
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if not (config.development or config.testing):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint and not request.endpoint.startswith(("shop.", "legal.", "static")):
            headers.setdefault("Cache-Control", "no-store")
        return response
