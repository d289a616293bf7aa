"""Read-only look-ups behind the admin pages: dashboard figures and filtered lists.

Plain functions over a session that return figures or `Select` statements (the views
paginate them). Day and month boundaries are those of Asia/Seoul.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storefront.billing.recurring import statuses
from storefront.billing.refunding.refunds import SETTLE_GRACE
from storefront.clock import KST
from storefront.models import (
    Attempt,
    Charge,
    Consent,
    EmailMessage,
    Order,
    Plan,
    PriceChange,
    Refund,
    Subscription,
    User,
    WebhookEvent,
)

SUBSCRIPTION_STATUSES = (*statuses.NOT_ENDED, *statuses.ENDED)
EMAIL_STATUSES = ("queued", "sent", "failed", "logged", "skipped")
WEBHOOK_STATUSES = ("received", "processed", "ignored", "error")
REFUND_STATUSES = ("sending", "done", "failed", "unknown")
ATTEMPT_STATUSES = ("sending", "unknown", "done", "failed")
# 'checking' is not a column value: a pending order whose confirm answer is not in (확인 중).
ORDER_STATUSES = ("pending", "checking", "paid", "failed", "canceled", "expired")
OPEN_ATTEMPT_STATUSES = ("sending", "unknown")
PRICE_CHANGE_STATUSES = ("pending", "agreed", "refused", "lapsed", "applied")
PRICE_CHANGE_KINDS = ("price_increase", "trial_conversion")


@dataclass(frozen=True)
class Dashboard:
    subscriptions: dict[str, int]
    paid_today_won: int
    paid_month_won: int
    refunded_month_won: int
    unknown_attempts: int
    unknown_refunds: int
    failed_charges: int
    emails: dict[str, int]
    webhook_errors: int


def dashboard(session: Session, *, now: datetime) -> Dashboard:
    day_start, month_start = _kst_day_start(now), _kst_month_start(now)
    stale = now - SETTLE_GRACE
    return Dashboard(
        subscriptions=_counts(session, Subscription.status),
        paid_today_won=_paid_since(session, day_start),
        paid_month_won=_paid_since(session, month_start),
        # by when the refund was made, as the business figures count it (reports.metrics.refunds)
        refunded_month_won=_sum(session, Refund.amount_won, Refund.status == "done", Refund.created_at >= month_start),
        unknown_attempts=_count(
            session,
            Attempt,
            or_(Attempt.status == "unknown", (Attempt.status == "sending") & (Attempt.created_at < stale)),
        ),
        unknown_refunds=_count(
            session, Refund, or_(Refund.status == "unknown", (Refund.status == "sending") & (Refund.created_at < stale))
        ),
        failed_charges=_count(session, Charge, Charge.status == "failed"),
        emails=_counts(session, EmailMessage.status),
        webhook_errors=_count(session, WebhookEvent, WebhookEvent.status == "error"),
    )


def subscriptions(status: str | None, email: str | None) -> Select:
    stmt = (
        select(Subscription)
        .join(Subscription.user)
        .options(selectinload(Subscription.user), selectinload(Subscription.plan))
        .order_by(Subscription.id.desc())
    )
    if status in SUBSCRIPTION_STATUSES:
        stmt = stmt.where(Subscription.status == status)
    if email:
        stmt = stmt.where(func.lower(User.email).contains(email.strip().lower(), autoescape=True))
    return stmt


def subscription_detail(session: Session, subscription_id: int) -> Subscription | None:
    return session.scalar(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .options(
            selectinload(Subscription.charges).selectinload(Charge.attempts).selectinload(Attempt.refunds),
        )
    )


def consents_for(session: Session, sub: Subscription) -> list[Consent]:
    """The consents this subscription's shopper gave for it (checkout, plan changes, price changes), newest first.

    Rows of other subscriptions and of one-time orders (``subscription_id`` NULL) belong elsewhere.
    """
    return list(
        session.scalars(
            select(Consent)
            .where(Consent.user_id == sub.user_id, Consent.subscription_id == sub.id)
            .order_by(Consent.at.desc(), Consent.id.desc())
        )
    )


def customers(email: str | None) -> Select:
    count = select(func.count(Subscription.id)).where(Subscription.user_id == User.id).correlate(User).scalar_subquery()
    stmt = select(User, count.label("subscription_count")).order_by(User.id.desc())
    if email:
        stmt = stmt.where(func.lower(User.email).contains(email.strip().lower(), autoescape=True))
    return stmt


def refunds(status: str | None) -> Select:
    stmt = select(Refund).options(selectinload(Refund.attempt), selectinload(Refund.requested_by))
    if status in REFUND_STATUSES:
        stmt = stmt.where(Refund.status == status)
    return stmt.order_by(Refund.id.desc())


def outbox(status: str | None) -> Select:
    # Only the columns the page shows: bodies may hold links and never leave the database here.
    stmt = select(
        EmailMessage.id,
        EmailMessage.created_at,
        EmailMessage.sent_at,
        EmailMessage.channel,
        EmailMessage.kind,
        EmailMessage.to,
        EmailMessage.status,
        EmailMessage.attempts,
        EmailMessage.last_error,
    )
    if status in EMAIL_STATUSES:
        stmt = stmt.where(EmailMessage.status == status)
    return stmt.order_by(EmailMessage.id.desc())


def webhook_events(status: str | None) -> Select:
    stmt = select(WebhookEvent)
    if status in WEBHOOK_STATUSES:
        stmt = stmt.where(WebhookEvent.status == status)
    return stmt.order_by(WebhookEvent.id.desc())


@dataclass(frozen=True)
class Operations:
    """What the dashboard's 결제 운영 box counts: money and notices waiting for a look."""

    unknown_attempts: int
    sending_attempts: int
    checking_orders: int
    past_due_subscriptions: int
    queued_notices: int


