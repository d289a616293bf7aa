"""RQ entry points: thin wrappers that get the app, open an app context and call the domain.

Jobs take ints and strings only and are safe to run twice. `_app()` is the one place a
worker builds the app: lazily, once per process, from the environment — `.env` in the
repository root is loaded first (values already in the environment win), so an `rq worker`
started by hand sees the same settings as `flask run`. Tests point it elsewhere by setting
the environment (DATABASE_URL, SMTP_URL, ...) before the job runs.

Notice delivery: `enqueue_delivery(queue, message_id)` after the transaction that queued
the message has committed; `deliver_message_job` sends it; `deliver_pending_job` is the
periodic sweep for rows whose job was lost. Retries with an interval are run by the RQ
scheduler, so start workers with `rq worker --with-scheduler`.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from flask import Flask
from rq import Queue, Retry, get_current_job
from rq.job import Job

from storefront.config import ROOT
from storefront.extensions import db, services

log = logging.getLogger("storefront.jobs")

# Seconds before each retry of a failed delivery: 10 s, 30 s, 2 min, 10 min, 30 min.
DELIVERY_RETRY_INTERVALS = (10, 30, 120, 600, 1800)

_built: tuple[int, Flask] | None = None  # (pid that owns the DB pool, app)


def _app() -> Flask:
    """The worker's app, built on first use in this process from the environment (+ .env).

    After a fork (a forking `rq worker` whose parent built the app) the pooled database
    connections belong to the parent; the child drops them from its pool without closing
    them, as SQLAlchemy recommends, and opens its own.
    """
    global _built
    pid = os.getpid()
    if _built is None:
        from dotenv import load_dotenv

        from storefront import create_app

        load_dotenv(ROOT / ".env", override=False)
        _built = (pid, create_app())
    elif _built[0] != pid:
        app = _built[1]
        with app.app_context():
            db.engine.dispose(close=False)
        _built = (pid, app)
    return _built[1]


def _job_tag() -> str:
    job = get_current_job()
    return f"job {job.id}" if job is not None else "no job"


def deliver_message_job(message_id: int) -> str:
    """Send one outbox row (at most once); raises on a send error so RQ retries it."""
    with _app().app_context():
        found = services()
        status = found.notifier.deliver(db.session, int(message_id), now=found.clock.now())
    log.info("%s: message %s -> %s", _job_tag(), message_id, status)
    return status


def deliver_pending_job() -> int:
    """Deliver queued rows whose job never ran (lost enqueue, Redis flushed, retries spent)."""
    with _app().app_context():
        found = services()
        count = found.notifier.deliver_pending(db.session, now=found.clock.now())
    log.info("%s: delivered %s pending message(s)", _job_tag(), count)
    return count


def enqueue_delivery(queue: Queue, message_id: int) -> Job:
    """Enqueue `deliver_message_job` with back-off retries; call after the commit."""
    return queue.enqueue(
        deliver_message_job,
        int(message_id),
        retry=Retry(max=len(DELIVERY_RETRY_INTERVALS), interval=list(DELIVERY_RETRY_INTERVALS)),
        description=f"deliver outbox message {int(message_id)}",
    )


# -- consent requests and renewal notices (billing/consent.py, billing/notices.py) -----------------

def consent_requests_job(as_of: str | None = None) -> int:
    """Queue due consent requests, reminders and trial advance notices, then enqueue their delivery.

    `as_of` (ISO-8601, sandbox only) runs the sweep as if it were that moment.
    """
    with _app().app_context():
        from storefront.billing import consent

        notifier, clock, config = _notice_collaborators(as_of)
        count = consent.send_due_requests(db.session, notifier=notifier, clock=clock, config=config)
        _enqueue_collected(notifier)
    log.info("%s: %s consent message(s) queued", _job_tag(), count)
    return count


def renewal_notices_job(as_of: str | None = None) -> int:
    """Queue due renewal notices (D-7; yearly also D-30), then enqueue their delivery."""
    with _app().app_context():
        from storefront.billing import notices

        notifier, clock, config = _notice_collaborators(as_of)
        count = notices.send_renewal_notices(db.session, notifier=notifier, clock=clock, config=config)
        _enqueue_collected(notifier)
    log.info("%s: %s renewal notice(s) queued", _job_tag(), count)
    return count


class _CollectingNotifier:
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
    clock = found.clock
    if as_of:
        if config.toss_env != "sandbox":
            raise ValueError("as_of is allowed only with TOSS_ENV=sandbox")
        clock = FixedClock(datetime.fromisoformat(as_of))
    return _CollectingNotifier(found.notifier), clock, config


def _enqueue_collected(notifier: _CollectingNotifier) -> None:
    """Deliver what the sweep queued (its commits are done): on this job's queue, or by the pending sweep."""
    job = get_current_job()
    if job is None:
        return
    queue = Queue(job.origin, connection=job.connection)
    for message_id in notifier.message_ids:
        enqueue_delivery(queue, message_id)
