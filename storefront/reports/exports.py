"""What the accountant's CSV files hold: one generator of rows per export, read from the database in batches.

Each export is a header and a generator of rows (tuples of str/int), built from a filtered
column-only SELECT executed with ``yield_per``, so a file of 100,000 rows is never held in
memory: rows leave as they are read. Times are Asia/Seoul (``YYYY-MM-DD HH:MM:SS``), money
is whole won (VAT included); refunds are negative lines in the payments export. The web
layer (storefront.web.admin.exports) writes them as UTF-8 CSV with a BOM and streams them.

Text cells that a spreadsheet would read as a formula (starting with = + - @ or a tab)
are prefixed with an apostrophe; numbers are left as numbers.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, UTC
from typing import Any
from collections.abc import Callable, Iterator

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from storefront.clock import KST
from storefront.models import Attempt, AuditLog, BillingKey, Charge, Order, Plan, Product, Refund, Subscription, User

BATCH = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Export:
    filename: str
    header: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]


@dataclass(frozen=True)
class DateRange:
    """KST calendar days, both ends included; None means open."""

    first: date | None = None
    last: date | None = None

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.first, time(), tzinfo=KST).astimezone(UTC) if self.first else None

    @property
    def end(self) -> datetime | None:
        if self.last is None:
            return None
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=KST).astimezone(UTC)

    def where(self, column) -> list:
        conditions = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return conditions

    def suffix(self) -> str:
        if not (self.first or self.last):
            return "all"
        return f"{self.first or 'start'}_{self.last or 'now'}"


def kst_text(moment: datetime | None) -> str:
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def cell(value: Any) -> Any:
    """A value as a CSV cell: times in KST, None empty, formula-looking text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "예" if value else "아니요"
    if isinstance(value, datetime):
        return kst_text(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def stream(session: Session, stmt: Select) -> Iterator[Any]:
    """Rows of `stmt`, fetched BATCH at a time (a server-side cursor on PostgreSQL)."""
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


# -- payments: charges, one-time orders and refunds -----------------------------------------------

PAYMENT_HEADER = (
    "일시 (KST)",
    "구분",
    "주문번호",
    "회원번호",
    "이메일",
    "이름",
    "상품",
    "플랜",
    "금액 (원)",
    "카드",
    "영수증",
    "환불 사유",
    "토스 거래 키",
)
KINDS = {"subscription": "정기결제", "order": "1회 구매"}


@dataclass(frozen=True)
class PaymentFilter:
    period: DateRange = field(default_factory=DateRange)
    kind: str | None = None  # subscription | order | None (both)
    email: str = ""


def _payment_columns(moment, amount, *extra, refunds: bool = False):
    sub_user, order_user = aliased(User), aliased(User)
    sub_plan, order_plan = aliased(Plan), aliased(Plan)
    sub_product, order_product = aliased(Product), aliased(Product)
    stmt = select(
        moment.label("at"),
        Attempt.charge_id,
        Attempt.order_id,
        func.coalesce(sub_user.id, order_user.id),
        func.coalesce(sub_user.email, order_user.email),
        func.coalesce(sub_user.name, order_user.name),
        func.coalesce(sub_product.name, order_product.name),
        func.coalesce(sub_plan.name, order_plan.name),
        amount,
        Attempt.card_summary,
        *extra,
    )
    if refunds:
        stmt = stmt.select_from(Refund).join(Attempt, Attempt.id == Refund.attempt_id)
    else:
        stmt = stmt.select_from(Attempt)
    stmt = (
        stmt.outerjoin(Charge, Charge.id == Attempt.charge_id)
        .outerjoin(Subscription, Subscription.id == Charge.subscription_id)
        .outerjoin(sub_user, sub_user.id == Subscription.user_id)
        .outerjoin(sub_plan, sub_plan.id == Subscription.plan_id)
        .outerjoin(sub_product, sub_product.id == sub_plan.product_id)
        .outerjoin(Order, Order.id == Attempt.order_pk)
        .outerjoin(order_user, order_user.id == Order.user_id)
        .outerjoin(order_plan, order_plan.id == Order.plan_id)
        .outerjoin(order_product, order_product.id == order_plan.product_id)
    )
    return stmt, func.coalesce(sub_user.email, order_user.email)


def _payment_filters(stmt: Select, email_column, moment, flt: PaymentFilter) -> Select:
    stmt = stmt.where(*flt.period.where(moment))
    if flt.kind == "subscription":
        stmt = stmt.where(Attempt.charge_id.is_not(None))
    elif flt.kind == "order":
        stmt = stmt.where(Attempt.order_pk.is_not(None))
    if flt.email:
        stmt = stmt.where(func.lower(email_column).contains(flt.email.strip().lower(), autoescape=True))
    return stmt


def payments(session: Session, flt: PaymentFilter) -> Export:
    """Approved payments (+) and refunds Toss carried out (−), in time order."""
    paid_at = func.coalesce(Attempt.approved_at, Attempt.updated_at)
    charges, email = _payment_columns(paid_at, Attempt.amount_won, Attempt.receipt_url)
    charges = _payment_filters(charges.where(Attempt.status == "done"), email, paid_at, flt)
    cancels, email = _payment_columns(
        Refund.created_at, -Refund.amount_won, Refund.reason, Refund.transaction_key, refunds=True
    )
    cancels = _payment_filters(cancels.where(Refund.status == "done"), email, Refund.created_at, flt)
    paid_rows = (_payment_row(row, refund=False) for row in stream(session, charges.order_by(paid_at, Attempt.id)))
    refund_rows = (
        _payment_row(row, refund=True) for row in stream(session, cancels.order_by(Refund.created_at, Refund.id))
    )
    merged = heapq.merge(paid_rows, refund_rows, key=lambda pair: pair[0])
    return Export(f"payments_{flt.period.suffix()}.csv", PAYMENT_HEADER, (row for _, row in merged))


def _payment_row(row, *, refund: bool) -> tuple[datetime, tuple]:
    at, charge_id, order_id, user_id, email, name, product, plan, amount, card, *rest = row
    kind = "환불" if refund else ("정기결제" if charge_id else "1회 구매")
    receipt, reason, tx = (None, rest[0], rest[1]) if refund else (rest[0], None, None)
    return at, tuple(
        cell(v) for v in (at, kind, order_id, user_id, email, name, product, plan, amount, card, receipt, reason, tx)
    )


# -- subscriptions, customers, refunds -------------------------------------------------------------

SUBSCRIPTION_HEADER = (
    "구독번호",
    "회원번호",
    "이메일",
    "이름",
    "상품",
    "플랜",
    "결제 주기",
    "결제 금액 (원)",
    "상태",
    "기간 종료 시 해지",
    "신청 일시",
    "현재 기간 시작",
    "현재 기간 종료",
    "다음 결제",
    "체험 종료",
    "종료 일시",
    "종료 사유",
    "변경 예정 플랜",
)


def subscriptions(session: Session, status: str | None, email: str, labels: dict[str, dict[str, str]]) -> Export:
    pending = aliased(Plan)
    stmt = (
        select(
            Subscription.id,
            User.id,
            User.email,
            User.name,
            Product.name,
            Plan.name,
            Plan.interval,
            Subscription.amount_won,
            Subscription.status,
            Subscription.cancel_at_period_end,
            Subscription.created_at,
            Subscription.current_period_start,
            Subscription.current_period_end,
            Subscription.next_charge_at,
            Subscription.trial_end_at,
            Subscription.ended_at,
            Subscription.ended_reason,
            pending.name,
        )
        .join(User, User.id == Subscription.user_id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .join(Product, Product.id == Plan.product_id)
        .outerjoin(pending, pending.id == Subscription.pending_plan_id)
        .order_by(Subscription.id.desc())
    )
    if status:
        stmt = stmt.where(Subscription.status == status)
    if email:
        stmt = stmt.where(func.lower(User.email).contains(email.strip().lower(), autoescape=True))

    def rows():
        for row in stream(session, stmt):
            values = list(row)
            values[6] = labels["interval"].get(values[6], values[6])
            values[8] = labels["subscription"].get(values[8], values[8])
            yield tuple(cell(v) for v in values)

    return Export("subscriptions.csv", SUBSCRIPTION_HEADER, rows())


CUSTOMER_HEADER = ("회원번호", "이메일", "이름", "휴대전화", "가입 일시", "구독 수", "마케팅 수신 동의")


def customers(session: Session, email: str) -> Export:
    count = select(func.count(Subscription.id)).where(Subscription.user_id == User.id).correlate(User).scalar_subquery()
    stmt = (
        select(User.id, User.email, User.name, User.phone, User.created_at, count, User.marketing_opt_in)
        .where(User.is_admin.is_(False))
        .order_by(User.id.desc())
    )
    if email:
        stmt = stmt.where(func.lower(User.email).contains(email.strip().lower(), autoescape=True))
    return Export("customers.csv", CUSTOMER_HEADER, (tuple(cell(v) for v in row) for row in stream(session, stmt)))


REFUND_HEADER = (
    "요청 일시",
    "처리 일시",
    "환불번호",
    "주문번호",
    "구분",
    "이메일",
    "금액 (원)",
    "상태",
    "사유",
    "토스 거래 키",
    "요청자",
    "실패 사유",
)


def refunds(session: Session, status: str | None, labels: dict[str, dict[str, str]]) -> Export:
    charge_user, order_user, requester = aliased(User), aliased(User), aliased(User)
    stmt = (
        select(
            Refund.created_at,
            Refund.settled_at,
            Refund.id,
            Attempt.order_id,
            Attempt.charge_id,
            func.coalesce(charge_user.email, order_user.email),
            Refund.amount_won,
            Refund.status,
            Refund.reason,
            Refund.transaction_key,
            requester.email,
            Refund.failure_message,
        )
        .join(Attempt, Attempt.id == Refund.attempt_id)
        .outerjoin(Charge, Charge.id == Attempt.charge_id)
        .outerjoin(Subscription, Subscription.id == Charge.subscription_id)
        .outerjoin(charge_user, charge_user.id == Subscription.user_id)
        .outerjoin(Order, Order.id == Attempt.order_pk)
        .outerjoin(order_user, order_user.id == Order.user_id)
        .outerjoin(requester, requester.id == Refund.requested_by_id)
        .order_by(Refund.id.desc())
    )
    if status:
        stmt = stmt.where(Refund.status == status)

    def rows():
        for row in stream(session, stmt):
            values = list(row)
            values[4] = "정기결제" if values[4] else "1회 구매"
            values[7] = labels["refund"].get(values[7], values[7])
            values[10] = values[10] or "토스페이먼츠"
            yield tuple(cell(v) for v in values)

    return Export("refunds.csv", REFUND_HEADER, rows())


# -- the audit log ---------------------------------------------------------------------------------

AUDIT_HEADER = (
    "일시 (KST)",
    "주체",
    "주체 번호",
    "주체 이메일",
    "행위",
    "행위 코드",
    "내용",
    "IP",
    "회원번호",
    "구독번호",
    "카드번호",
)


@dataclass(frozen=True)
class AuditFilter:
    actor_type: str | None = None  # user | admin | worker
    actor_email: str = ""
    action: str | None = None
    period: DateRange = field(default_factory=DateRange)
    customer_email: str = ""


def audit_statement(flt: AuditFilter, *columns) -> Select:
    """The audit rows matching `flt`, newest first, selecting `columns` (AuditLog if none)."""
    stmt = select(*(columns or (AuditLog,))).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if flt.actor_type:
        stmt = stmt.where(AuditLog.actor_type == flt.actor_type)
    if flt.action:
        stmt = stmt.where(AuditLog.action == flt.action)
    stmt = stmt.where(*flt.period.where(AuditLog.at))
    if flt.actor_email:
        actors = select(User.id).where(
            func.lower(User.email).contains(flt.actor_email.strip().lower(), autoescape=True)
        )
        stmt = stmt.where(AuditLog.actor_id.in_(actors))
    if flt.customer_email:
        stmt = stmt.where(_about_customers(flt.customer_email))
    return stmt


def _about_customers(email: str):
    users = select(User.id).where(func.lower(User.email).contains(email.strip().lower(), autoescape=True))
    subs = select(Subscription.id).where(Subscription.user_id.in_(users))
    cards = select(BillingKey.id).where(BillingKey.user_id.in_(users))
    return or_(AuditLog.user_id.in_(users), AuditLog.subscription_id.in_(subs), AuditLog.billing_key_id.in_(cards))


def audit_log(
    session: Session,
    flt: AuditFilter,
    labels: dict[str, dict[str, str]],
    describe: Callable[[str | None], str] = lambda reason: reason or "",
) -> Export:
    """The audit log as CSV; `describe` turns a stored reason into the merchant's words (the page's own)."""
    actor = aliased(User)
    stmt = audit_statement(
        flt,
        AuditLog.at,
        AuditLog.actor_type,
        AuditLog.actor_id,
        actor.email,
        AuditLog.action,
        AuditLog.reason,
        AuditLog.ip,
        AuditLog.user_id,
        AuditLog.subscription_id,
        AuditLog.billing_key_id,
    ).outerjoin(actor, actor.id == AuditLog.actor_id)

    def rows():
        for at, actor_type, actor_id, actor_email, action, reason, ip, user_id, sub_id, card_id in stream(
            session, stmt
        ):
            yield tuple(
                cell(v)
                for v in (
                    at,
                    labels["actor"].get(actor_type, actor_type),
                    actor_id,
                    actor_email if actor_type != "worker" else "",
                    labels["audit_action"].get(action, action),
                    action,
                    describe(reason),
                    ip,
                    user_id,
                    sub_id,
                    card_id,
                )
            )

    return Export(f"audit_{flt.period.suffix()}.csv", AUDIT_HEADER, rows())
