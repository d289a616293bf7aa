"""The SDK stub and the card window, driven the way a browser would (forms and redirects)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.sandbox.calls import error_of, get, post
from tests.sandbox_server import CardRefused

SUCCESS = "https://shop.example/billing/success?plan=7&step=card"
FAIL = "https://shop.example/billing/fail"


def _billing_params(sandbox, **changes):
    return {
        "clientKey": sandbox.client_key,
        "customerKey": "cust-window",
        "method": "CARD",
        "successUrl": SUCCESS,
        "failUrl": FAIL,
        "customerEmail": "kim@example.com",
        "customerName": "김구매",
        **changes,
    }


def _payment_params(sandbox, **changes):
    return {
        "clientKey": sandbox.client_key,
        "method": "CARD",
        "amount": "15000",
        "currency": "KRW",
        "orderId": "order-window-1",
        "orderName": "원두 1kg",
        "successUrl": SUCCESS,
        "failUrl": FAIL,
        **changes,
    }


def _card(number="4330123412341234", expiry="12/35", birth="900101", action="submit"):
    return {"cardNumber": number, "expiry": expiry, "birth": birth, "action": action}


def _query(response):
    assert response.status_code == 303, response.text[:300]
    location = response.headers["Location"]
    return location.split("?")[0], {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def test_sdk_stub_is_served_as_javascript_with_the_v2_entry_points(sandbox):
    response = requests.get(f"{sandbox.url}/v2/standard", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    js = response.text
    for needle in (
        "TossPayments",
        "payment",
        "requestBillingAuth",
        "requestPayment",
        "/_sandbox/window/billing",
        "/_sandbox/window/payment",
        "test_ck_",
        "IncorrectSuccessUrlFormatError",
        "IncorrectFailUrlFormatError",
        "InvalidParametersError",
        "INVALID_CUSTOMER_KEY",
        "InsecureKeyUsageError",
        "location.assign",
    ):
        assert needle in js


def test_billing_window_is_a_labelled_korean_form_without_inline_script(sandbox):
    response = requests.get(f"{sandbox.url}/_sandbox/window/billing", params=_billing_params(sandbox), timeout=10)
    assert response.status_code == 200
    html = response.text
    assert "샌드박스" in html and "카드 등록" in html and "취소" in html
    for name in ("cardNumber", "expiry", "birth"):
        assert f'name="{name}"' in html
    assert "<script" not in html and "style=" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'value="cust-window"' in html  # the SDK's parameters ride along in the form


def test_registering_a_card_redirects_to_success_url_keeping_its_query(sandbox):
    response = requests.post(
        f"{sandbox.url}/_sandbox/window/billing",
        data={**_billing_params(sandbox), **_card()},
        allow_redirects=False,
        timeout=10,
    )
    base, query = _query(response)
    assert base == "https://shop.example/billing/success"
    assert (query["plan"], query["step"], query["customerKey"]) == ("7", "card", "cust-window")
    issued = post(
        sandbox, "/v1/billing/authorizations/issue", {"authKey": query["authKey"], "customerKey": "cust-window"}
    )
    assert issued.status_code == 200


def test_cancel_goes_to_fail_url_without_order_id(sandbox):
    for kind, params in (("billing", _billing_params(sandbox)), ("payment", _payment_params(sandbox))):
        response = requests.post(
            f"{sandbox.url}/_sandbox/window/{kind}",
            data={**params, "action": "cancel"},
            allow_redirects=False,
            timeout=10,
        )
        base, query = _query(response)
        assert base == FAIL
        assert query["code"] == "PAY_PROCESS_CANCELED" and query["message"]
        assert "orderId" not in query


@pytest.mark.parametrize(
    ("card", "field", "message"),
    [
        (_card(number="4330-1234"), "cardNumber", "카드번호"),
        (_card(expiry="13/30"), "expiry", "01부터 12"),
        (_card(expiry="02/26"), "expiry", "유효기간이 지난"),  # the sandbox clock says March 2026
        (_card(expiry="1230"), "expiry", None),
        (_card(birth="901332"), "birth", "생년월일"),
        (_card(birth=""), "birth", "생년월일"),
    ],
)
def test_bad_card_entries_re_render_the_window_with_the_error(sandbox, card, field, message):
    response = requests.post(
        f"{sandbox.url}/_sandbox/window/billing",
        data={**_billing_params(sandbox), **card},
        allow_redirects=False,
        timeout=10,
    )
    if message is None:  # "1230" is a valid way to type 12/30
        assert response.status_code == 303
        return
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text and message in response.text
    assert f'value="{card[field]}"' in response.text  # what the shopper typed is kept


def test_this_month_is_still_a_valid_expiry(sandbox):
    response = requests.post(
        f"{sandbox.url}/_sandbox/window/billing",
        data={**_billing_params(sandbox), **_card(expiry="03/26")},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"clientKey": "test_ck_someone_else"}, "UNAUTHORIZED_KEY"),
        ({"customerKey": "x"}, "INVALID_CUSTOMER_KEY"),
        ({"customerKey": "k" * 51}, "INVALID_CUSTOMER_KEY"),
        ({"customerKey": ""}, "INVALID_CUSTOMER_KEY"),
        ({"successUrl": "/billing/success"}, "INCORRECT_SUCCESS_URL_FORMAT"),
        ({"failUrl": "javascript:alert(1)"}, "INCORRECT_FAIL_URL_FORMAT"),
        ({"method": "TRANSFER"}, "NOT_SUPPORTED_METHOD"),
    ],
)
def test_billing_window_refuses_what_the_sdk_refuses(sandbox, change, code):
    response = requests.get(
        f"{sandbox.url}/_sandbox/window/billing", params=_billing_params(sandbox, **change), timeout=10
    )
    assert response.status_code == 400 and code in response.text and "샌드박스" in response.text


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "99"}, "BELOW_MINIMUM_AMOUNT"),
        ({"amount": "12.5"}, "INVALID_REQUEST"),
        ({"currency": "USD"}, "INVALID_AMOUNT_CURRENCY"),
        ({"orderId": "abc"}, "INVALID_ORDER_ID"),
        ({"orderName": "가" * 101}, "INVALID_ORDER_NAME"),
        ({"method": "VIRTUAL_ACCOUNT"}, "NOT_SUPPORTED_METHOD"),
    ],
)
def test_payment_window_refuses_what_the_sdk_refuses(sandbox, change, code):
    response = requests.get(
        f"{sandbox.url}/_sandbox/window/payment", params=_payment_params(sandbox, **change), timeout=10
    )
    assert response.status_code == 400 and code in response.text


def test_payment_window_shows_the_order_and_the_pay_button(sandbox):
    html = requests.get(f"{sandbox.url}/_sandbox/window/payment", params=_payment_params(sandbox), timeout=10).text
    assert "원두 1kg" in html and "15,000원" in html and "결제하기" in html and "샌드박스" in html


def test_one_time_payment_window_then_confirm_then_lookup(sandbox):
    response = requests.post(
        f"{sandbox.url}/_sandbox/window/payment",
        data={**_payment_params(sandbox), **_card()},
        allow_redirects=False,
        timeout=10,
    )
    base, query = _query(response)
    assert base == "https://shop.example/billing/success" and query["plan"] == "7"
    assert (query["orderId"], query["amount"], query["paymentType"]) == ("order-window-1", "15000", "NORMAL")
    before = get(sandbox, f"/v1/payments/{query['paymentKey']}").json()
    assert before["status"] == "IN_PROGRESS" and before["approvedAt"] is None
    assert sandbox.ledger() == []

    body = {"paymentKey": query["paymentKey"], "orderId": "order-window-1", "amount": 15000}
    confirmed = post(sandbox, "/v1/payments/confirm", body, key="confirm-1")
    payment = confirmed.json()
    assert (confirmed.status_code, payment["status"], payment["type"], payment["totalAmount"]) == (
        200,
        "DONE",
        "NORMAL",
        15000,
    )
    assert payment["approvedAt"].endswith("+09:00") and payment["receipt"]["url"].startswith(sandbox.url)
    assert get(sandbox, "/v1/payments/orders/order-window-1").json() == payment
    assert error_of(post(sandbox, "/v1/payments/confirm", body)) == (400, "ALREADY_PROCESSED_PAYMENT")
    assert post(sandbox, "/v1/payments/confirm", body, key="confirm-1").json() == payment
    assert [e["orderId"] for e in sandbox.ledger()] == ["order-window-1"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": 1000}, 400, "INVALID_REQUEST"),
        ({"orderId": "order-window-2"}, 400, "INVALID_REQUEST"),
        ({"paymentKey": "tsbx-unknown"}, 404, "NOT_FOUND_PAYMENT_SESSION"),
    ],
)
def test_confirm_must_match_what_the_window_was_opened_with(sandbox, change, status, code):
    window = sandbox.pay(order_id="order-window-1", amount=15000)
    body = {"paymentKey": window["paymentKey"], "orderId": "order-window-1", "amount": 15000, **change}
    assert error_of(post(sandbox, "/v1/payments/confirm", body)) == (status, code)
    assert sandbox.ledger() == []


def test_confirm_after_ten_minutes_finds_no_session(sandbox, clock):
    window = sandbox.pay(order_id="order-late-1", amount=5000)
    clock.advance(minutes=10, seconds=1)
    body = {"paymentKey": window["paymentKey"], "orderId": "order-late-1", "amount": 5000}
    assert error_of(post(sandbox, "/v1/payments/confirm", body)) == (404, "NOT_FOUND_PAYMENT_SESSION")
    assert get(sandbox, f"/v1/payments/{window['paymentKey']}").json()["status"] == "EXPIRED"


def test_declining_card_aborts_the_one_time_payment_at_confirm(sandbox):
    window = sandbox.pay(order_id="order-abort-1", amount=5000, card_number="4330000000000051")
    body = {"paymentKey": window["paymentKey"], "orderId": "order-abort-1", "amount": 5000}
    assert error_of(post(sandbox, "/v1/payments/confirm", body)) == (403, "REJECT_CARD_PAYMENT")
    payment = get(sandbox, "/v1/payments/orders/order-abort-1").json()
    assert payment["status"] == "ABORTED" and payment["failure"]["code"] == "REJECT_CARD_PAYMENT"
    assert sandbox.ledger() == []


def test_paying_an_already_paid_order_id_goes_to_fail_url(sandbox):
    window = sandbox.pay(order_id="order-paid-1", amount=5000)
    post(
        sandbox, "/v1/payments/confirm", {"paymentKey": window["paymentKey"], "orderId": "order-paid-1", "amount": 5000}
    )
    with pytest.raises(CardRefused) as refused:
        sandbox.pay(order_id="order-paid-1", amount=5000)
    assert refused.value.code == "DUPLICATED_ORDER_ID"


def test_refused_card_in_payment_window_reports_order_id_to_fail_url(sandbox):
    response = requests.post(
        f"{sandbox.url}/_sandbox/window/payment",
        data={**_payment_params(sandbox), **_card(number="4330000000000092")},
        allow_redirects=False,
        timeout=10,
    )
    base, query = _query(response)
    assert base == FAIL
    assert (query["code"], query["orderId"]) == ("NOT_SUPPORTED_CARD_TYPE", "order-window-1")


def test_index_lists_the_test_cards(sandbox):
    html = requests.get(f"{sandbox.url}/", timeout=10).text
    assert "4330000000000051" in html and "샌드박스" in html
    assert re.search(r"/_sandbox/ledger", html)


def test_the_window_declares_an_icon_that_is_served(sandbox):
    html = requests.get(f"{sandbox.url}/_sandbox/window/billing", params=_billing_params(sandbox), timeout=10).text
    [icon] = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    for path in (icon, "/favicon.ico"):
        response = requests.get(f"{sandbox.url}{path}", timeout=10)
        assert (response.status_code, response.headers["Content-Type"]) == (200, "image/svg+xml; charset=utf-8")
