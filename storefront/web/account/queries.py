"""What /account shows: the user's subscriptions and payments, read in a few queries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from storefront.billing.compliance import consent
from storefront.billing.errors import CARD_DECLINE_CODES, charge_failure_reason
from storefront.billing.recurring import periods, statuses
from storefront.models import UTC, Attempt, BillingKey, Charge, Order, Plan, Product, Refund, Subscription

STATUS_LABELS = {
    "incomplete": "결제 미완료",
    "trialing": "무료 체험 중",
    "active": "이용 중",
    "past_due": "결제 실패 (재시도 중)",
    "canceled": "해지됨",
    "unpaid": "미납으로 종료",
}


class PaymentRow(NamedTuple):
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


def status_label(sub: Subscription | SubscriptionRow) -> str:
    if sub.cancel_at_period_end and sub.status in statuses.RUNNING:
        return "해지 예정"
    return STATUS_LABELS.get(sub.status, sub.status)


# The page's statements are built once, with the user (and page) as bound parameters: building and
# hashing a statement costs about as much as running it on SQLite. The column queries (payments,
# orders) run on the session's connection: they load no objects, so the ORM's per-statement set-up
# (about a third of their cost) buys nothing on these read-only pages.
# The subscriptions are column rows too (the ORM's per-statement set-up of four joined entities cost
# twice the statement): of the plan, product, card and booked plan only what the page and the rules
# judging it read (`periods.SubscriptionState`), never the sealed billing key.
# Results are fetched with `.all()`: one fetchall instead of a DB-API fetchone per row.
# Rows are named tuples: immutable like a frozen dataclass, and built in a third of its time (a frozen
# dataclass sets each field through object.__setattr__; a page builds a couple of dozen rows).


class ProductRow(NamedTuple):
    name: str
    cooling_off_days: int | None
    cooling_off_exclusion: str | None


class PlanRow(NamedTuple):
    name: str
    interval: str
    amount_won: int
    product: ProductRow | None  # None for the booked plan (the page shows its name, price and interval)


class CardRow(NamedTuple):
    card_company: str | None
    card_number_masked: str | None
    destroyed_at: datetime | None
    needs_update_at: datetime | None

    @property
    def label(self) -> str:  # BillingKey.label
        return f"{self.card_company} {self.card_number_masked}".strip()


class SubscriptionRow(NamedTuple):
    """A subscription as 내 구독 shows it, with the attribute names of `Subscription` the template reads."""

    id: int
    status: str
    cancel_at_period_end: bool
    amount_won: int
    trial_end_at: datetime | None
    next_charge_at: datetime | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    ended_at: datetime | None
    plan: PlanRow
    pending_plan: PlanRow | None
    billing_key: CardRow | None


def _written_in(codes: Iterable[str]) -> list:
    """Our own fixed codes for an IN list written into the SQL (``IN ('A', 'B')``): a tuple of values
    becomes an expanding parameter, which SQLAlchemy rewrites into the cached SQL on every execution."""
    values = sorted(codes)
    if not all(re.fullmatch(r"[A-Za-z0-9_]+", value) for value in values):
        raise ValueError(f"not a plain code: {values!r}")
    return [literal_column(f"'{value}'") for value in values]


_BOOKED = aliased(Plan)
_SUBSCRIPTIONS_ALONE = (
    select(
        Subscription.id,
        Subscription.status,
        Subscription.cancel_at_period_end,
        Subscription.amount_won,
        Subscription.trial_end_at,
        Subscription.next_charge_at,
        Subscription.current_period_start,
        Subscription.current_period_end,
        Subscription.ended_at,
        Plan.name,
        Plan.interval,
        Plan.amount_won,
        Product.name,
        Product.cooling_off_days,
        Product.cooling_off_exclusion,
        _BOOKED.id,
        _BOOKED.name,
        _BOOKED.interval,
        _BOOKED.amount_won,
        BillingKey.id,
        BillingKey.card_company,
        BillingKey.card_number_masked,
        BillingKey.destroyed_at,
        BillingKey.needs_update_at,
        consent.has_waiting_change(Subscription.id).label("change_waiting"),
    )
    .join(Plan, Subscription.plan_id == Plan.id)
    .join(Product, Plan.product_id == Product.id)
    .outerjoin(_BOOKED, Subscription.pending_plan_id == _BOOKED.id)
    .outerjoin(BillingKey, Subscription.billing_key_id == BillingKey.id)
    .where(Subscription.user_id == bindparam("user_id"))
    .order_by(Subscription.created_at.desc(), Subscription.id.desc())
)
_SUBSCRIPTION_WIDTH = len(_SUBSCRIPTIONS_ALONE.selected_columns)
# With the live subscriptions' current periods (the rules' `periods.current_periods`) in the same rows:
# one statement fewer per view.
_SUBSCRIPTIONS = periods.with_current_periods(
    _SUBSCRIPTIONS_ALONE, when=Subscription.status.in_(_written_in(statuses.RUNNING))
)


def subscriptions_of(
    session: Session, user_id: int, *, now: datetime
) -> tuple[list[SubscriptionRow], bool, dict[int, periods.CurrentPeriod]]:
    """Newest first, with plan, product (name and 청약철회 terms), card (its label and state) and booked plan;
    whether any has a price change waiting for the shopper's answer (`consent.has_waiting_change`: when
    none has, `consent.open_changes_for_user` would find nothing); and the live ones' current periods, as
    `periods.current_periods` reads them, by subscription id. One query; rows, not objects."""
    subs: list[SubscriptionRow] = []
    change_waiting = False
    current = periods.PeriodRows()
    # A subscription's rows are consecutive (a row more per further attempt or refund of its period).
    for row in session.connection().execute(_SUBSCRIPTIONS, {"user_id": user_id, "now": now}).all():
        if not subs or subs[-1].id != row[0]:
            subs.append(_subscription(row))
            change_waiting = change_waiting or bool(row[_SUBSCRIPTION_WIDTH - 1])
        current.add(row[0], row[_SUBSCRIPTION_WIDTH:])
    return subs, change_waiting, current.by_subscription()


def _subscription(row) -> SubscriptionRow:
    # Unpacked by position, in the order `_SUBSCRIPTIONS_ALONE` selects.
    (
        sub_id,
        status,
        cancel_at_period_end,
        amount_won,
        trial_end_at,
        next_charge_at,
        current_period_start,
        current_period_end,
        ended_at,
        plan_name,
        plan_interval,
        plan_amount_won,
        product_name,
        cooling_off_days,
        cooling_off_exclusion,
        booked_id,
        booked_name,
        booked_interval,
        booked_amount_won,
        card_id,
        card_company,
        card_number_masked,
        card_destroyed_at,
        card_needs_update_at,
        _change_waiting,
    ) = row[:_SUBSCRIPTION_WIDTH]
    return SubscriptionRow(
        id=sub_id,
        status=status,
        cancel_at_period_end=cancel_at_period_end,
        amount_won=amount_won,
        trial_end_at=trial_end_at,
        next_charge_at=next_charge_at,
        current_period_start=current_period_start,
        current_period_end=current_period_end,
        ended_at=ended_at,
        plan=PlanRow(
            plan_name, plan_interval, plan_amount_won, ProductRow(product_name, cooling_off_days, cooling_off_exclusion)
        ),
        pending_plan=None if booked_id is None else PlanRow(booked_name, booked_interval, booked_amount_won, None),
        billing_key=None
        if card_id is None
        else CardRow(card_company, card_number_masked, card_destroyed_at, card_needs_update_at),
    )


# /account shows the newest few (on a phone each payment is a card of six lines: twelve were about four
# screens to scroll past before 1회 구매 and 회원 탈퇴); /account/payments pages through the rest.
PAYMENTS_ON_OVERVIEW = 5
PAYMENTS_PER_PAGE = 30


def _payments_query(user_id):
    """The shopper's approved and declined charge attempts, newest first: only the columns shown."""
    refunded = (
        select(func.coalesce(func.sum(Refund.amount_won), 0))
        .where(Refund.attempt_id == Attempt.id, Refund.status == "done")
        .scalar_subquery()
    )
    status = func.coalesce(Attempt.status, "")
    return (
        select(
            Attempt.status,
            Attempt.failure_code,
            # The payment's moment: approval, or the decline's last change (one datetime per row to parse).
            type_coerce(func.coalesce(Attempt.approved_at, Attempt.updated_at), UTC).label("at"),
            Attempt.amount_won,
            Attempt.receipt_url,
            Attempt.card_summary,
            Charge.status.label("charge_status"),
            Charge.period_start,
            Charge.period_end,
            Product.name.label("product_name"),
            Plan.name.label("plan_name"),
            refunded.label("refunded_won"),
        )
        .join(Charge, Attempt.charge_id == Charge.id)
        .join(Subscription, Charge.subscription_id == Subscription.id)
        .join(Plan, Subscription.plan_id == Plan.id)
        .join(Product, Plan.product_id == Product.id)
        .where(
            Subscription.user_id == user_id,
            # Through coalesce, not the bare column: on SQLite a plain `status = 'done' OR ...` is read
            # through ix_attempts_status, i.e. every approved attempt of every shopper, then joined back
            # to this one; here the plan starts from the shopper's subscriptions (ix_subscriptions_user_id).
            or_(status == "done", and_(status == "failed", Attempt.failure_code.in_(_written_in(CARD_DECLINE_CODES)))),
        )
        .order_by(Attempt.created_at.desc(), Attempt.id.desc())
    )


