"""`/healthz`: 200 with JSON when the database (and Redis, when configured) answer."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from storefront.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a health check
        checks["database"] = f"error: {type(exc).__name__}"
    redis_url = current_app.config["STOREFRONT"].redis_url
    if redis_url:
        checks["redis"] = _redis_status(redis_url)
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "error", checks=checks), 200 if healthy else 503


def _redis_status(url: str) -> str:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
