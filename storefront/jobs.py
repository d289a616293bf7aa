"""RQ entry points: thin wrappers that get the app, open an app context and call the domain.

Jobs take ints and strings only and are safe to run twice. `_app()` is the one place a
worker builds the app: lazily, once per process, from the environment — `.env` in the
repository root is loaded first (values already in the environment win), so an `rq worker`
started by hand sees the same settings as `flask run`. Tests point it elsewhere by setting
the environment (DATABASE_URL, SMTP_URL, ...) before the job runs, or hand it an app with
`adopt_app`.

Billing: the timer (`storefront.cron`) enqueues `sweep_due_job` every few minutes; it lists
the due subscriptions (an indexed query) and enqueues one `charge_subscription_job` per
subscription period under a deterministic job id (``charge-<subscription>-<due epoch>``), so
overlapping or repeated sweeps do not pile up jobs. The job id is only a courtesy: the
unique Charge per period and the subscription row lock in `billing.recurring.charging` are what make
a period charged exactly once, whatever Redis holds. `--as-of` (sandbox only) travels as an
ISO string and becomes a `FixedClock` in the worker. `reconcile_job`, `settle_refunds_job`,
`retention_job` and `deliver_pending_job` are the other timed jobs.

Liveness: whether a period's job is already waiting or running is read from facts in Redis
(`storefront.liveness`), so a job lost with a dead worker is replaced by the next sweep; a
period whose Attempt is open is left to `reconcile_job`, which enqueues a sweep at once when
it finds that the payment never happened. One period's trouble never stops a sweep.

Webhooks: `POST /webhooks/toss` records a delivery and enqueues `process_webhook_job` on the
``webhooks`` queue; `webhook_sweep_job` (every minute) processes events whose job was lost
and retries errors; `purge_webhooks_job` (daily) deletes old ignored deliveries.

Notices: a charge job enqueues delivery of the outbox rows its settlement queued for the
subscriber right after it commits; `deliver_pending_job` (every minute) catches anything
whose job was lost. Retries with an interval are run by the RQ scheduler, so start workers
with the scheduler (`flask worker` does; `rq worker --with-scheduler` by hand).

Every log line a job writes carries its job id (`JobIdFilter`, installed on the worker's
handler by `install_job_logging`).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from flask import Flask
from redis import Redis
from rq import Queue, Retry, get_current_job
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import DuplicateJobError
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront import liveness
from storefront.clock import KST, FixedClock
from storefront.config import ROOT, Config
from storefront.extensions import db, services
from storefront.observability.sweeps import records_sweep

log = logging.getLogger("storefront.jobs")

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

_built: tuple[int, Flask] | None = None  # (pid that owns the DB pool, app)


# -- the worker's app ------------------------------------------------------------------------------

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
        install_job_logging()
        _built = (pid, create_app())
    elif _built[0] != pid:
        app = _built[1]
        with app.app_context():
            db.engine.dispose(close=False)
        _built = (pid, app)
    return _built[1]


def adopt_app(app: Flask) -> None:
    """Use `app` as this process's worker app (`flask worker` hands over the CLI's app; tests their own)."""
    global _built
    _built = (os.getpid(), app)


def warm_up(app: Flask) -> None:
    """Do once, in a forking worker's parent, the set-up every job process would otherwise repeat.

    A forking worker runs each job in a fresh child process; whatever the parent has loaded
    the child inherits. Configuring the ORM mappers, importing the billing code and compiling
    the email templates here roughly halves a charge job's own time.
    """
    from sqlalchemy.orm import configure_mappers

    import storefront.audit  # noqa: F401
    import storefront.billing.recurring.charging  # noqa: F401
    import storefront.billing.refunding.refunds  # noqa: F401

    configure_mappers()
    with app.app_context():
        notifier = services().notifier
        env = getattr(getattr(notifier, "renderer", None), "env", None)
        if env is not None:
            for name in env.list_templates(filter_func=lambda n: n.startswith("emails/")):
                env.get_template(name)


# -- logging ---------------------------------------------------------------------------------------

class JobIdFilter(logging.Filter):
    """Sets ``record.job_id`` to the running RQ job's id (``-`` outside a job); keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()
        record.job_id = job.id if job is not None else "-"
        return True