_PAYMENTS = _payments_query(bindparam("user_id")).limit(bindparam("limit")).offset(bindparam("offset"))


def payments_of(session: Session, user_id: int, limit: int = PAYMENTS_ON_OVERVIEW, offset: int = 0) -> list[PaymentRow]:
    """Approved and declined charge attempts, newest first, with Toss's receipt (매출전표) link. One query."""
    rows = session.connection().execute(_PAYMENTS, {"user_id": user_id, "limit": limit, "offset": offset}).all()
    return [_payment(row) for row in rows]


def _payment(row) -> PaymentRow:
    # Unpacked by position, in the order `_payments_query` selects: a Row's attribute lookup by name
    # costs about a microsecond each, a dozen per row.
    (
        status,
        failure_code,
        at,
        amount_won,
        receipt_url,
        card_summary,
        charge_status,
        period_start,
        period_end,
        product_name,
        plan_name,
        refunded_won,
    ) = row
    if status == "done":
        label = "환불됨" if charge_status == "refunded" else ("부분 환불" if refunded_won else "결제 완료")
        reason = None
    else:
        label = "결제 실패"
        reason = charge_failure_reason(failure_code)
    return PaymentRow(
        at=at,
        product_name=product_name,
        plan_name=plan_name,
        amount_won=amount_won,
        status_label=label,
        period_start=period_start,
        period_end=period_end,
        receipt_url=receipt_url if status == "done" else None,
        card_label=card_summary,
        reason=reason,
    )


