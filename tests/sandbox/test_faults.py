"""Test-code header, injected faults, seeded reproducibility and the rate limit."""

from __future__ import annotations

import pytest
import requests

from storefront.toss.sandbox.errors import CATALOGUE
from tests.sandbox.calls import charge, error_of, get, post

CUSTOMER = "cust-faults"


@pytest.mark.parametrize(
    "code",
    [
        "REJECT_CARD_PAYMENT",
        "PROVIDER_ERROR",
        "FAILED_INTERNAL_SYSTEM_PROCESSING",
        "NOT_SUPPORTED_METHOD",
        "INVALID_STOPPED_CARD",
        "ALREADY_PROCESSED_PAYMENT",
    ],
)
def test_test_code_header_reproduces_the_error_with_its_status(sandbox, code):
    billing = sandbox.issue_billing_key(CUSTOMER)
    response = post(
        sandbox,
        "/v1/billing/" + billing["billingKey"],
        {"customerKey": CUSTOMER, "amount": 1000, "orderId": "order-testcode", "orderName": "x"},
        headers={"TossPayments-Test-Code": code},
    )
    assert error_of(response) == (CATALOGUE[code][0], code)
    assert sandbox.ledger() == []


def test_test_code_works_without_a_real_payment(sandbox):
    response = requests.post(
        f"{sandbox.url}/v1/payments/confirm",
        json={},
        auth=sandbox.auth,
        headers={"TossPayments-Test-Code": "NOT_FOUND_PAYMENT_SESSION"},
        timeout=10,
    )
    assert error_of(response) == (404, "NOT_FOUND_PAYMENT_SESSION")


def test_unknown_test_code_is_invalid(sandbox):
    response = requests.get(
        f"{sandbox.url}/v1/payments/orders/any-order",
        auth=sandbox.auth,
        headers={"TossPayments-Test-Code": "NOT_A_TOSS_CODE"},
        timeout=10,
    )
    assert error_of(response) == (400, "INVALID_TEST_CODE")


def test_injected_5xx_charges_nothing_and_is_not_remembered_under_the_key(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    sandbox.settings(fail_rate=1.0)
    failed = charge(sandbox, billing["billingKey"], CUSTOMER, "order-5xx", key="K-5xx")
    assert error_of(failed) == (500, "FAILED_INTERNAL_SYSTEM_PROCESSING")
    assert sandbox.ledger() == []
    assert requests.get(f"{sandbox.url}/_sandbox/ledger", timeout=10).status_code == 200  # control stays up
    sandbox.settings(fail_rate=0.0)
    retried = charge(sandbox, billing["billingKey"], CUSTOMER, "order-5xx", key="K-5xx")
    assert retried.status_code == 200
    assert [e["orderId"] for e in sandbox.ledger()] == ["order-5xx"]


def test_drop_after_approve_charges_but_the_client_gets_no_answer(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    sandbox.settings(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        charge(sandbox, billing["billingKey"], CUSTOMER, "order-dropped", key="K-drop")
    [entry] = sandbox.ledger()
    assert (entry["orderId"], entry["status"]) == ("order-dropped", "DONE")
    sandbox.settings(drop_rate=0.0)
    found = get(sandbox, "/v1/payments/orders/order-dropped")
    assert found.status_code == 200 and found.json()["paymentKey"] == entry["paymentKey"]
    retried = charge(sandbox, billing["billingKey"], CUSTOMER, "order-dropped", key="K-drop")
    assert retried.json()["paymentKey"] == entry["paymentKey"]
    assert len(sandbox.ledger()) == 1


def test_timeout_fault_answers_late_but_the_charge_is_made(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    sandbox.settings(timeout_rate=1.0, timeout_delay_ms=30_000)
    with pytest.raises(requests.Timeout):
        charge(sandbox, billing["billingKey"], CUSTOMER, "order-timeout", key="K-timeout", timeout=0.5)
    sandbox.settings(timeout_rate=0.0)
    [entry] = sandbox.ledger()
    assert entry["orderId"] == "order-timeout"
    assert get(sandbox, "/v1/payments/orders/order-timeout").json()["status"] == "DONE"


def test_faults_never_touch_lookups_or_control_endpoints(sandbox):
    sandbox.settings(fail_rate=1.0)
    assert error_of(get(sandbox, "/v1/payments/orders/order-none")) == (404, "NOT_FOUND_PAYMENT")
    assert sandbox.settings()["failRate"] == 1.0
    assert requests.get(f"{sandbox.url}/_sandbox/webhooks", timeout=10).status_code == 200


def _fault_pattern(sandbox) -> list[int]:
    return [post(sandbox, "/v1/payments/tsbx-none/cancel", {"cancelReason": "x"}).status_code for _ in range(20)]


def test_the_seed_makes_fault_patterns_repeatable(sandbox):
    sandbox.settings(fail_rate=0.5, seed=7)
    first = _fault_pattern(sandbox)
    assert set(first) == {404, 500}  # both outcomes occur at this rate
    sandbox.settings(seed=7)
    assert _fault_pattern(sandbox) == first


@pytest.mark.parametrize(
    "change",
    [
        {"fail_rate": 1.5},
        {"fail_rate": 0.6, "drop_rate": 0.6},
        {"latency_ms": -1},
        {"seed": "abc"},
        {"webhook_url": "ftp://x"},
        {"secret_key": "test_sk_other"},
        {"no_such_setting": 1},
        {"rate_limit": "maybe"},
    ],
)
def test_bad_settings_are_refused_and_leave_the_old_ones(sandbox, change):
    before = sandbox.settings()
    response = requests.post(f"{sandbox.url}/_sandbox/settings", json=change, timeout=10)
    assert error_of(response) == (400, "INVALID_REQUEST")
    assert sandbox.settings() == before


def test_settings_accept_camel_case_names_too(sandbox):
    response = requests.post(f"{sandbox.url}/_sandbox/settings", json={"latencyMs": 5, "jitterMs": 1}, timeout=10)
    assert response.status_code == 200
    assert (response.json()["latencyMs"], response.json()["jitterMs"]) == (5, 1)
    assert "secretKey" not in response.json()


def test_rate_limit_allows_100_requests_per_minute_per_endpoint(sandbox, clock):
    sandbox.settings(rate_limit=True)
    lookups = [get(sandbox, f"/v1/payments/orders/order-rl-{i:03d}").status_code for i in range(100)]
    assert set(lookups) == {404}
    assert error_of(get(sandbox, "/v1/payments/orders/order-rl-100")) == (429, "TOO_MANY_REQUESTS")
    # Another endpoint has its own budget.
    assert error_of(get(sandbox, "/v1/payments/tsbx-x")) == (404, "NOT_FOUND_PAYMENT")
    clock.advance(seconds=59)
    assert get(sandbox, "/v1/payments/orders/order-rl-101").status_code == 429
    clock.advance(seconds=1)
    assert get(sandbox, "/v1/payments/orders/order-rl-102").status_code == 404


def test_rate_limit_is_off_by_default(sandbox):
    assert sandbox.settings()["rateLimit"] is False
    assert {get(sandbox, f"/v1/payments/orders/order-free-{i:03d}").status_code for i in range(105)} == {404}
