"""The real TossClient against the sandbox: the two sides of the API must agree.

What a merchant sees when switching TOSS_ENV from sandbox to test depends on the client
reading the sandbox's answers exactly as it reads Toss's.
"""

import uuid

import pytest

from storefront.toss.client import TossClient
from storefront.toss.errors import Category, TossError
from datetime import UTC


@pytest.fixture
def client(sandbox):
    return TossClient(sandbox.url, sandbox.secret_key, sleep=lambda _s: None)


def _key() -> str:
    return str(uuid.uuid4())


def _order() -> str:
    return "ord_" + uuid.uuid4().hex[:20]


def test_issue_charge_replay_partial_and_full_cancel(client, sandbox):
    customer_key = _key()
    auth_key = sandbox.register_card(customer_key)
    billing = client.issue_billing_key(auth_key, customer_key, idempotency_key=_key())
    assert billing.customer_key == customer_key and billing.card.number

    order_id = _order()
    charge = dict(
        customer_key=customer_key, amount=9900, order_id=order_id, order_name="영어 회화 월간", idempotency_key=order_id
    )
    first = client.charge_billing_key(billing.billing_key, **charge)
    again = client.charge_billing_key(billing.billing_key, **charge)
    assert first.status == "DONE" and first.total_amount == 9900
    assert again.payment_key == first.payment_key
    assert [e["orderId"] for e in sandbox.ledger()] == [order_id]

    looked_up = client.get_payment_by_order_id(order_id)
    assert looked_up.payment_key == first.payment_key and looked_up.receipt_url

    partial = client.cancel_payment(first.payment_key, reason="부분 환불", amount=2900, idempotency_key=_key())
    assert partial.status == "PARTIAL_CANCELED" and partial.balance_amount == 7000
    full = client.cancel_payment(first.payment_key, reason="전액 환불", idempotency_key=_key())
    assert full.status == "CANCELED" and full.balance_amount == 0
    assert sum(c.cancel_amount for c in full.cancels) == 9900


def test_errors_arrive_with_their_categories(client, sandbox):
    customer_key = _key()
    billing = client.issue_billing_key(sandbox.register_card(customer_key), customer_key, idempotency_key=_key())

    with pytest.raises(TossError) as wrong_customer:
        client.charge_billing_key(
            billing.billing_key,
            customer_key=_key(),
            amount=9900,
            order_id=_order(),
            order_name="x",
            idempotency_key=_key(),
        )
    assert wrong_customer.value.code == "NOT_MATCHES_CUSTOMER_KEY"
    assert billing.billing_key not in str(wrong_customer.value)

    order_id = _order()
    client.charge_billing_key(
        billing.billing_key,
        customer_key=customer_key,
        amount=9900,
        order_id=order_id,
        order_name="x",
        idempotency_key=order_id,
    )
    with pytest.raises(TossError) as duplicate:
        client.charge_billing_key(
            billing.billing_key,
            customer_key=customer_key,
            amount=9900,
            order_id=order_id,
            order_name="x",
            idempotency_key=_key(),
        )
    assert duplicate.value.code == "DUPLICATED_ORDER_ID"
    assert duplicate.value.category is Category.UNKNOWN_OUTCOME  # may already be paid: settle by lookup

    with pytest.raises(TossError) as missing:
        client.get_payment_by_order_id(_order())
    assert missing.value.category is Category.NOT_FOUND


@pytest.mark.parametrize(
    "card, code, category",
    [
        ("4330000000000051", "REJECT_CARD_PAYMENT", Category.SOFT_DECLINE),
        ("4330000000000052", "REJECT_CARD_COMPANY", Category.HARD_DECLINE),
        ("4330000000000053", "INVALID_CARD_EXPIRATION", Category.HARD_DECLINE),
        ("4330000000000054", "INVALID_STOPPED_CARD", Category.HARD_DECLINE),
        ("4330000000000055", "INVALID_CARD_LOST_OR_STOLEN", Category.HARD_DECLINE),
    ],
)
def test_each_test_card_declines_with_its_code(client, sandbox, card, code, category):
    customer_key = _key()
    billing = client.issue_billing_key(sandbox.register_card(customer_key, card), customer_key, idempotency_key=_key())
    with pytest.raises(TossError) as declined:
        client.charge_billing_key(
            billing.billing_key,
            customer_key=customer_key,
            amount=9900,
            order_id=_order(),
            order_name="x",
            idempotency_key=_key(),
        )
    assert (declined.value.code, declined.value.category) == (code, category)


def test_deleted_billing_key_is_deleted_once_and_then_refused(client, sandbox):
    customer_key = _key()
    billing = client.issue_billing_key(sandbox.register_card(customer_key), customer_key, idempotency_key=_key())
    assert client.delete_billing_key(billing.billing_key) is True
    assert client.delete_billing_key(billing.billing_key) is True  # ALREADY_REMOVED counts as done
    with pytest.raises(TossError) as refused:
        client.charge_billing_key(
            billing.billing_key,
            customer_key=customer_key,
            amount=9900,
            order_id=_order(),
            order_name="x",
            idempotency_key=_key(),
        )
    assert refused.value.category is Category.HARD_DECLINE


def test_a_days_transactions_are_read_across_page_boundaries(client, sandbox, clock):
    """More transactions in one KST day than `limit`: every one is read once, in order."""
    from datetime import date, datetime, timedelta

    customer_key = _key()
    billing = client.issue_billing_key(sandbox.register_card(customer_key), customer_key, idempotency_key=_key())
    orders = []
    for n in range(7):
        order_id = _order()
        payment = client.charge_billing_key(
            billing.billing_key,
            customer_key=customer_key,
            amount=1000 + n,
            order_id=order_id,
            order_name="구독",
            idempotency_key=order_id,
        )
        orders.append(order_id)
        clock.advance(seconds=30)
    client.cancel_payment(payment.payment_key, reason="환불", idempotency_key=_key(), amount=500)
    start = datetime(2026, 3, 9, 15, tzinfo=UTC)  # 2026-03-10 00:00 KST
    end = start + timedelta(days=1) - timedelta(seconds=1)

    seen = list(client.iter_transactions(start, end, page_size=3))

    assert [t.order_id for t in seen] == orders + [orders[-1]]
    assert [t.amount for t in seen][-2:] == [1006, 500] and seen[-1].is_cancel
    assert len({t.transaction_key for t in seen}) == 8
    assert list(client.iter_transactions(start + timedelta(days=1), end + timedelta(days=1))) == []

    settled = list(client.iter_settlements(date(2026, 3, 10), date(2026, 3, 10), page_size=3))
    assert [s.amount for s in settled] == [1000 + n for n in range(7)] + [-500]
    assert all(s.pay_out_amount == s.amount - s.fee for s in settled)
