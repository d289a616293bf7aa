"""Where the sandbox used to differ from Toss (issue 11), one test each, citing what Toss documents.

Sources, as in shared/toss-api.md §0: D-REF (core API reference), D-ERR (error codes), D-AUTH
(auth, idempotency, test codes), D-REQRES (request/response bodies), SAMPLE (Toss's official
sample integrations), TECHCHAT (Toss's developer community, real request logs).
"""

from __future__ import annotations

import base64

import pytest
import requests

from storefront.toss.client import TossClient
from storefront.toss.errors import TossError
from tests.sandbox.calls import billing_path, charge, error_of, get, post

CUSTOMER = "cust-divergence"
CHECK_CARD = "5570000000000001"  # 신한 체크 (cards.ISSUERS)


def _paid(sandbox, order_id: str, amount: int) -> dict:
    window = sandbox.pay(order_id=order_id, amount=amount)
    body = {"paymentKey": window["paymentKey"], "orderId": order_id, "amount": amount}
    confirmed = post(sandbox, "/v1/payments/confirm", body)
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()


# 1. Numeric strings for amounts ------------------------------------------------------------------


def test_confirm_accepts_the_amount_as_the_success_url_gave_it(sandbox):
    """SAMPLE django-javascript/payments/views.py confirms with `amount = request.GET.get('amount')`,
    a JSON string; TECHCHAT m/1441239103671767130 logs `"amount": "9026"` accepted by Toss."""
    window = sandbox.pay(order_id="order-string-1", amount=50000)
    assert window["amount"] == "50000"
    body = {"paymentKey": window["paymentKey"], "orderId": "order-string-1", "amount": window["amount"]}
    confirmed = post(sandbox, "/v1/payments/confirm", body)
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["totalAmount"]) == ("DONE", 50000)


def test_a_string_amount_must_still_match_and_be_digits(sandbox):
    window = sandbox.pay(order_id="order-string-2", amount=50000)
    for amount in ("49999", "50,000", "5e4", " 50000"):
        body = {"paymentKey": window["paymentKey"], "orderId": "order-string-2", "amount": amount}
        assert error_of(post(sandbox, "/v1/payments/confirm", body)) == (400, "INVALID_REQUEST"), amount
    assert sandbox.ledger() == []


def test_billing_charge_and_cancel_accept_numeric_strings(sandbox):
    """SAMPLE's confirm_billing forwards `amount` as its own page sent it; the sandbox treats
    amounts alike everywhere (errors.py): number or string of digits."""
    billing = sandbox.issue_billing_key(CUSTOMER)
    paid = charge(sandbox, billing["billingKey"], CUSTOMER, "order-string-3", "9900")
    assert paid.status_code == 200 and paid.json()["totalAmount"] == 9900
    cancel = post(
        sandbox,
        f"/v1/payments/{paid.json()['paymentKey']}/cancel",
        {"cancelReason": "부분 환불", "cancelAmount": "3900", "refundableAmount": "9900"},
    )
    assert cancel.status_code == 200, cancel.text
    assert (cancel.json()["balanceAmount"], cancel.json()["cancels"][0]["cancelAmount"]) == (6000, 3900)


# 2. suppliedAmount and vat follow balanceAmount ----------------------------------------------------


def test_supplied_amount_and_vat_shrink_with_each_cancel(sandbox):
    """D-REF Payment.suppliedAmount / vat: "결제 취소 및 부분 취소가 되면 … 일부 취소되어 값이 바뀝니다";
    a real partial cancel (TECHCHAT m/1237958998343417856) has suppliedAmount + vat = balanceAmount."""
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-vat-1", 10000).json()
    assert (payment["suppliedAmount"], payment["vat"]) == (9091, 909)
    partial = post(
        sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "부분 환불", "cancelAmount": 3000}
    ).json()
    assert partial["balanceAmount"] == 7000
    assert (partial["suppliedAmount"], partial["vat"]) == (6364, 636)
    assert partial["suppliedAmount"] + partial["vat"] == partial["balanceAmount"]
    assert partial["totalAmount"] == 10000  # never changes
    full = post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "해지"}).json()
    assert (full["balanceAmount"], full["suppliedAmount"], full["vat"]) == (0, 0, 0)


