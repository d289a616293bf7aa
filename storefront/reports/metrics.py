"""Business figures for the dashboard: MRR, subscribers, churn, trial conversion, recovery, revenue.

Every figure is computed from our own rows (Charge, Attempt, Refund, Subscription) for an
Asia/Seoul calendar month or at an instant; docs/admin.md ("Business figures") defines each
in words and this module is the executable definition. The building blocks:

- A subscription is **paying at T** when a Charge of it with status ``paid`` covers T
  (``period_start <= T < period_end``) and it had not ended by T. Trials have no charge, so
  they are never paying; a past-due period (its charge pending) is not paying; a charge
  refunded in full (status ``refunded``) is not paying; a partly refunded one still is.
- Its **monthly value** is that charge's amount divided by the number of months the
  charge's period spans (1 for a monthly plan, 12 for a yearly one). The charged amount
  already holds any discount or consented price, because it is what the shopper pays.
- **MRR at T** is the sum of the monthly values of the subscriptions paying at T, rounded
  down to the won at the end; **ARR** is twelve times the exact sum, rounded down.
- A subscription **starts** when its trial begins (``created_at``, for a subscription with a
  trial) or, without a trial, at the start of its first paid period. A checkout whose first
  charge never succeeded never starts.
- A subscription **churns** when it ends (``ended_at``) having paid at least once.

Nothing here writes; each function takes a session and explicit instants (the caller's clock).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from storefront.billing.recurring.cycle import kst_date
from storefront.models import Attempt, Charge, Plan, Product, Refund, Subscription
from storefront.reports.months import Month, months_ending

PAID = ("paid", "refunded")  # charge statuses that mean the money came in (even if later refunded)
DAYS_PER_MONTH = 30.4375  # 365.25 / 12: a period of 28–31 days is one month, 365–366 days twelve
JUST_AFTER = timedelta(microseconds=1)  # "up to now" includes what was recorded at `now` itself


@dataclass(frozen=True)
class Ratio:
    """A rate kept as a fraction so tests can compare it exactly; `percent` is what the page shows."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def percent(self) -> str:
        if not self.denominator:
            return "-"
        return f"{100 * self.numerator / self.denominator:.1f}%"


@dataclass(frozen=True)
class PlanCount:
    plan_id: int
    label: str  # 상품 · 플랜
    subscribers: int
    mrr_won: int


@dataclass(frozen=True)
class Mrr:
    """Who is paying at one instant and what that is worth per month."""

    at: datetime
    mrr_won: int
    arr_won: int
    subscribers: int
    by_plan: tuple[PlanCount, ...]


@dataclass(frozen=True)
class MonthFigures:
    """One KST month (up to `until`, the clock's now for the current month)."""

    month: Month
    until: datetime
    mrr_start: Mrr
    mrr_end: Mrr
    new: int
    reactivated: int
    churned: int
    churned_mrr_won: int
    logo_churn: Ratio
    revenue_churn: Ratio
    trials_ended: int
    trials_converted: int
    trial_conversion: Ratio
    failed_first: int  # periods whose first charge attempt failed this month
    failed_first_recovered: int  # ... of which are paid by now
    recovered: int  # periods paid this month after a failed first attempt
    recovered_won: int
    revenue_subscriptions_won: int
    revenue_orders_won: int
    refunds: int
    refunds_won: int

    @property
    def gross_won(self) -> int:
        return self.revenue_subscriptions_won + self.revenue_orders_won

    @property
    def net_won(self) -> int:
        return self.gross_won - self.refunds_won

    @property
    def recovery(self) -> Ratio:
        return Ratio(self.failed_first_recovered, self.failed_first)


@dataclass(frozen=True)
class TrendPoint:
    """One month of the twelve-month charts: revenue in the month, MRR and subscribers at its end."""

    month: Month
    gross_won: int
    refunds_won: int
    mrr_won: int
    subscribers: int

    @property
    def net_won(self) -> int:
        return self.gross_won - self.refunds_won


