"""Price changes that wait for the shopper's consent: booking them, and finding them.

The merchant's side of billing/compliance/consent.py: `schedule_price_change` books one subscription's
rise (a plan price applied to existing subscribers, or the end of a discount) from its first
renewal on or after a date at least 30 days ahead, `apply_plan_price` does it for every
subscriber of a plan (the admin's action), and `open_trial_conversion` books a trial's first
paid period (0원 → the plan price), once, for the consent sweep. Nothing here sends a message
or charges: consent.py asks, records and enforces. Functions flush and never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.billing.recurring import cycle, periods, statuses
from storefront.config import Config
from storefront.models import Plan, PriceChange, Subscription

MIN_LEAD_DAYS = 30  # a merchant's new price takes effect at least this many days ahead
REASONS = ("plan_price", "discount_end", "trial")
UNSETTLED = ("pending", "agreed", "refused")  # not yet decided at the renewal by the gate


class ConsentError(ValueError):
    """An answer or a price change that cannot be taken; `message` is plain Korean for the page."""

    message = "요청을 처리할 수 없습니다."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class TooSoon(ConsentError):
    def __init__(self, earliest: date) -> None:
        self.earliest = earliest
        super().__init__(f"적용일은 오늘부터 {MIN_LEAD_DAYS}일 뒤({earliest:%Y-%m-%d}) 이후여야 합니다.")


class NotAnIncrease(ConsentError):
    message = "새 금액이 지금 결제 금액보다 높을 때만 동의가 필요합니다."


@dataclass(frozen=True)
class Rollout:
    """What `apply_plan_price` did: consent requested, lowered at once, or left alone."""

    effective_on: date
    requested: int
    lowered: int
    skipped: int


def earliest_effective_on(now: datetime) -> date:
    """The first KST date a merchant's new price may take effect: `MIN_LEAD_DAYS` from today."""
    return cycle.kst_date(now) + timedelta(days=MIN_LEAD_DAYS)


def effective_renewal(session: Session, sub: Subscription, effective_on: date, *, config: Config) -> datetime | None:
    """The subscription's first renewal (billing moment) on or after the KST date `effective_on`."""
    pending = periods.pending_charge(session, sub.id)
    moment = pending.period_end if pending is not None else sub.next_charge_at
    if moment is None or sub.plan.interval not in cycle.INTERVALS:
        return None
    while cycle.kst_date(moment) < effective_on:
        moment = cycle.period_end(moment, sub.plan.interval, sub.anchor_day, config.billing_hour_kst)
    return moment


def schedule_price_change(
    session: Session,
    sub: Subscription,
    *,
    new_amount_won: int,
    effective_on: date,
    reason: str,
    now: datetime,
    config: Config,
    plan_id: int | None = None,
    created_by_id: int | None = None,
) -> PriceChange:
    """Book a rise of one subscription's amount from its first renewal on/after `effective_on`.

    Used for a plan price applied to existing subscribers (``reason="plan_price"``) and for
    the end of a discount (``"discount_end"``). Nothing changes for the shopper until they
    agree; the requests go out on the schedule in the module docstring. Raises TooSoon
    (less than 30 days ahead), NotAnIncrease, or ConsentError when the subscription is not
    live or already has an unsettled change. Flushes, never commits.
    """
    if reason not in REASONS or reason == "trial":
        raise ValueError(f"reason must be plan_price or discount_end, not {reason!r}")
    if effective_on < earliest_effective_on(now):
        raise TooSoon(earliest_effective_on(now))
    if new_amount_won <= sub.amount_won:
        raise NotAnIncrease()
    if sub.status not in ("active", "past_due"):
        raise ConsentError("이용 중인 구독에만 요금 변경을 적용할 수 있습니다.")
    if open_change(session, sub.id) is not None:
        raise ConsentError("이미 진행 중인 요금 변경이 있습니다.")
    effective_at = effective_renewal(session, sub, effective_on, config=config)
    if effective_at is None:
        raise ConsentError("다음 결제일이 없는 구독입니다.")
    change = PriceChange(
        subscription_id=sub.id,
        kind="price_increase",
        reason=reason,
        plan_id=plan_id,
        old_amount_won=sub.amount_won,
        new_amount_won=new_amount_won,
        effective_at=effective_at,
        token=new_token(),
        status="pending",
        reminders_sent=0,
        created_at=now,
        created_by_id=created_by_id,
    )
    session.add(change)
    session.flush()
    return change


