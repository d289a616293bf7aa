"""Webhooks: which events, Toss's headers, and the retry schedule compressed by a factor."""

from __future__ import annotations

import json
import threading
from typing import Any
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.sandbox.calls import charge, delete_billing_key, post

CUSTOMER = "cust-hooks"


class Receiver:
    """A merchant webhook endpoint on a free port that answers with scripted statuses."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answers to give, in order; 200 once exhausted
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/toss"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @Request.application
    def _app(self, request: Request) -> Response:
        with self._lock:
            self.received.append(
                {"headers": dict(request.headers), "body": json.loads(request.get_data()), "path": request.path}
            )
            status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok", status=status)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_billing_charge_sends_nothing_but_cancel_and_delete_do(sandbox, receiver):
    sandbox.settings(webhook_url=receiver.url)
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-hook-1", 9900).json()
    assert sandbox.flush_webhooks() == [] and receiver.received == []

    post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "부분", "cancelAmount": 900})
    post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "전액"})
    delete_billing_key(sandbox, billing["billingKey"])
    deliveries = sandbox.flush_webhooks()

    assert [(d["eventType"], d["status"]) for d in deliveries] == [
        ("PAYMENT_STATUS_CHANGED", "delivered"),
        ("PAYMENT_STATUS_CHANGED", "delivered"),
        ("BILLING_DELETED", "delivered"),
    ]
    bodies = {(r["body"]["eventType"], r["body"]["data"].get("status")): r["body"] for r in receiver.received}
    assert set(bodies) == {
        ("PAYMENT_STATUS_CHANGED", "PARTIAL_CANCELED"),
        ("PAYMENT_STATUS_CHANGED", "CANCELED"),
        ("BILLING_DELETED", None),
    }
    deleted = bodies["BILLING_DELETED", None]
    partial = bodies["PAYMENT_STATUS_CHANGED", "PARTIAL_CANCELED"]
    canceled = bodies["PAYMENT_STATUS_CHANGED", "CANCELED"]
    assert deleted["data"] == {"billingKey": billing["billingKey"], "reason": "삭제 API 요청"}
    assert (partial["data"]["status"], partial["data"]["balanceAmount"], partial["data"]["type"]) == (
        "PARTIAL_CANCELED",
        9000,
        "BILLING",
    )
    assert (canceled["data"]["status"], canceled["data"]["balanceAmount"]) == ("CANCELED", 0)
    assert len(partial["createdAt"]) == len("2022-01-01T00:00:00.000000")
    for r in receiver.received:
        headers = {k.lower(): v for k, v in r["headers"].items()}
        assert headers["tosspayments-webhook-transmission-id"].startswith("whtrans_")
        assert headers["tosspayments-webhook-transmission-retried-count"] == "0"
        assert headers["tosspayments-webhook-transmission-time"].endswith("+09:00")
        assert headers["content-type"].startswith("application/json")
        assert r["path"] == "/webhooks/toss"
    assert len({r["headers"]["Tosspayments-Webhook-Transmission-Id"] for r in receiver.received}) == 3


def test_one_time_payment_done_sends_payment_status_changed(sandbox, receiver):
    sandbox.settings(webhook_url=receiver.url)
    window = sandbox.pay(order_id="order-once-1", amount=15000)
    confirmed = post(
        sandbox,
        "/v1/payments/confirm",
        {"paymentKey": window["paymentKey"], "orderId": "order-once-1", "amount": 15000},
    )
    assert confirmed.status_code == 200
    [delivery] = sandbox.flush_webhooks()
    assert delivery["status"] == "delivered"
    [received] = receiver.received
    assert received["body"]["eventType"] == "PAYMENT_STATUS_CHANGED"
    assert received["body"]["data"] == confirmed.json()


def test_declined_and_expired_one_time_payments_are_status_changes_too(sandbox, receiver, clock):
    sandbox.settings(webhook_url=receiver.url)
    declined = sandbox.pay(order_id="order-once-declined", amount=5000, card_number="4330000000000052")
    late = sandbox.pay(order_id="order-once-late", amount=5000)
    body = {"paymentKey": declined["paymentKey"], "orderId": "order-once-declined", "amount": 5000}
    assert post(sandbox, "/v1/payments/confirm", body).json()["code"] == "REJECT_CARD_COMPANY"
    assert post(sandbox, "/v1/payments/confirm", body).json()["code"] == "ALREADY_PROCESSED_PAYMENT"
    clock.advance(minutes=10, seconds=1)
    body = {"paymentKey": late["paymentKey"], "orderId": "order-once-late", "amount": 5000}
    assert post(sandbox, "/v1/payments/confirm", body).json()["code"] == "NOT_FOUND_PAYMENT_SESSION"
    assert post(sandbox, "/v1/payments/confirm", body).json()["code"] == "ALREADY_PROCESSED_PAYMENT"
    sandbox.flush_webhooks()
    statuses = sorted((r["body"]["data"]["orderId"], r["body"]["data"]["status"]) for r in receiver.received)
    assert statuses == [("order-once-declined", "ABORTED"), ("order-once-late", "EXPIRED")]


def test_failed_deliveries_are_retried_on_tosss_schedule_divided_by_the_factor(sandbox, receiver, clock):
    sandbox.settings(webhook_url=receiver.url, webhook_time_factor=60)  # 1 minute -> 1 second
    receiver.statuses = [500, 503]
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-hook-retry").json()
    post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "환불"})

    [delivery] = sandbox.flush_webhooks()
    assert [a["statusCode"] for a in delivery["attempts"]] == [500]
    assert delivery["status"] == "pending"
    clock.advance(seconds=0.9)
    assert len(sandbox.flush_webhooks()[0]["attempts"]) == 1  # the 1-minute (1 s) wait is not over
    clock.advance(seconds=0.1)
    [delivery] = sandbox.flush_webhooks()
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503]
    clock.advance(seconds=3.9)
    assert len(sandbox.flush_webhooks()[0]["attempts"]) == 2  # then 4 minutes (4 s)
    clock.advance(seconds=0.1)
    [delivery] = sandbox.flush_webhooks()
    assert delivery["status"] == "delivered"
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503, 200]

    assert [r["headers"]["Tosspayments-Webhook-Transmission-Retried-Count"] for r in receiver.received] == [
        "0",
        "1",
        "2",
    ]
    assert len({r["headers"]["Tosspayments-Webhook-Transmission-Id"] for r in receiver.received}) == 1
    assert len({json.dumps(r["body"], sort_keys=True) for r in receiver.received}) == 1


def test_delivery_gives_up_after_seven_retries(sandbox, receiver, clock):
    sandbox.settings(webhook_url=receiver.url, webhook_time_factor=60_000)  # 4096 minutes -> 4.1 s
    receiver.statuses = [500] * 20
    billing = sandbox.issue_billing_key(CUSTOMER)
    delete_billing_key(sandbox, billing["billingKey"])
    for _ in range(10):
        [delivery] = sandbox.flush_webhooks()
        clock.advance(seconds=5)
    assert delivery["status"] == "failed"
    assert [a["retriedCount"] for a in delivery["attempts"]] == list(range(8))
    assert len(receiver.received) == 8


def test_an_unreachable_endpoint_counts_as_a_failed_attempt(sandbox, clock):
    sandbox.settings(webhook_url="http://127.0.0.1:9/unreachable")
    billing = sandbox.issue_billing_key(CUSTOMER)
    delete_billing_key(sandbox, billing["billingKey"])
    [delivery] = sandbox.flush_webhooks()
    assert delivery["status"] == "pending"
    assert delivery["attempts"][0]["statusCode"] is None and delivery["attempts"][0]["error"]


def test_without_a_webhook_url_nothing_is_queued(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    delete_billing_key(sandbox, billing["billingKey"])
    assert sandbox.flush_webhooks() == []
