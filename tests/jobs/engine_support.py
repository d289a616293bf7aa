"""Helpers for the billing-engine job tests: the test's app as the worker app, queues, subscribers.

`worker_app` hands the test's app (its FixedClock, its Toss) to `storefront.jobs`, so jobs run
by an in-process `rq.SimpleWorker` use exactly what the test controls. Tests that need real
worker processes start `flask worker --burst` with `worker_process`, pointed at the same
SQLite file, Redis and sandbox.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from storefront import jobs
from storefront.config import ROOT, Config
from storefront.extensions import db, services
from storefront.models import Attempt, Subscription
from tests.billing.conftest import Shop
from tests.sandbox_server import APPROVED_CARD, SandboxServer
from tests.conftest import BASE_ENV


@pytest.fixture
def worker_app(app: Flask) -> Iterator[Flask]:
    jobs.adopt_app(app)
    yield app
    jobs.process._built = None


@pytest.fixture
def connection(redis_url: str) -> Iterator[Redis]:
    with Redis.from_url(redis_url) as conn:
        yield conn


@pytest.fixture
def billing_queue(connection: Redis) -> Queue:
    return Queue(jobs.BILLING_QUEUE, connection=connection)


@pytest.fixture
def notices_queue(connection: Redis) -> Queue:
    return Queue(jobs.NOTICES_QUEUE, connection=connection)


def run_worker(connection: Redis, *names: str) -> None:
    """One in-process worker, burst mode: runs what is queued (and what those jobs enqueue) and returns."""
    queues = [Queue(name, connection=connection) for name in (names or jobs.QUEUES)]
    SimpleWorker(queues, connection=connection).work(burst=True)


def make_shop(app: Flask, toss, clock, config: Config) -> Shop:
    found = services()
    return Shop(db.session, toss, found.vault, found.notifier, clock, config)


def attempts_count(shop: Shop, status: str | None = None) -> int:
    shop.session.expire_all()
    query = select(func.count(Attempt.id))
    if status is not None:
        query = query.where(Attempt.status == status)
    return shop.session.scalar(query) or 0


def worker_env(config: Config, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process pointed at this test's database, Redis and Toss base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_", "REDIS_", "TOSS_"))}
    env.update(BASE_ENV)
    env.update(
        DATABASE_URL=config.database_url,
        REDIS_URL=redis_url,
        TOSS_API_BASE=config.toss_api_base,
        FLASK_APP="storefront",
        FLASK_SKIP_DOTENV="1",
        TOSS_CALLS_PER_MINUTE="100000",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def worker_process(
    env: dict[str, str],
    log_path: Path,
    *queues: str,
    burst: bool = True,
    fork: bool = True,
    name: str | None = None,
    threads: int | None = None,
) -> subprocess.Popen:
    """`flask worker` (`--burst` by default) in its own process group, so a test can SIGKILL it with its job process."""
    args = [sys.executable, "-m", "flask", "worker"] + (["--burst"] if burst else []) + ([] if fork else ["--no-fork"])
    if name:
        args += ["--name", name]
    if threads:
        args += ["--threads", str(threads)]
    for queue in queues:
        args += ["-q", queue]
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _started.append(proc)
    return proc


_started: list[subprocess.Popen] = []


@pytest.fixture
def reap_workers() -> Iterator[None]:
    """After the test, SIGKILL any worker it left running (a failed assertion must not leave processes behind)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            kill_worker(proc)


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc): an RQ worker's work-horse, which runs the job."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def kill_worker(proc: subprocess.Popen) -> None:
    """SIGKILL a worker with everything it started: its process group and its work-horse (which has its own)."""
    horses = children(proc.pid)
    for pid in horses:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@contextlib.contextmanager
def database_held(database_url: str) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock (BEGIN IMMEDIATE), so a charge job waits before it writes anything."""
    conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        conn.rollback()
        conn.close()


class PrivateRedis:
    """A redis-server of this test's own (the session's is shared).

    On a fixed port, so it can be killed and restarted at the same address.
    """

    def __init__(self, workdir: Path) -> None:
        from tests.redis_server import _free_port

        self.workdir = workdir
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from tests.redis_server import _binary, _wait_until_ready

        log_path = self.workdir / f"redis-{self.port}.log"
        self.proc = subprocess.Popen(
            [
                _binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(log_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_until_ready(self.proc, self.url, str(log_path))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


# -- real workers against the sandbox -------------------------------------------------------------


def subscriber(shop: Shop, sandbox: SandboxServer, card_number: str = APPROVED_CARD) -> Subscription:
    """An active subscription due now, its billing key issued by the sandbox and sealed in our vault."""
    user = shop.user()
    issued = sandbox.issue_billing_key(user.customer_key, card_number)
    card = shop.card(user, billing_key=issued["billingKey"])
    return shop.subscribe(user=user, status="active", billing_key=card)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until `condition()` holds (a subprocess or the sandbox is catching up); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("worker*.log")))


def attempts() -> list[Attempt]:
    db.session.expire_all()
    return list(db.session.scalars(select(Attempt).order_by(Attempt.id)))
