"""What /account shows: the user's subscriptions and payments, read in a few queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storefront.billing.errors import failure_message
from storefront.billing.refunding.refunds import refund_state
from storefront.models import Attempt, Charge, Order, Plan, Subscription
from storefront.toss.errors import Category, categorize

STATUS_LABELS = {
    "incomplete": "결제 미완료",
    "trialing": "무료 체험 중",
    "active": "이용 중",
    "past_due": "결제 실패 (재시도 중)",
    "canceled": "해지됨",
    "unpaid": "미납으로 종료",
}


@dataclass(frozen=True)
class PaymentRow:
    at: datetime
    product_name: str
    plan_name: str
    amount_won: int
    status_label: str
    period_start: datetime
    period_end: datetime
    receipt_url: str | None
    card_label: str | None
    reason: str | None  # plain Korean, for a failed one


def status_label(sub: Subscription) -> str:
    if sub.cancel_at_period_end and sub.status in ("trialing", "active", "past_due"):
        return "해지 예정"
    return STATUS_LABELS.get(sub.status, sub.status)


def subscriptions_of(session: Session, user_id: int) -> list[Subscription]:
    """Newest first, with plan, product, card and booked plan loaded."""
    query = (
        select(Subscription)
        .where(Subscription.user_id == user_id)
        .options(
            selectinload(Subscription.plan).selectinload(Plan.product),
            selectinload(Subscription.pending_plan),
            selectinload(Subscription.billing_key),
        )
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
    )
    return list(session.scalars(query))


def payments_of(session: Session, user_id: int, limit: int = 100) -> list[PaymentRow]:
    """Approved and declined charge attempts, newest first, with Toss's receipt (매출전표) link."""
    query = (
        select(Attempt, Charge, Subscription)
        .join(Charge, Attempt.charge_id == Charge.id)
        .join(Subscription, Charge.subscription_id == Subscription.id)
        .where(Subscription.user_id == user_id, Attempt.status.in_(("done", "failed")))
        .options(selectinload(Attempt.refunds))
        .order_by(Attempt.created_at.desc(), Attempt.id.desc())
        .limit(limit)
    )
    return [
        _payment(attempt, charge, sub)
        for attempt, charge, sub in session.execute(query)
        if attempt.status == "done" or _declined(attempt)
    ]


def _declined(attempt: Attempt) -> bool:
    """A card decline the shopper should see; not our hiccups (retried) nor attempts that never happened."""
    return categorize(attempt.failure_code or "") in (Category.HARD_DECLINE, Category.SOFT_DECLINE)


def _payment(attempt: Attempt, charge: Charge, sub: Subscription) -> PaymentRow:
    if attempt.status == "done":
        refunded = sum(r.amount_won for r in attempt.refunds if r.status == "done")
        label = "환불됨" if charge.status == "refunded" else ("부분 환불" if refunded else "결제 완료")
        reason = None
    else:
        label = "결제 실패"
        reason = failure_message(attempt.failure_code, categorize(attempt.failure_code or ""))
    return PaymentRow(
        at=attempt.approved_at or attempt.updated_at,
        product_name=sub.plan.product.name,
        plan_name=sub.plan.name,
        amount_won=attempt.amount_won,
        status_label=label,
        period_start=charge.period_start,
        period_end=charge.period_end,
        receipt_url=attempt.receipt_url if attempt.status == "done" else None,
        card_label=attempt.card_summary,
        reason=reason,
    )


ORDER_LABELS = {
    "pending": "결제 대기",
    "paid": "결제 완료",
    "failed": "결제 실패",
    "canceled": "환불 완료",
    "expired": "기간 만료",
}


def order_label(order: Order) -> str:
    """The order's status for the shopper; a paid order Toss has partly refunded says 부분 환불."""
    if order.status == "paid" and any(refund_state(a) for a in order.attempts):
        return "부분 환불"
    return ORDER_LABELS.get(order.status, order.status)


def orders_of(session: Session, user_id: int, limit: int = 50) -> list[Order]:
    """One-time purchases that reached Toss's window or were paid, newest first."""
    query = (
        select(Order)
        .where(Order.user_id == user_id, Order.status.in_(("paid", "canceled", "pending")))
        .options(
            selectinload(Order.plan).selectinload(Plan.product),
            selectinload(Order.attempts).selectinload(Attempt.refunds),
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
