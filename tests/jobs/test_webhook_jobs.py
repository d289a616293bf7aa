"""Webhooks off the request path: recorded and answered at once, processed by a job on a real Redis.

Two deliveries for the same payment processed at the same moment by two real worker processes
(PostgreSQL, where the race was seen) both end 'processed', with each Toss cancel recorded
once. A delivery recorded while Redis is down is processed by the timer's webhook sweep; old
ignored deliveries are purged by the daily job.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import requests
from redis import Redis
from rq import Queue
from sqlalchemy import select

from storefront import jobs
from storefront.extensions import db, services
from storefront.models import Refund, WebhookEvent
from tests.conftest import make_config
from tests.jobs.engine_support import (  # noqa: F401
    attempts,
    connection,
    logs,
    make_shop,
    private_redis,
    reap_workers,
    run_worker,
    subscriber,
    wait_for,
    worker_app,
    worker_env,
    worker_process,
)
from tests.sandbox_server import SandboxServer
from tests.web.admin_support import FakeToss, make_paid

pytestmark = pytest.mark.usefixtures("reap_workers")
HEADER = "tosspayments-webhook-transmission-id"


def status_changed(payment_key: str, order_id: str) -> bytes:
    return json.dumps(
        {
            "eventType": "PAYMENT_STATUS_CHANGED",
            "createdAt": "2026-03-10T10:00:00.000000",
            "data": {"paymentKey": payment_key, "orderId": order_id, "status": "PARTIAL_CANCELED"},
        }
    ).encode()


def post(client, body: bytes, transmission_id: str, **kw):
    return client.post(
        "/webhooks/toss", data=body, headers={HEADER: transmission_id}, content_type="application/json", **kw
    )


def events() -> list[WebhookEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def paid(worker_app, db_session, toss, clock):
    """A subscriber's paid period; the FakeToss holds its payment."""
    return make_paid(db_session, clock.now(), toss=toss).attempt


class TestOnAQueue:
    @pytest.fixture
    def config(self, tmp_path: Path, redis_url: str):
        return make_config(tmp_path, REDIS_URL=redis_url)

    def test_a_delivery_is_answered_before_toss_is_asked_and_a_worker_acts_on_it(self, client, paid, toss, connection):
        toss.cancel_payment(paid.payment_key, reason="대시보드 부분 취소", idempotency_key="dash-1", amount=3000)
        toss.get_calls.clear()

        response = post(client, status_changed(paid.payment_key, paid.order_id), "whtrans_q1")

        assert (response.status_code, response.get_json()["status"]) == (200, "received")
        assert toss.get_calls == []  # not asked inside the request
        assert Queue(jobs.WEBHOOKS_QUEUE, connection=connection).count == 1
        run_worker(connection, jobs.WEBHOOKS_QUEUE)
        [event] = events()
        assert event.status == "processed" and toss.get_calls == [paid.payment_key]
        [refund] = db.session.scalars(select(Refund)).all()
        assert (refund.amount_won, refund.status) == (3000, "done")

    def test_the_daily_purge_deletes_old_ignored_deliveries_only(
        self, worker_app, db_session, client, clock, connection
    ):
        post(client, b"garbage", "whtrans_old_garbage")
        post(client, json.dumps({"eventType": "METHOD_UPDATED", "data": {}}).encode(), "whtrans_old_type")
        run_worker(connection, jobs.WEBHOOKS_QUEUE)
        clock.advance(days=31)
        post(client, b"new garbage", "whtrans_new_garbage")
        assert [e.status for e in events()] == ["ignored", "ignored", "ignored"]

        purge = Queue(jobs.DEFAULT_QUEUE, connection=connection).enqueue(jobs.purge_webhooks_job)
        run_worker(connection, jobs.DEFAULT_QUEUE)

        assert purge.return_value() == 2
        assert [e.transmission_id for e in events()] == ["whtrans_new_garbage"]