# -- paying subscriptions and MRR ------------------------------------------------------------------


def months_in_period(start: datetime, end: datetime) -> int:
    """How many months a charge's period spans: 1 for 28–31 KST days, 12 for a year."""
    days = (kst_date(end) - kst_date(start)).days
    return max(1, round(days / DAYS_PER_MONTH))


def monthly_value(amount_won: int, start: datetime, end: datetime) -> Fraction:
    return Fraction(amount_won, months_in_period(start, end))


def mrr_at(session: Session, at: datetime) -> Mrr:
    """MRR, ARR and the paying subscribers at the instant `at` (see the module docstring)."""
    rows = session.execute(
        select(Charge.subscription_id, Subscription.plan_id, Charge.amount_won, Charge.period_start, Charge.period_end)
        .join(Subscription, Subscription.id == Charge.subscription_id)
        .where(
            Charge.status == "paid",
            Charge.period_start <= at,
            Charge.period_end > at,
            or_(Subscription.ended_at.is_(None), Subscription.ended_at > at),
        )
    ).all()
    values: dict[int, Fraction] = {}
    plan_of: dict[int, int] = {}
    for sub_id, plan_id, amount, start, end in rows:
        values[sub_id] = monthly_value(amount, start, end)  # one paid charge covers an instant
        plan_of[sub_id] = plan_id
    total = sum(values.values(), Fraction(0))
    return Mrr(
        at=at,
        mrr_won=int(total),
        arr_won=int(total * 12),
        subscribers=len(values),
        by_plan=_by_plan(session, values, plan_of),
    )


def _by_plan(session: Session, values: dict[int, Fraction], plan_of: dict[int, int]) -> tuple[PlanCount, ...]:
    counts: dict[int, int] = defaultdict(int)
    sums: dict[int, Fraction] = defaultdict(Fraction)
    for sub_id, value in values.items():
        counts[plan_of[sub_id]] += 1
        sums[plan_of[sub_id]] += value
    if not counts:
        return ()
    labels = {
        plan_id: f"{product} · {plan}"
        for plan_id, product, plan in session.execute(
            select(Plan.id, Product.name, Plan.name)
            .join(Product, Product.id == Plan.product_id)
            .where(Plan.id.in_(counts))
        )
    }
    ordered = sorted(counts, key=lambda plan_id: (-counts[plan_id], labels.get(plan_id, ""), plan_id))
    return tuple(
        PlanCount(plan_id, labels.get(plan_id, f"플랜 #{plan_id}"), counts[plan_id], int(sums[plan_id]))
        for plan_id in ordered
    )


# -- starts, churn, trials, recovery -------------------------------------------------------------


def _first_paid():
    return (
        select(Charge.subscription_id.label("subscription_id"), func.min(Charge.period_start).label("first_paid_start"))
        .where(Charge.status.in_(PAID))
        .group_by(Charge.subscription_id)
        .subquery()
    )


def _started_in(session: Session, start: datetime, end: datetime) -> list[tuple[int, int, datetime]]:
    """(subscription id, user id, start) of the subscriptions that started in [start, end)."""
    first = _first_paid()
    started_at = case((Subscription.trial_end_at.is_not(None), Subscription.created_at), else_=first.c.first_paid_start)
    rows = session.execute(
        select(Subscription.id, Subscription.user_id, started_at.label("started_at"))
        .outerjoin(first, first.c.subscription_id == Subscription.id)
        .where(started_at >= start, started_at < end)
    ).all()
    return [(sub_id, user_id, at) for sub_id, user_id, at in rows]


def _returning(session: Session, started: list[tuple[int, int, datetime]]) -> int:
    """How many of `started` belong to a user with an earlier subscription that paid and had ended by then."""
    if not started:
        return 0
    first = _first_paid()
    ended = session.execute(
        select(Subscription.user_id, Subscription.ended_at)
        .join(first, first.c.subscription_id == Subscription.id)
        .where(Subscription.user_id.in_({user_id for _, user_id, _ in started}), Subscription.ended_at.is_not(None))
    ).all()
    return sum(
        1 for sub_id, user_id, at in started if any(uid == user_id and ended_at <= at for uid, ended_at in ended)
    )


