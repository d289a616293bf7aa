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