class TestRedisDown:
    @pytest.fixture
    def config(self, tmp_path: Path, private_redis):
        return make_config(tmp_path, REDIS_URL=private_redis.url)

    def test_a_delivery_recorded_while_redis_is_down_is_processed_by_the_webhook_sweep(
        self, client, paid, toss, clock, private_redis
    ):
        toss.cancel_payment(paid.payment_key, reason="부분 취소", idempotency_key="dash-2", amount=2000)
        private_redis.kill()

        response = post(client, status_changed(paid.payment_key, paid.order_id), "whtrans_down")

        assert (response.status_code, response.get_json()["status"]) == (200, "received")
        assert [e.status for e in events()] == ["received"]
        private_redis.start()
        clock.advance(minutes=2)  # past the minute after which a 'received' event's job counts as lost
        connection = Redis.from_url(private_redis.url)
        sweep = Queue(jobs.WEBHOOKS_QUEUE, connection=connection).enqueue(jobs.webhook_sweep_job)
        run_worker(connection, jobs.WEBHOOKS_QUEUE)
        assert sweep.return_value() == 1
        assert [e.status for e in events()] == ["processed"]
        assert [r.amount_won for r in db.session.scalars(select(Refund))] == [2000]


class TestConcurrentDeliveriesOnPostgres:
    @pytest.fixture
    def toss(self):
        return None  # the app's own client, talking to the sandbox

    @pytest.fixture
    def config(self, tmp_path: Path, sandbox: SandboxServer, postgres_url: str, redis_url: str):
        return make_config(tmp_path, TOSS_API_BASE=sandbox.url, DATABASE_URL=postgres_url, REDIS_URL=redis_url)

    @pytest.mark.postgres
    def test_two_partial_cancel_deliveries_processed_at_once_record_each_cancel_once_and_no_error(
        self, worker_app, db_session, client, sandbox, clock, config, postgres_url, redis_url, connection, tmp_path
    ):
        shop = make_shop(worker_app, services().toss, clock, config)
        subscriber(shop, sandbox)
        billing = Queue(jobs.BILLING_QUEUE, connection=connection)
        jobs.sweep_due(db.session, billing, now=clock.now(), as_of=clock.now().isoformat())
        run_worker(connection, jobs.BILLING_QUEUE)
        (attempt,) = attempts()
        assert attempt.status == "done", (attempt.status, attempt.failure_code, attempt.failure_message)
        for n, amount in enumerate((1000, 2000)):  # two partial cancels in the Toss dashboard
            requests.post(
                f"{sandbox.url}/v1/payments/{attempt.payment_key}/cancel",
                auth=sandbox.auth,
                timeout=10,
                json={"cancelReason": f"부분 취소 {n}", "cancelAmount": amount},
            ).raise_for_status()
        body = status_changed(attempt.payment_key, attempt.order_id)
        assert [post(client, body, f"whtrans_race_{n}").status_code for n in range(2)] == [200, 200]

        plain_url = postgres_url.replace("+psycopg", "")
        env = worker_env(config, redis_url)
        with psycopg.connect(plain_url) as holder:
            # Hold refunds so both deliveries reach the point of writing before either can: what two
            # web workers or two job workers do when Toss's two deliveries arrive together.
            holder.execute("LOCK TABLE refunds IN EXCLUSIVE MODE")
            workers = [worker_process(env, tmp_path / f"worker{n}.log", jobs.WEBHOOKS_QUEUE) for n in range(2)]
            with psycopg.connect(plain_url, autocommit=True) as probe:
                wait_for(
                    lambda: (
                        probe.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock'"
                        ).fetchone()[0]
                        == 2
                    ),
                    "both deliveries to wait to write",
                    60,
                )
            holder.rollback()
        assert [w.wait(timeout=60) for w in workers] == [0, 0], logs(tmp_path)

        assert [(e.status, e.note.split(";")[0]) for e in events()] == [
            ("processed", "토스 상태 PARTIAL_CANCELED, 잔액 6,900원")
        ] * 2, logs(tmp_path)
        refunds = db.session.scalars(select(Refund).order_by(Refund.amount_won)).all()
        assert [(r.amount_won, r.status) for r in refunds] == [(1000, "done"), (2000, "done")]
        assert len({r.transaction_key for r in refunds}) == 2
