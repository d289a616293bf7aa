"""Builds the app's collaborators (clock, Toss client, vault, notifier) in one place.

With REDIS_URL configured, every call to Toss goes through the shared per-minute budget
(`storefront.ratelimit`): workers wait for a slot, web requests may use the reserve.
Without Redis (most tests) the client is used as is.
"""

from __future__ import annotations

from typing import Any

from storefront.clock import SystemClock
from storefront.config import Config
from storefront.extensions import Services


def build_services(config: Config, *, clock: Any = None, toss: Any = None, jinja_env: Any = None) -> Services:
    """`jinja_env` is the app's (for the email templates); without it the notifier builds its own."""
    from storefront.billing.wallet.vault import Vault
    from storefront.notify import Notifier
    from storefront.toss.client import TossClient

    clock = clock or SystemClock()
    if toss is None:
        toss = TossClient(config.toss_api_base, config.toss_secret_key, on_call=_latency_recorder(config))
    if config.redis_url:
        toss = rate_limited(toss, config.redis_url, config)
    vault = Vault(config.encryption_key, config.old_encryption_keys)
    notifier = Notifier(jinja_env, config)
    return Services(clock=clock, toss=toss, vault=vault, notifier=notifier)


def _latency_recorder(config: Config) -> Any:
    """Toss call latency into the Redis-kept histogram /metrics shows (none without Redis)."""
    from storefront.observability.toss_calls import LatencyRecorder

    return LatencyRecorder(config.redis_url) if config.redis_url else None


def rate_limited(toss: Any, redis_url: str, config: Config) -> Any:
    """`toss` behind the Redis-shared TOSS_CALLS_PER_MINUTE budget; web requests may use the reserve."""
    from flask import has_request_context

    from storefront.ratelimit import RateLimitedToss, limiter_for

    limiter = limiter_for(redis_url, config.toss_calls_per_minute)
    return RateLimitedToss(toss, limiter, interactive=has_request_context)
