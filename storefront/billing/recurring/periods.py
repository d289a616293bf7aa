"""Which Charge is due, and the lock that makes deciding about it safe.

`due_subscription_ids` lists the work, `lock_subscription` serialises everyone who
decides about one subscription, and `open_charge` finds or creates the one Charge of
the due period (the unique constraint ``(subscription_id, period_start)`` is the guard).
`current_periods` reads what the 청약철회 rule and the period-refund line need of the
current periods of several subscriptions in one statement.
Nothing here commits or calls Toss; `charging` builds on these and re-exports them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.orm import Session, aliased, joinedload, object_session

from storefront.billing.recurring import cycle
from storefront.models import Attempt, Charge, Consent, Plan, Refund, Subscription

DUE_STATUSES = ("active", "trialing", "past_due")
OPEN_ATTEMPT_STATUSES = ("sending", "unknown")

# The statements every charge sends, built once: building a select and its cache key costs
# 0.1-0.3 ms of CPU each time, and a renewal sends each of these once or twice. They take
# their values as bound parameters (`subscription_id`, `charge_id`, `period_start`).
_SUBSCRIPTION_ID: BindParameter[int] = bindparam("subscription_id")
_SQLITE_WRITE_LOCK = (
    update(Subscription)
    .where(Subscription.id == _SUBSCRIPTION_ID)
    .values(id=Subscription.id)
    .execution_options(synchronize_session=False)
)
_LOCKED = (
    select(Subscription)
    .where(Subscription.id == _SUBSCRIPTION_ID)
    .with_for_update()
    .execution_options(populate_existing=True)
)
_LOCKED_WITH_RELATED = (
    select(Subscription)
    .where(Subscription.id == _SUBSCRIPTION_ID)
    .options(
        joinedload(Subscription.plan).joinedload(Plan.product),
        joinedload(Subscription.billing_key),
        joinedload(Subscription.user),
    )
    .with_for_update(of=Subscription)
    .execution_options(populate_existing=True)
)
_PENDING_CHARGE = (
    select(Charge)
    .where(Charge.subscription_id == _SUBSCRIPTION_ID, Charge.status == "pending")
    .order_by(Charge.period_start.desc())
    .limit(1)
    .execution_options(populate_existing=True)
)
_CHARGE_FOR = (
    select(Charge)
    .where(Charge.subscription_id == _SUBSCRIPTION_ID, Charge.period_start == bindparam("period_start"))
    .execution_options(populate_existing=True)
)
_PENDING_OR_AT = (
    select(Charge)
    .where(
        Charge.subscription_id == _SUBSCRIPTION_ID,
        or_(Charge.status == "pending", Charge.period_start == bindparam("period_start")),
    )
    .order_by(Charge.period_start.desc())
    .execution_options(populate_existing=True)
)
_OPEN_ATTEMPT = (
    select(Attempt)
    .where(Attempt.charge_id == bindparam("charge_id"), Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
    .execution_options(populate_existing=True)
)


def due_subscription_ids(session: Session, now: datetime, *, limit: int | None = None) -> list[int]:
    """Ids of subscriptions to charge now, oldest due first.

    Served by ``ix_subscriptions_due (status, next_charge_at)``: the cost grows with what is
    due, not with the number of subscriptions. Read-only; being listed is not a promise to
    charge (`charge_period` re-checks under a lock).
    """
    return [sub_id for sub_id, _ in due_subscriptions(session, now, limit=limit)]


def due_subscriptions(session: Session, now: datetime, *, limit: int | None = None) -> list[tuple[int, datetime]]:
    """``(id, next_charge_at)`` of the subscriptions to charge now, oldest due first; one indexed query."""
    query = (
        select(Subscription.id, Subscription.next_charge_at)
        .where(Subscription.status.in_(DUE_STATUSES), Subscription.next_charge_at <= now)
        .order_by(Subscription.next_charge_at, Subscription.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(sub_id, at) for sub_id, at in session.execute(query)]


def lock_subscription(session: Session, subscription_id: int, *, related: bool = False) -> Subscription | None:
    """Lock the subscription row until the session's transaction ends, and return it fresh.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks, so an ``UPDATE`` of the
    row goes first: it begins the transaction and takes SQLite's one write lock (waiting up
    to ``busy_timeout`` for another writer), which serialises every writer until commit,
    and the reads after it see the latest committed data. Never commits.

    `related`: load the plan and its product, the card and the user in the same statement
    (a charge reads all four; lazily that is four more round trips). Only the subscription
    row is locked (``FOR UPDATE OF subscriptions``); the others are read as committed.
    """
    params = {"subscription_id": subscription_id}
    if session.get_bind(mapper=Subscription).dialect.name == "sqlite":
        session.execute(_SQLITE_WRITE_LOCK, params)
    return session.scalars(_LOCKED_WITH_RELATED if related else _LOCKED, params).one_or_none()


def open_charge(
    session: Session, subscription: Subscription, *, now: datetime, billing_hour_kst: int | None = None
) -> Charge:
    """The Charge for the subscription's due period, created once (flushed, never committed).

    An unpaid (``pending``) Charge is the due period while it lasts (dunning moves
    ``next_charge_at`` but not the period). Otherwise the period starts at
    ``next_charge_at`` and ends one interval later on the anchor day at ``billing_hour_kst``
    (default: the hour of ``next_charge_at`` in KST). A plan change the shopper booked is
    applied first (`apply_pending_plan`), so a new period is charged at the booked plan's
    price and interval. The amount is fixed here from ``subscription.amount_won``; later
    price or plan changes never alter it. The unique
    constraint ``(subscription_id, period_start)`` is the guard: a concurrent insert is
    caught in a SAVEPOINT and the existing row returned. Call it with the subscription
    locked (`lock_subscription`).
    """
    pending = pending_charge(session, subscription.id)
    if pending is not None:
        return pending
    start = subscription.next_charge_at
    if start is None:
        raise ValueError(f"subscription {subscription.id} has no next_charge_at; nothing is due")
    existing = charge_for(session, subscription.id, start)
    if existing is not None:
        return existing
    return create_charge(session, subscription, now=now, billing_hour_kst=billing_hour_kst, guarded=True)[0]


def create_charge(
    session: Session,
    subscription: Subscription,
    *,
    now: datetime,
    billing_hour_kst: int | None = None,
    guarded: bool = False,
    flush: bool = True,
) -> tuple[Charge, bool]:
    """The second half of `open_charge`, for a caller that has just looked under the lock and found
    neither a pending Charge nor one for ``next_charge_at``: the new period's Charge (flushed)
    without looking again, and True if this call created it (so it has no Attempt yet).

    The unique constraint ``(subscription_id, period_start)`` is always the guard. Every Charge
    is created here, and every caller holds the subscription's lock (`lock_subscription`), so
    under the lock no other transaction can have inserted the row: by default the insert is
    flushed as it is, and if the row exists after all the IntegrityError ends the caller's
    transaction (nothing is committed; the next sweep looks again). `guarded` (`open_charge`)
    catches it in a SAVEPOINT instead and returns the existing row and False, at the cost of two
    more statements and a snapshot of the session. `flush=False` (unguarded only) leaves the row
    pending, without an id, for a caller that flushes it with its own writes (the renewal charge
    inserts it with its Attempt: one flush instead of two).
    """
    start = subscription.next_charge_at
    if start is None:
        raise ValueError(f"subscription {subscription.id} has no next_charge_at; nothing is due")
    apply_pending_plan(subscription)
    hour = billing_hour_kst if billing_hour_kst is not None else start.astimezone(cycle.KST).hour
    charge = Charge(
        subscription_id=subscription.id,
        period_start=start,
        amount_won=subscription.amount_won,
        period_end=cycle.period_end(start, subscription.plan.interval, subscription.anchor_day, hour),
        status="pending",
        retry_count=0,
        created_at=now,
    )
    if not guarded:
        session.add(charge)
        if flush:
            session.flush()
        return charge, True
    try:
        with session.begin_nested():
            session.add(charge)
    except IntegrityError:
        existing = charge_for(session, subscription.id, start)
        if existing is None:
            raise
        return existing, False
    return charge, True


def apply_pending_plan(subscription: Subscription) -> bool:
    """Switch to the plan the shopper booked (`pending_plan_id`) as a new period is opened; True if it did.

    The booked plan's price and interval apply from the first period that starts after the
    booking: its Charge is created right after this, so that period is charged the new amount
    and ends one *new* interval later. A period already being collected (an unpaid Charge)
    keeps the old plan; `settlement` applies the booking once that period is paid.
    """
    new_plan = subscription.pending_plan
    if subscription.pending_plan_id is None or new_plan is None:
        return False
    agreed = _booked_amount(subscription, new_plan.id)
    subscription.plan_id, subscription.plan = new_plan.id, new_plan
    # Never more than the shopper agreed to when booking: a later price rise needs its own consent.
    subscription.amount_won = min(new_plan.amount_won, agreed) if agreed is not None else new_plan.amount_won
    subscription.pending_plan_id, subscription.pending_plan = None, None
    return True


def _booked_amount(subscription: Subscription, plan_id: int) -> int | None:
    """The price shown and agreed to when the shopper booked `plan_id` (its ``plan_change`` Consent)."""
    session = object_session(subscription)
    if session is None:
        return None
    consents = session.scalars(
        select(Consent)
        .where(
            Consent.subscription_id == subscription.id,
            Consent.kind == "plan_change",
            Consent.decision == "agreed",
        )
        .order_by(Consent.at.desc(), Consent.id.desc())
    ).all()
    for consent in consents:
        try:
            detail = json.loads(consent.detail or "{}")
        except ValueError:
            continue
        if detail.get("to_plan_id") == plan_id and isinstance(detail.get("new_amount_won"), int):
            return detail["new_amount_won"]
    return None


def pending_charge(session: Session, subscription_id: int) -> Charge | None:
    """The subscription's unpaid Charge, if any (there is at most one: the period being collected)."""
    return session.scalars(_PENDING_CHARGE, {"subscription_id": subscription_id}).first()


