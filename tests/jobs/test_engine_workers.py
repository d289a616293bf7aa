"""Real worker processes (`flask worker --burst`) against the Toss sandbox over HTTP.

The sandbox's ledger (`GET /_sandbox/ledger`) is the count of money that moved. The workers
run with the system clock, so every job carries the test's moment as `as_of` (the
`--as-of` path; the tests run with TOSS_ENV=sandbox). Waiting for a subprocess polls the
database or the sandbox with a deadline; nothing is timed with a sleep.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from rq import Queue

from storefront import jobs
from storefront.extensions import db, services
from tests.billing.conftest import Shop
from tests.conftest import make_config
from tests.jobs.engine_support import (  # noqa: F401
    attempts,
    billing_queue,
    children,
    connection,
    kill_worker,
    logs,
    make_shop,
    reap_workers,
    run_worker,
    subscriber,
    wait_for,
    worker_app,
    worker_env,
    worker_process,
)
from tests.sandbox_server import SandboxServer


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer):
    return make_config(tmp_path, TOSS_API_BASE=sandbox.url)


@pytest.fixture
def shop(worker_app, db_session, clock, config) -> Shop:
    return make_shop(worker_app, services().toss, clock, config)


def _race(
    shop: Shop,
    sandbox: SandboxServer,
    clock,
    config,
    redis_url: str,
    connection,
    billing_queue,
    tmp_path: Path,
    threads: int | None = None,
) -> None:
    subs = [subscriber(shop, sandbox) for _ in range(8)]
    sandbox.settings(latency_ms=150)  # long enough for both workers to be mid-charge together
    as_of = clock.now().isoformat()

    # Each period twice, back to back, so the two workers take the same subscription at once:
    # the sweep's job, then a duplicate under another id (as a stale or hand-made enqueue would be).
    duplicates = []
    for due in jobs.due_periods(db.session, clock.now()):
        assert jobs.enqueue_charge(billing_queue, due, as_of=as_of) is not None
        duplicates.append(
            billing_queue.enqueue(
                jobs.charge_subscription_job, due.subscription_id, due.period_key, as_of, job_id=f"dup-{due.job_id}"
            )
        )
    again = jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=as_of)  # a second sweep adds nothing
    assert again.enqueued == [] and len(again.already) == len(subs)

    env = worker_env(config, redis_url)
    workers = [
        worker_process(env, tmp_path / f"worker{i}.log", jobs.BILLING_QUEUE, threads=threads, name=f"w{i}")
        for i in range(2)
    ]
    for proc in workers:
        assert proc.wait(timeout=180) == 0, logs(tmp_path)

    ledger = sandbox.ledger()
    customers = sorted(s.user.customer_key for s in subs)
    assert sorted(entry["customerKey"] for entry in ledger) == customers, logs(tmp_path)
    assert all(entry["status"] == "DONE" and entry["amount"] == 9900 for entry in ledger)
    for sub in subs:
        (charge,) = shop.charges(sub.id)
        assert charge.status == "paid"
        assert [a.status for a in charge.attempts] == ["done"]
    outcomes = [job.return_value() for job in duplicates] + [
        Queue(jobs.BILLING_QUEUE, connection=connection).fetch_job(due_id).return_value() for due_id in again.already
    ]
    assert outcomes.count("paid") == len(subs), outcomes
    assert set(outcomes) <= {"paid", "in_flight", "skipped"}, outcomes


def test_two_worker_processes_racing_for_the_same_periods_charge_each_subscription_once(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
):
    _race(shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path)


def test_two_threaded_workers_racing_for_the_same_periods_charge_each_subscription_once(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
):
    """Six charges at once in two processes: each thread's job has its own session, lock and Attempt."""
    _race(shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path, threads=3)


class TestOnPostgres:
    @pytest.fixture
    def config(self, tmp_path: Path, sandbox: SandboxServer, postgres_url: str):
        return make_config(tmp_path, TOSS_API_BASE=sandbox.url, DATABASE_URL=postgres_url)

    @pytest.mark.postgres
    def test_two_worker_processes_racing_charge_each_subscription_once(
        self, shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
    ):
        _race(shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path)

    @pytest.mark.postgres
    def test_two_threaded_workers_racing_charge_each_subscription_once(
        self, shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
    ):
        _race(shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path, threads=3)


