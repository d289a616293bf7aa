"""Health checks: `/healthz` for monitoring the whole shop, `/healthz/web` for a load balancer.

`/healthz` answers 200 with JSON when the database answers and, with Redis configured, Redis
answers and the timer's due sweep succeeded within the last two BILLING_SWEEP_MINUTES
intervals (`observability.sweeps`); otherwise 503 with the failing check named. Point an
alert at it: a stopped cron or a dead billing worker means nobody is charged.

`/healthz/web` checks only what this web process needs to serve pages (database, Redis), so
a load balancer does not take every web server out of rotation because the timer stopped.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from storefront.extensions import db, services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks, extra = _serving_checks(), {}
    config = current_app.config["STOREFRONT"]
    if config.redis_url and checks.get("redis") == "ok":
        checks["timer"], extra = _timer_status(config)
    return _answer(checks, **extra)


@bp.get("/healthz/web")
def healthz_web():
    return _answer(_serving_checks())


def _serving_checks() -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a health check
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    redis_url = current_app.config["STOREFRONT"].redis_url
    if redis_url:
        checks["redis"] = _redis_status(redis_url)
    return checks


def _answer(checks: dict[str, str], **extra):
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "error", checks=checks, **extra), 200 if healthy else 503


def _connect(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis_status(url: str) -> str:
    try:
        _connect(url).ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


def _timer_status(config) -> tuple[str, dict]:
    from redis.exceptions import RedisError

    from storefront.observability.sweeps import timer_health

    try:
        health = timer_health(
            _connect(config.redis_url), now=services().clock.now(), interval_minutes=config.billing_sweep_minutes
        )
    except RedisError as exc:
        return f"error: {type(exc).__name__}", {}
    last = health.last_sweep
    return health.detail, {"last_sweep_at": last.at.isoformat() if last else None}