def charge_for(session: Session, subscription_id: int, period_start: datetime) -> Charge | None:
    """The Charge of the period starting at `period_start`, whatever its status."""
    return session.scalars(_CHARGE_FOR, {"subscription_id": subscription_id, "period_start": period_start}).first()


def pending_and_charge_for(
    session: Session, subscription_id: int, period_start: datetime
) -> tuple[Charge | None, Charge | None]:
    """`pending_charge` and `charge_for(period_start)` in one statement (a renewal asks both)."""
    rows = session.scalars(_PENDING_OR_AT, {"subscription_id": subscription_id, "period_start": period_start}).all()
    pending = next((charge for charge in rows if charge.status == "pending"), None)
    at = next((charge for charge in rows if charge.period_start == period_start), None)
    return pending, at


def open_attempt(session: Session, charge_id: int) -> Attempt | None:
    """An Attempt of the Charge still ``sending`` or ``unknown``: while it exists, no other may start."""
    return session.scalars(_OPEN_ATTEMPT, {"charge_id": charge_id}).first()


# -- the current period, read once for the rules that judge it ---------------------------------------


@dataclass(frozen=True)
class AttemptRow:
    """An Attempt of a current period's Charge: only what the rules read (no stored Toss answer)."""

    id: int
    status: str
    has_payment_key: bool
    amount_won: int
    approved_at: datetime | None