JOB_LOG_FORMAT = "%(asctime)s %(levelname)s [job %(job_id)s] %(name)s: %(message)s"


def job_log_handler(stream: TextIO | None = None) -> logging.Handler:
    """A stream handler whose lines name the job that wrote them."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(logging.Formatter(JOB_LOG_FORMAT))
    handler.set_name("storefront-jobs")
    return handler


def install_job_logging(stream: TextIO | None = None) -> None:
    """Log the `storefront` loggers at INFO with job ids, unless the process already has logging set up.

    Idempotent. Leaves processes alone whose root logger has handlers (gunicorn, pytest).
    """
    from flask.logging import default_handler

    logger = logging.getLogger("storefront")
    if logging.getLogger().handlers or any(h.get_name() == "storefront-jobs" for h in logger.handlers):
        return
    logger.removeHandler(default_handler)  # Flask's own, on app.logger (also named "storefront")
    logger.addHandler(job_log_handler(stream))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


# -- time ------------------------------------------------------------------------------------------

class AsOfRefused(ValueError):
    """`--as-of` outside the sandbox, or a moment that cannot be read."""


def parse_as_of(value: str | None, config: Config) -> datetime | None:
    """The moment a sweep pretends it is: ISO-8601, naive values read as Asia/Seoul; sandbox only.

    Raises `AsOfRefused` with a message for the operator when TOSS_ENV is not ``sandbox``
    (pretending it is another day would charge real cards early) or the text is not a date.
    """
    if value in (None, ""):
        return None
    if config.toss_env != "sandbox":
        raise AsOfRefused(f"--as-of is only allowed with TOSS_ENV=sandbox (TOSS_ENV is {config.toss_env}): "
                          "it would charge real cards as if it were another day")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AsOfRefused(f"--as-of: {value!r} is not an ISO date-time, e.g. 2026-04-10T10:00+09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    return moment.astimezone(timezone.utc)


def _clock_for(as_of: str | None, found: Any, config: Config) -> Any:
    moment = parse_as_of(as_of, config)
    return FixedClock(moment) if moment is not None else found.clock


def _config() -> Config:
    from flask import current_app

    return current_app.config["STOREFRONT"]


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


# -- the due sweep ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    """One subscription period the sweep found due; `in_flight` when its Charge has an open Attempt."""

    subscription_id: int
    next_charge_at: datetime
    in_flight: bool = False

    @property
    def period_key(self) -> str:
        return str(int(self.next_charge_at.timestamp()))

    @property
    def job_id(self) -> str:
        return charge_job_id(self.subscription_id, self.next_charge_at)


@dataclass
class SweepResult:
    """What a sweep found and did, by job id.

    `enqueued`: new charge jobs (`replaced` lists those that took the place of a lost or ended
    job under the same id); `already`: waiting or running; `in_flight`: the period's Attempt
    is open (sending/unknown), so reconcile settles it and no job is needed; `errors`: periods
    whose enqueue raised (logged, skipped; the next sweep tries again).
    """

    due: list[Due] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def charge_job_id(subscription_id: int, next_charge_at: datetime) -> str:
    """``charge-<subscription id>-<due time, epoch seconds>``: the same period always gets the same id."""
    return f"charge-{int(subscription_id)}-{int(next_charge_at.timestamp())}"


def due_periods(session: Session, now: datetime) -> list[Due]:
    """The due subscriptions (`charging.due_subscription_ids`, indexed) with the due time of each; read-only.

    `in_flight` marks periods whose pending Charge has an Attempt still ``sending``/``unknown``:
    a charge job would only answer ``in_flight``; `reconcile` settles those by asking Toss.
    """
    from storefront.billing.recurring.charging import due_subscription_ids
    from storefront.billing.recurring.periods import OPEN_ATTEMPT_STATUSES
    from storefront.models import Attempt, Charge, Subscription

    ids = due_subscription_ids(session, now)
    due_at: dict[int, datetime] = {}
    open_ids: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.execute(select(Subscription.id, Subscription.next_charge_at)
                               .where(Subscription.id.in_(chunk)))
        due_at.update({row_id: at for row_id, at in rows})
        open_ids.update(session.scalars(
            select(Charge.subscription_id).join(Attempt, Attempt.charge_id == Charge.id)
            .where(Charge.subscription_id.in_(chunk), Charge.status == "pending",
                   Attempt.status.in_(OPEN_ATTEMPT_STATUSES))))
    session.rollback()
    return [Due(i, due_at[i], i in open_ids) for i in ids if due_at.get(i) is not None]


def sweep_due(session: Session, queue: Queue, *, now: datetime, as_of: str | None = None,
              alive_within: float = DEFAULT_ALIVE_WITHIN) -> SweepResult:
    """Enqueue one charge job per due period not already waiting, running or in flight; never stops at one.

    Each period is its own try: an error while looking at or enqueueing one (a half-written
    job in Redis, a script error) is logged, counted in `errors` and skipped. Only losing
    Redis itself (a connection error or timeout) ends the sweep, since every period after
    would fail the same way.
    """
    result = SweepResult(due=due_periods(session, now))
    for due in result.due:
        if due.in_flight:
            result.in_flight.append(due.job_id)
            continue
        try:
            outcome = enqueue_charge(queue, due, as_of=as_of, alive_within=alive_within)
        except (RedisConnectionError, RedisTimeoutError):
            raise
        except Exception:  # noqa: BLE001 - one period's trouble must not cost the others their charge
            log.exception("due sweep: could not enqueue %s; skipped, the next sweep tries again", due.job_id)
            result.errors.append(due.job_id)
            continue
        if outcome is None:
            result.already.append(due.job_id)
        else:
            result.enqueued.append(due.job_id)
            if outcome.meta.get("replaces"):
                result.replaced.append(due.job_id)
    return result


def enqueue_charge(queue: Queue, due: Due, *, as_of: str | None = None,
                   alive_within: float = DEFAULT_ALIVE_WITHIN) -> Job | None:
    """Enqueue `charge_subscription_job` for one period under its deterministic id; None if one is pending.

    Pending is decided by `liveness.job_state` from facts: the id in the queue, or started by
    a worker whose heartbeat is younger than `alive_within` seconds (or just popped, see
    there). A job that ended (finished, failed, stopped) while its period is still due, or
    that was lost with a dead worker, is discarded and enqueued again: a failure or a crash
    never blocks the period for good. The unique Charge per period and the subscription
    lock in `billing.recurring.charging` make a second run for the same period harmless. A replacement
    carries ``meta["replaces"]``: the state of the job it replaced (``lost`` or ``ended``).
    """
    args = (due.subscription_id, due.period_key, as_of)
    options: dict[str, Any] = dict(job_id=due.job_id, unique=True, job_timeout=CHARGE_JOB_TIMEOUT,
                                   description=f"charge subscription {due.subscription_id} due {due.period_key}")
    try:
        return queue.enqueue(charge_subscription_job, *args, **options)
    except DuplicateJobError:
        pass
    state = liveness.job_state(queue, due.job_id, alive_within=alive_within)
    if state.pending:
        return None
    lock = f"storefront:liveness:replacing:{due.job_id}"
    if not queue.connection.set(lock, "1", nx=True, ex=30):
        return None  # another sweep is replacing it right now
    try:
        log.info("charge job %s is %s (%s) but its period is still due; enqueueing it again",
                 due.job_id, state.state, state.detail)
        liveness.discard(queue, due.job_id)
        try:
            return queue.enqueue(charge_subscription_job, *args, meta={"replaces": state.state}, **options)
        except DuplicateJobError:  # another sweep got there in between
            return None
    finally:
        queue.connection.delete(lock)


# -- jobs ------------------------------------------------------------------------------------------

@records_sweep  # its last success and duration, for /healthz and /metrics
def sweep_due_job(as_of: str | None = None) -> int:
    """The timer's due sweep: enqueue a charge job per due period (see `sweep_due`); returns how many."""
    with _app().app_context():
        config, found = _config(), services()
        clock = _clock_for(as_of, found, config)
        queue = Queue(BILLING_QUEUE, connection=redis_connection(config))
        result = sweep_due(db.session, queue, now=clock.now(), as_of=as_of, alive_within=alive_within(config))
    log.info("due sweep%s: %s due, %s enqueued (%s replacing a lost or ended job), %s already waiting or running, "
             "%s in flight (reconcile settles them), %s skipped after an error",
             f" as of {as_of}" if as_of else "", len(result.due), len(result.enqueued), len(result.replaced),
             len(result.already), len(result.in_flight), len(result.errors))
    return len(result.enqueued)


