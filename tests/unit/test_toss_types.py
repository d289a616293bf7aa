"""Parsing Toss's JSON into our frozen results: both Billing shapes, payments, cancels, amounts."""

from __future__ import annotations

import json
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import pytest

from storefront.toss.types import Billing, CardSummary, Payment, card_company_name, parse_time, parse_won

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "toss"
BILLING_KEY = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0="


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["billing-issued.v2022-11-16.json", "billing-issued.v2024-06-01.json"])
def test_both_billing_shapes_give_the_same_card(name: str) -> None:
    billing = Billing.from_json(fixture(name))

    assert billing.billing_key == BILLING_KEY
    assert billing.customer_key == "qLKNEQdVbLshykFfzorKz"
    assert billing.method == "카드"
    assert billing.authenticated_at == datetime(2021, 1, 1, 1, 0, tzinfo=UTC)
    assert billing.card == CardSummary(
        issuer_code="61",
        acquirer_code="31",
        number="43301234****123*",
        card_type="신용",
        owner_type="개인",
        company="현대",
    )


def test_old_billing_card_company_wins_over_the_code_table() -> None:
    data = fixture("billing-issued.v2022-11-16.json")
    data["cardCompany"] = "현대카드"

    assert Billing.from_json(data).card.company == "현대카드"


def test_billing_with_only_top_level_card_number_still_has_a_card() -> None:
    data = fixture("billing-issued.v2022-11-16.json")
    del data["card"]

    card = Billing.from_json(data).card
    assert card is not None
    assert (card.number, card.company, card.issuer_code) == ("43301234****123*", "현대", None)


def test_billing_repr_and_errors_never_show_the_billing_key() -> None:
    billing = Billing.from_json(fixture("billing-issued.v2024-06-01.json"))

    assert BILLING_KEY not in repr(billing)
    assert BILLING_KEY not in str(billing)
    data = fixture("billing-issued.v2024-06-01.json")
    del data["customerKey"]
    with pytest.raises(ValueError) as caught:
        Billing.from_json(data)
    assert BILLING_KEY not in str(caught.value)


@pytest.mark.parametrize("missing", ["billingKey", "customerKey"])
def test_billing_without_its_keys_is_refused(missing: str) -> None:
    data = fixture("billing-issued.v2024-06-01.json")
    data[missing] = None

    with pytest.raises(ValueError, match=missing):
        Billing.from_json(data)


def test_billing_charge_response_becomes_a_done_payment() -> None:
    payment = Payment.from_json(fixture("billing-charge.response.json"))

    assert payment.payment_key == "G5ZkmSdMiKbD20aLWfkgj"
    assert payment.order_id == "0idqIcrzThutspevszn7f"
    assert payment.order_name == "토스 프라임 구독"
    assert (payment.status, payment.type, payment.method) == ("DONE", "BILLING", "카드")
    assert (payment.total_amount, payment.balance_amount) == (4900, 4900)
    assert payment.requested_at == datetime(2022, 6, 8, 6, 40, 9, tzinfo=UTC)
    assert payment.approved_at == datetime(2022, 6, 8, 6, 40, 49, tzinfo=UTC)
    assert payment.card is not None and payment.card.company == "현대"
    assert payment.card.number == "43301234****123*"
    assert payment.receipt_url.startswith("https://dashboard.tosspayments.com/sales-slip?transactionId=")
    assert payment.cancels == ()
    assert (payment.failure_code, payment.failure_message) == (None, None)
    assert payment.raw["suppliedAmount"] == 4455


