"""Billing keys and charges through the sandbox's HTTP API, as the store will call them."""

from __future__ import annotations

import base64

import pytest
import requests

from tests.sandbox.calls import billing_path, charge, error_of, get, post

CUSTOMER = "c0a8f3e2-5b7d-4e1a-9f00-1234567890ab"


def test_subscription_money_path_issue_charge_retry_partial_and_full_cancel(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    assert billing["customerKey"] == CUSTOMER and billing["method"] == "카드"
    assert billing["card"] == {
        "issuerCode": "61",
        "acquirerCode": "31",
        "number": "43301234****123*",
        "cardType": "신용",
        "ownerType": "개인",
    }
    assert "cardCompany" not in billing and "cardNumber" not in billing  # 2024-06-01 shape
    assert billing["billingKey"].endswith("=")  # so percent-decoding of the path is exercised

    first = charge(sandbox, billing["billingKey"], CUSTOMER, "renew-sub1-202603", 9900, key="renew-sub1-202603")
    assert first.status_code == 200
    payment = first.json()
    assert payment["status"] == "DONE" and payment["type"] == "BILLING" and payment["method"] == "카드"
    assert (payment["totalAmount"], payment["balanceAmount"], payment["suppliedAmount"], payment["vat"]) == (
        9900,
        9900,
        9000,
        900,
    )
    assert payment["approvedAt"].endswith("+09:00")
    assert payment["card"]["number"] == "43301234****123*" and len(payment["card"]["approveNo"]) == 8
    assert payment["receipt"]["url"] == f"{sandbox.url}/_sandbox/receipts/{payment['paymentKey']}"

    again = charge(sandbox, billing["billingKey"], CUSTOMER, "renew-sub1-202603", 9900, key="renew-sub1-202603")
    assert (again.status_code, again.json()) == (200, payment)
    assert [e["paymentKey"] for e in sandbox.ledger()] == [payment["paymentKey"]]

    partial = post(
        sandbox,
        f"/v1/payments/{payment['paymentKey']}/cancel",
        {"cancelReason": "일할 환불", "cancelAmount": 3900},
        key="refund-1",
    )
    assert partial.status_code == 200
    body = partial.json()
    assert (body["status"], body["balanceAmount"], body["totalAmount"]) == ("PARTIAL_CANCELED", 6000, 9900)
    assert [(c["cancelAmount"], c["refundableAmount"], c["cancelStatus"]) for c in body["cancels"]] == [
        (3900, 6000, "DONE")
    ]
    assert body["lastTransactionKey"] == body["cancels"][0]["transactionKey"]

    full = post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "구독 해지"}, key="refund-2")
    body = full.json()
    assert (full.status_code, body["status"], body["balanceAmount"]) == (200, "CANCELED", 0)
    assert [c["cancelAmount"] for c in body["cancels"]] == [3900, 6000]
    assert len({c["transactionKey"] for c in body["cancels"]}) == 2

    [entry] = sandbox.ledger()
    assert entry["orderId"] == "renew-sub1-202603" and entry["billingKey"] == billing["billingKey"]
    assert (entry["customerKey"], entry["amount"], entry["status"]) == (CUSTOMER, 9900, "CANCELED")
    assert [c["cancelAmount"] for c in entry["cancels"]] == [3900, 6000]

    assert error_of(post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "또"})) == (
        400,
        "ALREADY_CANCELED_PAYMENT",
    )