def test_tax_free_part_is_left_out_of_vat_until_it_is_cancelled(sandbox):
    """D-REF vat = (amount − taxFreeAmount) / 11, rounded (10,000 with 3,000 tax free → 636)."""
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-vat-2", 10000, taxFreeAmount=3000).json()
    assert (payment["taxFreeAmount"], payment["vat"], payment["suppliedAmount"]) == (3000, 636, 6364)
    partial = post(
        sandbox,
        f"/v1/payments/{payment['paymentKey']}/cancel",
        {"cancelReason": "면세분 환불", "cancelAmount": 3000, "taxFreeAmount": 3000},
    ).json()
    assert (partial["balanceAmount"], partial["vat"], partial["suppliedAmount"]) == (7000, 636, 6364)


# 3. taxExemptionAmount ---------------------------------------------------------------------------


def test_tax_exemption_is_kept_and_forbids_partial_cancels(sandbox):
    """toss-api.md §2.4 (D-REF billing charge): taxExemptionAmount, e.g. a cup deposit; "card payments
    with it cannot be partially cancelled" → D-ERR NOT_ALLOWED_PARTIAL_REFUND (403)."""
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-exempt-1", 10000, taxExemptionAmount=500).json()
    assert (payment["taxExemptionAmount"], payment["isPartialCancelable"]) == (500, False)
    partial = post(
        sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "부분 환불", "cancelAmount": 3000}
    )
    assert error_of(partial) == (403, "NOT_ALLOWED_PARTIAL_REFUND")
    assert sandbox.ledger()[0]["balanceAmount"] == 10000
    full = post(sandbox, f"/v1/payments/{payment['paymentKey']}/cancel", {"cancelReason": "전액 환불"}).json()
    assert (full["status"], full["cancels"][0]["taxExemptionAmount"]) == ("CANCELED", 500)


def test_tax_exemption_cannot_exceed_the_amount(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    response = charge(sandbox, billing["billingKey"], CUSTOMER, "order-exempt-2", 1000, taxExemptionAmount=1001)
    assert error_of(response) == (400, "INVALID_REQUEST")
    assert sandbox.ledger() == []


# 4. Test codes the API can answer, and only those -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("/v1/payments/orders/order-x-1", "GET", "TOO_MANY_REQUESTS"),  # errors.py: not a Toss code
        ("/v1/payments/orders/order-x-1", "GET", "REJECT_CARD_PAYMENT"),  # a lookup approves nothing
        ("/v1/payments/confirm", "POST", "ALREADY_CANCELED_PAYMENT"),  # a cancel's answer
        ("/v1/payments/confirm", "POST", "NOT_A_TOSS_CODE"),
    ],
)
def test_a_test_code_the_api_cannot_answer_is_invalid(sandbox, path, method, code):
    """D-AUTH: the header makes a request return that error; D-ERR INVALID_TEST_CODE for a bad value.
    Per-API lists: D-ERR's tables (errors.ENDPOINT_CODES)."""
    response = requests.request(
        method, sandbox.url + path, json={}, auth=sandbox.auth, timeout=10, headers={"TossPayments-Test-Code": code}
    )
    assert error_of(response) == (400, "INVALID_TEST_CODE")