def apply_plan_price(
    session: Session, plan: Plan, *, effective_on: date, now: datetime, config: Config, created_by_id: int | None = None
) -> Rollout:
    """Apply the plan's current price to its existing subscribers (the admin's explicit action).

    Active and past-due subscribers paying less get a price_increase change (consent
    needed; see `schedule_price_change`); those paying more are lowered at once (a cut
    needs no consent; a Charge already open keeps its amount). Trialing subscribers convert
    at the price they signed up for, and subscribers with an unsettled change are left
    alone: both count as skipped. Raises TooSoon before touching anything. Flushes only.
    """
    if effective_on < earliest_effective_on(now):
        raise TooSoon(earliest_effective_on(now))
    subs = session.scalars(
        select(Subscription)
        .where(
            Subscription.plan_id == plan.id,
            Subscription.status.in_(statuses.RUNNING),
            Subscription.amount_won != plan.amount_won,
        )
        .order_by(Subscription.id)
    ).all()
    requested = lowered = skipped = 0
    for sub in subs:
        if sub.status == "trialing" or open_change(session, sub.id) is not None:
            skipped += 1
        elif plan.amount_won < sub.amount_won:
            sub.amount_won = plan.amount_won
            lowered += 1
        else:
            schedule_price_change(
                session,
                sub,
                new_amount_won=plan.amount_won,
                effective_on=effective_on,
                reason="plan_price",
                now=now,
                config=config,
                plan_id=plan.id,
                created_by_id=created_by_id,
            )
            requested += 1
    session.flush()
    return Rollout(effective_on, requested, lowered, skipped)


def open_trial_conversion(session: Session, sub: Subscription, *, now: datetime) -> PriceChange:
    """The trial's conversion change (0원 → the first paid amount at ``sub.next_charge_at``), created once.

    The first paid amount is the plan the trial converts to: a plan the shopper booked
    during the trial (``pending_plan``, applied when the period opens) or the current one.

    The unique constraint (subscription, kind, effective_at) guards against two sweeps
    racing; the loser gets the winner's row. Flushes, never commits.
    """
    existing = _trial_change_at(session, sub)
    if existing is not None:
        return existing
    # The trial's end moved: an answer about the old date is about a different change.
    session.execute(
        update(PriceChange)
        .where(
            PriceChange.subscription_id == sub.id,
            PriceChange.kind == "trial_conversion",
            PriceChange.status.in_(("pending", "agreed")),
            PriceChange.effective_at != sub.next_charge_at,
        )
        .values(status="lapsed")
        .execution_options(synchronize_session="fetch")
    )
    change = PriceChange(
        subscription_id=sub.id,
        kind="trial_conversion",
        reason="trial",
        plan_id=sub.plan_id,
        old_amount_won=0,
        new_amount_won=_first_paid_amount(sub),
        effective_at=sub.next_charge_at,
        token=new_token(),
        status="pending",
        reminders_sent=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(change)
    except IntegrityError:
        existing = _trial_change_at(session, sub)
        if existing is None:
            raise
        return existing
    return change


def _first_paid_amount(sub: Subscription) -> int:
    return sub.pending_plan.amount_won if sub.pending_plan is not None else sub.amount_won


def _trial_change_at(session: Session, sub: Subscription) -> PriceChange | None:
    return session.scalars(
        select(PriceChange).where(
            PriceChange.subscription_id == sub.id,
            PriceChange.kind == "trial_conversion",
            PriceChange.effective_at == sub.next_charge_at,
        )
    ).first()


def open_change(session: Session, subscription_id: int) -> PriceChange | None:
    """The subscription's unsettled price rise (pending, agreed or refused), if any."""
    return session.scalars(
        select(PriceChange)
        .where(
            PriceChange.subscription_id == subscription_id,
            PriceChange.kind == "price_increase",
            PriceChange.status.in_(UNSETTLED),
        )
        .order_by(PriceChange.effective_at)
        .limit(1)
    ).first()


def changes_for(session: Session, subscription_id: int) -> list[PriceChange]:
    """Every change of one subscription, newest first (the admin's subscription page)."""
    return list(
        session.scalars(
            select(PriceChange)
            .where(PriceChange.subscription_id == subscription_id)
            .order_by(PriceChange.effective_at.desc(), PriceChange.id.desc())
        )
    )


def new_token() -> str:
    """43 URL-safe characters from `secrets` (256 bits): the consent link cannot be guessed."""
    return secrets.token_urlsafe(32)