def operations(session: Session) -> Operations:
    return Operations(
        unknown_attempts=_count(session, Attempt, Attempt.status == "unknown"),
        sending_attempts=_count(session, Attempt, Attempt.status == "sending"),
        checking_orders=int(
            session.scalar(
                select(func.count(func.distinct(Order.id)))
                .select_from(Order)
                .join(Attempt, Attempt.order_pk == Order.id)
                .where(Order.status == "pending", Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
            )
            or 0
        ),
        past_due_subscriptions=_count(session, Subscription, Subscription.status == "past_due"),
        queued_notices=queued_notices(session),
    )


def queued_notices(session: Session) -> int:
    return _count(session, EmailMessage, EmailMessage.status == "queued")


def attempts(status: str | None) -> Select:
    """Every payment attempt (renewals and one-time orders), newest first, with whose it is."""
    stmt = (
        select(Attempt)
        .options(
            selectinload(Attempt.charge).selectinload(Charge.subscription).selectinload(Subscription.user),
            selectinload(Attempt.order).selectinload(Order.user),
            selectinload(Attempt.refunds),
        )
        .order_by(Attempt.id.desc())
    )
    if status in ATTEMPT_STATUSES:
        stmt = stmt.where(Attempt.status == status)
    return stmt


def orders(status: str | None, search: str | None) -> Select:
    """One-time orders, newest first; `search` matches part of the email or of the orderId."""
    stmt = (
        select(Order)
        .join(Order.user)
        .options(
            selectinload(Order.user),
            selectinload(Order.plan).selectinload(Plan.product),
            selectinload(Order.attempts).selectinload(Attempt.refunds),
        )
        .order_by(Order.id.desc())
    )
    if status == "checking":
        open_attempt = select(Attempt.id).where(Attempt.order_pk == Order.id, Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
        stmt = stmt.where(Order.status == "pending", open_attempt.exists())
    elif status in ORDER_STATUSES:
        stmt = stmt.where(Order.status == status)
    if search:
        needle = search.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(User.email).contains(needle, autoescape=True),
                func.lower(Order.order_id).contains(needle, autoescape=True),
            )
        )
    return stmt


def order_detail(session: Session, order_id: str) -> Order | None:
    """The order with this Toss orderId, its attempts and their refunds loaded."""
    return session.scalar(
        select(Order)
        .where(Order.order_id == order_id)
        .options(
            selectinload(Order.user),
            selectinload(Order.plan).selectinload(Plan.product),
            selectinload(Order.consent),
            selectinload(Order.attempts).selectinload(Attempt.refunds).selectinload(Refund.requested_by),
        )
    )


def price_changes(status: str | None, kind: str | None) -> Select:
    """Price rises and trial conversions with their subscriber. Waiting ones soonest first, else newest first."""
    stmt = select(PriceChange).options(
        selectinload(PriceChange.subscription).selectinload(Subscription.user),
        selectinload(PriceChange.subscription).selectinload(Subscription.plan).selectinload(Plan.product),
    )
    if status in PRICE_CHANGE_STATUSES:
        stmt = stmt.where(PriceChange.status == status)
    if kind in PRICE_CHANGE_KINDS:
        stmt = stmt.where(PriceChange.kind == kind)
    if status == "pending":
        return stmt.order_by(PriceChange.effective_at, PriceChange.id)
    return stmt.order_by(PriceChange.effective_at.desc(), PriceChange.id.desc())


def price_change_counts(session: Session) -> dict[str, int]:
    return _counts(session, PriceChange.status)


def _kst_day_start(now: datetime) -> datetime:
    local = now.astimezone(KST)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _kst_month_start(now: datetime) -> datetime:
    local = now.astimezone(KST)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _paid_since(session: Session, start: datetime) -> int:
    paid_at = func.coalesce(Attempt.approved_at, Attempt.updated_at)
    return _sum(session, Attempt.amount_won, Attempt.status == "done", paid_at >= start)


def _sum(session: Session, column, *where) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where)) or 0)


def _count(session: Session, model, *where) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _counts(session: Session, column) -> dict[str, int]:
    return {status: n for status, n in session.execute(select(column, func.count()).group_by(column)).all()}


PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(session: Session, stmt: Select, page: int, *, per_page: int = PER_PAGE, rows: bool = False) -> Page:
    """One page of `stmt` (entities, or whole rows when `rows`); a page number out of range (a typed
    ``?page=-3`` or ``?page=99999999999999999999``) shows the nearest real page, so the database is
    never asked for an offset past the end (nor one too large for its integers)."""
    total = int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    result = session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = list(result.all() if rows else result.scalars().all())
    return Page(items=items, page=page, pages=pages, total=total)


def actor_emails(session: Session, ids) -> dict[int, str]:
    """Emails of the accounts behind audit rows' actor ids (admins and shoppers), for the audit page."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(wanted))).tuples().all())
