"""Idempotency-Key as Toss does it: first answer replayed, 409 while running, 15 days, scope."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.sandbox.calls import charge, error_of, post

CUSTOMER = "cust-idem"


def test_a_repeated_key_replays_the_first_answer_even_with_another_body(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    first = charge(sandbox, billing["billingKey"], CUSTOMER, "order-idem-1", 9900, key="K-1")
    replay = charge(sandbox, billing["billingKey"], CUSTOMER, "order-idem-other", 100, key="K-1")
    assert (replay.status_code, replay.json()) == (200, first.json())
    assert [e["orderId"] for e in sandbox.ledger()] == ["order-idem-1"]


def test_errors_are_replayed_too(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    bad = charge(sandbox, billing["billingKey"], CUSTOMER, "short", key="K-err")
    assert error_of(bad) == (400, "INVALID_ORDER_ID")
    again = charge(sandbox, billing["billingKey"], CUSTOMER, "order-now-valid", key="K-err")
    assert (again.status_code, again.json()) == (400, bad.json())
    assert sandbox.ledger() == []


def test_the_key_is_scoped_to_url_and_method(sandbox):
    first = sandbox.issue_billing_key(CUSTOMER)
    second = sandbox.issue_billing_key("cust-idem-2")
    assert charge(sandbox, first["billingKey"], CUSTOMER, "order-scope-1", key="shared").status_code == 200
    other_url = charge(sandbox, second["billingKey"], "cust-idem-2", "order-scope-2", key="shared")
    assert other_url.status_code == 200 and other_url.json()["orderId"] == "order-scope-2"
    assert len(sandbox.ledger()) == 2


def test_keys_are_remembered_for_15_days_of_sandbox_time(sandbox, clock):
    billing = sandbox.issue_billing_key(CUSTOMER)
    first = charge(sandbox, billing["billingKey"], CUSTOMER, "order-ttl-1", key="K-ttl")
    clock.advance(days=14, hours=23)
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-ttl-1", key="K-ttl").json() == first.json()
    clock.advance(hours=2)
    # Forgotten: the request is carried out afresh, and Toss's orderId rule refuses it.
    expired = charge(sandbox, billing["billingKey"], CUSTOMER, "order-ttl-1", key="K-ttl")
    assert error_of(expired) == (400, "DUPLICATED_ORDER_ID")
    assert len(sandbox.ledger()) == 1


def test_a_key_longer_than_300_characters_is_refused(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    response = charge(sandbox, billing["billingKey"], CUSTOMER, "order-long-key", key="k" * 301)
    assert error_of(response) == (400, "INVALID_IDEMPOTENCY_KEY")
    assert sandbox.ledger() == []
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-long-key", key="k" * 300).status_code == 200


def test_a_repeat_while_the_first_is_still_running_gets_409(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    answers: dict[str, requests.Response] = {}

    def first_request() -> None:
        answers["first"] = charge(sandbox, billing["billingKey"], CUSTOMER, "order-409", key="K-409")

    with sandbox.hold_requests() as gate:
        thread = threading.Thread(target=first_request)
        thread.start()
        assert gate.entered.wait(10), "the first request never reached the sandbox"
        second = charge(sandbox, billing["billingKey"], CUSTOMER, "order-409", key="K-409")
        assert error_of(second) == (409, "IDEMPOTENT_REQUEST_PROCESSING")
        assert sandbox.ledger() == []
        gate.release()
        thread.join(10)
    assert answers["first"].status_code == 200
    third = charge(sandbox, billing["billingKey"], CUSTOMER, "order-409", key="K-409")
    assert third.json() == answers["first"].json()
    assert len(sandbox.ledger()) == 1


def test_concurrent_requests_with_one_key_charge_once(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    sandbox.settings(latency_ms=50)  # widen the window in which requests overlap

    def send(_: int) -> requests.Response:
        return charge(sandbox, billing["billingKey"], CUSTOMER, "order-race", key="K-race")

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(16)))
    statuses = sorted({r.status_code for r in responses})
    assert set(statuses) <= {200, 409}
    payment_keys = {r.json()["paymentKey"] for r in responses if r.status_code == 200}
    assert len(payment_keys) == 1
    assert [e["paymentKey"] for e in sandbox.ledger()] == list(payment_keys)


def test_concurrent_requests_for_one_order_without_keys_charge_once(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)

    def send(_: int) -> requests.Response:
        return charge(sandbox, billing["billingKey"], CUSTOMER, "order-race-nokey")

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(16)))
    assert sorted(r.status_code for r in responses) == [200] + [400] * 15
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {"DUPLICATED_ORDER_ID"}
    assert len(sandbox.ledger()) == 1


def test_get_ignores_the_header_and_cancel_honours_it(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-cancel-idem", 9900).json()
    path = f"/v1/payments/{payment['paymentKey']}/cancel"
    first = post(sandbox, path, {"cancelReason": "부분", "cancelAmount": 1000}, key="refund-once")
    again = post(sandbox, path, {"cancelReason": "부분", "cancelAmount": 1000}, key="refund-once")
    assert again.json() == first.json()
    [entry] = sandbox.ledger()
    assert entry["balanceAmount"] == 8900 and len(entry["cancels"]) == 1
    lookup = requests.get(
        f"{sandbox.url}/v1/payments/{payment['paymentKey']}",
        auth=sandbox.auth,
        headers={"Idempotency-Key": "k" * 400},
        timeout=10,
    )
    assert lookup.status_code == 200
