"""The billing engine's jobs on a real Redis, run by rq.SimpleWorker in burst mode.

The worker app is the test's app (`worker_app`): its FixedClock and a FakeToss whose ledger
counts the money that moved. Real worker processes against the sandbox are in
test_engine_workers.py.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, UTC

import pytest
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from storefront import jobs
from storefront.audit import purge_audit_log, retention_cutoff
from storefront.clock import FixedClock
from storefront.config import ConfigError
from storefront.extensions import db
from storefront.models import AuditLog, EmailMessage
from tests.fakes import TIMEOUT_AFTER_APPROVE, FakeToss
from tests.jobs.engine_support import (  # noqa: F401
    attempts_count,
    billing_queue,
    connection,
    make_shop,
    notices_queue,
    run_worker,
    worker_app,
)


@pytest.fixture
def toss(clock: FixedClock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def shop(worker_app, db_session, toss, clock, config):
    return make_shop(worker_app, toss, clock, config)


def _outbox(kind: str) -> list[EmailMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(EmailMessage).where(EmailMessage.kind == kind).order_by(EmailMessage.id)))


# -- the sweep -------------------------------------------------------------------------------------


def test_two_sweeps_enqueue_one_job_per_period_and_every_subscription_is_charged_once(
    shop, toss, clock, connection, billing_queue
):
    due = [shop.subscribe(status="active") for _ in range(3)]
    later = shop.subscribe(status="active", start=clock.now() + timedelta(days=1))

    first = jobs.sweep_due(db.session, billing_queue, now=clock.now())
    second = jobs.sweep_due(db.session, billing_queue, now=clock.now())

    expected = sorted(f"charge-{s.id}-{int(clock.now().timestamp())}" for s in due)
    assert sorted(first.enqueued) == expected and first.already == []
    assert second.enqueued == [] and sorted(second.already) == expected
    assert sorted(billing_queue.job_ids) == expected

    run_worker(connection)

    assert [Job.fetch(i, connection=connection).return_value() for i in expected] == ["paid"] * 3
    assert len(toss.approved) == 3 and len(toss.calls) == 3
    for sub in due:
        (charge,) = shop.charges(sub.id)
        assert charge.status == "paid"
        assert shop.sub(sub.id).next_charge_at > clock.now()
    assert shop.charges(later.id) == []
    # Paid periods are no longer due: the next sweep finds nothing.
    assert jobs.sweep_due(db.session, billing_queue, now=clock.now()).due == []


def test_the_timed_sweep_job_enqueues_the_charges_and_the_same_burst_runs_them(shop, toss, connection, billing_queue):
    subs = [shop.subscribe(status="active") for _ in range(2)]
    sweep_a = billing_queue.enqueue(jobs.sweep_due_job)
    sweep_b = billing_queue.enqueue(jobs.sweep_due_job)  # two timers fired at once

    run_worker(connection)

    assert sweep_a.return_value() == 2
    assert sweep_b.return_value() == 0  # both periods were already waiting in the queue
    assert len(toss.approved) == 2
    assert [c.status for s in subs for c in shop.charges(s.id)] == ["paid", "paid"]


def test_as_of_travels_with_the_jobs_and_charges_at_that_moment(shop, toss, clock, connection, billing_queue):
    due_at = clock.now() + timedelta(days=3)
    sub = shop.subscribe(status="active", start=due_at)
    assert jobs.sweep_due(db.session, billing_queue, now=clock.now()).due == []  # not due on the real (test) clock

    sweep = billing_queue.enqueue(jobs.sweep_due_job, due_at.isoformat())
    run_worker(connection)

    assert sweep.return_value() == 1
    charge_job = Job.fetch(f"charge-{sub.id}-{int(due_at.timestamp())}", connection=connection)
    assert charge_job.args == (sub.id, str(int(due_at.timestamp())), due_at.isoformat())
    assert charge_job.return_value() == "paid"
    (charge,) = shop.charges(sub.id)
    assert charge.period_start == due_at and charge.status == "paid"
    assert charge.attempts[0].created_at == due_at


def test_a_charge_job_that_ended_does_not_block_its_period_and_one_in_the_queue_does(
    shop, clock, connection, billing_queue
):
    sub = shop.subscribe(status="active")
    (due,) = jobs.due_periods(db.session, clock.now())

    job = jobs.enqueue_charge(billing_queue, due)
    assert job is not None and job.id == due.job_id
    for status in (JobStatus.STARTED, JobStatus.FAILED):  # what the hash says does not matter while it is queued
        job.set_status(status)
        assert jobs.enqueue_charge(billing_queue, due) is None, status

    for ended in (JobStatus.FAILED, JobStatus.FINISHED, JobStatus.STOPPED):
        billing_queue.remove(job)  # a worker took it and it ended this way
        job.set_status(ended)
        again = jobs.enqueue_charge(billing_queue, due)
        assert again is not None and again.id == due.job_id and again.get_status() == JobStatus.QUEUED, ended
        assert again.meta["replaces"] == "ended"
        job = again
    assert billing_queue.job_ids == [due.job_id]  # replaced, not queued twice
    assert due.subscription_id == sub.id


# -- unknown outcomes ------------------------------------------------------------------------------


def test_a_toss_timeout_is_never_counted_as_a_failure_and_reconcile_settles_it(
    shop, toss, clock, connection, billing_queue
):
    sub = shop.subscribe(status="active")
    toss.will(TIMEOUT_AFTER_APPROVE)  # Toss approves; the answer never reaches us

    billing_queue.enqueue(jobs.sweep_due_job)
    run_worker(connection)

    (charge,) = shop.charges(sub.id)
    assert (charge.status, charge.retry_count, charge.first_failed_at) == ("pending", 0, None)
    assert shop.sub(sub.id).status == "active"  # not past_due
    assert attempts_count(shop, "unknown") == 1
    assert _outbox("payment_failed") == []

    # Sweeps keep finding it due, and never call Toss again while the outcome is unknown.
    billing_queue.enqueue(jobs.sweep_due_job)
    run_worker(connection)
    assert len(toss.calls) == 1

    clock.advance(minutes=11)
    reconcile = billing_queue.enqueue(jobs.reconcile_job)
    run_worker(connection)

    assert reconcile.return_value() == 1
    (charge,) = shop.charges(sub.id)
    assert charge.status == "paid" and len(toss.approved) == 1
    assert shop.sub(sub.id).status == "active"
    (receipt,) = _outbox("payment_receipt")
    assert receipt.status == "logged"  # delivered (console backend: no SMTP_URL in this test)


# -- notices and logs ------------------------------------------------------------------------------


def test_the_receipt_is_delivered_by_a_job_the_charge_enqueued(shop, connection, billing_queue, notices_queue):
    sub = shop.subscribe(status="active")
    jobs.sweep_due(db.session, billing_queue, now=shop.clock.now())

    run_worker(connection, jobs.BILLING_QUEUE)  # charges only
    (receipt,) = _outbox("payment_receipt")
    assert receipt.status == "queued" and receipt.user_id == shop.sub(sub.id).user_id
    (delivery,) = [Job.fetch(i, connection=connection) for i in notices_queue.job_ids]
    assert delivery.args == (receipt.id,)

    run_worker(connection, jobs.NOTICES_QUEUE)
    assert delivery.return_value() == "logged"
    assert _outbox("payment_receipt")[0].status == "logged"


def test_every_log_line_a_job_writes_names_the_job(shop, connection, billing_queue):
    sub = shop.subscribe(status="active")
    stream = io.StringIO()
    handler = jobs.job_log_handler(stream)
    logger = logging.getLogger("storefront")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        jobs.sweep_due(db.session, billing_queue, now=shop.clock.now())
        run_worker(connection, jobs.BILLING_QUEUE)
        logging.getLogger("storefront.jobs").info("outside any job")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    lines = stream.getvalue().splitlines()
    job_id = f"charge-{sub.id}-{int(shop.clock.now().timestamp())}"
    charged = [line for line in lines if f"subscription {sub.id} period" in line]
    assert charged and all(f"[job {job_id}]" in line for line in charged)
    assert all("[job " in line for line in lines)
    assert lines[-1].endswith("outside any job") and "[job -]" in lines[-1]


# -- audit purge (a rule of the retention job) ---------------------------------------------------


def _audit(at: datetime) -> AuditLog:
    return AuditLog(at=at, actor_type="worker", actor_id=None, action="open_billing_key", reason="test", ip="worker")


def test_the_retention_job_deletes_only_audit_rows_older_than_two_years(worker_app, db_session, clock, connection):
    now = clock.now()
    old, recent, fresh = (_audit(now - timedelta(days=731)), _audit(now - timedelta(days=729)), _audit(now))
    db_session.add_all([old, recent, fresh])
    db_session.commit()
    kept = {recent.id, fresh.id}

    purge = Queue(jobs.DEFAULT_QUEUE, connection=connection).enqueue(jobs.retention_job)
    run_worker(connection)

    assert purge.return_value()["access_log"] == 1
    db_session.expire_all()
    assert set(db_session.scalars(select(AuditLog.id))) == kept
    assert purge_audit_log(db_session, now=now) == 0  # nothing more to do
    with pytest.raises(ValueError):
        purge_audit_log(db_session, now=now, years=1)
    assert db_session.scalar(select(func.count(AuditLog.id))) == 2


def test_the_retention_cutoff_is_two_calendar_years_even_from_a_leap_day():
    assert retention_cutoff(datetime(2026, 3, 10, 1, tzinfo=UTC)) == datetime(2024, 3, 10, 1, tzinfo=UTC)
    assert retention_cutoff(datetime(2028, 2, 29, 1, tzinfo=UTC)) == datetime(2026, 2, 28, 1, tzinfo=UTC)


# -- the timer -------------------------------------------------------------------------------------


def _load_cron(connection) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    scheduler.load_config_from_file("storefront.cron")
    return scheduler


def test_the_cron_file_registers_the_timer_and_its_first_tick_charges_what_is_due(shop, toss, connection, monkeypatch):
    monkeypatch.setenv("BILLING_SWEEP_MINUTES", "2")
    sub = shop.subscribe(status="active")
    scheduler = _load_cron(connection)

    registered = {job.func_name.rsplit(".", 1)[1]: job for job in scheduler.get_jobs()}
    assert {name: (job.queue_name, job.interval, job.cron) for name, job in registered.items()} == {
        "sweep_due_job": ("billing", 120, None),
        "reconcile_job": ("billing", 600, None),
        "deliver_pending_job": ("notices", 60, None),
        "settle_refunds_job": ("billing", 600, None),
        "settle_orders_job": ("billing", 600, None),
        "consent_requests_job": ("notices", 900, None),
        "renewal_notices_job": ("notices", 3600, None),
        "release_cards_job": ("default", 3600, None),
        "webhook_sweep_job": ("webhooks", 60, None),
        "reconcile_day_job": ("billing", None, "0 20 * * *"),
        "retention_job": ("default", None, "30 19 * * *"),
        "purge_webhooks_job": ("default", None, "10 19 * * *"),
    }

    ticked = scheduler.enqueue_jobs()  # interval jobs run as soon as the timer starts
    assert sorted(job.name for job in ticked) == [
        "consent_requests_job",
        "deliver_pending_job",
        "reconcile_job",
        "release_cards_job",
        "renewal_notices_job",
        "settle_orders_job",
        "settle_refunds_job",
        "sweep_due_job",
        "webhook_sweep_job",
    ]
    run_worker(connection)

    (charge,) = shop.charges(sub.id)
    assert charge.status == "paid" and len(toss.approved) == 1
    assert _outbox("payment_receipt")[0].status == "logged"


def test_a_bad_timer_setting_stops_the_cron_naming_the_variable(connection, monkeypatch):
    monkeypatch.setenv("BILLING_SWEEP_MINUTES", "often")
    with pytest.raises(Exception, match="BILLING_SWEEP_MINUTES"):
        _load_cron(connection)
    monkeypatch.delenv("BILLING_SWEEP_MINUTES")
    with pytest.raises(ConfigError):
        from storefront.cron import CronSettings

        CronSettings.from_env({"OUTBOX_SWEEP_MINUTES": "0"})


def test_jobs_refuse_as_of_outside_the_sandbox(tmp_path):
    from tests.conftest import make_config

    live = make_config(tmp_path, TOSS_ENV="test", TOSS_CLIENT_KEY="test_ck_x", TOSS_SECRET_KEY="test_sk_x")
    with pytest.raises(jobs.AsOfRefused, match="TOSS_ENV=sandbox"):
        jobs.parse_as_of("2026-04-10T10:00+09:00", live)
    assert jobs.parse_as_of(None, live) is None


def test_release_job_destroys_the_card_of_an_ended_subscription_and_keeps_live_ones(shop, toss, connection):
    from storefront.models import BillingKey

    ended = shop.subscribe(status="canceled")
    live = shop.subscribe(status="active")
    Queue(jobs.DEFAULT_QUEUE, connection=connection).enqueue(jobs.release_cards_job)
    run_worker(connection, jobs.DEFAULT_QUEUE)

    db.session.expire_all()
    ended_card = db.session.get(BillingKey, shop.sub(ended.id).billing_key_id)
    live_card = db.session.get(BillingKey, shop.sub(live.id).billing_key_id)
    assert ended_card.sealed is None and ended_card.destroyed_at is not None
    assert live_card.sealed is not None
    assert len(toss.deleted_keys) == 1  # deleted at Toss too, best effort


def test_a_sweep_of_thousands_enqueues_each_period_once_and_the_next_finds_them_all_waiting(
    shop, clock, connection, billing_queue
):
    from sqlalchemy import insert

    from storefront.models import Subscription

    sub = shop.subscribe(status="active")
    row = {c.key: getattr(sub, c.key) for c in Subscription.__table__.columns if c.key != "id"}
    db.session.execute(insert(Subscription.__table__), [row] * 1200)  # more than one bulk chunk of 1,000
    db.session.commit()

    first = jobs.sweep_due(db.session, billing_queue, now=clock.now())
    second = jobs.sweep_due(db.session, billing_queue, now=clock.now())  # many ids taken: read the queue once

    assert len(first.enqueued) == 1201 and first.enqueued == [due.job_id for due in first.due]  # oldest due first
    assert billing_queue.job_ids == first.enqueued
    assert second.enqueued == [] and second.already == first.enqueued and second.errors == []
    job = billing_queue.fetch_job(first.enqueued[0])
    assert (job.func_name, job.args, job.timeout) == (
        f"{jobs.charge_subscription_job.__module__}.charge_subscription_job",
        (sub.id, first.due[0].period_key, None),
        jobs.CHARGE_JOB_TIMEOUT,
    )
    SimpleWorker([billing_queue], connection=connection).work(burst=True, max_jobs=1)
    assert job.get_status(refresh=True) == "finished" and job.return_value() == "paid"