def alive_within(config: Config) -> float:
    """Seconds after its last heartbeat that a worker still counts as holding its job: three beats."""
    return 3.0 * config.worker_heartbeat_seconds


def charge_subscription_job(subscription_id: int, period_key: str, as_of: str | None = None) -> str:
    """Charge one subscription's due period (`charging.charge_period`), then enqueue its notices.

    `period_key` (the due time as epoch seconds) names the period in logs and job ids; the
    domain re-checks what is due under the row lock. `as_of` (sandbox only) runs the charge
    on a FixedClock at that moment. Returns the ChargeResult outcome (``paid``, ``declined``,
    ``unknown``, ``in_flight``, ``skipped``, ...).
    """
    from storefront.billing.recurring import charging

    with _app().app_context():
        config, found = _config(), services()
        clock = _clock_for(as_of, found, config)
        outcome = charging.charge_period(db.session, int(subscription_id), toss=found.toss, vault=found.vault,
                                         notifier=found.notifier, clock=clock, config=config)
        log.info("subscription %s period %s: %s%s", subscription_id, period_key, outcome.outcome,
                 f" ({outcome.error_code})" if outcome.error_code else "")
        _enqueue_notices(db.session, config, subscription_id=int(subscription_id))
    return outcome.outcome


def reconcile_job(as_of: str | None = None) -> int:
    """Settle charge attempts left ``sending``/``unknown`` by asking Toss (`charging.reconcile`); returns how many.

    Attempts untouched for BILLING_RECONCILE_GRACE_SECONDS are looked up. When one turns out
    never to have reached Toss (or was declined), its period is due again: a due sweep is
    enqueued at once instead of waiting for the timer's next one.
    """
    from datetime import timedelta

    from storefront.billing.recurring import charging

    with _app().app_context():
        config, found = _config(), services()
        clock = _clock_for(as_of, found, config)
        results = charging.reconcile(db.session, toss=found.toss, vault=found.vault, notifier=found.notifier,
                                     clock=clock, config=config,
                                     older_than=timedelta(seconds=config.reconcile_grace_seconds))
        settled = [r for r in results if r.outcome != "left"]
        if settled:
            _enqueue_pending_sweep(config)
        if any(r.outcome in ("retry", "declined", "unknown") for r in settled):
            queue = get_queue(BILLING_QUEUE, config)
            if queue is not None:
                queue.enqueue(sweep_due_job, as_of, description="due sweep after reconcile", ttl=600)
    log.info("reconcile: %s attempt(s) looked at, %s settled", len(results), len(settled))
    return len(settled)