def test_partially_canceled_payment_lists_its_cancel() -> None:
    payment = Payment.from_json(fixture("payment-partial-canceled.response.json"))

    assert payment.status == "PARTIAL_CANCELED"
    assert (payment.total_amount, payment.balance_amount) == (4900, 2900)
    [cancel] = payment.cancels
    assert cancel.transaction_key == "83C4BB8322374732B78614"
    assert cancel.cancel_amount == 2000
    assert cancel.cancel_reason == "부분 환불"
    assert cancel.canceled_at == datetime(2022, 6, 9, 1, 0, tzinfo=UTC)
    assert cancel.cancel_status == "DONE"
    assert cancel.refundable_amount == 2900
    assert payment.canceled_amount == 2000


def test_canceled_amount_ignores_cancels_that_did_not_go_through() -> None:
    data = fixture("payment-partial-canceled.response.json")
    data["cancels"].append({"cancelAmount": 900, "cancelStatus": "ABORTED"})

    assert Payment.from_json(data).canceled_amount == 2000


def test_float_amounts_and_unknown_fields_are_accepted() -> None:
    data = fixture("payment-partial-canceled.response.json")
    data.update(totalAmount=4900.0, balanceAmount=2900.0, brandNewField={"x": 1}, status="SOMETHING_NEW")
    data["cancels"][0]["cancelAmount"] = 2000.0

    payment = Payment.from_json(data)

    assert (payment.total_amount, payment.balance_amount) == (4900, 2900)
    assert isinstance(payment.total_amount, int) and isinstance(payment.balance_amount, int)
    assert payment.cancels[0].cancel_amount == 2000 and isinstance(payment.cancels[0].cancel_amount, int)
    assert payment.status == "SOMETHING_NEW"


def test_failed_payment_carries_its_failure() -> None:
    data = fixture("billing-charge.response.json")
    data.update(
        status="ABORTED",
        approvedAt=None,
        card=None,
        receipt=None,
        failure={"code": "REJECT_CARD_PAYMENT", "message": "한도초과 혹은 잔액부족"},
    )

    payment = Payment.from_json(data)

    assert (payment.status, payment.approved_at, payment.card, payment.receipt_url) == ("ABORTED", None, None, None)
    assert (payment.failure_code, payment.failure_message) == ("REJECT_CARD_PAYMENT", "한도초과 혹은 잔액부족")


def test_missing_balance_defaults_to_total() -> None:
    data = fixture("billing-charge.response.json")
    del data["balanceAmount"]

    assert Payment.from_json(data).balance_amount == 4900


@pytest.mark.parametrize("missing", ["paymentKey", "orderId", "status", "totalAmount"])
def test_payment_without_essentials_is_refused(missing: str) -> None:
    data = fixture("billing-charge.response.json")
    del data[missing]

    with pytest.raises(ValueError, match=missing):
        Payment.from_json(data)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("61", "현대"),
        ("41", "신한"),
        ("51", "삼성"),
        ("11", "KB국민"),
        ("71", "롯데"),
        ("91", "NH농협"),
        ("21", "하나"),
        ("31", "BC"),
        ("33", "우리"),
        ("W1", "우리"),
        ("3K", "기업비씨"),
        ("w1", "우리"),
        ("ZZ", "카드"),
        (None, "카드"),
        ("", "카드"),
    ],
)
def test_card_company_names(code: str | None, name: str) -> None:
    assert card_company_name(code) == name


@pytest.mark.parametrize(
    ("value", "won"),
    [
        (4900, 4900),
        (4900.0, 4900),
        ("4900", 4900),
        (0, 0),
        (None, None),
        (True, None),
        ("abc", None),
        (float("nan"), None),
    ],
)
def test_parse_won(value: Any, won: int | None) -> None:
    assert parse_won(value) == won


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-06-08T15:40:49+09:00", datetime(2022, 6, 8, 6, 40, 49, tzinfo=UTC)),
        ("2024-12-01T00:00:00.000000", datetime(2024, 11, 30, 15, 0, tzinfo=UTC)),  # no offset: KST
        ("2022-06-08T06:40:49Z", datetime(2022, 6, 8, 6, 40, 49, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_time_gives_aware_utc(value: Any, expected: datetime | None) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
