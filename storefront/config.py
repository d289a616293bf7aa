"""Settings from the environment, checked once at start.

`load_config(environ)` turns a mapping (normally ``os.environ`` after ``.env`` was
loaded by the entry point) into a frozen :class:`Config`, or raises
:class:`ConfigError` whose message is one line naming the bad variable. Nothing in
here reads the environment at import time, and there are no default secrets: in
development the run command writes generated ones into ``.env``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

APP_ENVS = ("development", "testing", "production")
LOG_FORMATS = ("text", "json")
TOSS_ENVS = ("sandbox", "test", "live")
TOSS_PRODUCTION_API = "https://api.tosspayments.com"
TOSS_PRODUCTION_SDK = "https://js.tosspayments.com/v2/standard"
SANDBOX_DEFAULT_URL = "http://127.0.0.1:5055"
# Where `make run` starts the embedded Redis when REDIS_URL is unset in development.
EMBEDDED_REDIS_URL = "redis://127.0.0.1:6390/0"
# Keys the sandbox accepts; they only ever work against the local sandbox.
SANDBOX_CLIENT_KEY = "test_ck_sandbox0000000000000000000"
SANDBOX_SECRET_KEY = "test_sk_sandbox0000000000000000000"

# Where Toss sends webhooks from (toss-api.md §8.1); TOSS_WEBHOOK_ALLOWED_IPS=toss selects them.
TOSS_WEBHOOK_IPS = ("13.124.18.147", "13.124.108.35", "3.36.173.151", "3.38.81.32")

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class BusinessInfo:
    """The seller's legal identity, shown in every page's footer and every email."""

    name: str  # 상호
    representative: str  # 대표자
    registration_number: str  # 사업자등록번호 (000-00-00000)
    mail_order_number: str  # 통신판매업 신고번호, e.g. 제2026-서울강남-01234호
    mail_order_office: str  # the office that issued it, e.g. 서울특별시 강남구청
    address: str  # 사업장 주소
    phone: str  # a landline, never a mobile number
    email: str
    hosting_provider: str  # 호스팅 제공자
    privacy_officer: str  # 개인정보 보호책임자
    ftc_info_url: str  # 공정위 사업자정보 확인 link
    support_hours: str
    # Optional: vendors that send email / SMS for us (개인정보 처리위탁, listed in the privacy policy)
    mail_vendor: str = ""
    sms_vendor: str = ""


@dataclass(frozen=True)
class Config:
    app_env: str
    secret_key: str = field(repr=False)
    database_url: str = field(repr=False)
    redis_url: str | None
    encryption_key: bytes = field(repr=False)
    old_encryption_keys: tuple[bytes, ...] = field(repr=False)
    toss_env: str
    toss_client_key: str
    toss_secret_key: str = field(repr=False)
    toss_api_base: str
    toss_sdk_url: str
    smtp_url: str | None = field(repr=False)
    mail_from: str
    site_url: str
    business: BusinessInfo
    billing_hour_kst: int = 10
    dunning_days: tuple[int, ...] = (1, 3, 5)
    dunning_final_status: str = "unpaid"
    renewal_notice_days: int = 7
    toss_calls_per_minute: int = 600
    login_rate_limit: str = "5 per minute;20 per hour"
    password_hash_cheap: bool = False
    toss_webhook_allowed_ips: tuple[str, ...] = ()  # empty: webhooks accepted from any address
    trusted_proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-* headers are believed
    webhook_rate_limit: str = "120 per minute"  # per sender address
    webhook_retention_days: int = 30  # ignored deliveries are deleted after this many days
    worker_heartbeat_seconds: int = 10  # a worker silent for 3 beats holds no job (storefront/liveness.py)
    reconcile_grace_seconds: int = 600  # an attempt this old is no longer on the wire
    billing_sweep_minutes: int = 5  # the timer's due sweep interval; /healthz fails after two without a sweep
    log_format: str = "text"  # text | json (one JSON object per line, with request and job ids)
    metrics_allowed_networks: tuple[str, ...] = ()  # who may read /metrics besides signed-in admins
    sentry_dsn: str | None = field(default=None, repr=False)  # errors reported to Sentry when set
    # Where product images uploaded from the admin are stored (served at /media/products/<name>)
    product_image_dir: Path = ROOT / "instance" / "product-images"
    # The Toss reviewer's account (flask seed demo creates it); the 준비 상태 page checks it
    reviewer_email: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def development(self) -> bool:
        return self.app_env == "development"

    @property
    def testing(self) -> bool:
        return self.app_env == "testing"

    @property
    def encryption_key_id(self) -> str:
        return key_id(self.encryption_key)


def key_id(key: bytes) -> str:
    """A short, stable, non-secret name for an encryption key (stored beside each seal)."""
    return hashlib.sha256(b"storefront-key-id:" + key).hexdigest()[:12]


def _hex_key(name: str, value: str) -> bytes:
    if not _HEX64.match(value or ""):
        raise ConfigError(f"{name}: must be 64 hex characters (32 bytes); `flask keys generate` prints one")
    return bytes.fromhex(value)


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be between {lo} and {hi}, got {value}")
    return value


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many

    raw = (env.get(name) or "").strip() or default
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f'{name}: a rate limit such as "120 per minute" or "10/second;600/hour", got {raw!r}'
        ) from None
    return raw


def _business(env: Mapping[str, str]) -> BusinessInfo:
    fields = {
        "name": "BUSINESS_NAME",
        "representative": "BUSINESS_REPRESENTATIVE",
        "registration_number": "BUSINESS_REGISTRATION_NUMBER",
        "mail_order_number": "BUSINESS_MAIL_ORDER_NUMBER",
        "mail_order_office": "BUSINESS_MAIL_ORDER_OFFICE",
        "address": "BUSINESS_ADDRESS",
        "phone": "BUSINESS_PHONE",
        "email": "BUSINESS_EMAIL",
        "hosting_provider": "BUSINESS_HOSTING_PROVIDER",
        "privacy_officer": "BUSINESS_PRIVACY_OFFICER",
    }
    values = {}
    for attr, var in fields.items():
        value = (env.get(var) or "").strip()
        if not value:
            raise ConfigError(f"{var}: required (shown in the footer Toss reviewers check)")
        values[attr] = value
    if not re.fullmatch(r"\d{3}-\d{2}-\d{5}", values["registration_number"]):
        raise ConfigError("BUSINESS_REGISTRATION_NUMBER: must look like 123-45-67890")
    if re.match(r"^01[016789]", values["phone"].replace("-", "")):
        raise ConfigError("BUSINESS_PHONE: must be a landline (card companies reject mobile numbers)")
    digits = values["registration_number"].replace("-", "")
    values["ftc_info_url"] = (env.get("BUSINESS_FTC_INFO_URL") or "").strip() or (
        f"https://www.ftc.go.kr/bizCommPop.do?wrkr_no={digits}"
    )
    values["support_hours"] = (env.get("BUSINESS_SUPPORT_HOURS") or "").strip() or "평일 10:00–18:00 (점심 12:00–13:00)"
    values["mail_vendor"] = (env.get("BUSINESS_MAIL_VENDOR") or "").strip()
    values["sms_vendor"] = (env.get("BUSINESS_SMS_VENDOR") or "").strip()
    return BusinessInfo(**values)


def _image_dir(env: Mapping[str, str]) -> Path:
    raw = (env.get("PRODUCT_IMAGE_DIR") or "").strip()
    path = Path(raw) if raw else ROOT / "instance" / "product-images"
    path = path if path.is_absolute() else ROOT / path
    if path.exists() and not path.is_dir():
        raise ConfigError(f"PRODUCT_IMAGE_DIR: {path} exists and is not a directory")
    return path


def _reviewer_email(env: Mapping[str, str]) -> str:
    """SEED_REVIEWER_EMAIL, else toss-review@<the domain of BUSINESS_EMAIL> (what `flask seed demo` uses)."""
    given = (env.get("SEED_REVIEWER_EMAIL") or "").strip().lower()
    domain = (env.get("BUSINESS_EMAIL") or "").strip().rpartition("@")[2].lower() or "example.com"
    return given or f"toss-review@{domain}"


def _webhook_ips(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = (env.get("TOSS_WEBHOOK_ALLOWED_IPS") or "").strip()
    if raw.lower() == "toss":
        return TOSS_WEBHOOK_IPS
    ips = tuple(part.strip() for part in raw.split(",") if part.strip())
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ConfigError(f"TOSS_WEBHOOK_ALLOWED_IPS: {ip!r} is not an IP address (or use the word toss)") from None
    return ips


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, normalised (``10.0.0.0/8``, ``127.0.0.1/32``)."""
    raw = (env.get(name) or "").strip()
    networks = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _log_format(env: Mapping[str, str]) -> str:
    value = (env.get("LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT: must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value


def _sentry_dsn(env: Mapping[str, str]) -> str | None:
    dsn = (env.get("SENTRY_DSN") or "").strip()
    if not dsn:
        return None
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
        raise ConfigError("SENTRY_DSN: must look like https://<key>@<host>/<project> (copy it from Sentry)")
    return dsn


def _toss(env: Mapping[str, str], app_env: str) -> dict:
    toss_env = env.get("TOSS_ENV") or ("sandbox" if app_env != "production" else "")
    if toss_env not in TOSS_ENVS:
        raise ConfigError(f"TOSS_ENV: must be one of {', '.join(TOSS_ENVS)}, got {toss_env!r}")
    client_key = env.get("TOSS_CLIENT_KEY") or (SANDBOX_CLIENT_KEY if toss_env == "sandbox" else "")
    secret_key = env.get("TOSS_SECRET_KEY") or (SANDBOX_SECRET_KEY if toss_env == "sandbox" else "")
    prefix = "live" if toss_env == "live" else "test"
    if not client_key.startswith(f"{prefix}_ck_"):
        raise ConfigError(f"TOSS_CLIENT_KEY: must start with {prefix}_ck_ when TOSS_ENV={toss_env}")
    if not secret_key.startswith(f"{prefix}_sk_"):
        raise ConfigError(f"TOSS_SECRET_KEY: must start with {prefix}_sk_ when TOSS_ENV={toss_env}")
    if toss_env == "sandbox":
        api_base = env.get("TOSS_API_BASE") or SANDBOX_DEFAULT_URL
        parts = urlsplit(api_base)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("TOSS_API_BASE: in sandbox mode must point at the local sandbox (127.0.0.1)")
        sdk_url = env.get("TOSS_SDK_URL") or f"{api_base.rstrip('/')}/v2/standard"
    else:
        api_base = env.get("TOSS_API_BASE") or TOSS_PRODUCTION_API
        parts = urlsplit(api_base)
        if parts.scheme != "https" or parts.hostname in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"TOSS_API_BASE: must be an https Toss URL when TOSS_ENV={toss_env}")
        sdk_url = env.get("TOSS_SDK_URL") or TOSS_PRODUCTION_SDK
        if not sdk_url.startswith("https://"):
            raise ConfigError(f"TOSS_SDK_URL: must be https when TOSS_ENV={toss_env}")
    return dict(
        toss_env=toss_env,
        toss_client_key=client_key,
        toss_secret_key=secret_key,
        toss_api_base=api_base.rstrip("/"),
        toss_sdk_url=sdk_url,
    )


def load_config(env: Mapping[str, str], **overrides) -> Config:
    """Build and check the configuration; raise ConfigError naming the first bad variable."""
    app_env = env.get("APP_ENV") or "development"
    if app_env not in APP_ENVS:
        raise ConfigError(f"APP_ENV: must be one of {', '.join(APP_ENVS)}, got {app_env!r}")
    secret_key = env.get("SECRET_KEY") or ""
    if len(secret_key) < 32:
        raise ConfigError(
            "SECRET_KEY: required, at least 32 characters (`python -c 'import secrets;print(secrets.token_hex(32))'`)"
        )
    encryption_key = _hex_key("ENCRYPTION_KEY", env.get("ENCRYPTION_KEY", ""))
    old_keys = tuple(
        _hex_key("ENCRYPTION_KEYS_OLD", part.strip())
        for part in (env.get("ENCRYPTION_KEYS_OLD") or "").split(",")
        if part.strip()
    )
    database_url = env.get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'storefront.db'}"
    if database_url.startswith("postgres://") or database_url.startswith("postgresql://"):
        raise ConfigError("DATABASE_URL: use the postgresql+psycopg:// scheme")
    toss = _toss(env, app_env)
    if app_env == "production" and toss["toss_env"] == "sandbox":
        raise ConfigError("TOSS_ENV: the sandbox is not allowed with APP_ENV=production")
    final_status = env.get("DUNNING_FINAL_STATUS") or "unpaid"
    if final_status not in ("unpaid", "canceled"):
        raise ConfigError("DUNNING_FINAL_STATUS: must be unpaid or canceled")
    dunning_raw = env.get("DUNNING_RETRY_DAYS") or "1,3,5"
    try:
        dunning = tuple(int(x) for x in dunning_raw.split(","))
    except ValueError:
        raise ConfigError("DUNNING_RETRY_DAYS: comma-separated whole days, e.g. 1,3,5") from None
    if not dunning or sorted(dunning) != list(dunning) or dunning[0] < 1:
        raise ConfigError("DUNNING_RETRY_DAYS: increasing whole days of at least 1, e.g. 1,3,5")
    smtp_url = env.get("SMTP_URL") or None
    if app_env == "production" and not smtp_url:
        raise ConfigError(
            "SMTP_URL: required in production (receipts, failure and consent notices must reach shoppers)"
        )
    if smtp_url and urlsplit(smtp_url).scheme not in ("smtp", "smtps"):
        raise ConfigError("SMTP_URL: must look like smtp://user:pass@host:587 or smtps://...")
    values = dict(
        app_env=app_env,
        secret_key=secret_key,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or (EMBEDDED_REDIS_URL if app_env == "development" else None),
        encryption_key=encryption_key,
        old_encryption_keys=old_keys,
        smtp_url=smtp_url,
        mail_from=env.get("MAIL_FROM") or env.get("BUSINESS_EMAIL") or "",
        site_url=(env.get("SITE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        business=_business(env),
        billing_hour_kst=_int(env, "BILLING_HOUR_KST", 10, 0, 23),
        dunning_days=dunning,
        dunning_final_status=final_status,
        renewal_notice_days=_int(env, "RENEWAL_NOTICE_DAYS", 7, 1, 60),
        toss_calls_per_minute=_int(env, "TOSS_CALLS_PER_MINUTE", 600, 1, 100000),
        login_rate_limit=env.get("LOGIN_RATE_LIMIT") or "5 per minute;20 per hour",
        toss_webhook_allowed_ips=_webhook_ips(env),
        trusted_proxy_hops=_int(env, "TRUSTED_PROXY_HOPS", 0, 0, 5),
        webhook_rate_limit=_rate_limit(env, "WEBHOOK_RATE_LIMIT", "120 per minute"),
        webhook_retention_days=_int(env, "WEBHOOK_IGNORED_RETENTION_DAYS", 30, 1, 3650),
        worker_heartbeat_seconds=_int(env, "WORKER_HEARTBEAT_SECONDS", 10, 1, 60),
        # Above the Toss client's 65 s read timeout, so nothing still on the wire is looked up.
        reconcile_grace_seconds=_int(env, "BILLING_RECONCILE_GRACE_SECONDS", 600, 90, 86400),
        billing_sweep_minutes=_int(env, "BILLING_SWEEP_MINUTES", 5, 1, 1440),
        log_format=_log_format(env),
        metrics_allowed_networks=_networks(env, "METRICS_ALLOWED_IPS"),
        sentry_dsn=_sentry_dsn(env),
        product_image_dir=_image_dir(env),
        reviewer_email=_reviewer_email(env),
        **toss,
    )
    values.update(overrides)
    return Config(**values)