def test_a_test_code_the_api_can_answer_is_answered(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    response = post(
        sandbox,
        billing_path(billing["billingKey"]),
        {"customerKey": CUSTOMER, "amount": 1000, "orderId": "order-tc-1", "orderName": "x"},
        headers={"TossPayments-Test-Code": "EXCEED_MAX_DAILY_PAYMENT_COUNT"},
    )
    assert error_of(response) == (400, "EXCEED_MAX_DAILY_PAYMENT_COUNT")
    lookup = requests.get(
        f"{sandbox.url}/v1/payments/orders/order-tc-1",
        auth=sandbox.auth,
        timeout=10,
        headers={"TossPayments-Test-Code": "NOT_FOUND_PAYMENT"},
    )
    assert error_of(lookup) == (404, "NOT_FOUND_PAYMENT")


# 5. A test-code answer is remembered under its Idempotency-Key -----------------------------------


def test_the_same_key_without_the_test_code_replays_the_error_instead_of_charging(sandbox):
    """D-AUTH: the first answer to a key is returned for 15 days; GJKIT measured that 4xx answers are
    replayed too (toss-api.md §4). A test-code answer is such an answer."""
    billing = sandbox.issue_billing_key(CUSTOMER)
    body = {"customerKey": CUSTOMER, "amount": 1000, "orderId": "order-tc-2", "orderName": "x"}
    first = post(
        sandbox,
        billing_path(billing["billingKey"]),
        body,
        key="K-testcode",
        headers={"TossPayments-Test-Code": "REJECT_CARD_PAYMENT"},
    )
    assert error_of(first) == (403, "REJECT_CARD_PAYMENT")
    again = post(sandbox, billing_path(billing["billingKey"]), body, key="K-testcode")
    assert (again.status_code, again.json()) == (403, first.json())
    assert sandbox.ledger() == []
    fresh = post(sandbox, billing_path(billing["billingKey"]), body, key="K-testcode-2")
    assert fresh.status_code == 200 and len(sandbox.ledger()) == 1


# 6. Installments and the amount ceiling ----------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "plan", "card", "status", "code"),
    [
        (49999, 3, None, 400, "INVALID_CARD_INSTALLMENT_PLAN"),  # below 50,000 won
        (60000, 1, None, 400, "INVALID_CARD_INSTALLMENT_PLAN"),  # 1 month is no installment
        (60000, 13, None, 400, "EXCEED_MAX_CARD_INSTALLMENT_PLAN"),
        (60000, "three", None, 400, "INVALID_CARD_INSTALLMENT_PLAN"),
        (60000, 3, CHECK_CARD, 400, "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN"),  # check cards have none
    ],
)
def test_installments_that_toss_would_refuse_are_refused(sandbox, amount, plan, card, status, code):
    """toss-api.md §2.4: cardInstallmentPlan 0–12, "only for amount ≥ 50,000 KRW"; codes from D-ERR."""
    billing = sandbox.issue_billing_key(CUSTOMER, *([card] if card else []))
    response = charge(sandbox, billing["billingKey"], CUSTOMER, "order-inst-1", amount, cardInstallmentPlan=plan)
    assert error_of(response) == (status, code)
    assert sandbox.ledger() == []


def test_an_installment_plan_is_kept_on_the_card(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    payment = charge(sandbox, billing["billingKey"], CUSTOMER, "order-inst-2", 60000, cardInstallmentPlan=3).json()
    assert payment["card"]["installmentPlanMonths"] == 3
    lump = charge(sandbox, billing["billingKey"], CUSTOMER, "order-inst-3", 1000, cardInstallmentPlan=0).json()
    assert lump["card"]["installmentPlanMonths"] == 0


def test_amounts_above_the_card_limit_are_refused(sandbox):
    """D-ERR EXCEED_MAX_AMOUNT "거래금액 한도를 초과했습니다"; the limit itself is the sandbox's (errors.py)."""
    billing = sandbox.issue_billing_key(CUSTOMER)
    response = charge(sandbox, billing["billingKey"], CUSTOMER, "order-huge-1", 10_000_000_000)
    assert error_of(response) == (400, "EXCEED_MAX_AMOUNT")
    assert charge(sandbox, billing["billingKey"], CUSTOMER, "order-huge-2", 100_000_000).status_code == 200
    window = sandbox.pay(order_id="order-huge-3", amount=100_000_001)
    body = {"paymentKey": window["paymentKey"], "orderId": "order-huge-3", "amount": 100_000_001}
    assert error_of(post(sandbox, "/v1/payments/confirm", body)) == (400, "EXCEED_MAX_AMOUNT")
    assert get(sandbox, f"/v1/payments/{window['paymentKey']}").json()["status"] == "ABORTED"
    assert [e["orderId"] for e in sandbox.ledger()] == ["order-huge-2"]


# 7. Unknown routes answer Toss's JSON ------------------------------------------------------------


def test_unknown_api_paths_and_methods_answer_json(sandbox):
    """D-REQRES: "모든 API 응답 … JSON 형식입니다" with `{code, message}`."""
    missing = requests.get(f"{sandbox.url}/v1/no-such-api", auth=sandbox.auth, timeout=10)
    assert missing.headers["Content-Type"].startswith("application/json")
    assert error_of(missing) == (404, "NOT_FOUND")
    wrong = requests.put(f"{sandbox.url}/v1/payments/confirm", auth=sandbox.auth, timeout=10)
    assert wrong.headers["Content-Type"].startswith("application/json")
    assert error_of(wrong) == (405, "METHOD_NOT_ALLOWED") and "POST" in wrong.headers["Allow"]
    page = requests.get(f"{sandbox.url}/_sandbox/receipts/nope", timeout=10)
    assert page.status_code == 404 and "text/html" in page.headers["Content-Type"]  # pages stay pages


# 8. The minor ones -------------------------------------------------------------------------------


def _basic(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (_basic("test_ck_sandbox0000000000000000000:"), (400, "INVALID_API_KEY")),  # a client key is no secret key
        (_basic("sk_test_123:"), (400, "INVALID_API_KEY")),  # another PG's format
        ({"Authorization": "Basic %%%"}, (400, "INVALID_API_KEY")),
        (_basic("test_sk_somebody_else:"), (401, "UNAUTHORIZED_KEY")),  # well formed, not ours
    ],
)
def test_a_malformed_secret_key_is_invalid_not_unauthorized(sandbox, headers, expected):
    """D-ERR: INVALID_API_KEY 400 "잘못된 시크릿키 연동 정보"; UNAUTHORIZED_KEY 401 for a wrong key."""
    response = requests.get(f"{sandbox.url}/v1/payments/orders/order-x-1", headers=headers, timeout=10)
    assert error_of(response) == expected


