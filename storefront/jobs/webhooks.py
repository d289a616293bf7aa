"""Webhook jobs: acting on Toss's deliveries off the request, the sweep for lost ones, the purge.

`POST /webhooks/toss` records a delivery and enqueues `process_webhook_job` on the
``webhooks`` queue (`enqueue_webhook`); `webhook_sweep_job` (every minute) processes events
whose job was lost and retries errors; `purge_webhooks_job` (daily) deletes old ignored
deliveries.
"""

from __future__ import annotations

import logging

from rq import Queue
from rq.job import Job

from storefront.extensions import db, services
from storefront.jobs.process import _app, _config

log = logging.getLogger("storefront.jobs")


def enqueue_webhook(queue: Queue, event_id: int) -> Job:
    """Enqueue `process_webhook_job` for a recorded event (idempotent: a second run finds it done)."""
    return queue.enqueue(
        process_webhook_job,
        int(event_id),
        job_timeout=120,
        result_ttl=3600,
        description=f"process webhook event {int(event_id)}",
    )


def process_webhook_job(event_id: int) -> str:
    """Act on one recorded Toss webhook (`webhook_events.process_safely`); returns its status afterwards."""
    from storefront.billing.toss_sync import webhook_events

    with _app().app_context():
        found = services()
        event = webhook_events.process_safely(db.session(), int(event_id), toss=found.toss, clock=found.clock)
        status = event.status if event is not None else "missing"
    log.info("webhook event %s -> %s", event_id, status)
    return status


def webhook_sweep_job() -> int:
    """Process webhook events whose job was lost (still 'received' after a minute) and retry errors; how many."""
    from storefront.billing.toss_sync import webhook_events

    with _app().app_context():
        found = services()
        ids = webhook_events.pending_ids(db.session(), now=found.clock.now())
        for event_id in ids:
            webhook_events.process_safely(db.session(), event_id, toss=found.toss, clock=found.clock)
    log.info("webhook sweep: %s event(s) processed", len(ids))
    return len(ids)


def purge_webhooks_job() -> int:
    """Delete ignored webhook deliveries older than WEBHOOK_IGNORED_RETENTION_DAYS; returns how many."""
    from storefront.billing.toss_sync import webhook_events

    with _app().app_context():
        count = webhook_events.purge_ignored(
            db.session(), now=services().clock.now(), keep_days=_config().webhook_retention_days
        )
    log.info("webhook purge: %s ignored delivery(ies) deleted", count)
    return count
