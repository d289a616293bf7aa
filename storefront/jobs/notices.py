"""Notice jobs: sending outbox rows, and the timed sweeps that queue consent requests and renewal notices.

A charge job enqueues delivery of the outbox rows its settlement queued right after it
commits (their ids collected by `CollectingNotifier`); `deliver_pending_job` (every minute)
catches anything whose job was lost. Retries with an interval are run by the RQ scheduler, so start
workers with the scheduler (`flask worker` does; `rq worker --with-scheduler` by hand).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rq import Queue, Retry, get_current_job
from rq.job import Job

from storefront.config import Config
from storefront.extensions import db, services
from storefront.jobs.as_of import parse_as_of
from storefront.jobs.process import _app
from storefront.jobs.queues import DELIVERY_RETRY_INTERVALS, NOTICES_QUEUE, get_queue

log = logging.getLogger("storefront.jobs")


def deliver_message_job(message_id: int) -> str:
    """Send one outbox row (at most once); raises on a send error so RQ retries it."""
    with _app().app_context():
        found = services()
        status = found.notifier.deliver(db.session(), int(message_id), now=found.clock.now())
    log.info("message %s -> %s", message_id, status)
    return status


def deliver_pending_job() -> int:
    """Deliver queued rows whose job never ran (lost enqueue, Redis flushed, retries spent)."""
    with _app().app_context():
        found = services()
        count = found.notifier.deliver_pending(db.session(), now=found.clock.now())
    log.info("delivered %s pending message(s)", count)
    return count


# -- enqueueing notices ----------------------------------------------------------------------------


def enqueue_delivery(queue: Queue, message_id: int) -> Job:
    """Enqueue `deliver_message_job` with back-off retries; call after the commit."""
    return queue.enqueue(
        deliver_message_job,
        int(message_id),
        retry=Retry(max=len(DELIVERY_RETRY_INTERVALS), interval=list(DELIVERY_RETRY_INTERVALS)),
        description=f"deliver outbox message {int(message_id)}",
    )


# -- consent requests and renewal notices (billing/compliance/consent.py, notices.py) ------------------


def consent_requests_job(as_of: str | None = None) -> int:
    """Queue due consent requests, reminders and trial advance notices, then enqueue their delivery.

    `as_of` (ISO-8601, sandbox only) runs the sweep as if it were that moment.
    """
    with _app().app_context():
        from storefront.billing.compliance import consent

        notifier, clock, config = _notice_collaborators(as_of)
        count = consent.send_due_requests(db.session(), notifier=notifier, clock=clock, config=config)
        _enqueue_collected(notifier)
    log.info("%s consent message(s) queued", count)
    return count


def renewal_notices_job(as_of: str | None = None) -> int:
    """Queue due renewal notices (D-7; yearly also D-30), then enqueue their delivery."""
    with _app().app_context():
        from storefront.billing.compliance import notices

        notifier, clock, config = _notice_collaborators(as_of)
        count = notices.send_renewal_notices(db.session(), notifier=notifier, clock=clock, config=config)
        _enqueue_collected(notifier)
    log.info("%s renewal notice(s) queued", count)
    return count


class CollectingNotifier:
    """Forwards `queue` to the app's notifier and remembers the rows it added, to deliver after the commit."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.message_ids: list[int] = []

    def queue(self, session, **kwargs):
        rows = self.inner.queue(session, **kwargs)
        self.message_ids.extend(row.id for row in rows)
        return rows


def _notice_collaborators(as_of: str | None):
    from flask import current_app

    from storefront.clock import FixedClock

    found, config = services(), current_app.config["STOREFRONT"]
    moment = parse_as_of(as_of, config)
    clock = FixedClock(moment) if moment is not None else found.clock
    return CollectingNotifier(found.notifier), clock, config


def _enqueue_collected(notifier: CollectingNotifier) -> None:
    """Deliver what the sweep queued (its commits are done): on this job's queue, or by the pending sweep."""
    job = get_current_job()
    if job is None:
        return
    queue = Queue(job.origin, connection=job.connection)
    for message_id in notifier.message_ids:
        enqueue_delivery(queue, message_id)


def enqueue_deliveries(queue: Queue, message_ids: Iterable[int]) -> list[Job]:
    return [enqueue_delivery(queue, message_id) for message_id in message_ids]


def enqueue_pending_sweep(config: Config) -> None:
    queue = get_queue(NOTICES_QUEUE, config)
    if queue is not None:
        queue.enqueue(deliver_pending_job, description="deliver notices queued by reconcile")
