"""Charging jobs: the timer's due sweep, one charge job per due period, and reconcile.

The timer (`storefront.cron`) enqueues `sweep_due_job` every few minutes; it lists the due
subscriptions (an indexed query) and enqueues one `charge_subscription_job` per subscription
period under a deterministic job id (``charge-<subscription>-<due epoch>``), so overlapping or
repeated sweeps do not pile up jobs. The job id is only a courtesy: the unique Charge per
period and the subscription row lock in `billing.recurring.charging` are what make a period
charged exactly once, whatever Redis holds.

Liveness: whether a period's job is already waiting or running is read from facts in Redis
(`storefront.liveness`), so a job lost with a dead worker is replaced by the next sweep; a
period whose Attempt is open is left to `reconcile_job`, which enqueues a sweep at once when
it finds that the payment never happened. One period's trouble never stops a sweep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront import liveness, rq_bulk
from storefront.config import Config
from storefront.extensions import db, services
from storefront.jobs.as_of import _clock_for
from storefront.jobs.notices import CollectingNotifier, enqueue_pending_sweep, enqueue_deliveries
from storefront.jobs.process import _app, _config
from storefront.jobs.queues import (
    BILLING_QUEUE,
    CHARGE_JOB_TIMEOUT,
    DEFAULT_ALIVE_WITHIN,
    NOTICES_QUEUE,
    get_queue,
    redis_connection,
)
from storefront.observability.sweeps import records_sweep

log = logging.getLogger("storefront.jobs")


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
    """The due subscriptions with the due time of each (`periods.due_subscriptions`, indexed); read-only.

    Two queries whatever is due: the due rows, and the subscriptions with an open Attempt (few,
    whatever is due). `in_flight` marks periods whose pending Charge has an Attempt still
    ``sending``/``unknown``: a charge job would only answer ``in_flight``; `reconcile` settles
    those by asking Toss.
    """
    from storefront.billing.recurring.periods import OPEN_ATTEMPT_STATUSES, due_subscriptions
    from storefront.models import Attempt, Charge

    rows = due_subscriptions(session, now)
    open_ids = set(
        session.scalars(
            select(Charge.subscription_id)
            .join(Attempt, Attempt.charge_id == Charge.id)
            .where(Charge.status == "pending", Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
        )
    )
    session.rollback()
    return [Due(sub_id, at, sub_id in open_ids) for sub_id, at in rows if at is not None]


def sweep_due(
    session: Session,
    queue: Queue,
    *,
    now: datetime,
    as_of: str | None = None,
    alive_within: float = DEFAULT_ALIVE_WITHIN,
) -> SweepResult:
    """Enqueue one charge job per due period not already waiting, running or in flight; never stops at one.

    New periods go in bulk (`rq_bulk`: a pipelined round trip per thousand jobs, each job
    still created only if no job has its id); a period whose id is taken is looked at on its
    own (`enqueue_charge`), with the queue's ids read once when there are many. Each period
    is its own try: an error while looking at or enqueueing one (a half-written job in Redis,
    a script error) is logged, counted in `errors` and skipped. Only losing Redis itself (a
    connection error or timeout) ends the sweep, since every period after would fail the same way.
    """
    result = SweepResult(due=due_periods(session, now))
    result.in_flight.extend(due.job_id for due in result.due if due.in_flight)
    todo = [due for due in result.due if not due.in_flight]
    taken: list[Due] = []
    for start in range(0, len(todo), rq_bulk.CHUNK):
        chunk = todo[start : start + rq_bulk.CHUNK]
        try:
            outcomes = rq_bulk.enqueue_unique_many(
                queue, charge_subscription_job, [_charge_item(due, as_of) for due in chunk], timeout=CHARGE_JOB_TIMEOUT
            )
        except (RedisConnectionError, RedisTimeoutError):
            raise
        except Exception:  # noqa: BLE001 - fall back to one period at a time, each its own try
            log.exception("due sweep: bulk enqueue failed; enqueueing %s period(s) one by one", len(chunk))
            taken.extend(chunk)
            continue
        for due, enqueued in zip(chunk, outcomes, strict=True):
            if enqueued:
                result.enqueued.append(due.job_id)
            else:
                taken.append(due)
    waiting = liveness.waiting_ids(queue) if len(taken) > MANY_TAKEN else None
    for due in taken:
        try:
            job = enqueue_charge(queue, due, as_of=as_of, alive_within=alive_within, waiting=waiting)
        except (RedisConnectionError, RedisTimeoutError):
            raise
        except Exception:  # noqa: BLE001 - one period's trouble must not cost the others their charge
            log.exception("due sweep: could not enqueue %s; skipped, the next sweep tries again", due.job_id)
            result.errors.append(due.job_id)
            continue
        if job is None:
            result.already.append(due.job_id)
        else:
            result.enqueued.append(due.job_id)
            if job.meta.get("replaces"):
                result.replaced.append(due.job_id)
    return result


# Past this many periods whose job id is taken, the sweep reads the queue's ids once instead of
# scanning the list for each (`liveness.waiting_ids`).
MANY_TAKEN = 100


def _charge_item(due: Due, as_of: str | None) -> tuple[str, tuple[Any, ...], str]:
    """A period's job for `rq_bulk`: its id, `charge_subscription_job`'s arguments, its description."""
    return (
        due.job_id,
        (due.subscription_id, due.period_key, as_of),
        f"charge subscription {due.subscription_id} due {due.period_key}",
    )


def enqueue_charge(
    queue: Queue,
    due: Due,
    *,
    as_of: str | None = None,
    alive_within: float = DEFAULT_ALIVE_WITHIN,
    waiting: set[str] | None = None,
) -> Job | None:
    """Enqueue `charge_subscription_job` for one period under its deterministic id; None if one is pending.

    Pending is decided by `liveness.job_state` from facts: the id in the queue, or started by
    a worker whose heartbeat is younger than `alive_within` seconds (or just popped, see
    there). A job that ended (finished, failed, stopped) while its period is still due, or
    that was lost with a dead worker, is discarded and enqueued again: a failure or a crash
    never blocks the period for good. The unique Charge per period and the subscription
    lock in `billing.recurring.charging` make a second run for the same period harmless. A replacement
    carries ``meta["replaces"]``: the state of the job it replaced (``lost`` or ``ended``).
    `waiting`: the queue's ids read once by a sweep looking at many periods (`liveness.waiting_ids`).
    """
    args = (due.subscription_id, due.period_key, as_of)
    options: dict[str, Any] = dict(
        job_id=due.job_id,
        unique=True,
        job_timeout=CHARGE_JOB_TIMEOUT,
        description=f"charge subscription {due.subscription_id} due {due.period_key}",
    )
    try:
        return queue.enqueue(charge_subscription_job, *args, **options)
    except DuplicateJobError:
        pass
    state = liveness.job_state(queue, due.job_id, alive_within=alive_within, waiting=waiting)
    if state.pending:
        return None
    lock = f"storefront:liveness:replacing:{due.job_id}"
    if not queue.connection.set(lock, "1", nx=True, ex=30):
        return None  # another sweep is replacing it right now
    try:
        log.info(
            "charge job %s is %s (%s) but its period is still due; enqueueing it again",
            due.job_id,
            state.state,
            state.detail,
        )
        liveness.discard(queue, due.job_id)
        try:
            return queue.enqueue(charge_subscription_job, *args, meta={"replaces": state.state}, **options)
        except DuplicateJobError:  # another sweep got there in between
            return None
    finally:
        queue.connection.delete(lock)


# -- the jobs --------------------------------------------------------------------------------------


@records_sweep  # its last success and duration, for /healthz and /metrics
def sweep_due_job(as_of: str | None = None) -> int:
    """The timer's due sweep: enqueue a charge job per due period (see `sweep_due`); returns how many."""
    with _app().app_context():
        config, found = _config(), services()
        clock = _clock_for(as_of, found, config)
        queue = Queue(BILLING_QUEUE, connection=redis_connection(config))
        result = sweep_due(db.session(), queue, now=clock.now(), as_of=as_of, alive_within=alive_within(config))
    log.info(
        "due sweep%s: %s due, %s enqueued (%s replacing a lost or ended job), %s already waiting or running, "
        "%s in flight (reconcile settles them), %s skipped after an error",
        f" as of {as_of}" if as_of else "",
        len(result.due),
        len(result.enqueued),
        len(result.replaced),
        len(result.already),
        len(result.in_flight),
        len(result.errors),
    )
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

    The notices the charge queued (a receipt, a decline, an ending) are delivered by jobs
    enqueued once it has committed, from the ids the outbox handed out: no query to find
    them. Rows whose delivery job is lost (a crash in between) are sent by `deliver_pending_job`.
    """
    from storefront.billing.recurring import charging

    with _app().app_context():
        config, found = _config(), services()
        clock = _clock_for(as_of, found, config)
        notifier = CollectingNotifier(found.notifier)
        outcome = charging.charge_period(
            db.session(),
            int(subscription_id),
            toss=found.toss,
            vault=found.vault,
            notifier=notifier,
            clock=clock,
            config=config,
        )
        log.info(
            "subscription %s period %s: %s%s",
            subscription_id,
            period_key,
            outcome.outcome,
            f" ({outcome.error_code})" if outcome.error_code else "",
        )
        queue = get_queue(NOTICES_QUEUE, config) if notifier.message_ids else None
        if queue is not None:
            enqueue_deliveries(queue, notifier.message_ids)
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
        results = charging.reconcile(
            db.session(),
            toss=found.toss,
            vault=found.vault,
            notifier=found.notifier,
            clock=clock,
            config=config,
            older_than=timedelta(seconds=config.reconcile_grace_seconds),
        )
        settled = [r for r in results if r.outcome != "left"]
        if settled:
            enqueue_pending_sweep(config)
        if any(r.outcome in ("retry", "declined", "unknown") for r in settled):
            queue = get_queue(BILLING_QUEUE, config)
            if queue is not None:
                queue.enqueue(sweep_due_job, as_of, description="due sweep after reconcile", ttl=600)
    log.info("reconcile: %s attempt(s) looked at, %s settled", len(results), len(settled))
    return len(settled)
