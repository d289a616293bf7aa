"""내 구독's read model (web/account/queries.py): one statement reads the shopper's subscriptions and the
live ones' current periods; what it puts together must be what `periods.current_periods` reads alone,
which the 청약철회 rule, the period-refund line and 바로 해지하고 환불받기 are tested against."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storefront.billing.recurring import periods, statuses
from storefront.models import Attempt, Charge, Refund, Subscription, User
from storefront.web.account import queries
from tests.web.test_query_counts import SHOPPER, add_history, shop_with


def _refund(attempt: Attempt, status: str, amount: int, key: str, at) -> Refund:
    return Refund(
        attempt=attempt,
        amount_won=amount,
        reason="테스트",
        status=status,
        idempotency_key=key,
        created_at=at,
        settled_at=at if status == "done" else None,
    )


def test_the_subscriptions_read_carries_each_live_ones_current_period_as_read_alone(app, clock, db_session):
    now = shop_with(app, clock, 7)
    shopper = db_session.scalar(select(User).where(User.email == SHOPPER[0]))
    for _ in range(3):
        add_history(db_session, shopper, 3, now)
    db_session.commit()
    subs = db_session.scalars(
        select(Subscription).where(Subscription.user_id == shopper.id).order_by(Subscription.id)
    ).all()
    busy, declined, ended, trial = subs
    # The busy one's current period: a declined attempt, then the paid one with three refunds (one failed).
    charge = db_session.scalar(
        select(Charge).where(Charge.subscription_id == busy.id, Charge.period_start == busy.current_period_start)
    )
    paid = next(a for a in charge.attempts if a.status == "done")
    db_session.add_all(
        [
            _refund(paid, "done", 1000, "q-1", now),
            _refund(paid, "failed", 2000, "q-2", now),
            _refund(paid, "done", 500, "q-3", now + timedelta(minutes=1)),
        ]
    )
    declined.status = "past_due"
    ended.status, ended.ended_at = "canceled", now  # its period still stored, but it is not live
    trial.status, trial.current_period_start = "trialing", None  # no current period
    db_session.commit()

    rows, waiting, current = queries.subscriptions_of(db_session, shopper.id, now=now)

    assert sorted(sub.id for sub in rows) == sorted(sub.id for sub in subs)  # each once, however many rows
    assert [sub.id for sub in rows] == [
        sub.id for sub in sorted(subs, key=lambda s: (s.created_at, s.id), reverse=True)
    ]
    assert waiting is False
    live = [sub for sub in subs if sub.status in statuses.RUNNING]
    assert set(current) == {busy.id, declined.id}
    assert current == periods.current_periods(db_session, live)
    assert [r.idempotency_key for r in current[busy.id].refunds] == ["q-1", "q-2", "q-3"]
    assert len(current[busy.id].attempts) == len(charge.attempts)


def test_another_shoppers_subscriptions_and_periods_stay_out(app, clock, db_session):
    now = shop_with(app, clock, 7)  # also adds other shoppers, each with a live subscription
    shopper = db_session.scalar(select(User).where(User.email == SHOPPER[0]))
    rows, _, current = queries.subscriptions_of(db_session, shopper.id, now=now)
    own = set(db_session.scalars(select(Subscription.id).where(Subscription.user_id == shopper.id)))
    assert {sub.id for sub in rows} == own and set(current) <= own and current
