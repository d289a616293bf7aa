"""Settling one-time orders whose confirm answer was lost, with a scripted Toss.

The sandbox cannot be made to answer every way Toss can (IN_PROGRESS after a lost confirm, a
failed lookup, a payment cancelled in the dashboard before we heard of it), so these tests
script Toss's answers and call the domain (`storefront.billing.one_time.orders`) directly.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from storefront.billing.one_time import orders
from storefront.models import Attempt, EmailMessage, Order, Plan, Refund, User
from storefront.toss.errors import Category, TossError
from storefront.toss.types import Cancel
from tests.fakes import BrokenNotifier
from tests.web.order_support import PRICE, ScriptedToss, make_catalog, payment

TIMEOUT = TossError("TIMEOUT", "read timed out", None, Category.UNKNOWN_OUTCOME)
LOOKUP_DOWN = TossError("FAILED_INTERNAL_SYSTEM_PROCESSING", "down", 500, Category.TRANSIENT)
NOT_FOUND = TossError("NOT_FOUND_PAYMENT", "존재하지 않는 결제 입니다.", 404, Category.NOT_FOUND)


@pytest.fixture
def toss() -> ScriptedToss:
    return ScriptedToss()


@pytest.fixture
def notifier(app) -> Any:
    """The app's own notifier: real templates, real outbox rows."""
    return app.extensions["storefront"].notifier


def _receipts(db_session) -> list[EmailMessage]:
    return db_session.scalars(select(EmailMessage).where(EmailMessage.kind == "order_receipt")).all()


@pytest.fixture
def order(db_session, clock) -> Order:
    catalog = make_catalog(db_session)
    user = User(email="buyer@example.com", password_hash="x", name="김구매", created_at=clock.now())
    db_session.add(user)
    db_session.commit()
    plan = db_session.get(Plan, catalog.once_plan_id)
    return orders.create_order(db_session, user=user, plan=plan, text_version="terms:v1", ip="127.0.0.1", clock=clock)


def _confirm(db_session, order: Order, toss, notifier, clock, amount: int = PRICE) -> orders.OrderOutcome:
    return orders.confirm_order(
        db_session, order, payment_key="tpay_order_1", amount_won=amount, toss=toss, notifier=notifier, clock=clock
    )


def _settle(db_session, order_id: str, toss, notifier, clock) -> orders.OrderOutcome:
    db_session.expire_all()
    row = db_session.scalars(select(Order).where(Order.order_id == order_id)).one()
    return orders.settle_order(db_session, row, toss=toss, notifier=notifier, clock=clock)


def _unknown_order(db_session, order: Order, toss, notifier, clock) -> str:
    """An order whose confirm timed out: Attempt 'unknown', order pending."""
    toss.confirms.append(TIMEOUT)
    assert _confirm(db_session, order, toss, notifier, clock).state == "checking"
    return order.order_id


def _attempt(db_session) -> Attempt:
    db_session.expire_all()
    return db_session.scalars(select(Attempt)).one()


def test_a_timed_out_confirm_is_unknown_not_failed(db_session, order, toss, notifier, clock):
    _unknown_order(db_session, order, toss, notifier, clock)

    attempt = _attempt(db_session)
    assert (attempt.status, attempt.failure_code) == ("unknown", "TIMEOUT")
    assert db_session.get(Order, order.id).status == "pending"
    # never expired while the money may have moved
    clock.advance(hours=2)
    assert orders.expire_stale_orders(db_session, clock=clock) == 0