def settle_refunds_job() -> int:
    """Settle refunds whose outcome is unknown (`refunds.settle_unknown_refunds`); returns how many were looked at.

    First sends the refund of any 청약철회 or 바로 해지 whose Refund row a crash kept from being
    written (`cooling_off.finish_withdrawals`, `subscriptions.finish_cancel_now`); last, tells
    shoppers about refunds made at Toss that a webhook, the reconciliation or this job recorded
    (`refund_notices.announce`) and enqueues their delivery.
    """
    from storefront.billing.compliance import cooling_off
    from storefront.billing.refunding import refund_notices, refunds
    from storefront.billing.recurring import subscriptions

    with _app().app_context():
        found = services()
        cooling_off.finish_withdrawals(db.session, toss=found.toss, clock=found.clock)
        subscriptions.finish_cancel_now(db.session, toss=found.toss, clock=found.clock)
        rows = refunds.settle_unknown_refunds(db.session, toss=found.toss, clock=found.clock)
        notices = refund_notices.announce(db.session, notifier=found.notifier, clock=found.clock)
        queue = get_queue(NOTICES_QUEUE, _config()) if notices else None
        if queue is not None:
            enqueue_deliveries(queue, notices)
    log.info("refund settlement: %s refund(s) looked at", len(rows))
    return len(rows)


