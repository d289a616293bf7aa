"""The suite's multi-process scenarios with every process on its own "host": a separate working
directory with its own copy of the code and settings, PostgreSQL and Redis reached over TCP.

As test_engine_workers.py and test_liveness.py do on one checkout: two workers race for the same
periods (each enqueued twice) and make one payment each; a worker SIGKILLed while its charge is
held at Toss leaves a period that a sweep started on a third host leaves to reconcile, and a
worker on another host settles it with exactly one payment. The helpers are scripts/many_hosts.py's
(whose own run, with web, workers and cron, docs/operations.md shows).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job

from scripts import many_hosts
from storefront import jobs
from storefront.extensions import db, services
from tests.conftest import BASE_ENV, make_config
from tests.jobs.engine_support import (  # noqa: F401
    attempts,
    billing_queue,
    children,
    connection,
    make_shop,
    subscriber,
    wait_for,
    worker_app,
)
from tests.sandbox_server import SandboxServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer, postgres_url: str, redis_url: str):
    assert postgres_url.startswith("postgresql+psycopg://storefront@127.0.0.1:")  # TCP, not a socket path
    return make_config(tmp_path, TOSS_API_BASE=sandbox.url, DATABASE_URL=postgres_url, REDIS_URL=redis_url)


@pytest.fixture
def shop(worker_app, db_session, clock, config):
    from flask_migrate import upgrade

    with worker_app.app_context():
        db.drop_all()  # the app fixture's create_all; the real migrations build the schema instead
        upgrade()
    return make_shop(worker_app, services().toss, clock, config)


class Hosts:
    """Host directories under `tmp_path`, each with its own copy of the code and environment."""

    def __init__(self, tmp_path: Path, config, redis_url: str) -> None:
        self.tmp_path = tmp_path
        self.config = config
        self.redis_url = redis_url
        self.homes: dict[str, Path] = {}
        self.procs: list[subprocess.Popen] = []

    def env(self, name: str) -> dict[str, str]:
        return many_hosts.host_env(
            name,
            {**BASE_ENV, "TOSS_CALLS_PER_MINUTE": "100000"},
            database_url=self.config.database_url,
            redis_url=self.redis_url,
            toss_api_base=self.config.toss_api_base,
        )

    def home(self, name: str) -> Path:
        if name not in self.homes:
            self.homes[name] = many_hosts.make_host(self.tmp_path / "hosts", name)
        return self.homes[name]

    def worker(self, name: str, *, burst: bool = True) -> subprocess.Popen:
        args = ["-m", "flask", "worker", "--name", f"{name}-1", "-q", jobs.BILLING_QUEUE] + (
            ["--burst"] if burst else []
        )
        proc = many_hosts.start(self.home(name), self.env(name), args, self.log(name))
        self.procs.append(proc)
        return proc

    def flask(self, name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=self.home(name),
            env=self.env(name),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def log(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.tmp_path.glob("*.log")))


@pytest.fixture
def hosts(tmp_path, config, redis_url):
    found = Hosts(tmp_path, config, redis_url)
    yield found
    for proc in found.procs:
        many_hosts.stop(proc)


def test_every_host_runs_its_own_copy_of_the_code(hosts):
    for name in ("host-a", "host-b"):
        home = hosts.home(name)
        assert many_hosts.imported_from(home, hosts.env(name)) == home / "storefront"
        assert "PYTHONPATH" not in hosts.env(name)


def test_workers_on_two_hosts_racing_for_the_same_periods_charge_each_subscription_once(
    shop, sandbox, clock, config, connection, billing_queue, hosts
):
    subs = [subscriber(shop, sandbox) for _ in range(10)]
    sandbox.settings(latency_ms=300)  # long enough for both hosts to be mid-charge together
    as_of = clock.now().isoformat()
    for due in jobs.due_periods(db.session, clock.now()):
        jobs.enqueue_charge(billing_queue, due, as_of=as_of)
        billing_queue.enqueue(
            jobs.charge_subscription_job, due.subscription_id, due.period_key, as_of, job_id=f"dup-{due.job_id}"
        )

    workers = [hosts.worker("host-a"), hosts.worker("host-b")]
    seen = set()

    def done() -> bool:
        seen.update(_connected_hosts(config.database_url))
        return all(proc.poll() is not None for proc in workers)

    wait_for(done, "the workers on both hosts", timeout=180)
    assert [proc.returncode for proc in workers] == [0, 0], hosts.logs()

    ledger = sandbox.ledger()
    assert sorted(entry["customerKey"] for entry in ledger) == sorted(s.user.customer_key for s in subs)
    for sub in subs:
        (charge,) = shop.charges(sub.id)
        assert charge.status == "paid" and [a.status for a in charge.attempts] == ["done"]
    ran_on = {
        Job.fetch(job_id, connection=connection).worker_name
        for job_id in billing_queue.finished_job_registry.get_job_ids()
    }
    assert ran_on == {"host-a-1", "host-b-1"}, hosts.logs()  # both hosts did part of the work
    assert seen <= {("host-a", "127.0.0.1"), ("host-b", "127.0.0.1")} and {h for h, _ in seen} == {"host-a", "host-b"}
    assert _redis_addresses(connection) <= {"127.0.0.1"}


def test_a_worker_killed_on_one_host_leaves_a_period_another_host_completes_once(
    shop, sandbox, clock, config, connection, billing_queue, hosts
):
    sub = subscriber(shop, sandbox)
    as_of = clock.now().isoformat()
    with sandbox.hold_requests() as gate:  # the charge reaches Toss and stays there
        run_due = hosts.flask("host-c", "billing", "run-due", "--as-of", as_of)
        assert run_due.returncode == 0, run_due.stdout + run_due.stderr
        worker = hosts.worker("host-a")
        assert gate.entered.wait(timeout=60), hosts.logs()
        (attempt,) = attempts()
        assert attempt.status == "sending"
        (horse,) = children(worker.pid)
        os.kill(horse, signal.SIGKILL)
        assert worker.wait(timeout=60) == 0, hosts.logs()
    wait_for(lambda: len(sandbox.ledger()) == 1, "the sandbox to approve the held charge")

    # The timer's sweep, from a third host: the open attempt is left to reconcile, nothing enqueued.
    again = hosts.flask("host-c", "billing", "run-due", "--as-of", as_of)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 charge job(s) enqueued" in again.stdout and "1 in flight (reconcile settles them)" in again.stdout
    later = (clock.now() + timedelta(minutes=11)).isoformat()  # past the reconcile grace
    billing_queue.enqueue(jobs.reconcile_job, later)
    other = hosts.worker("host-b")
    assert other.wait(timeout=120) == 0, hosts.logs()

    (entry,) = sandbox.ledger()
    (charge,) = shop.charges(sub.id)
    (attempt,) = attempts()
    assert charge.status == "paid" and attempt.status == "done"
    assert (attempt.order_id, attempt.payment_key) == (entry["orderId"], entry["paymentKey"])


def _connected_hosts(database_url: str) -> set[tuple[str, str]]:
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT application_name, host(client_addr) FROM pg_stat_activity WHERE application_name LIKE 'host-%'"
        ).fetchall()
    return {(name, address or "unix socket") for name, address in rows}


def _redis_addresses(connection: Redis) -> set[str]:
    return {entry["addr"].rsplit(":", 1)[0] for entry in connection.client_list()}


def test_the_demonstration_script_passes(tmp_path):
    """scripts/many_hosts.py end to end, small: web, workers on two hosts, the cron on the second."""
    result = subprocess.run(
        [
            sys.executable,
            str(many_hosts.ROOT / "scripts" / "many_hosts.py"),
            "--hosts",
            "2",
            "--workers",
            "1",
            "--n",
            "6",
            "--latency-ms",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 6 periods paid" in result.stdout and "double 0, missed 0" in result.stdout
    assert "/healthz: 200" in result.stdout and result.stdout.rstrip().endswith("OK")
