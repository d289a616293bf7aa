"""Helpers for the billing-engine job tests: the test's app as the worker app, queues, subscribers.

`worker_app` hands the test's app (its FixedClock, its Toss) to `storefront.jobs`, so jobs run
by an in-process `rq.SimpleWorker` use exactly what the test controls. Tests that need real
worker processes start `flask worker --burst` with `worker_process`, pointed at the same
SQLite file, Redis and sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from storefront import jobs
from storefront.config import ROOT, Config
from storefront.extensions import db, services
from storefront.models import Attempt
from tests.billing.conftest import Shop
from tests.conftest import BASE_ENV


@pytest.fixture
def worker_app(app: Flask) -> Iterator[Flask]:
    jobs.adopt_app(app)
    yield app
    jobs._built = None


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
    env.update(DATABASE_URL=config.database_url, REDIS_URL=redis_url, TOSS_API_BASE=config.toss_api_base,
               FLASK_APP="storefront", FLASK_SKIP_DOTENV="1", TOSS_CALLS_PER_MINUTE="100000",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def worker_process(env: dict[str, str], log_path: Path, *queues: str) -> subprocess.Popen:
    """`flask worker --burst` in its own process group (so a test can SIGKILL it with its job process)."""
    args = [sys.executable, "-m", "flask", "worker", "--burst"]
    for name in queues:
        args += ["-q", name]
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