@dataclass(frozen=True)
class RefundRow:
    """A Refund (any status) of one of those attempts."""

    id: int
    attempt_id: int
    status: str
    amount_won: int
    idempotency_key: str
    created_at: datetime


@dataclass(frozen=True)
class CurrentPeriod:
    """A subscription's current period as stored: the Charge starting at ``current_period_start``
    (`charge_for`), its attempts and their refunds (oldest first), and whether the subscription has
    an unpaid Charge (`pending_charge`)."""

    subscription_id: int
    charge_id: int
    status: str
    amount_won: int
    period_start: datetime
    period_end: datetime
    paid_at: datetime | None
    has_pending_charge: bool
    attempts: tuple[AttemptRow, ...]
    refunds: tuple[RefundRow, ...]

    @property
    def paid_attempt(self) -> AttemptRow | None:
        """The first approved attempt with a payment key (the payment a refund goes to)."""
        return next((a for a in self.attempts if a.status == "done" and a.has_payment_key), None)

    def refunds_of(self, attempt_id: int) -> list[RefundRow]:
        return [r for r in self.refunds if r.attempt_id == attempt_id]


class ProductTerms(Protocol):
    """A product's 청약철회 terms: a `Product`, or a page's row of it."""

    @property
    def cooling_off_days(self) -> int | None: ...

    @property
    def cooling_off_exclusion(self) -> str | None: ...