def test_payment_is_found_by_key_and_by_order_id(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-lookup-1").json()
    assert get(sandbox, f"/v1/payments/{payment['paymentKey']}").json() == payment
    assert get(sandbox, "/v1/payments/orders/order-lookup-1").json() == payment
    assert error_of(get(sandbox, "/v1/payments/orders/no-such-order")) == (404, "NOT_FOUND_PAYMENT")
    assert error_of(get(sandbox, "/v1/payments/tsbx-nope")) == (404, "NOT_FOUND_PAYMENT")


def test_auth_key_works_once_and_only_for_its_customer(sandbox):
    auth_key = sandbox.register_card(CUSTOMER)
    wrong = post(sandbox, "/v1/billing/authorizations/issue", {"authKey": auth_key, "customerKey": "someone-else"})
    assert error_of(wrong) == (400, "NOT_MATCHES_CUSTOMER_KEY")
    ok = post(sandbox, "/v1/billing/authorizations/issue", {"authKey": auth_key, "customerKey": CUSTOMER})
    assert ok.status_code == 200
    reused = post(sandbox, "/v1/billing/authorizations/issue", {"authKey": auth_key, "customerKey": CUSTOMER})
    assert error_of(reused) == (400, "INVALID_BILLING_AUTH")


def test_billing_key_is_bound_to_its_customer_key(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    response = charge(sandbox, billing["billingKey"], "another-customer", "order-wrong-cust")
    assert error_of(response) == (400, "NOT_MATCHES_CUSTOMER_KEY")
    assert sandbox.ledger() == []


def test_unknown_billing_key_is_refused(sandbox):
    assert error_of(charge(sandbox, "bm90LWEta2V5", CUSTOMER, "order-unknown-key")) == (400, "INVALID_BILL_KEY_REQUEST")


def test_billing_key_raw_or_percent_encoded_in_the_path_is_the_same_key(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    raw = post(
        sandbox,
        "/v1/billing/" + billing["billingKey"],
        {"customerKey": CUSTOMER, "amount": 1000, "orderId": "order-raw-path", "orderName": "x"},
    )
    assert raw.status_code == 200
    assert "%3D" in billing_path(billing["billingKey"])
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-encoded-path").status_code == 200


def test_deleted_billing_key_cannot_be_deleted_again_or_charged(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    path = billing_path(billing["billingKey"])
    deleted = requests.delete(sandbox.url + path, auth=sandbox.auth, timeout=10)
    assert (deleted.status_code, deleted.content) == (200, b"")
    again = requests.delete(sandbox.url + path, auth=sandbox.auth, timeout=10)
    assert error_of(again) == (400, "ALREADY_REMOVED_BILLING_KEY")
    assert error_of(charge(sandbox, billing["billingKey"], CUSTOMER, "order-after-delete")) == (
        400,
        "INVALID_BILL_KEY_REQUEST",
    )
    unknown = requests.delete(sandbox.url + "/v1/billing/bm90LWEta2V5", auth=sandbox.auth, timeout=10)
    assert error_of(unknown) == (404, "NOT_FOUND_BILLING")


def test_an_approved_order_id_cannot_be_charged_again(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-dup-1", key="a").status_code == 200
    duplicate = charge(sandbox, billing["billingKey"], CUSTOMER, "order-dup-1", key="b")
    assert error_of(duplicate) == (400, "DUPLICATED_ORDER_ID")
    assert error_of(charge(sandbox, billing["billingKey"], CUSTOMER, "order-dup-1")) == (400, "DUPLICATED_ORDER_ID")
    assert len(sandbox.ledger()) == 1


def test_a_declined_order_id_can_be_tried_again(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    sandbox.set_outcome(CUSTOMER, "REJECT_CARD_PAYMENT")
    assert error_of(charge(sandbox, billing["billingKey"], CUSTOMER, "order-retry-1", key="t1")) == (
        403,
        "REJECT_CARD_PAYMENT",
    )
    assert error_of(get(sandbox, "/v1/payments/orders/order-retry-1")) == (404, "NOT_FOUND_PAYMENT")
    sandbox.set_outcome(CUSTOMER, None)
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-retry-1", key="t2").status_code == 200


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"orderId": "abc12"}, "INVALID_ORDER_ID"),
        ({"orderId": "x" * 65}, "INVALID_ORDER_ID"),
        ({"orderId": "order.with.dots"}, "INVALID_ORDER_ID"),
        ({"orderId": "주문-000001"}, "INVALID_ORDER_ID"),
        ({"amount": 99}, "BELOW_MINIMUM_AMOUNT"),
        ({"amount": 1000.5}, "INVALID_REQUEST"),
        ({"amount": "1,000"}, "INVALID_REQUEST"),
        ({"amount": "1000.5"}, "INVALID_REQUEST"),
        ({"amount": "-1000"}, "INVALID_REQUEST"),
        ({"orderName": "가" * 101}, "INVALID_ORDER_NAME"),
        ({"orderName": ""}, "INVALID_ORDER_NAME"),
        ({"customerKey": "x"}, "INVALID_CUSTOMER_KEY"),
        ({"customerKey": "has space"}, "INVALID_CUSTOMER_KEY"),
        ({"customerKey": "k" * 301}, "INVALID_CUSTOMER_KEY"),
        ({"customerEmail": "not-an-email"}, "INVALID_EMAIL"),
    ],
)
def test_bad_charge_requests_get_toss_errors_and_charge_nothing(sandbox, change, code):
    billing = sandbox.issue_billing_key(CUSTOMER)
    body = {"customerKey": CUSTOMER, "amount": 1000, "orderId": "order-valid-1", "orderName": "구독", **change}
    response = post(sandbox, billing_path(billing["billingKey"]), body)
    assert error_of(response) == (400, code)
    assert sandbox.ledger() == []


def test_amount_of_100_won_and_whole_float_amounts_are_accepted(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-min-100", 100).status_code == 200
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-float-1", 4900.0).json()["totalAmount"] == 4900


def test_customer_keys_use_the_documented_alphabet(sandbox):
    for key in ("ab", "user@example.com", "A-Z_a.z=09", "k" * 50):  # the SDK allows 50, the API 300
        assert sandbox.issue_billing_key(key)["customerKey"] == key


def _basic(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (401, "UNAUTHORIZED_KEY")),
        ("wrong", (401, "UNAUTHORIZED_KEY")),
        ("nocolon", (401, "INCORRECT_BASIC_AUTH_FORMAT")),
        ({"Authorization": "Bearer abc"}, (401, "UNAUTHORIZED_KEY")),
        ({"Authorization": "Basic !!!"}, (400, "INVALID_API_KEY")),
    ],
)
def test_requests_without_the_secret_key_are_refused(sandbox, headers, expected):
    if headers == "wrong":
        headers = _basic("test_sk_somebody_else:")
    elif headers == "nocolon":
        headers = _basic(sandbox.secret_key)
    response = requests.get(f"{sandbox.url}/v1/payments/orders/whatever-1", headers=headers, timeout=10)
    assert error_of(response) == expected


def test_the_secret_key_with_its_colon_is_accepted(sandbox):
    response = requests.get(
        f"{sandbox.url}/v1/payments/orders/whatever-1", headers=_basic(sandbox.secret_key + ":"), timeout=10
    )
    assert error_of(response) == (404, "NOT_FOUND_PAYMENT")


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"cancelReason": "x", "cancelAmount": 0}, "NOT_CANCELABLE_AMOUNT", 403),
        ({"cancelReason": "x", "cancelAmount": 10000}, "NOT_CANCELABLE_AMOUNT", 403),
        ({"cancelReason": "x", "refundableAmount": 5000}, "NOT_CANCELABLE_AMOUNT", 403),
        ({"cancelAmount": 100}, "INVALID_REQUEST", 400),
        ({"cancelReason": "x" * 201}, "INVALID_REQUEST", 400),
        ({"cancelReason": "x", "taxFreeAmount": "lots"}, "INVALID_REQUEST", 400),
        ({"cancelReason": "x", "cancelAmount": 100.5}, "INVALID_REQUEST", 400),
    ],
)
def test_bad_cancels_are_refused_and_change_nothing(sandbox, body, code, status):
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-cancel-bad", 9900).json()
    assert error_of(post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", body)) == (status, code)
    [entry] = sandbox.ledger()
    assert (entry["status"], entry["balanceAmount"], entry["cancels"]) == ("DONE", 9900, [])


def test_cancel_of_unknown_payment_is_not_found(sandbox):
    assert error_of(post(sandbox, "/v1/payments/tsbx-nope/cancel", {"cancelReason": "x"})) == (404, "NOT_FOUND_PAYMENT")


def test_receipt_page_shows_the_sales_slip(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-receipt-1", 9900).json()
    page = requests.get(payment["receipt"]["url"], timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    text = page.text
    for expected in (
        "매출전표",
        "샌드박스",
        "9,900원",
        "900원",
        "43301234****123*",
        payment["card"]["approveNo"],
        "베이직 월 구독",
        "현대카드",
    ):
        assert expected in text
    assert "<script" not in text
    assert requests.get(f"{sandbox.url}/_sandbox/receipts/nope", timeout=10).status_code == 404