def settle_orders_job() -> int:
    """Settle one-time orders whose confirm outcome is unknown, expire unpaid ones (`orders.settle_unknown_orders`)."""
    from storefront.billing.one_time import orders

    with _app().app_context():
        found = services()
        outcomes = orders.settle_unknown_orders(db.session, toss=found.toss, clock=found.clock,
                                                notifier=found.notifier)
    log.info("order settlement: %s order(s) looked at", len(outcomes))
    return len(outcomes)


def reconcile_day_job(day: str | None = None) -> str:
    """Daily reconciliation (대사) with Toss of `day` (ISO date; default: yesterday in Korea); returns its status."""
    from datetime import date

    from storefront.billing.toss_sync import reconciliation

    with _app().app_context():
        found = services()
        target = date.fromisoformat(day) if day else reconciliation.previous_day(found.clock.now())
        row = reconciliation.reconcile_day(db.session, target, toss=found.toss, clock=found.clock)
        status, flagged = row.status, row.flagged_count
    log.info("reconciliation of %s: %s, %s difference(s) to look at", target, status, flagged)
    return status


def release_cards_job() -> int:
    """Destroy (and delete at Toss, best effort) sealed cards no live subscription uses any more."""
    from storefront.billing.wallet import cards

    with _app().app_context():
        found = services()
        count = cards.release_unused_cards(db.session, toss=found.toss, vault=found.vault, clock=found.clock)
    log.info("card release: %s unused card(s) destroyed", count)
    return count


def retention_job() -> dict[str, int]:
    """Apply the retention table (`storefront.retention.RULES`): what is past its period is anonymised or deleted."""
    from storefront.retention import apply_rules

    with _app().app_context():
        changed = apply_rules(db.session, now=services().clock.now())
    log.info("retention: %s", ", ".join(f"{key} {count}" for key, count in changed.items()))
    return changed


def deliver_message_job(message_id: int) -> str:
    """Send one outbox row (at most once); raises on a send error so RQ retries it."""
    with _app().app_context():
        found = services()
        status = found.notifier.deliver(db.session, int(message_id), now=found.clock.now())
    log.info("message %s -> %s", message_id, status)
    return status


def deliver_pending_job() -> int:
    """Deliver queued rows whose job never ran (lost enqueue, Redis flushed, retries spent)."""
    with _app().app_context():
        found = services()
        count = found.notifier.deliver_pending(db.session, now=found.clock.now())
    log.info("delivered %s pending message(s)", count)
    return count


# -- webhooks --------------------------------------------------------------------------------------

def enqueue_webhook(queue: Queue, event_id: int) -> Job:
    """Enqueue `process_webhook_job` for a recorded event (idempotent: a second run finds it done)."""
    return queue.enqueue(process_webhook_job, int(event_id), job_timeout=120, result_ttl=3600,
                         description=f"process webhook event {int(event_id)}")


def process_webhook_job(event_id: int) -> str:
    """Act on one recorded Toss webhook (`webhook_events.process_safely`); returns its status afterwards."""
    from storefront.billing.toss_sync import webhook_events

    with _app().app_context():
        found = services()
        event = webhook_events.process_safely(db.session, int(event_id), toss=found.toss, clock=found.clock)
        status = event.status if event is not None else "missing"
    log.info("webhook event %s -> %s", event_id, status)
    return status