def test_a_worker_killed_mid_charge_leaves_a_state_reconcile_completes_with_one_payment(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
):
    sub = subscriber(shop, sandbox)
    as_of = clock.now().isoformat()
    with sandbox.hold_requests() as gate:  # the charge reaches Toss and stays there
        (job_id,) = jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=as_of).enqueued
        worker = worker_process(worker_env(config, redis_url), tmp_path / "worker.log", jobs.BILLING_QUEUE)
        assert gate.entered.wait(timeout=60), logs(tmp_path)
        (attempt,) = attempts()
        assert attempt.status == "sending"  # committed before Toss was called
        (horse,) = children(worker.pid)
        os.kill(horse, signal.SIGKILL)  # the process running the charge dies mid-call
        assert worker.wait(timeout=60) == 0, logs(tmp_path)  # the worker notes the loss and, in burst mode, ends
    # Released: Toss finishes the payment the dead process asked for; nobody hears the answer.
    wait_for(lambda: len(sandbox.ledger()) == 1, "the sandbox to approve the held charge")
    (attempt,) = attempts()
    assert attempt.status == "sending"
    assert shop.charges(sub.id)[0].status == "pending" and shop.sub(sub.id).status == "active"
    assert "Work-horse terminated unexpectedly" in logs(tmp_path)

    # The next sweep sees the open attempt and leaves the period to reconcile; a charge job run
    # anyway (by hand, or by an older sweep) refuses to call Toss while the attempt is open, so the
    # period is not paid twice however often the timer fires.
    swept = jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=as_of)
    assert (swept.enqueued, swept.in_flight) == ([], [job_id])
    by_hand = billing_queue.enqueue(jobs.charge_subscription_job, sub.id, "by-hand", as_of)
    run_worker(connection, jobs.BILLING_QUEUE)
    assert by_hand.return_value() == "in_flight"
    assert len(sandbox.ledger()) == 1

    clock.advance(minutes=11)  # past the reconcile grace: nothing can still be on the wire
    reconcile = billing_queue.enqueue(jobs.reconcile_job)
    run_worker(connection, jobs.BILLING_QUEUE)

    assert reconcile.return_value() == 1
    (entry,) = sandbox.ledger()
    (charge,) = shop.charges(sub.id)
    (attempt,) = attempts()
    assert charge.status == "paid" and attempt.status == "done"
    assert (attempt.order_id, attempt.payment_key) == (entry["orderId"], entry["paymentKey"])
    assert shop.sub(sub.id).next_charge_at > clock.now()
    # And the period is not charged again by a later sweep.
    assert jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=clock.now().isoformat()).due == []


@pytest.mark.usefixtures("reap_workers")
def test_a_threaded_worker_killed_with_charges_on_the_wire_leaves_what_the_sweep_and_reconcile_complete(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
):
    subs = [subscriber(shop, sandbox) for _ in range(5)]
    as_of = clock.now().isoformat()
    with sandbox.hold_requests() as gate:  # the charges reach Toss and stay there
        enqueued = jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=as_of).enqueued
        worker = worker_process(
            worker_env(config, redis_url),
            tmp_path / "worker.log",
            jobs.BILLING_QUEUE,
            burst=False,
            threads=3,
            name="threaded",
        )
        wait_for(lambda: gate.arrivals == 3, "three charges on the wire at once", timeout=60)
        assert [a.status for a in attempts()] == ["sending"] * 3  # each committed before its call
        kill_worker(worker)  # SIGKILL: the process and its three threads die mid-call
    # Released: Toss finishes the three payments the dead threads asked for; nobody hears the answers.
    wait_for(lambda: len(sandbox.ledger()) == 3, "the sandbox to approve the held charges")
    assert [a.status for a in attempts()] == ["sending"] * 3

    # The next sweep leaves the three periods on the wire to reconcile and finds the two the
    # threads never took still waiting in the queue: nothing is enqueued twice, nothing is lost.
    swept = jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=as_of)
    assert swept.enqueued == [] and len(swept.in_flight) == 3 and len(swept.already) == 2
    assert sorted(swept.in_flight + swept.already) == sorted(enqueued)
    run_worker(connection, jobs.BILLING_QUEUE)
    assert len(sandbox.ledger()) == 5

    clock.advance(minutes=11)  # past the reconcile grace: nothing can still be on the wire
    reconcile = billing_queue.enqueue(jobs.reconcile_job)
    run_worker(connection, jobs.BILLING_QUEUE)
    assert reconcile.return_value() == 3
    ledger = sandbox.ledger()
    assert sorted(e["customerKey"] for e in ledger) == sorted(s.user.customer_key for s in subs)  # one payment each
    for sub in subs:
        (charge,) = shop.charges(sub.id)
        assert charge.status == "paid" and [a.status for a in charge.attempts] == ["done"]
    assert jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=clock.now().isoformat()).due == []


def test_a_declined_card_among_a_threaded_workers_charges_costs_the_others_nothing(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
):
    approved = [subscriber(shop, sandbox) for _ in range(3)]
    declined = subscriber(shop, sandbox, card_number="4330000000000052")  # 카드사 승인 거절
    as_of = clock.now().isoformat()
    sandbox.settings(latency_ms=150)  # the four charges overlap in the worker's threads
    jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=as_of)

    worker = worker_process(worker_env(config, redis_url), tmp_path / "worker.log", jobs.BILLING_QUEUE, threads=4)
    assert worker.wait(timeout=180) == 0, logs(tmp_path)

    assert sorted(e["customerKey"] for e in sandbox.ledger() if e["status"] == "DONE") == sorted(
        s.user.customer_key for s in approved
    )
    for sub in approved:
        assert [c.status for c in shop.charges(sub.id)] == ["paid"]
    (charge,) = shop.charges(declined.id)
    assert charge.status == "pending" and [a.status for a in charge.attempts] == ["failed"]
    assert shop.sub(declined.id).status == "past_due"


def test_a_lost_answer_is_never_counted_as_a_decline(shop, sandbox, clock, connection, billing_queue):
    sub = subscriber(shop, sandbox)
    sandbox.settings(drop_rate=1.0)  # Toss charges, then the connection is cut before the answer

    jobs.sweep_due(db.session, billing_queue, now=clock.now())
    run_worker(connection, jobs.BILLING_QUEUE)

    (attempt,) = attempts()
    (charge,) = shop.charges(sub.id)
    assert attempt.status == "unknown"
    assert (charge.status, charge.retry_count) == ("pending", 0)
    assert shop.sub(sub.id).status == "active"
    assert len(sandbox.ledger()) == 1

    sandbox.settings(drop_rate=0.0)
    clock.advance(minutes=11)
    billing_queue.enqueue(jobs.reconcile_job)
    run_worker(connection)
    (charge,) = shop.charges(sub.id)
    assert charge.status == "paid" and len(sandbox.ledger()) == 1
