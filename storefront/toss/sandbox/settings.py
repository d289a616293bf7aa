"""The sandbox's knobs: keys, state file, latency, injected faults, rate limit, webhooks.

`SandboxSettings` is frozen; `from_env` reads the `SANDBOX_*` variables for the process
and `with_changes` validates a runtime change (`POST /_sandbox/settings`). Faults and
latency apply to `/v1/*` only, never to `/_sandbox/*`. Rates are probabilities in
[0, 1] drawn from one random generator seeded by `seed`, so a run can be repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from collections.abc import Mapping

# The repository root (storefront/toss/sandbox/settings.py is three folders down).
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DB = ROOT / "instance" / "sandbox.db"
# The keys a sandbox accepts when none are configured. The store's config uses the same two
# values as its TOSS_* defaults in sandbox mode (a test keeps them equal); they only ever work
# against a local sandbox.
SANDBOX_CLIENT_KEY = "test_ck_sandbox0000000000000000000"
SANDBOX_SECRET_KEY = "test_sk_sandbox0000000000000000000"
# Fields a running sandbox refuses to change (its identity and its state file).
FIXED_FIELDS = ("secret_key", "client_key", "db_path")


class SettingsError(ValueError):
    """A setting is invalid; the message names it."""


@dataclass(frozen=True)
class SandboxSettings:
    secret_key: str = field(default=SANDBOX_SECRET_KEY, repr=False)
    client_key: str = SANDBOX_CLIENT_KEY
    db_path: str = str(DEFAULT_DB)
    # Every /v1/* answer waits latency_ms plus a uniform random 0..jitter_ms.
    latency_ms: int = 0
    jitter_ms: int = 0
    # Share of POST/DELETE /v1/* requests answered 500 FAILED_INTERNAL_SYSTEM_PROCESSING (nothing done).
    fail_rate: float = 0.0
    # Share of POST/DELETE /v1/* requests carried out, then answered only after timeout_delay_ms.
    timeout_rate: float = 0.0
    timeout_delay_ms: int = 65_000
    # Share of POST/DELETE /v1/* requests carried out, then the connection is cut before the answer.
    drop_rate: float = 0.0
    seed: int | None = None
    # Toss's test environment style limit: N requests per minute per API endpoint, else 429.
    rate_limit: bool = False
    rate_limit_per_minute: int = 100
    # Where webhooks go (None: none are sent); retries follow Toss's schedule divided by the factor.
    webhook_url: str | None = None
    webhook_time_factor: float = 1.0
    webhook_timeout_ms: int = 10_000
    mid: str = "tsandbox"
    api_version: str = "2024-06-01"
    # Settlements (GET /v1/settlements): the merchant's card fee, VAT included, as a fraction of
    # each amount (0.032 = 3.2%), fixed on a payment when it is approved; and how many days after
    # the sale (soldDate, daily settlement) Toss pays out (paidOutDate; calendar days here).
    fee_rate: float = 0.032
    payout_days: int = 2

    def __post_init__(self) -> None:
        _check(self)

    def with_changes(self, changes: Mapping[str, Any]) -> SandboxSettings:
        """A copy with `changes` (snake_case or camelCase names) applied; SettingsError if invalid."""
        known = {f.name for f in fields(self)}
        normalized: dict[str, Any] = {}
        for name, value in changes.items():
            attr = _snake(name)
            if attr not in known:
                raise SettingsError(f"{name}: unknown setting")
            if attr in FIXED_FIELDS:
                raise SettingsError(f"{name}: cannot be changed while the sandbox runs")
            normalized[attr] = _coerce(attr, value)
        return replace(self, **normalized)

    def public(self) -> dict[str, Any]:
        """The settings as JSON (camelCase), without the secret key."""
        data = asdict(self)
        data.pop("secret_key")
        return {_camel(k): v for k, v in data.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> SandboxSettings:
        """Settings from `SANDBOX_*` variables (e.g. SANDBOX_FAIL_RATE=0.1).

        The keys default to the store's TOSS_* keys when TOSS_ENV=sandbox, so one `.env`
        serves both processes, and otherwise to the well-known sandbox keys. Webhooks go to
        SANDBOX_WEBHOOK_URL, else to the store's `{SITE_URL}/webhooks/toss` when SITE_URL is
        set; SANDBOX_WEBHOOK_URL=off sends none.
        """
        values: dict[str, Any] = {}
        sandbox_mode = (env.get("TOSS_ENV") or "sandbox") == "sandbox"
        for f in fields(cls):
            raw = env.get("SANDBOX_" + ("DB" if f.name == "db_path" else f.name.upper()))
            if raw in (None, ""):
                if f.name in ("secret_key", "client_key") and sandbox_mode:
                    raw = env.get("TOSS_" + f.name.upper()) or None
                if raw in (None, ""):
                    continue
            try:
                values[f.name] = _coerce(f.name, raw)
            except SettingsError as exc:
                raise SettingsError(f"SANDBOX_{f.name.upper()}: {exc}") from None
        values.setdefault("webhook_url", _default_webhook_url(env))
        if values["webhook_url"] in ("off", "none"):
            values["webhook_url"] = None
        values.update(overrides)
        return cls(**values)


def _default_webhook_url(env: Mapping[str, str]) -> str | None:
    site = (env.get("SITE_URL") or "").rstrip("/")
    return f"{site}/webhooks/toss" if site else None


_FLOATS = ("fail_rate", "timeout_rate", "drop_rate", "webhook_time_factor", "fee_rate")
_INTS = ("latency_ms", "jitter_ms", "timeout_delay_ms", "rate_limit_per_minute", "webhook_timeout_ms", "payout_days")


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        if name in ("seed", "webhook_url"):
            return None
        raise SettingsError(f"{name}: must not be null")
    try:
        if name in _FLOATS:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if name in _INTS or name == "seed":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if name == "rate_limit":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: invalid value {value!r}") from None
    if name == "db_path":
        return str(Path(value))
    if not isinstance(value, str):
        raise SettingsError(f"{name}: must be a string")
    return value


def _check(s: SandboxSettings) -> None:
    for name in ("fail_rate", "timeout_rate", "drop_rate"):
        if not 0.0 <= getattr(s, name) <= 1.0:
            raise SettingsError(f"{name}: must be between 0 and 1")
    if s.fail_rate + s.timeout_rate + s.drop_rate > 1.0:
        raise SettingsError("fail_rate + timeout_rate + drop_rate: must not exceed 1")
    for name in _INTS:
        if getattr(s, name) < 0:
            raise SettingsError(f"{name}: must not be negative")
    if s.rate_limit_per_minute < 1:
        raise SettingsError("rate_limit_per_minute: must be at least 1")
    if not 0.0 <= s.fee_rate < 0.5:
        raise SettingsError("fee_rate: must be a fraction between 0 and 0.5 (e.g. 0.032 for 3.2%)")
    if s.payout_days > 60:
        raise SettingsError("payout_days: must be at most 60")
    if s.webhook_time_factor <= 0:
        raise SettingsError("webhook_time_factor: must be positive")
    if s.webhook_url is not None and not s.webhook_url.startswith(("http://", "https://")):
        raise SettingsError("webhook_url: must be an http(s) URL")
    if not s.secret_key.startswith("test_sk_"):
        raise SettingsError("secret_key: must start with test_sk_")
    if not s.client_key.startswith("test_ck_"):
        raise SettingsError("client_key: must start with test_ck_")


def _snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