def _churned_in(session: Session, start: datetime, end: datetime) -> tuple[int, Fraction]:
    """Subscriptions that ended in [start, end) after paying, and the monthly value of their last paid period."""
    ended = session.scalars(
        select(Subscription.id).where(
            Subscription.ended_at >= start,
            Subscription.ended_at < end,
            select(Charge.id).where(Charge.subscription_id == Subscription.id, Charge.status.in_(PAID)).exists(),
        )
    ).all()
    lost = Fraction(0)
    for sub_id in ended:
        last = session.execute(
            select(Charge.amount_won, Charge.period_start, Charge.period_end)
            .where(Charge.subscription_id == sub_id, Charge.status.in_(PAID))
            .order_by(Charge.period_start.desc())
            .limit(1)
        ).one()
        lost += monthly_value(*last)
    return len(ended), lost


def _trials_ended(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Trials that ended in [start, end) and how many of them have a paid period (converted)."""
    paid = select(Charge.id).where(Charge.subscription_id == Subscription.id, Charge.status.in_(PAID)).exists()
    rows = session.execute(
        select(func.count(), func.coalesce(func.sum(case((paid, 1), else_=0)), 0))
        .select_from(Subscription)
        .where(Subscription.trial_end_at >= start, Subscription.trial_end_at < end)
    ).one()
    return int(rows[0]), int(rows[1])


def _renewal():
    """A charge of a subscription that had started before it (a trial or an earlier paid period).

    A declined first charge of a checkout is not a failed payment to recover: the shopper
    is still at the checkout, and trying again makes a new Charge.
    """
    earlier = aliased(Charge)
    paid_before = select(earlier.id).where(
        earlier.subscription_id == Charge.subscription_id,
        earlier.status.in_(PAID),
        earlier.period_start < Charge.period_start,
    )
    had_trial = select(Subscription.id).where(
        Subscription.id == Charge.subscription_id, Subscription.trial_end_at.is_not(None)
    )
    return or_(paid_before.exists(), had_trial.exists())


def _recovery(session: Session, start: datetime, end: datetime) -> tuple[int, int, int, int]:
    """(renewals first declined this month, of which paid by now, paid this month after a decline, won recovered)."""
    failed, failed_paid = session.execute(
        select(func.count(), func.coalesce(func.sum(case((Charge.status.in_(PAID), 1), else_=0)), 0)).where(
            Charge.first_failed_at >= start, Charge.first_failed_at < end, _renewal()
        )
    ).one()
    recovered, recovered_won = session.execute(
        select(func.count(), func.coalesce(func.sum(Charge.amount_won), 0)).where(
            Charge.first_failed_at.is_not(None), Charge.status.in_(PAID), Charge.paid_at >= start, Charge.paid_at < end
        )
    ).one()
    return int(failed), int(failed_paid), int(recovered), int(recovered_won)


# -- money -----------------------------------------------------------------------------------------


def paid_at():
    """When an approved Attempt was paid: Toss's approvedAt, else when we recorded it."""
    return func.coalesce(Attempt.approved_at, Attempt.updated_at)


def revenue(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Won approved in [start, end): (subscription charges, one-time orders). VAT included."""
    subs, orders = session.execute(
        select(
            func.coalesce(func.sum(case((Attempt.charge_id.is_not(None), Attempt.amount_won), else_=0)), 0),
            func.coalesce(func.sum(case((Attempt.order_pk.is_not(None), Attempt.amount_won), else_=0)), 0),
        ).where(Attempt.status == "done", paid_at() >= start, paid_at() < end)
    ).one()
    return int(subs), int(orders)


def refunds(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """(count, won) of refunds Toss carried out, by when they were made (`Refund.created_at`), in [start, end)."""
    count, won = session.execute(
        select(func.count(), func.coalesce(func.sum(Refund.amount_won), 0)).where(
            Refund.status == "done", Refund.created_at >= start, Refund.created_at < end
        )
    ).one()
    return int(count), int(won)


# -- the month and the trend -----------------------------------------------------------------------


def stop_at(month: Month, now: datetime) -> datetime:
    """The exclusive end of what counts in `month`: its end, or for the current month just after `now`."""
    return month.end if month.end <= now else now + JUST_AFTER


def month_figures(session: Session, month: Month, *, now: datetime) -> MonthFigures:
    """Every figure of `month`; for the current month, counted up to `now` (included)."""
    start, until, stop = month.start, min(month.end, now), stop_at(month, now)
    mrr_start, mrr_end = mrr_at(session, start), mrr_at(session, until)
    started = _started_in(session, start, stop)
    reactivated = _returning(session, started)
    churned, churned_value = _churned_in(session, start, stop)
    trials, converted = _trials_ended(session, start, stop)
    failed, failed_paid, recovered, recovered_won = _recovery(session, start, stop)
    subs_won, orders_won = revenue(session, start, stop)
    refund_count, refund_won = refunds(session, start, stop)
    return MonthFigures(
        month=month,
        until=until,
        mrr_start=mrr_start,
        mrr_end=mrr_end,
        new=len(started) - reactivated,
        reactivated=reactivated,
        churned=churned,
        churned_mrr_won=int(churned_value),
        logo_churn=Ratio(churned, mrr_start.subscribers),
        revenue_churn=_revenue_churn(churned_value, mrr_start),
        trials_ended=trials,
        trials_converted=converted,
        trial_conversion=Ratio(converted, trials),
        failed_first=failed,
        failed_first_recovered=failed_paid,
        recovered=recovered,
        recovered_won=recovered_won,
        revenue_subscriptions_won=subs_won,
        revenue_orders_won=orders_won,
        refunds=refund_count,
        refunds_won=refund_won,
    )


def _revenue_churn(lost: Fraction, start: Mrr) -> Ratio:
    # Kept in won: MRR lost (rounded down) over MRR at the start of the month.
    return Ratio(int(lost), start.mrr_won)


def trend(session: Session, *, now: datetime, months: int = 12) -> list[TrendPoint]:
    """The last `months` KST months up to the current one: revenue, refunds, MRR and subscribers at month end."""
    points = []
    for month in months_ending(Month.of(now), months):
        stop = stop_at(month, now)
        subs_won, orders_won = revenue(session, month.start, stop)
        _, refund_won = refunds(session, month.start, stop)
        mrr = mrr_at(session, min(month.end, now))
        points.append(TrendPoint(month, subs_won + orders_won, refund_won, mrr.mrr_won, mrr.subscribers))
    return points


def trial_subscribers(session: Session) -> int:
    """Subscriptions in a free trial now (not in MRR)."""
    return int(
        session.scalar(select(func.count()).select_from(Subscription).where(Subscription.status == "trialing")) or 0
    )


def at_risk(session: Session) -> tuple[int, int]:
    """Past-due subscriptions now and the won their open periods are owed."""
    count, won = session.execute(
        select(func.count(func.distinct(Subscription.id)), func.coalesce(func.sum(Charge.amount_won), 0))
        .select_from(Subscription)
        .join(Charge, and_(Charge.subscription_id == Subscription.id, Charge.status == "pending"))
        .where(Subscription.status == "past_due")
    ).one()
    return int(count), int(won)


__all__ = [
    "Month",
    "MonthFigures",
    "Mrr",
    "PlanCount",
    "Ratio",
    "TrendPoint",
    "at_risk",
    "month_figures",
    "monthly_value",
    "months_in_period",
    "mrr_at",
    "refunds",
    "revenue",
    "trend",
    "trial_subscribers",
]
