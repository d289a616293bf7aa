"""Hand notices queued by a committed request to the RQ workers; without Redis they wait in the outbox."""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app


def enqueue_notices(message_ids: Iterable[int]) -> None:
    """Enqueue delivery of these outbox rows (call after the commit).

    With no REDIS_URL (tests, a bare `flask run`) the rows stay ``queued`` for
    `flask outbox deliver` or the pending sweep; a Redis that does not answer is logged
    and changes nothing for the shopper, for the same reason.
    """
    ids = [int(i) for i in message_ids]
    redis_url = current_app.config["STOREFRONT"].redis_url
    if not ids or not redis_url:
        return
    try:
        from redis import Redis
        from rq import Queue

        from storefront.jobs import enqueue_delivery

        queue = Queue(connection=Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2))
        for message_id in ids:
            enqueue_delivery(queue, message_id)
    except Exception as exc:  # noqa: BLE001 - the outbox sweep delivers what was not enqueued
        current_app.logger.warning("notices %s left in the outbox: %s", ids, type(exc).__name__)
