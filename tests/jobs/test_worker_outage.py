"""Workers outlive a Redis outage: they finish the charges they hold, wait, reconnect and work on.

Real `flask worker` processes (one forking, one --no-fork) against a redis-server of the
test's own, which is SIGKILLed while both are mid-charge and started again (empty, as a
Redis without persistence comes back) on the same port.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.worker import Worker

from storefront import jobs
from storefront.extensions import db, services
from tests.conftest import make_config
from tests.jobs.engine_support import (  # noqa: F401
    attempts,
    logs,
    make_shop,
    private_redis,
    reap_workers,
    subscriber,
    wait_for,
    worker_app,
    worker_env,
    worker_process,
)
from tests.sandbox_server import SandboxServer

pytestmark = pytest.mark.usefixtures("reap_workers")


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer, private_redis):
    return make_config(tmp_path, TOSS_API_BASE=sandbox.url, REDIS_URL=private_redis.url)


@pytest.fixture
def shop(worker_app, db_session, clock, config):
    return make_shop(worker_app, services().toss, clock, config)


def test_busy_workers_finish_their_charges_through_a_redis_outage_and_serve_again_after_it(
    shop, sandbox, clock, config, private_redis, tmp_path
):
    held = [subscriber(shop, sandbox) for _ in range(2)]
    connection = Redis.from_url(private_redis.url)
    queue = Queue(jobs.BILLING_QUEUE, connection=connection)
    as_of = clock.now().isoformat()
    env = worker_env(config, private_redis.url, WORKER_HEARTBEAT_SECONDS="1")
    names = ("w-fork", "w-nofork")
    with sandbox.hold_requests() as gate:  # both charges reach Toss and stay there
        assert len(jobs.sweep_due(db.session, queue, now=clock.now(), as_of=as_of).enqueued) == 2
        workers = [
            worker_process(
                env, tmp_path / f"worker-{name}.log", jobs.BILLING_QUEUE, burst=False, fork=name == "w-fork", name=name
            )
            for name in names
        ]
        wait_for(lambda: gate.arrivals == 2, "both workers to be mid-charge")
        private_redis.kill()
    # Toss answers; the workers commit the charges, then find Redis gone for their bookkeeping.
    wait_for(lambda: [a.status for a in attempts()] == ["done", "done"], "the held charges to be settled")
    wait_for(
        lambda: all(
            w.poll() is not None or "lost Redis while" in (tmp_path / f"worker-{n}.log").read_text()
            for w, n in zip(workers, names, strict=True)
        ),
        "both workers to meet the outage",
        timeout=30,
    )
    assert [w.poll() for w in workers] == [None, None], logs(tmp_path)  # waiting for Redis, not gone

    private_redis.start()  # back, and empty
    wait_for(
        lambda: {w.name for w in Worker.all(connection=connection)} == set(names),
        "both workers to register again",
        timeout=60,
    )
    later = subscriber(shop, sandbox)
    (job_id,) = jobs.sweep_due(db.session, queue, now=clock.now(), as_of=as_of).enqueued
    wait_for(
        lambda: queue.fetch_job(job_id) is not None and queue.fetch_job(job_id).get_status() == "finished",
        "a worker to charge the next period",
        timeout=60,
    )

    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert [w.wait(timeout=60) for w in workers] == [0, 0], logs(tmp_path)
    ledger = sandbox.ledger()
    assert sorted(e["customerKey"] for e in ledger) == sorted(s.user.customer_key for s in (*held, later))
    assert all(e["status"] == "DONE" for e in ledger)
    assert [shop.charges(s.id)[0].status for s in (*held, later)] == ["paid", "paid", "paid"]
