"""Test cards: each registers (or is refused) and later charges fail with the documented code."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.calls import charge, error_of
from tests.sandbox_server import CardRefused


@pytest.mark.parametrize(
    ("card", "status", "code"),
    [
        ("4330000000000051", 403, "REJECT_CARD_PAYMENT"),
        ("4330000000000052", 403, "REJECT_CARD_COMPANY"),
        ("4330000000000053", 400, "INVALID_CARD_EXPIRATION"),
        ("4330000000000054", 400, "INVALID_STOPPED_CARD"),
        ("4330000000000055", 400, "INVALID_CARD_LOST_OR_STOLEN"),
    ],
)
def test_declining_cards_register_but_every_charge_fails_with_their_code(sandbox, card, status, code):
    billing = sandbox.issue_billing_key("cust-decline", card)
    for attempt in range(2):
        response = charge(sandbox, billing["billingKey"], "cust-decline", f"order-decline-{attempt}")
        assert error_of(response) == (status, code)
    assert sandbox.ledger() == []


@pytest.mark.parametrize("card", ["4330123412341234", "5570000000000001", "9410111122223333"])
def test_approving_cards_charge_every_time(sandbox, card):
    billing = sandbox.issue_billing_key("cust-ok", card)
    for attempt in range(3):
        assert charge(sandbox, billing["billingKey"], "cust-ok", f"order-ok-{attempt}").status_code == 200
    assert len(sandbox.ledger()) == 3


def test_issuer_comes_from_the_card_number(sandbox):
    assert sandbox.issue_billing_key("cust-shinhan", "5570000000000001")["card"] == {
        "issuerCode": "41",
        "acquirerCode": "41",
        "number": "55700000****000*",
        "cardType": "체크",
        "ownerType": "개인",
    }


def test_dunning_card_approves_the_first_charge_then_declines(sandbox):
    billing = sandbox.issue_billing_key("cust-dunning", "4330000000000056")
    assert charge(sandbox, billing["billingKey"], "cust-dunning", "order-first-month").status_code == 200
    assert error_of(charge(sandbox, billing["billingKey"], "cust-dunning", "order-second-month")) == (
        403,
        "REJECT_CARD_PAYMENT",
    )
    assert error_of(charge(sandbox, billing["billingKey"], "cust-dunning", "order-second-month-r1")) == (
        403,
        "REJECT_CARD_PAYMENT",
    )
    assert [e["orderId"] for e in sandbox.ledger()] == ["order-first-month"]


@pytest.mark.parametrize(
    ("card", "code"), [("4330000000000091", "INVALID_CARD_NUMBER"), ("4330000000000092", "NOT_SUPPORTED_CARD_TYPE")]
)
def test_refused_cards_send_the_shopper_to_fail_url(sandbox, card, code):
    with pytest.raises(CardRefused) as refused:
        sandbox.register_card("cust-refused", card)
    assert refused.value.code == code and refused.value.message


def test_soft_decline_recovers_on_retry_once_the_outcome_is_cleared(sandbox):
    billing = sandbox.issue_billing_key("cust-soft")
    assert charge(sandbox, billing["billingKey"], "cust-soft", "order-soft-0").status_code == 200
    assert sandbox.set_outcome("cust-soft", "REJECT_CARD_PAYMENT")["updated"] == 1
    assert error_of(charge(sandbox, billing["billingKey"], "cust-soft", "order-soft-1", key="soft-1a")) == (
        403,
        "REJECT_CARD_PAYMENT",
    )
    sandbox.set_outcome("cust-soft", None)
    # The same key replays the decline (Toss stores 4xx answers too); a new attempt needs a new key.
    assert error_of(charge(sandbox, billing["billingKey"], "cust-soft", "order-soft-1", key="soft-1a")) == (
        403,
        "REJECT_CARD_PAYMENT",
    )
    assert charge(sandbox, billing["billingKey"], "cust-soft", "order-soft-1", key="soft-1b").status_code == 200
    assert [e["orderId"] for e in sandbox.ledger()] == ["order-soft-0", "order-soft-1"]


def test_outcome_can_turn_a_declining_card_into_an_approving_one_and_back(sandbox):
    billing = sandbox.issue_billing_key("cust-flip", "4330000000000054")
    sandbox.set_outcome("cust-flip", None)
    assert charge(sandbox, billing["billingKey"], "cust-flip", "order-flip-1").status_code == 200
    response = requests.post(
        f"{sandbox.url}/_sandbox/billing-keys/outcome",
        json={"billingKey": billing["billingKey"], "useCard": True},
        timeout=10,
    )
    assert response.status_code == 200
    assert error_of(charge(sandbox, billing["billingKey"], "cust-flip", "order-flip-2")) == (
        400,
        "INVALID_STOPPED_CARD",
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"customerKey": "nobody", "code": None}, 404, "NOT_FOUND_BILLING"),
        ({"customerKey": "cust-x", "code": "NOT_A_CODE"}, 400, "INVALID_REQUEST"),
        ({"code": "REJECT_CARD_PAYMENT"}, 400, "INVALID_REQUEST"),
    ],
)
def test_outcome_endpoint_refuses_bad_requests(sandbox, body, status, code):
    sandbox.issue_billing_key("cust-x")
    response = requests.post(f"{sandbox.url}/_sandbox/billing-keys/outcome", json=body, timeout=10)
    assert error_of(response) == (status, code)
