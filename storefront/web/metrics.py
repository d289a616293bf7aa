"""`GET /metrics`: the shop's figures in Prometheus' text format (`observability.collector`).

Readable by a signed-in admin, or from an address in METRICS_ALLOWED_IPS (the Prometheus
server); everyone else gets 403. The address is `client_ip()`, so behind nginx it is the real
client's (TRUSTED_PROXY_HOPS). Every figure is read at scrape time from the database and the
shared Redis, so any one web process answers for the whole shop, whatever machine it is on.
"""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, abort, current_app
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis import Redis

from storefront.extensions import client_ip, db, services

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    if not _allowed():
        abort(403)
    from storefront import jobs
    from storefront.observability.collector import StoreCollector

    config = current_app.config["STOREFRONT"]
    redis = Redis.from_url(config.redis_url, socket_timeout=2, socket_connect_timeout=2) if config.redis_url else None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db.session(), redis, now=services().clock.now(), queues=jobs.QUEUES))
    return Response(
        generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    )


def _allowed() -> bool:
    networks = current_app.config["STOREFRONT"].metrics_allowed_networks
    if networks:
        try:
            address = ipaddress.ip_address(client_ip())
        except ValueError:
            address = None
        if address is not None and any(address in ipaddress.ip_network(n) for n in networks):
            return True
    return bool(current_user.is_authenticated and current_user.is_admin)
