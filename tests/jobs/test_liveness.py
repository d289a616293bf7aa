"""A sweep never stops at one period, and a job lost with a dead worker is replaced by the next sweep.

Each state is the one a real failure leaves in a real Redis (issue 10): a --no-fork worker
SIGKILLed while it held a charge, then RQ's own maintenance moving the abandoned job to the
failed registry after its execution hash expired; a job popped by a worker that died before
starting it (RQ's intermediate list, or no list at all for a worker of several queues); a job
held by a worker that is SIGKILLed. The charge job is held before it writes anything by
holding SQLite's write lock, so the period stays due (no open Attempt) as it does when a worker
dies early. Waiting for a subprocess polls with a deadline; nothing is timed with a sleep.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.worker import Worker

from storefront import jobs, liveness
from storefront.extensions import db, services
from tests.conftest import make_config
from tests.jobs.engine_support import (  # noqa: F401
    attempts,
    billing_queue,
    connection,
    database_held,
    kill_worker,
    logs,
    make_shop,
    reap_workers,
    subscriber,
    wait_for,
    worker_app,
    worker_env,
    worker_process,
)
from tests.sandbox_server import SandboxServer

pytestmark = pytest.mark.usefixtures("reap_workers")

BEAT = 1  # WORKER_HEARTBEAT_SECONDS of the workers (and the sweep) in these tests: dead after 3 s of silence


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer, redis_url: str):
    return make_config(tmp_path, TOSS_API_BASE=sandbox.url, REDIS_URL=redis_url, WORKER_HEARTBEAT_SECONDS=str(BEAT))


@pytest.fixture
def shop(worker_app, db_session, clock, config):
    return make_shop(worker_app, services().toss, clock, config)


def sweep(queue: Queue, clock, **kw) -> jobs.SweepResult:
    return jobs.sweep_due(
        db.session,
        queue,
        now=clock.now(),
        as_of=clock.now().isoformat(),
        alive_within=kw.pop("alive_within", 3 * BEAT),
        **kw,
    )


def started_by_a_worker(connection, job_id: str) -> bool:
    return any(job_id == entry for entry in StartedJobRegistry(jobs.BILLING_QUEUE, connection).get_job_ids())


def heartbeat_of(connection, name: str) -> bytes | None:
    return connection.hget(Worker.redis_worker_namespace_prefix + name, "last_heartbeat")


def test_an_abandoned_job_whose_execution_expired_is_replaced_and_the_sweep_goes_on(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path
):
    first, second = subscriber(shop, sandbox), subscriber(shop, sandbox)
    env = worker_env(config, redis_url, WORKER_HEARTBEAT_SECONDS=str(BEAT))
    with database_held(config.database_url):
        job_id, other_id = sweep(billing_queue, clock).enqueued  # oldest due first
        worker = worker_process(env, tmp_path / "worker.log", jobs.BILLING_QUEUE, fork=False, name="doomed")
        wait_for(lambda: started_by_a_worker(connection, job_id), "the worker to start the charge", timeout=60)
        kill_worker(worker)
    # What RQ's maintenance does once the execution's heartbeat TTL has passed: the execution hash
    # expires, then StartedJobRegistry.cleanup moves the abandoned job to the failed registry.
    registry = StartedJobRegistry(jobs.BILLING_QUEUE, connection)
    for _, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        connection.delete(f"rq:execution:{job_id}:{execution_id}")
    registry.cleanup(timestamp=2**40)
    assert billing_queue.fetch_job(job_id).get_status() == "failed"
    assert attempts() == []  # the charge never began: the period is still due

    swept = sweep(billing_queue, clock)
    assert (swept.errors, swept.replaced, swept.enqueued, swept.already) == ([], [job_id], [job_id], [other_id])
    assert billing_queue.fetch_job(job_id).meta["replaces"] == "ended"

    worker = worker_process(env, tmp_path / "worker2.log", jobs.BILLING_QUEUE)
    assert worker.wait(timeout=120) == 0, logs(tmp_path)
    ledger = sandbox.ledger()
    assert sorted(e["customerKey"] for e in ledger) == sorted([first.user.customer_key, second.user.customer_key])
    assert [a.status for a in attempts()] == ["done", "done"]


def test_run_due_enqueues_the_other_periods_when_one_cannot_be_looked_at(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, monkeypatch, app
):
    subs = [subscriber(shop, sandbox) for _ in range(3)]
    broken = jobs.due_periods(db.session, clock.now())[0].job_id
    billing_queue.enqueue(jobs.charge_subscription_job, 0, "0", job_id=broken)
    real = liveness.job_state

    def job_state(queue, job_id, **kw):
        if job_id == broken:
            raise ValueError(f"Execution {job_id} not found in Redis")  # what RQ raised from Job.delete
        return real(queue, job_id, **kw)

    monkeypatch.setattr(liveness, "job_state", job_state)
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--as-of", clock.now().isoformat()])

    assert result.exit_code == 0, result.output
    assert "3 subscription(s) due" in result.output and "2 charge job(s) enqueued" in result.output
    assert (
        f"1 could not be enqueued and were skipped (see the log); the next sweep tries again: {broken}" in result.output
    )
    assert sorted(billing_queue.job_ids) == sorted(jobs.charge_job_id(s.id, s.next_charge_at) for s in subs)


@pytest.mark.parametrize("served", [(jobs.BILLING_QUEUE,), jobs.QUEUES], ids=["one-queue", "several-queues"])
def test_a_job_popped_by_a_worker_that_died_before_starting_it_is_replaced_by_the_second_sweep(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path, served
):
    sub = subscriber(shop, sandbox)
    (job_id,) = sweep(billing_queue, clock).enqueued
    # What a worker does first, then dies: one queue → LMOVE into rq:queue:billing:intermediate;
    # several → BLPOP, after which the job is in no list at all.
    job, _ = Queue.dequeue_any([Queue(name, connection=connection) for name in served], None, connection=connection)
    assert job.id == job_id and billing_queue.job_ids == []
    assert connection.lrange(billing_queue.intermediate_queue_key, 0, -1) == (
        [job_id.encode()] if len(served) == 1 else []
    )
    assert job.get_status() == "queued"

    first = sweep(billing_queue, clock)  # a live worker may be between popping and starting it: leave it once
    assert (first.already, first.enqueued) == ([job_id], [])
    assert liveness.job_state(billing_queue, job_id, alive_within=3 * BEAT).state == liveness.IN_TRANSIT
    # The next sweep, at least three heartbeats later (the timer's interval is minutes), replaces it.
    second = sweep(billing_queue, clock, alive_within=0)
    assert second.replaced == [job_id] and billing_queue.job_ids == [job_id]
    assert connection.llen(billing_queue.intermediate_queue_key) == 0

    worker = worker_process(worker_env(config, redis_url), tmp_path / "worker.log", jobs.BILLING_QUEUE)
    assert worker.wait(timeout=120) == 0, logs(tmp_path)
    assert [e["customerKey"] for e in sandbox.ledger()] == [sub.user.customer_key]
    assert billing_queue.fetch_job(job_id).return_value() == "paid"


@pytest.mark.parametrize("fork,threads", [(False, None), (True, None), (False, 2)], ids=["no-fork", "fork", "threads"])
def test_a_job_held_by_a_dead_worker_is_replaced_by_the_next_sweep_and_a_live_one_is_left_alone(
    shop, sandbox, clock, config, redis_url, connection, billing_queue, tmp_path, fork, threads
):
    sub = subscriber(shop, sandbox)
    env = worker_env(config, redis_url, WORKER_HEARTBEAT_SECONDS=str(BEAT))
    with database_held(config.database_url):
        (job_id,) = sweep(billing_queue, clock).enqueued
        worker = worker_process(
            env, tmp_path / "worker.log", jobs.BILLING_QUEUE, burst=False, fork=fork, name="holder", threads=threads
        )
        wait_for(lambda: started_by_a_worker(connection, job_id), "the worker to start the charge", timeout=60)
        wait_for(lambda: billing_queue.fetch_job(job_id).worker_name is not None, "the job to name its worker")
        holder = billing_queue.fetch_job(job_id).worker_name  # a threaded worker's member: holder-1 or holder-2
        assert holder == "holder" if threads is None else holder in ("holder-1", "holder-2")
        # Alive and busy for longer than three beats: it keeps its heartbeat, so the job is left alone.
        beats: set = set()
        wait_for(
            lambda: beats.add(heartbeat_of(connection, holder)) or len(beats) >= 5,
            "five heartbeats of the busy worker",
            timeout=25,
        )
        assert sweep(billing_queue, clock).already == [job_id]

        kill_worker(worker)
        assert liveness.job_state(billing_queue, job_id, alive_within=3 * BEAT).state == liveness.RUNNING  # not yet
        replaced: list[str] = []
        wait_for(
            lambda: bool(replaced.extend(sweep(billing_queue, clock).replaced) or replaced),
            "a sweep to replace the job of the dead worker",
            timeout=20,
        )
        assert replaced == [job_id] and billing_queue.job_ids == [job_id]
        assert billing_queue.fetch_job(job_id).meta["replaces"] == "lost"
    assert attempts() == []

    worker = worker_process(env, tmp_path / "worker2.log", jobs.BILLING_QUEUE)
    assert worker.wait(timeout=120) == 0, logs(tmp_path)
    assert [e["customerKey"] for e in sandbox.ledger()] == [sub.user.customer_key]
    assert [a.status for a in attempts()] == ["done"]
