"""billing.refunding.refunds against a fake Toss: once per request, never more than was paid, unknowns settled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storefront.billing.refunding import refunds
from storefront.models import Refund
from storefront.toss.errors import Category, TossError
from tests.web.admin_support import FakeToss, make_paid

KEY = "refund-0b7e3c2a-8d1f-4c55-9a39-6f0f7a1d2e11"


@pytest.fixture
def fake(clock) -> FakeToss:
    return FakeToss(clock)


def _refund(db_session, paid, fake, clock, *, amount, key=KEY, reason="고객 요청"):
    return refunds.refund(
        db_session,
        paid.attempt.id,
        amount_won=amount,
        reason=reason,
        requested_by=None,
        idempotency_key=key,
        toss=fake,
        clock=clock,
    )


def test_full_refund_cancels_once_and_marks_the_charge_refunded(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    row = _refund(db_session, paid, fake, clock, amount=9900)
    assert (row.status, row.transaction_key, row.settled_at) == ("done", "tx-0001", clock.now())
    assert fake.cancel_calls[0]["amount"] is None  # a full cancel, as Toss recommends
    assert fake.cancel_calls[0]["key"] == KEY
    assert paid.charge.status == "refunded"
    assert refunds.refundable_won(db_session, paid.attempt) == 0


def test_same_key_twice_makes_one_row_and_one_call(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    first = _refund(db_session, paid, fake, clock, amount=3000)
    second = _refund(db_session, paid, fake, clock, amount=3000)
    assert first.id == second.id
    assert len(fake.cancel_calls) == 1
    assert [c.cancel_amount for c in fake.ledger(paid.attempt.payment_key)] == [3000]
    assert db_session.scalars(select(Refund)).all() == [first]


def test_partial_refunds_add_up_and_the_charge_is_refunded_at_zero(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    _refund(db_session, paid, fake, clock, amount=3000)
    assert paid.charge.status == "paid"
    assert refunds.refundable_won(db_session, paid.attempt) == 6900
    _refund(db_session, paid, fake, clock, amount=6900, key=KEY[:-1] + "2")
    assert fake.cancel_calls[1]["amount"] == 6900
    assert paid.charge.status == "refunded"


def test_more_than_refundable_is_refused_before_anything_is_written(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    _refund(db_session, paid, fake, clock, amount=9000)
    with pytest.raises(refunds.ExceedsRefundable) as raised:
        _refund(db_session, paid, fake, clock, amount=901, key=KEY[:-1] + "2")
    assert raised.value.refundable_won == 900
    db_session.rollback()
    assert len(db_session.scalars(select(Refund)).all()) == 1
    assert len(fake.cancel_calls) == 1


@pytest.mark.parametrize("amount,reason", [(0, "사유"), (-5, "사유"), (100, "   "), (100, "가" * 201)])
def test_bad_amount_or_reason_is_refused(db_session, fake, clock, amount, reason):
    paid = make_paid(db_session, clock.now(), toss=fake)
    with pytest.raises(refunds.InvalidRefund):
        _refund(db_session, paid, fake, clock, amount=amount, reason=reason)
    assert fake.cancel_calls == []


def test_only_paid_attempts_can_be_refunded(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    paid.attempt.status = "failed"
    db_session.commit()
    with pytest.raises(refunds.NotRefundable):
        _refund(db_session, paid, fake, clock, amount=100)
    assert refunds.refundable_won(db_session, paid.attempt) == 0


def test_decline_is_kept_with_its_message_and_frees_the_balance(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    fake.decline_next = TossError("NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다.", 403, Category.CONFIG)
    row = _refund(db_session, paid, fake, clock, amount=9900)
    assert (row.status, row.failure_code, row.failure_message) == (
        "failed",
        "NOT_CANCELABLE_PAYMENT",
        "취소 할 수 없는 결제 입니다.",
    )
    assert paid.charge.status == "paid"
    assert refunds.refundable_won(db_session, paid.attempt) == 9900
    assert fake.ledger(paid.attempt.payment_key) == []


def test_unknown_outcome_holds_the_balance_then_settles_from_toss(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    fake.lose_next_answer = True
    row = _refund(db_session, paid, fake, clock, amount=9900)
    assert row.status == "unknown"
    assert refunds.refundable_won(db_session, paid.attempt) == 0  # no second refund while unknown
    refunds.settle_unknown_refunds(db_session, toss=fake, clock=clock)
    assert (row.status, row.transaction_key) == ("done", "tx-0001")
    assert paid.charge.status == "refunded"
    assert len(fake.ledger(paid.attempt.payment_key)) == 1


def test_unknown_refund_toss_never_saw_fails_only_after_the_grace_period(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    fake.drop_next = True
    row = _refund(db_session, paid, fake, clock, amount=5000)
    refunds.settle_unknown_refunds(db_session, toss=fake, clock=clock)
    assert row.status == "unknown"  # too early to conclude
    clock.advance(minutes=11)
    refunds.settle_unknown_refunds(db_session, toss=fake, clock=clock)
    assert (row.status, row.failure_code) == ("failed", refunds.NOT_AT_TOSS)
    assert refunds.refundable_won(db_session, paid.attempt) == 9900


def test_settle_leaves_unknown_when_toss_cannot_be_reached(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    fake.lose_next_answer = True
    row = _refund(db_session, paid, fake, clock, amount=9900)
    fake.get_error = TossError("TIMEOUT", "timeout", None, Category.UNKNOWN_OUTCOME)
    clock.advance(hours=1)
    refunds.settle_unknown_refunds(db_session, toss=fake, clock=clock)
    assert row.status == "unknown"


def test_a_sending_row_left_by_a_crash_is_settled(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    # The process died after Toss cancelled but before it wrote the answer down.
    fake.cancel_payment(paid.attempt.payment_key, reason="r", idempotency_key=KEY, amount=None)
    db_session.add(
        Refund(
            attempt_id=paid.attempt.id,
            amount_won=9900,
            reason="r",
            idempotency_key=KEY,
            status="sending",
            created_at=clock.now(),
        )
    )
    db_session.commit()
    clock.advance(minutes=30)
    [row] = refunds.settle_unknown_refunds(db_session, toss=fake, clock=clock)
    assert (row.status, row.transaction_key) == ("done", "tx-0001")
    assert len(db_session.scalars(select(Refund)).all()) == 1


def test_sync_records_a_dashboard_cancel_once(db_session, fake, clock):
    paid = make_paid(db_session, clock.now(), toss=fake)
    fake.cancel_payment(paid.attempt.payment_key, reason="대시보드 취소", idempotency_key="dash-1", amount=4000)
    payment = fake.get_payment(paid.attempt.payment_key)
    first = refunds.sync_payment(db_session, paid.attempt, payment, now=clock.now())
    again = refunds.sync_payment(db_session, paid.attempt, payment, now=clock.now())
    db_session.commit()
    assert (first.created, again.created, again.settled) == (1, 0, 0)
    [row] = db_session.scalars(select(Refund)).all()
    assert (row.amount_won, row.reason, row.transaction_key, row.requested_by_id) == (
        4000,
        "대시보드 취소",
        "tx-0001",
        None,
    )


def test_idempotency_key_comes_from_a_uuid_only():
    assert (
        refunds.idempotency_key_for("0B7E3C2A-8D1F-4C55-9A39-6F0F7A1D2E11")
        == "refund-0b7e3c2a-8d1f-4c55-9a39-6f0f7a1d2e11"
    )
    for bad in ("", "x", "'; drop table refunds; --", "a" * 300):
        with pytest.raises(refunds.InvalidRefund):
            refunds.idempotency_key_for(bad)