ORDER_LABELS = {
    "pending": "결제 대기",
    "paid": "결제 완료",
    "failed": "결제 실패",
    "canceled": "환불 완료",
    "expired": "기간 만료",
}


class OrderRow(NamedTuple):
    order_id: str
    created_at: datetime
    product_name: str
    amount_won: int
    status: str
    receipt_url: str | None
    refunded_won: int  # refunds done on its paid attempts


def order_label(order: OrderRow) -> str:
    """The order's status for the shopper; a paid order Toss has partly refunded says 부분 환불."""
    if order.status == "paid" and order.refunded_won > 0:
        return "부분 환불"
    return ORDER_LABELS.get(order.status, order.status)


def _orders_query():
    refunded = (
        select(func.coalesce(func.sum(Refund.amount_won), 0))
        .join(Attempt, Refund.attempt_id == Attempt.id)
        .where(Attempt.order_pk == Order.id, Attempt.status == "done", Refund.status == "done")
        .scalar_subquery()
    )
    return (
        select(
            Order.order_id,
            Order.created_at,
            Product.name.label("product_name"),
            Order.amount_won,
            Order.status,
            Order.receipt_url,
            refunded.label("refunded_won"),
        )
        .join(Plan, Order.plan_id == Plan.id)
        .join(Product, Plan.product_id == Product.id)
        .where(Order.user_id == bindparam("user_id"), Order.status.in_(_written_in(("paid", "canceled", "pending"))))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(bindparam("limit"))
    )


_ORDERS = _orders_query()


def orders_of(session: Session, user_id: int, limit: int = 50) -> list[OrderRow]:
    """One-time purchases that reached Toss's window or were paid, newest first. One query."""
    rows = session.connection().execute(_ORDERS, {"user_id": user_id, "limit": limit}).all()
    return [OrderRow(*row) for row in rows]  # the columns are selected in OrderRow's field order
