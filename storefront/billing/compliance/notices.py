"""Renewal notices: tell the shopper ahead of each automatic renewal what will be charged, and when.

Monthly plans get one notice ``config.renewal_notice_days`` (default 7) days before each
renewal; yearly plans also get one 30 days before (korea-compliance §9: D-30 and D-7). Only
``active`` subscriptions that will really renew are told: trials have their own conversion
notice and consent request (billing/compliance/consent.py), past-due ones their dunning notices, and a
subscription set to end at period end renews nothing. While a price rise for the renewal
waits for the shopper's answer the consent request and reminders speak for it (the renewal
notice follows if they agree, at the new amount).

Each notice has the dedup key ``renewal:subscription:<id>:<renewal KST yyyymmddHH>:d<days>``,
so it is queued once whatever runs twice. ``Subscription.renewal_notice_for_at`` /
``renewal_notice_days`` record the last one, so the sweep's indexed query returns only the
subscriptions still owed a notice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storefront.billing.compliance import consent
from storefront.billing.recurring import cycle
from storefront.config import Config
from storefront.models import Plan, PriceChange, Subscription

log = logging.getLogger(__name__)

ANNUAL_NOTICE_DAYS = 30


def notice_days(interval: str, config: Config) -> tuple[int, ...]:
    """How many days before a renewal its notices go out, nearest first."""
    days = {config.renewal_notice_days}
    if interval == "year":
        days.add(ANNUAL_NOTICE_DAYS)
    return tuple(sorted(days))


def send_renewal_notices(session: Session, *, notifier: Any, clock: Any, config: Config) -> int:
    """Queue every renewal notice that is due; return how many were queued.

    For each interval and each of its notice days (nearest first), selects active
    subscriptions renewing within that many days that have not had that notice (or a nearer
    one) for this renewal. When a sweep was missed, only the nearest due notice is sent.
    Idempotent (dedup keys plus the bookkeeping columns). Commits once per subscription; a
    notice that cannot be written is logged and retried by the next run.
    """
    now = clock.now()
    sent = 0
    for interval in cycle.INTERVALS:
        for days in notice_days(interval, config):
            for sub_id in _owed(session, interval, days, now):
                try:
                    sent += _notify(session, session.get_one(Subscription, sub_id), days, notifier=notifier, now=now)
                    session.commit()
                except Exception:
                    session.rollback()
                    log.exception("renewal notice for subscription %s not queued; the next run tries again", sub_id)
    return sent


def _owed(session: Session, interval: str, days: int, now: datetime) -> list[int]:
    """Active subscriptions renewing within `days` without this notice or a nearer one (ix_subscriptions_due)."""
    return list(
        session.scalars(
            select(Subscription.id)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(
                Subscription.status == "active",
                Subscription.next_charge_at > now,
                Subscription.next_charge_at <= now + timedelta(days=days),
                Subscription.cancel_at_period_end.is_(False),
                Plan.interval == interval,
                or_(
                    Subscription.renewal_notice_for_at.is_(None),
                    Subscription.renewal_notice_for_at != Subscription.next_charge_at,
                    Subscription.renewal_notice_days > days,
                ),
            )
            .order_by(Subscription.next_charge_at, Subscription.id)
        )
    )


def _notify(session: Session, sub: Subscription, days: int, *, notifier: Any, now: datetime) -> int:
    renewal = sub.next_charge_at
    if renewal is None:  # `_owed` picks subscriptions whose renewal falls in its window; none is due here
        return 0
    change = _price_change_at(session, sub, renewal)
    if change is not None and change.status == "pending":
        return 0  # the consent request and reminders speak for this renewal until the shopper answers
    sub.renewal_notice_for_at, sub.renewal_notice_days = renewal, days
    if change is not None and change.status != "agreed":
        return 0  # refused: this renewal will not happen
    context = {
        "product_name": sub.plan.product.name,
        "plan_name": sub.plan.name,
        "amount_won": change.new_amount_won if change is not None else sub.amount_won,
        "next_charge_at": renewal,
        "card_label": consent.card_label(sub),
        "days_before": days,
    }
    key = f"renewal:subscription:{sub.id}:{renewal.astimezone(cycle.KST):%Y%m%d%H}:d{days}"
    notifier.queue(session, user=sub.user, kind="renewal_notice", dedup_key=key, context=context, now=now)
    return 1


def _price_change_at(session: Session, sub: Subscription, renewal: datetime) -> PriceChange | None:
    return session.scalars(
        select(PriceChange)
        .where(
            PriceChange.subscription_id == sub.id,
            PriceChange.kind == "price_increase",
            PriceChange.status.in_(consent.UNSETTLED),
            PriceChange.effective_at <= renewal,
        )
        .order_by(PriceChange.effective_at)
        .limit(1)
    ).first()
