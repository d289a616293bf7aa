"""The queues jobs run on, in the order a worker serves them, and the Redis connection they live in."""

from __future__ import annotations

from redis import Redis
from rq import Queue, get_current_job

from storefront.config import Config
from storefront.jobs.process import _config

WEBHOOKS_QUEUE = "webhooks"
BILLING_QUEUE = "billing"
NOTICES_QUEUE = "notices"
DEFAULT_QUEUE = "default"
# The order a worker serves its queues in: webhooks (one Toss look-up each; a merchant's dashboard
# cancel shows up when it is done) and notices are quick, and a shopper may be waiting for one.
QUEUES = (WEBHOOKS_QUEUE, NOTICES_QUEUE, BILLING_QUEUE, DEFAULT_QUEUE)

# Seconds before each retry of a failed delivery: 10 s, 30 s, 2 min, 10 min, 30 min.
DELIVERY_RETRY_INTERVALS = (10, 30, 120, 600, 1800)
# A charge may wait for a rate-limit slot (≤ 2 min), then Toss (≤ 65 s read, 409 re-asks ≤ 15 s).
CHARGE_JOB_TIMEOUT = 360
# A worker whose heartbeat is older than this holds nothing (`liveness`): three of `flask worker`'s beats.
DEFAULT_HEARTBEAT_SECONDS = 10
DEFAULT_ALIVE_WITHIN = 3 * DEFAULT_HEARTBEAT_SECONDS


# -- Redis -----------------------------------------------------------------------------------------


def redis_connection(config: Config | None = None) -> Redis | None:
    """The running job's Redis connection, else one to REDIS_URL; None when Redis is not configured."""
    job = get_current_job()
    if job is not None:
        return job.connection
    config = config or _config()
    return Redis.from_url(config.redis_url) if config.redis_url else None


def get_queue(name: str = NOTICES_QUEUE, config: Config | None = None) -> Queue | None:
    """The named queue on the configured Redis (inside an app context), or None without Redis."""
    connection = redis_connection(config)
    return Queue(name, connection=connection) if connection is not None else None
