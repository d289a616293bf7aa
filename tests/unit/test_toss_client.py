"""TossClient against Toss's documented bodies (via `responses`): requests sent, results, errors."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from storefront.toss.client import TossClient
from storefront.toss.errors import Category, TossError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "toss"
API = "https://api.tosspayments.com"
SECRET = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"  # Toss's public documentation key
AUTHORIZATION = "Basic dGVzdF9za196WExrS0V5cE5BcldtbzUwblgzbG1lYXhZRzVSOg=="
SECRET_B64 = AUTHORIZATION.removeprefix("Basic ")
BILLING_KEY = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0="
CHARGE_URL = f"{API}/v1/billing/Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0%3D"
ORDER_ID = "0idqIcrzThutspevszn7f"
PAYMENT_KEY = "G5ZkmSdMiKbD20aLWfkgj"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


ERRORS: dict[str, dict[str, Any]] = fixture("errors.json")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def toss(sleeps: list[float]) -> TossClient:
    return TossClient(API, SECRET, sleep=sleeps.append)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def charge(toss: TossClient, **overrides: Any) -> Any:
    kwargs: dict[str, Any] = dict(
        customer_key="qLKNEQdVbLshykFfzorKz",
        amount=4900,
        order_id=ORDER_ID,
        order_name="토스 프라임 구독",
        idempotency_key=ORDER_ID,
    )
    kwargs.update(overrides)
    return toss.charge_billing_key(BILLING_KEY, **kwargs)


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


def error_reply(name: str) -> dict[str, Any]:
    return {"status": ERRORS[name]["status"], "json": ERRORS[name]["body"]}


# -- requests sent and results ---------------------------------------------------------------


def test_issue_billing_key_sends_auth_key_and_returns_billing(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/v1/billing/authorizations/issue", json=fixture("billing-issued.v2024-06-01.json"))

    billing = toss.issue_billing_key("auth-key-1", "qLKNEQdVbLshykFfzorKz", idempotency_key="issue-1")

    assert billing.billing_key == BILLING_KEY and billing.card.company == "현대"
    [call] = rsps.calls
    assert sent_json(call) == {"authKey": "auth-key-1", "customerKey": "qLKNEQdVbLshykFfzorKz"}
    headers = call.request.headers
    assert headers["Authorization"] == AUTHORIZATION
    assert headers["Idempotency-Key"] == "issue-1"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "storefront/1.0 (+python-requests)"
    assert "TossPayments-Test-Code" not in headers
    assert call.request.req_kwargs["timeout"] == (3.05, 30.0)


def test_issue_billing_key_accepts_the_old_billing_shape(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/v1/billing/authorizations/issue", json=fixture("billing-issued.v2022-11-16.json"))

    billing = toss.issue_billing_key("auth-key-1", "qLKNEQdVbLshykFfzorKz", idempotency_key="issue-1")

    assert (billing.card.company, billing.card.number) == ("현대", "43301234****123*")


def test_charge_posts_to_the_percent_encoded_billing_key(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, json=fixture("billing-charge.response.json"))
    request = fixture("billing-charge.request.json")

    payment = charge(
        toss,
        customer_key=request["customerKey"],
        order_id=request["orderId"],
        order_name=request["orderName"],
        customer_email=request["customerEmail"],
        customer_name=request["customerName"],
        idempotency_key="renew:7:1717200000",
    )

    assert (payment.status, payment.total_amount, payment.payment_key) == ("DONE", 4900, PAYMENT_KEY)
    [call] = rsps.calls
    assert call.request.url == CHARGE_URL
    assert call.request.url.endswith("Rdzk0%3D")
    assert sent_json(call) == {k: v for k, v in request.items() if k != "taxFreeAmount"}
    assert call.request.headers["Idempotency-Key"] == "renew:7:1717200000"
    assert call.request.headers["Authorization"] == AUTHORIZATION
    assert call.request.headers["Content-Type"] == "application/json"
    assert "TossPayments-Test-Code" not in call.request.headers


def test_charge_waits_at_least_sixty_seconds_for_an_answer(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, json=fixture("billing-charge.response.json"))

    charge(toss)

    connect, read = rsps.calls[0].request.req_kwargs["timeout"]
    assert connect <= 5 and read >= 60
    assert (connect, read) == (3.05, 65.0)


def test_charge_sends_optional_fields_only_when_given(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, json=fixture("billing-charge.response.json"))

    charge(toss, customer_ip="203.0.113.7")

    assert sent_json(rsps.calls[0]) == {
        "customerKey": "qLKNEQdVbLshykFfzorKz",
        "amount": 4900,
        "orderId": ORDER_ID,
        "orderName": "토스 프라임 구독",
        "customerIp": "203.0.113.7",
    }


def test_charge_test_code_sets_the_header_and_gets_the_error(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, **error_reply("REJECT_CARD_PAYMENT"))

    with pytest.raises(TossError) as caught:
        charge(toss, test_code="REJECT_CARD_PAYMENT")

    assert rsps.calls[0].request.headers["TossPayments-Test-Code"] == "REJECT_CARD_PAYMENT"
    assert (caught.value.code, caught.value.category) == ("REJECT_CARD_PAYMENT", Category.SOFT_DECLINE)


def test_confirm_payment(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/v1/payments/confirm", json=fixture("billing-charge.response.json"))

    payment = toss.confirm_payment(PAYMENT_KEY, ORDER_ID, 4900, idempotency_key="confirm-1")

    assert payment.order_id == ORDER_ID
    [call] = rsps.calls
    assert sent_json(call) == {"paymentKey": PAYMENT_KEY, "orderId": ORDER_ID, "amount": 4900}
    assert call.request.headers["Idempotency-Key"] == "confirm-1"
    assert call.request.headers["Authorization"] == AUTHORIZATION
    assert call.request.req_kwargs["timeout"] == (3.05, 30.0)


def test_lookups_send_no_idempotency_key(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/v1/payments/{PAYMENT_KEY}", json=fixture("billing-charge.response.json"))
    rsps.get(f"{API}/v1/payments/orders/{ORDER_ID}", json=fixture("payment-partial-canceled.response.json"))

    by_key = toss.get_payment(PAYMENT_KEY)
    by_order = toss.get_payment_by_order_id(ORDER_ID)

    assert (by_key.status, by_order.status) == ("DONE", "PARTIAL_CANCELED")
    for call in rsps.calls:
        assert call.request.method == "GET"
        assert call.request.headers["Authorization"] == AUTHORIZATION
        assert call.request.headers["User-Agent"] == "storefront/1.0 (+python-requests)"
        assert "Idempotency-Key" not in call.request.headers
        assert call.request.body is None


def test_lookup_path_segments_are_percent_encoded(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/v1/payments/orders/a%2Fb%3Fc", json=fixture("billing-charge.response.json"))

    toss.get_payment_by_order_id("a/b?c")

    assert rsps.calls[0].request.url == f"{API}/v1/payments/orders/a%2Fb%3Fc"


@pytest.mark.parametrize("lookup", ["get_payment", "get_payment_by_order_id"])
def test_unknown_payment_is_not_found(toss: TossClient, rsps: responses.RequestsMock, lookup: str) -> None:
    path = "orders/" if lookup == "get_payment_by_order_id" else ""
    rsps.get(f"{API}/v1/payments/{path}{ORDER_ID}", **error_reply("NOT_FOUND_PAYMENT"))

    with pytest.raises(TossError) as caught:
        getattr(toss, lookup)(ORDER_ID)

    assert (caught.value.code, caught.value.http_status, caught.value.category) == (
        "NOT_FOUND_PAYMENT",
        404,
        Category.NOT_FOUND,
    )
    assert caught.value.message == "존재하지 않는 결제 입니다."


def test_full_cancel_sends_only_the_reason(toss: TossClient, rsps: responses.RequestsMock) -> None:
    canceled = dict(fixture("payment-partial-canceled.response.json"), status="CANCELED", balanceAmount=0)
    rsps.post(f"{API}/v1/payments/{PAYMENT_KEY}/cancel", json=canceled)

    payment = toss.cancel_payment(PAYMENT_KEY, reason="구독 해지 환불", idempotency_key="refund-1")

    assert (payment.status, payment.balance_amount) == ("CANCELED", 0)
    [call] = rsps.calls
    assert sent_json(call) == {"cancelReason": "구독 해지 환불"}
    assert call.request.headers["Idempotency-Key"] == "refund-1"
    assert call.request.headers["Content-Type"] == "application/json"


def test_partial_cancel_sends_the_amount(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/v1/payments/{PAYMENT_KEY}/cancel", json=fixture("payment-partial-canceled.response.json"))

    payment = toss.cancel_payment(PAYMENT_KEY, reason="부분 환불", idempotency_key="refund-2", amount=2000)

    assert sent_json(rsps.calls[0]) == {"cancelReason": "부분 환불", "cancelAmount": 2000}
    assert (payment.status, payment.balance_amount) == ("PARTIAL_CANCELED", 2900)
    assert [c.cancel_amount for c in payment.cancels] == [2000]


def test_delete_billing_key_succeeds_on_an_empty_200(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.delete(CHARGE_URL, body="")

    assert toss.delete_billing_key(BILLING_KEY) is True
    [call] = rsps.calls
    assert call.request.url == CHARGE_URL
    assert call.request.headers["Authorization"] == AUTHORIZATION
    assert "Idempotency-Key" not in call.request.headers


@pytest.mark.parametrize("code", ["ALREADY_REMOVED_BILLING_KEY", "NOT_FOUND_BILLING"])
def test_delete_billing_key_already_gone_counts_as_deleted(
    toss: TossClient, rsps: responses.RequestsMock, code: str
) -> None:
    rsps.delete(CHARGE_URL, status=400, json={"code": code, "message": "이미 삭제된 빌링키입니다.", "data": None})

    assert toss.delete_billing_key(BILLING_KEY) is True


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 401, "json": ERRORS["UNAUTHORIZED_KEY"]["body"]},
        {"status": 500, "json": ERRORS["FAILED_INTERNAL_SYSTEM_PROCESSING"]["body"]},
        {"status": 502, "body": "<html>Bad Gateway</html>"},
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectTimeout("connect timed out")},
    ],
)
def test_delete_billing_key_reports_other_failures_without_raising(
    toss: TossClient, rsps: responses.RequestsMock, reply: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    rsps.delete(CHARGE_URL, **reply)

    with caplog.at_level(logging.WARNING, logger="storefront.toss"):
        assert toss.delete_billing_key(BILLING_KEY) is False
    assert "billing key not deleted" in caplog.text
    assert BILLING_KEY not in caplog.text


def test_a_given_session_is_used_and_left_unchanged(rsps: responses.RequestsMock) -> None:
    session = requests.Session()
    session.headers["X-Probe"] = "mine"
    toss = TossClient(API, SECRET, session=session, user_agent="shop/2.0", timeout=(2.0, 20.0))
    rsps.get(f"{API}/v1/payments/{PAYMENT_KEY}", json=fixture("billing-charge.response.json"))

    toss.get_payment(PAYMENT_KEY)

    headers = rsps.calls[0].request.headers
    assert (headers["X-Probe"], headers["User-Agent"]) == ("mine", "shop/2.0")
    assert rsps.calls[0].request.req_kwargs["timeout"] == (2.0, 20.0)
    assert "Authorization" not in session.headers and session.auth is None


# -- 409 IDEMPOTENT_REQUEST_PROCESSING ----------------------------------------------------------


def test_still_processing_is_asked_again_with_the_same_key(
    toss: TossClient, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    busy = error_reply("IDEMPOTENT_REQUEST_PROCESSING")
    rsps.post(CHARGE_URL, **busy)
    rsps.post(CHARGE_URL, **busy)
    rsps.post(CHARGE_URL, json=fixture("billing-charge.response.json"))

    payment = charge(toss, idempotency_key="renew:7:1")

    assert payment.status == "DONE"
    assert sleeps == [1.0, 2.0]
    assert len(rsps.calls) == 3
    assert {c.request.headers["Idempotency-Key"] for c in rsps.calls} == {"renew:7:1"}
    assert len({c.request.body for c in rsps.calls}) == 1


def test_still_processing_forever_is_an_unknown_outcome(
    toss: TossClient, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(CHARGE_URL, **error_reply("IDEMPOTENT_REQUEST_PROCESSING"))

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.http_status) == ("IDEMPOTENT_REQUEST_PROCESSING", 409)
    assert caught.value.category is Category.UNKNOWN_OUTCOME
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert len(rsps.calls) == 5


def test_busy_retry_delays_are_configurable(rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    toss = TossClient(API, SECRET, sleep=sleeps.append, busy_retry_delays=(0.5,))
    rsps.post(f"{API}/v1/payments/{PAYMENT_KEY}/cancel", **error_reply("IDEMPOTENT_REQUEST_PROCESSING"))

    with pytest.raises(TossError) as caught:
        toss.cancel_payment(PAYMENT_KEY, reason="환불", idempotency_key="refund-1")

    assert caught.value.unknown_outcome
    assert sleeps == [0.5] and len(rsps.calls) == 2


def test_other_errors_are_not_retried(toss: TossClient, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    rsps.post(CHARGE_URL, **error_reply("PROVIDER_ERROR"))

    with pytest.raises(TossError):
        charge(toss)

    assert len(rsps.calls) == 1 and sleeps == []


# -- error answers ------------------------------------------------------------------------------

CHARGE_ERROR_CATEGORIES = {
    "NOT_MATCHES_CUSTOMER_KEY": Category.CONFIG,
    "REJECT_CARD_PAYMENT": Category.SOFT_DECLINE,
    "INVALID_CARD_EXPIRATION": Category.HARD_DECLINE,
    "INVALID_STOPPED_CARD": Category.HARD_DECLINE,
    "REJECT_CARD_COMPANY": Category.HARD_DECLINE,
    "NOT_SUPPORTED_METHOD": Category.CONFIG,
    "UNAUTHORIZED_KEY": Category.CONFIG,
    "NOT_FOUND_PAYMENT": Category.NOT_FOUND,
    "DUPLICATED_ORDER_ID": Category.UNKNOWN_OUTCOME,
    "IDEMPOTENT_REQUEST_PROCESSING": Category.UNKNOWN_OUTCOME,
    "INVALID_IDEMPOTENCY_KEY": Category.CONFIG,
    "PROVIDER_ERROR": Category.TRANSIENT,
    "FAILED_INTERNAL_SYSTEM_PROCESSING": Category.UNKNOWN_OUTCOME,  # a 500 after sending money
    "ALREADY_REMOVED_BILLING_KEY": Category.HARD_DECLINE,
}


def test_every_error_fixture_has_an_expected_category() -> None:
    assert set(CHARGE_ERROR_CATEGORIES) == set(ERRORS)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_charge_error_answers_become_toss_errors(toss: TossClient, rsps: responses.RequestsMock, name: str) -> None:
    rsps.post(CHARGE_URL, **error_reply(name))

    with pytest.raises(TossError) as caught:
        charge(toss)

    error = caught.value
    assert (error.code, error.http_status) == (name, ERRORS[name]["status"])
    assert error.category is CHARGE_ERROR_CATEGORIES[name]
    if name != "IDEMPOTENT_REQUEST_PROCESSING":  # that one is ours, after asking again
        assert error.message == ERRORS[name]["body"]["message"]


def test_a_500_on_a_lookup_is_transient(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/v1/payments/{PAYMENT_KEY}", **error_reply("FAILED_INTERNAL_SYSTEM_PROCESSING"))

    with pytest.raises(TossError) as caught:
        toss.get_payment(PAYMENT_KEY)

    assert caught.value.category is Category.TRANSIENT


def test_trace_id_is_kept_for_support(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, headers={"X-TossPayments-Trace-Id": "trace-abc"}, **error_reply("REJECT_CARD_COMPANY"))

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert caught.value.trace_id == "trace-abc"


@pytest.mark.parametrize(("call", "category"), [("charge", Category.UNKNOWN_OUTCOME), ("lookup", Category.TRANSIENT)])
def test_an_html_502_from_a_proxy_is_still_a_toss_error(
    toss: TossClient, rsps: responses.RequestsMock, call: str, category: Category
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    if call == "charge":
        rsps.post(CHARGE_URL, status=502, body=html, content_type="text/html")
    else:
        rsps.get(f"{API}/v1/payments/{PAYMENT_KEY}", status=502, body=html, content_type="text/html")

    with pytest.raises(TossError) as caught:
        charge(toss) if call == "charge" else toss.get_payment(PAYMENT_KEY)

    assert (caught.value.code, caught.value.http_status, caught.value.category) == ("HTTP_502", 502, category)
    assert "<html>" not in caught.value.message


def test_a_429_without_a_body_is_transient(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, status=429, body="")

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.category) == ("HTTP_429", Category.TRANSIENT)


def test_a_v2_shaped_error_body_is_read(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(
        CHARGE_URL,
        status=403,
        json={"version": "2022-11-16", "traceId": "t", "error": {"code": "REJECT_CARD_PAYMENT", "message": "잔액부족"}},
    )

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.message, caught.value.category) == (
        "REJECT_CARD_PAYMENT",
        "잔액부족",
        Category.SOFT_DECLINE,
    )


def test_an_unknown_code_on_a_charge_is_an_unknown_outcome(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, status=400, json={"code": "NEW_CODE_FROM_2027", "message": "새 오류"})

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.category) == ("NEW_CODE_FROM_2027", Category.UNKNOWN_OUTCOME)


@pytest.mark.parametrize(
    "body",
    [
        "<html>ok</html>",
        '{"mId": "tosspayments", "paymentKey"',
        "[]",
        json.dumps({"mId": "tosspayments", "status": "DONE"}),
    ],
)
def test_an_unreadable_success_on_a_charge_is_an_unknown_outcome(
    toss: TossClient, rsps: responses.RequestsMock, body: str
) -> None:
    rsps.post(CHARGE_URL, status=200, body=body, content_type="application/json")

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.category) == ("INVALID_RESPONSE", Category.UNKNOWN_OUTCOME)
    assert BILLING_KEY not in str(caught.value)


# -- no answer at all ---------------------------------------------------------------------------

LEAKY_URL_TEXT = f"HTTPSConnectionPool(host='api.tosspayments.com', port=443): url: /v1/billing/{BILLING_KEY}"


@pytest.mark.parametrize(
    ("exc", "code", "category"),
    [
        (requests.ConnectTimeout(LEAKY_URL_TEXT), "CONNECT_FAILED", Category.TRANSIENT),
        (requests.ReadTimeout(LEAKY_URL_TEXT), "TIMEOUT", Category.UNKNOWN_OUTCOME),
        (
            requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
            "CONNECTION_ERROR",
            Category.UNKNOWN_OUTCOME,
        ),
        (requests.exceptions.ChunkedEncodingError(LEAKY_URL_TEXT), "CONNECTION_ERROR", Category.UNKNOWN_OUTCOME),
        (requests.exceptions.SSLError(LEAKY_URL_TEXT), "CONNECTION_ERROR", Category.UNKNOWN_OUTCOME),
    ],
)
def test_charge_without_an_answer(
    toss: TossClient, rsps: responses.RequestsMock, exc: Exception, code: str, category: Category
) -> None:
    rsps.post(CHARGE_URL, body=exc)

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.http_status, caught.value.category) == (code, None, category)
    printed = "".join(traceback.format_exception(caught.value))
    assert BILLING_KEY not in printed and "Rdzk0%3D" not in printed
    assert caught.value.__cause__ is None and caught.value.__context__ is None


@pytest.mark.parametrize(
    ("exc", "code", "category"),
    [
        (requests.ConnectTimeout(), "CONNECT_FAILED", Category.TRANSIENT),
        (requests.ReadTimeout(), "TIMEOUT", Category.TRANSIENT),  # a lookup moved nothing: just ask again
        (requests.ConnectionError(ProtocolError("Connection aborted.")), "CONNECTION_ERROR", Category.TRANSIENT),
    ],
)
def test_lookup_without_an_answer_is_transient(
    toss: TossClient, rsps: responses.RequestsMock, exc: Exception, code: str, category: Category
) -> None:
    rsps.get(f"{API}/v1/payments/orders/{ORDER_ID}", body=exc)

    with pytest.raises(TossError) as caught:
        toss.get_payment_by_order_id(ORDER_ID)

    assert (caught.value.code, caught.value.category) == (code, category)


def test_a_bad_base_url_is_config() -> None:
    toss = TossClient("api.tosspayments.com", SECRET)

    with pytest.raises(TossError) as caught:
        toss.get_payment(PAYMENT_KEY)

    assert (caught.value.code, caught.value.category) == ("INVALID_URL", Category.CONFIG)


# -- secrets ------------------------------------------------------------------------------------

ENCODED_KEY = CHARGE_URL.rsplit("/", 1)[1]
SECRET_FORMS = (SECRET, SECRET_B64, BILLING_KEY, ENCODED_KEY)


def test_secrets_never_reach_logs_errors_or_reprs(
    toss: TossClient, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"code": "INVALID_REQUEST", "message": f"bad key {SECRET} / {SECRET_B64} / {BILLING_KEY} / {ENCODED_KEY}"}
    rsps.post(CHARGE_URL, status=400, json=echo)
    rsps.post(f"{API}/v1/billing/authorizations/issue", json=fixture("billing-issued.v2022-11-16.json"))
    rsps.delete(CHARGE_URL, status=400, json=echo)
    rsps.get(f"{API}/v1/payments/{PAYMENT_KEY}", body=requests.ReadTimeout(LEAKY_URL_TEXT))
    seen: list[str] = [repr(toss), str(toss), repr(vars(toss))]

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(TossError) as charge_error:
            charge(toss)
        billing = toss.issue_billing_key("auth", "qLKNEQdVbLshykFfzorKz", idempotency_key="i-1")
        assert toss.delete_billing_key(BILLING_KEY) is False
        with pytest.raises(TossError) as lookup_error:
            toss.get_payment(PAYMENT_KEY)

    assert charge_error.value.message == "bad key *** / *** / *** / ***"
    for error in (charge_error.value, lookup_error.value):
        seen += [str(error), repr(error), error.message, "".join(traceback.format_exception(error))]
    seen += [repr(billing), str(billing), caplog.text]
    seen += [r.getMessage() for r in caplog.records]
    for text in seen:
        for secret in SECRET_FORMS:
            assert secret not in text


def test_constructor_errors_do_not_show_the_secret() -> None:
    with pytest.raises(ValueError) as caught:
        TossClient(API, "test_sk_with:colon")
    assert "with:colon" not in str(caught.value)
    with pytest.raises(ValueError):
        TossClient(API, "  ")
    with pytest.raises(ValueError, match="60"):
        TossClient(API, SECRET, charge_timeout=(3.05, 30.0))


def test_a_bom_or_whitespace_around_the_secret_is_not_encoded(rsps: responses.RequestsMock) -> None:
    toss = TossClient(API, "\ufeff" + SECRET + "\n")
    rsps.get(f"{API}/v1/payments/{PAYMENT_KEY}", json=fixture("billing-charge.response.json"))

    toss.get_payment(PAYMENT_KEY)

    value = rsps.calls[0].request.headers["Authorization"]
    assert value == AUTHORIZATION and not value.startswith("Basic 77u/")


# -- input refused before anything is sent -----------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"idempotency_key": ""},
        {"idempotency_key": "k" * 301},
        {"idempotency_key": "주문-1"},
        {"idempotency_key": "line\nbreak"},
        {"amount": 0},
        {"amount": -100},
        {"amount": 4900.0},
        {"amount": True},
        {"order_id": ""},
        {"customer_key": None},
        {"test_code": "코드"},
    ],
)
def test_bad_arguments_are_refused_before_sending(
    toss: TossClient, rsps: responses.RequestsMock, overrides: dict[str, Any]
) -> None:
    with pytest.raises(ValueError) as caught:
        charge(toss, **overrides)

    assert len(rsps.calls) == 0
    assert BILLING_KEY not in str(caught.value)


def test_a_300_character_idempotency_key_is_accepted(toss: TossClient, rsps: responses.RequestsMock) -> None:
    rsps.post(CHARGE_URL, json=fixture("billing-charge.response.json"))

    charge(toss, idempotency_key="k" * 300)

    assert rsps.calls[0].request.headers["Idempotency-Key"] == "k" * 300


def test_cancel_refuses_a_long_reason_or_a_zero_amount(toss: TossClient, rsps: responses.RequestsMock) -> None:
    with pytest.raises(ValueError):
        toss.cancel_payment(PAYMENT_KEY, reason="가" * 201, idempotency_key="r-1")
    with pytest.raises(ValueError):
        toss.cancel_payment(PAYMENT_KEY, reason="환불", idempotency_key="r-1", amount=0)
    assert len(rsps.calls) == 0