def webhook_sweep_job() -> int:
    """Process webhook events whose job was lost (still 'received' after a minute) and retry errors; how many."""
    from storefront.billing.toss_sync import webhook_events

    with _app().app_context():
        found = services()
        ids = webhook_events.pending_ids(db.session, now=found.clock.now())
        for event_id in ids:
            webhook_events.process_safely(db.session, event_id, toss=found.toss, clock=found.clock)
    log.info("webhook sweep: %s event(s) processed", len(ids))
    return len(ids)


def purge_webhooks_job() -> int:
    """Delete ignored webhook deliveries older than WEBHOOK_IGNORED_RETENTION_DAYS; returns how many."""
    from storefront.billing.toss_sync import webhook_events

    with _app().app_context():
        count = webhook_events.purge_ignored(db.session, now=services().clock.now(),
                                             keep_days=_config().webhook_retention_days)
    log.info("webhook purge: %s ignored delivery(ies) deleted", count)
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


# -- consent requests and renewal notices (billing/compliance/consent.py, billing/compliance/notices.py) -----------------

def consent_requests_job(as_of: str | None = None) -> int:
    """Queue due consent requests, reminders and trial advance notices, then enqueue their delivery.

    `as_of` (ISO-8601, sandbox only) runs the sweep as if it were that moment.
    """
    with _app().app_context():
        from storefront.billing.compliance import consent

        notifier, clock, config = _notice_collaborators(as_of)
        count = consent.send_due_requests(db.session, notifier=notifier, clock=clock, config=config)
        _enqueue_collected(notifier)
    log.info("%s consent message(s) queued", count)
    return count


def renewal_notices_job(as_of: str | None = None) -> int:
    """Queue due renewal notices (D-7; yearly also D-30), then enqueue their delivery."""
    with _app().app_context():
        from storefront.billing.compliance import notices

        notifier, clock, config = _notice_collaborators(as_of)
        count = notices.send_renewal_notices(db.session, notifier=notifier, clock=clock, config=config)
        _enqueue_collected(notifier)
    log.info("%s renewal notice(s) queued", count)
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
    moment = parse_as_of(as_of, config)
    clock = FixedClock(moment) if moment is not None else found.clock
    return _CollectingNotifier(found.notifier), clock, config


def _enqueue_collected(notifier: _CollectingNotifier) -> None:
    """Deliver what the sweep queued (its commits are done): on this job's queue, or by the pending sweep."""
    job = get_current_job()
    if job is None:
        return
    queue = Queue(job.origin, connection=job.connection)
    for message_id in notifier.message_ids:
        enqueue_delivery(queue, message_id)

def enqueue_deliveries(queue: Queue, message_ids: Iterable[int]) -> list[Job]:
    return [enqueue_delivery(queue, message_id) for message_id in message_ids]


def _enqueue_notices(session: Session, config: Config, *, subscription_id: int) -> None:
    """Enqueue delivery of the subscriber's queued outbox rows (what the settlement just wrote).

    Delivery claims each row once, so a row that another job or the sweep also picks up is
    still sent once. Without Redis, `deliver_pending_job` / `flask outbox deliver` send them.
    """
    from storefront.models import EmailMessage, Subscription

    user_id = session.scalar(select(Subscription.user_id).where(Subscription.id == subscription_id))
    ids = list(session.scalars(select(EmailMessage.id).where(EmailMessage.user_id == user_id,
                                                             EmailMessage.status == "queued")
                               .order_by(EmailMessage.id))) if user_id is not None else []
    session.rollback()
    queue = get_queue(NOTICES_QUEUE, config) if ids else None
    if queue is not None:
        enqueue_deliveries(queue, ids)


def _enqueue_pending_sweep(config: Config) -> None:
    queue = get_queue(NOTICES_QUEUE, config)
    if queue is not None:
        queue.enqueue(deliver_pending_job, description="deliver notices queued by reconcile")