def test_english_messages_for_accept_language_en_us(sandbox):
    """D-AUTH: `Accept-Language: en-US` → English messages."""
    english = requests.get(
        f"{sandbox.url}/v1/payments/orders/order-x-1",
        auth=sandbox.auth,
        timeout=10,
        headers={"Accept-Language": "en-US"},
    )
    assert english.json() == {"code": "NOT_FOUND_PAYMENT", "message": "The payment does not exist."}
    korean = requests.get(f"{sandbox.url}/v1/payments/orders/order-x-1", auth=sandbox.auth, timeout=10)
    assert korean.json()["message"] == "존재하지 않는 결제 입니다."
    billing = sandbox.issue_billing_key(CUSTOMER)
    precise = requests.post(
        sandbox.url + billing_path(billing["billingKey"]),
        auth=sandbox.auth,
        timeout=10,
        headers={"Accept-Language": "en-US"},
        json={"customerKey": CUSTOMER, "amount": "lots", "orderId": "order-en-1", "orderName": "x"},
    )
    assert precise.json() == {"code": "INVALID_REQUEST", "message": "amount must be a number."}


def test_every_api_answer_carries_a_trace_id(sandbox):
    """toss-api.md §1: response header X-TossPayments-Trace-Id (TECHCHAT logs), to quote to support."""
    ok = get(sandbox, "/v1/payments/orders/order-x-1")
    denied = requests.get(f"{sandbox.url}/v1/payments/orders/order-x-1", timeout=10)
    unknown = requests.get(f"{sandbox.url}/v1/nothing-here", timeout=10)
    ids = [r.headers.get("X-TossPayments-Trace-Id") for r in (ok, denied, unknown)]
    assert all(ids) and len(set(ids)) == 3
    assert "X-TossPayments-Trace-Id" not in requests.get(f"{sandbox.url}/", timeout=10).headers


def test_our_client_keeps_the_trace_id_of_an_error(sandbox):
    client = TossClient(sandbox.url, sandbox.secret_key)
    with pytest.raises(TossError) as caught:
        client.get_payment_by_order_id("order-x-1")
    assert caught.value.code == "NOT_FOUND_PAYMENT" and len(caught.value.trace_id or "") == 32


def test_the_card_window_refuses_an_order_id_with_equals_sign(sandbox):
    """D-REF orderId: `A-Z a-z 0-9 - _` (the SDK typings also allow `=`; errors.py picks D-REF)."""
    response = requests.get(
        f"{sandbox.url}/_sandbox/window/payment",
        timeout=10,
        params={
            "clientKey": sandbox.client_key,
            "method": "CARD",
            "amount": "1000",
            "currency": "KRW",
            "orderId": "order=123",
            "orderName": "x",
            "successUrl": "https://shop.example/s",
            "failUrl": "https://shop.example/f",
        },
    )
    assert response.status_code == 400 and "INVALID_ORDER_ID" in response.text


@pytest.mark.e2e
def test_the_sdk_stub_refuses_it_before_opening_the_window(sandbox, page):
    page.goto(f"{sandbox.url}/")
    page.add_script_tag(url=f"{sandbox.url}/v2/standard")
    result = page.evaluate(
        """([clientKey, orderId]) => TossPayments(clientKey)
        .payment({customerKey: TossPayments.ANONYMOUS})
        .requestPayment({method: 'CARD', amount: {currency: 'KRW', value: 1000}, orderId: orderId, orderName: 'x',
                         successUrl: 'https://shop.example/s', failUrl: 'https://shop.example/f'})
        .then(() => 'went to the window', (error) => error.name + ' ' + error.code)""",
        [sandbox.client_key, "order=123"],
    )
    assert result == "InvalidParametersError INVALID_ORDER_ID"
    assert page.url == f"{sandbox.url}/"