class PlanTerms(Protocol):
    @property
    def product(self) -> ProductTerms: ...


class SubscriptionState(Protocol):
    """What the current-period rules (`current_periods`, 청약철회, the period-refund line, the end-now offer)
    read of a subscription: a `Subscription`, or 내 구독's column row of it (web/account/queries.py)."""

    @property
    def id(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def current_period_start(self) -> datetime | None: ...

    @property
    def plan(self) -> PlanTerms: ...


_PENDING = aliased(Charge)
# What a current period is read as: the Charge's columns (and whether the subscription has an unpaid
# Charge), then each Attempt's and each Refund's. A row per (attempt, refund) of the Charge: a period
# has a few. `PeriodRows` reads them back, by position in this order.
_CHARGE_COLUMNS = (
    Charge.id,
    Charge.status,
    Charge.amount_won,
    Charge.period_start,
    Charge.period_end,
    Charge.paid_at,
    exists()
    .where(_PENDING.subscription_id == Charge.subscription_id, _PENDING.status == "pending")
    .label("has_pending_charge"),
)
_ATTEMPT_COLUMNS = (
    Attempt.id.label("attempt_id"),
    Attempt.status.label("attempt_status"),
    Attempt.payment_key.is_not(None).label("has_payment_key"),
    Attempt.amount_won.label("attempt_amount_won"),
    Attempt.approved_at,
)
_REFUND_COLUMNS = (
    Refund.id.label("refund_id"),
    Refund.status.label("refund_status"),
    Refund.amount_won.label("refund_amount_won"),
    Refund.idempotency_key.label("refund_key"),
    Refund.created_at.label("refund_created_at"),
)
_PERIOD_COLUMNS = (*_CHARGE_COLUMNS, *_ATTEMPT_COLUMNS, *_REFUND_COLUMNS)
_ATTEMPT_AT = len(_CHARGE_COLUMNS)
_REFUND_AT = _ATTEMPT_AT + len(_ATTEMPT_COLUMNS)


def _period_of(subscription: Any) -> Any:
    return and_(Charge.subscription_id == subscription.id, Charge.period_start == subscription.current_period_start)


def with_current_periods(stmt: Select, *, when: ColumnElement[bool]) -> Select:
    """`stmt`, a statement reading `Subscription` rows, with each one's current period in its own rows:
    the period's columns appended last (NULL where `when` is false or the period has no Charge), a
    row more per further attempt or refund. So a page reads its subscriptions and their periods in one
    statement (/account); read the rows back with `PeriodRows`. `stmt` must order by the subscription
    first: its rows stay together, attempts and refunds oldest first."""
    return (
        stmt.add_columns(*_PERIOD_COLUMNS)
        .outerjoin(Charge, and_(_period_of(Subscription), when))
        .outerjoin(Attempt, Attempt.charge_id == Charge.id)
        .outerjoin(Refund, Refund.attempt_id == Attempt.id)
        .order_by(Attempt.id, Refund.id)
    )


# Built once (the subscription ids are an expanding parameter): one statement for every subscription
# on a page.
_CURRENT_PERIODS = (
    select(Charge.subscription_id, *_PERIOD_COLUMNS)
    .join(Subscription, _period_of(Subscription))
    .outerjoin(Attempt, Attempt.charge_id == Charge.id)
    .outerjoin(Refund, Refund.attempt_id == Attempt.id)
    .where(Subscription.id.in_(bindparam("ids", expanding=True)))
    .order_by(Charge.subscription_id, Attempt.id, Refund.id)
)


class PeriodRows:
    """Current periods put together from rows of `_PERIOD_COLUMNS` (by position: a Row's lookup by name
    costs a microsecond each), each subscription's attempts and refunds in the order read."""

    def __init__(self) -> None:
        self._heads: dict[int, Sequence[Any]] = {}  # the Charge's columns (and the pending flag)
        self._attempts: dict[int, dict[int, AttemptRow]] = {}
        self._refunds: dict[int, list[RefundRow]] = {}

    def add(self, sub_id: int, columns: Sequence[Any]) -> None:
        """One row's period columns for subscription `sub_id`; all NULL (no period) adds nothing."""
        if columns[0] is None:
            return
        head, attempt, refund = columns[:_ATTEMPT_AT], columns[_ATTEMPT_AT:_REFUND_AT], columns[_REFUND_AT:]
        if sub_id not in self._heads:
            self._heads[sub_id], self._attempts[sub_id], self._refunds[sub_id] = head, {}, []
        attempt_id, attempts = attempt[0], self._attempts[sub_id]
        if attempt_id is not None and attempt_id not in attempts:
            attempts[attempt_id] = AttemptRow(attempt_id, attempt[1], bool(attempt[2]), attempt[3], attempt[4])
        if refund[0] is not None:
            self._refunds[sub_id].append(RefundRow(refund[0], attempt_id, refund[1], refund[2], refund[3], refund[4]))

    def by_subscription(self) -> dict[int, CurrentPeriod]:
        return {
            sub_id: CurrentPeriod(
                subscription_id=sub_id,
                charge_id=head[0],
                status=head[1],
                amount_won=head[2],
                period_start=head[3],
                period_end=head[4],
                paid_at=head[5],
                has_pending_charge=bool(head[6]),
                attempts=tuple(self._attempts[sub_id].values()),
                refunds=tuple(self._refunds[sub_id]),
            )
            for sub_id, head in self._heads.items()
        }


def current_periods(session: Session, subs: Iterable[SubscriptionState]) -> dict[int, CurrentPeriod]:
    """The current period of each of `subs` that has a Charge for it, by subscription id. Reads only.

    One statement whatever the number of subscriptions (none when no subscription has a current
    period), so a page judging several subscriptions reads their periods once and the 청약철회
    rule (`cooling_off`) and the period-refund line (`refund_notices.period_refunds`) share it.
    The period is the stored ``current_period_start`` (the session flushes pending changes first).
    """
    ids = [sub.id for sub in subs if sub.current_period_start is not None]
    if not ids:
        return {}
    found = PeriodRows()
    # Column rows, so on the session's connection (no ORM set-up per statement, as /account's payments);
    # the flush is what session.execute's autoflush would do: pending changes first (nothing when clean).
    session.flush()
    for row in session.connection().execute(_CURRENT_PERIODS, {"ids": ids}).all():
        found.add(row[0], row[1:])
    return found.by_subscription()