def test_a_payment_still_in_progress_is_confirmed_again_with_the_same_key(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    toss.lookups.append(payment(order_id, "IN_PROGRESS"))
    toss.confirms.append(payment(order_id, "DONE", at=clock.now()))
    clock.advance(minutes=1)

    outcome = _settle(db_session, order_id, toss, notifier, clock)

    assert outcome.state == "paid"
    keys = [args[3] for name, args in toss.calls if name == "confirm"]
    assert keys == [f"confirm-{order_id}", f"confirm-{order_id}"]
    [receipt] = _receipts(db_session)
    assert order_id in receipt.body_text and "https://receipt.example/tpay_order_1" in receipt.body_text


def test_in_progress_after_tosss_ten_minutes_is_not_confirmed_again(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    toss.lookups.append(payment(order_id, "IN_PROGRESS"))
    clock.advance(minutes=11)

    assert _settle(db_session, order_id, toss, notifier, clock).state == "checking"
    assert toss.count("confirm") == 1


def test_no_payment_at_toss_waits_out_the_window_then_fails(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    toss.lookups.extend([NOT_FOUND, NOT_FOUND])
    clock.advance(minutes=3)
    assert _settle(db_session, order_id, toss, notifier, clock).state == "checking"

    clock.advance(minutes=8)
    outcome = _settle(db_session, order_id, toss, notifier, clock)

    assert outcome.state == "failed"
    assert "결제 내역이 없어 결제되지 않은 것으로 확인했습니다" in outcome.message
    assert (_attempt(db_session).status, _attempt(db_session).failure_code) == ("failed", "NO_PAYMENT")


def test_an_aborted_payment_fails_with_a_plain_reason(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    toss.lookups.append(payment(order_id, "ABORTED", failure="REJECT_CARD_COMPANY"))

    outcome = _settle(db_session, order_id, toss, notifier, clock)

    assert outcome.state == "failed"
    assert outcome.message.startswith("카드사에서 결제를 거절했습니다")
    assert "from Toss" in _attempt(db_session).failure_message  # Toss's own text kept for the admin only


def test_an_expired_payment_expires_the_order(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    toss.lookups.append(payment(order_id, "EXPIRED"))

    assert _settle(db_session, order_id, toss, notifier, clock).state == "expired"


def test_a_payment_cancelled_at_toss_meanwhile_is_booked_then_refunded(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    cancel = Cancel("tx-1", PRICE, "고객 요청", clock.now(), "DONE", 0)
    toss.lookups.append(payment(order_id, "CANCELED", cancels=(cancel,), balance=0, at=clock.now()))

    outcome = _settle(db_session, order_id, toss, notifier, clock)

    assert outcome.state == "canceled"
    row = db_session.get(Order, order.id)
    assert row.paid_at is not None and row.payment_key == "tpay_order_1"
    refund = db_session.scalars(select(Refund)).one()
    assert (refund.status, refund.amount_won, refund.transaction_key) == ("done", PRICE, "tx-1")
    assert orders.refunded_won(db_session, row) == PRICE


def test_a_failed_lookup_leaves_the_order_checking(db_session, order, toss, notifier, clock):
    order_id = _unknown_order(db_session, order, toss, notifier, clock)
    toss.lookups.append(LOOKUP_DOWN)

    assert _settle(db_session, order_id, toss, notifier, clock).state == "checking"
    assert _attempt(db_session).status == "unknown"


def test_a_confirm_still_on_the_wire_is_left_to_its_request(db_session, order, toss, notifier, clock):
    now = clock.now()
    db_session.add(
        Attempt(
            order_pk=order.id,
            order_id=order.order_id,
            idempotency_key=f"confirm-{order.order_id}",
            amount_won=PRICE,
            status="sending",
            payment_key="tpay_order_1",
            created_at=now,
            updated_at=now,
        )
    )
    db_session.commit()
    clock.advance(seconds=30)

    # a second success request (double click) neither confirms nor looks up
    assert _confirm(db_session, db_session.get(Order, order.id), toss, notifier, clock).state == "checking"
    assert toss.calls == []

    clock.advance(minutes=3)  # the first request died: the job asks Toss
    toss.lookups.append(payment(order.order_id, "DONE", at=clock.now()))
    outcomes = orders.settle_unknown_orders(db_session, toss=toss, clock=clock, notifier=notifier)
    assert [o.state for o in outcomes] == ["paid"] and toss.calls == [("lookup", order.order_id)]


@pytest.mark.parametrize(
    "error,expected",
    [
        (TossError("PROVIDER_ERROR", "x", 400, Category.TRANSIENT), "일시적인 오류로 결제하지 못했습니다"),
        (TossError("INVALID_REQUEST", "x", 400, Category.CONFIG), "고객센터로 문의해 주세요"),
        (TossError("NOT_FOUND_PAYMENT_SESSION", "x", 404, Category.HARD_DECLINE), "10분"),
    ],
)
def test_errors_that_are_not_declines_still_end_the_order_plainly(
    db_session, order, toss, notifier, clock, error, expected
):
    toss.confirms.append(error)

    outcome = _confirm(db_session, order, toss, notifier, clock)

    assert outcome.state == "failed" and expected in outcome.message
    assert toss.count("confirm") == 1


def test_a_wrong_amount_writes_nothing_and_sends_nothing(db_session, order, toss, notifier, clock):
    with pytest.raises(orders.AmountMismatch):
        _confirm(db_session, order, toss, notifier, clock, amount=PRICE - 1)

    assert toss.calls == [] and db_session.scalar(select(func.count()).select_from(Attempt)) == 0


def test_a_notice_that_cannot_be_queued_never_undoes_the_payment(db_session, order, toss, clock):
    toss.confirms.append(payment(order.order_id, "DONE", at=clock.now()))

    outcome = _confirm(db_session, order, toss, BrokenNotifier(), clock)

    assert outcome.state == "paid"
    assert db_session.get(Order, order.id).status == "paid"
    assert db_session.scalar(select(func.count()).select_from(EmailMessage)) == 0


def test_refunded_in_full_orders_close_as_canceled(db_session, order, toss, notifier, clock):
    toss.confirms.append(payment(order.order_id, "DONE", at=clock.now()))
    _confirm(db_session, order, toss, notifier, clock)
    attempt = _attempt(db_session)
    db_session.add(
        Refund(
            attempt_id=attempt.id,
            amount_won=PRICE - 1000,
            reason="부분",
            idempotency_key="r1",
            status="done",
            created_at=clock.now(),
        )
    )
    db_session.commit()
    assert orders.close_refunded_orders(db_session, clock=clock) == 0

    db_session.add(
        Refund(
            attempt_id=attempt.id,
            amount_won=1000,
            reason="나머지",
            idempotency_key="r2",
            status="done",
            created_at=clock.now(),
        )
    )
    db_session.commit()

    assert orders.close_refunded_orders(db_session, clock=clock) == 1
    assert db_session.get(Order, order.id).status == "canceled"


def test_order_ids_follow_tosss_rules_and_never_repeat(clock):
    ids = {orders.new_order_id(clock.now()) for _ in range(1000)}
    assert len(ids) == 1000
    assert all(orders.ORDER_ID_PATTERN.fullmatch(i) and i.startswith("O20260310-") for i in ids)


def test_only_one_time_plans_on_sale_can_be_ordered(db_session, order, clock):
    monthly = db_session.scalars(select(Plan).where(Plan.interval == "month")).one()
    with pytest.raises(orders.NotPurchasable):
        orders.create_order(db_session, user=order.user, plan=monthly, text_version="v", ip="1", clock=clock)
    once = order.plan
    once.active = False
    db_session.commit()
    with pytest.raises(orders.NotPurchasable):
        orders.create_order(db_session, user=order.user, plan=once, text_version="v", ip="1", clock=clock)
