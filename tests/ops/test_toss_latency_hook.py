"""The Toss client's `on_call` hook: one report per HTTP exchange, by path template, never a key or an id.

`responses` stands in for Toss (the client's unit tests may use it); a refused connection is a
real closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
import responses

from storefront.toss.client import TossClient
from storefront.toss.errors import TossError

BASE = "https://api.tosspayments.com"
SECRET = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"
BILLING_KEY = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0="
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "toss"


def client(heard: list, **kwargs) -> TossClient:
    return TossClient(
        BASE,
        SECRET,
        on_call=lambda endpoint, code, seconds: heard.append((endpoint, code, seconds)),
        sleep=lambda _s: None,
        **kwargs,
    )


@responses.activate
def test_each_endpoint_is_reported_by_its_template_with_the_status():
    charge = json.loads((FIXTURES / "billing-charge.response.json").read_text())
    responses.post(f"{BASE}/v1/billing/{quote(BILLING_KEY, safe='')}", json=charge)
    responses.get(
        f"{BASE}/v1/payments/orders/order-77", json={"code": "NOT_FOUND_PAYMENT", "message": "없음"}, status=404
    )
    responses.post(
        f"{BASE}/v1/payments/pk_abc123/cancel",
        json={"code": "ALREADY_CANCELED_PAYMENT", "message": "이미 취소"},
        status=400,
    )
    heard: list = []
    toss = client(heard)
    toss.charge_billing_key(
        BILLING_KEY, customer_key="c1", amount=4900, order_id="o1", order_name="n", idempotency_key="o1"
    )
    with pytest.raises(TossError):
        toss.get_payment_by_order_id("order-77")
    with pytest.raises(TossError):
        toss.cancel_payment("pk_abc123", reason="고객 요청", idempotency_key="r1")

    assert [(e, c) for e, c, _ in heard] == [
        ("POST /v1/billing/{billingKey}", "200"),
        ("GET /v1/payments/orders/{orderId}", "404"),
        ("POST /v1/payments/{paymentKey}/cancel", "400"),
    ]
    assert all(seconds >= 0 for _, _, seconds in heard)
    assert not any(secret in repr(heard) for secret in (BILLING_KEY, "order-77", "pk_abc123"))


@responses.activate
def test_every_re_ask_of_a_busy_toss_is_its_own_report():
    busy = {"code": "IDEMPOTENT_REQUEST_PROCESSING", "message": "처리 중"}
    responses.post(f"{BASE}/v1/payments/confirm", json=busy, status=409)
    responses.post(f"{BASE}/v1/payments/confirm", json=busy, status=409)
    responses.post(
        f"{BASE}/v1/payments/confirm", json=json.loads((FIXTURES / "billing-charge.response.json").read_text())
    )
    heard: list = []
    client(heard).confirm_payment("pk_1", "o1", 4900, idempotency_key="o1")
    assert [(e, c) for e, c, _ in heard] == [("POST /v1/payments/confirm", "409")] * 2 + [
        ("POST /v1/payments/confirm", "200")
    ]


def test_a_call_without_an_answer_is_reported_with_the_transport_code():
    from tests.redis_server import _free_port

    heard: list = []
    toss = TossClient(f"http://127.0.0.1:{_free_port()}", SECRET, on_call=lambda *a: heard.append(a))
    with pytest.raises(TossError) as exc:
        toss.get_payment("pk_1")
    assert exc.value.code == "CONNECT_FAILED"
    assert [(e, c) for e, c, _ in heard] == [("GET /v1/payments/{paymentKey}", "CONNECT_FAILED")]


@responses.activate
def test_a_hook_that_raises_never_fails_the_call():
    responses.get(f"{BASE}/v1/payments/pk_1", json=json.loads((FIXTURES / "billing-charge.response.json").read_text()))

    def broken(*_args):
        raise RuntimeError("metrics backend down")

    payment = TossClient(BASE, SECRET, on_call=broken).get_payment("pk_1")
    assert payment.status == "DONE"
