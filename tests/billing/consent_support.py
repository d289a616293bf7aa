"""Builders and readers for the consent and renewal-notice tests (billing and web)."""

from __future__ import annotations

import json
from datetime import datetime, UTC

from sqlalchemy import select

from storefront.billing.compliance import consent, notices
from storefront.billing.recurring import cycle
from storefront.clock import KST
from storefront.models import Consent, EmailMessage, Plan, PriceChange, Subscription, User

PHONE = "010-1234-5678"
CARD = "현대 43301234****123*"


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST).astimezone(UTC)


def start_trial(
    shop, *, days: int = 14, amount_won: int = 12900, user: User | None = None, phone: str | None = PHONE
) -> Subscription:
    """A trial as the subscribe flow leaves it: trialing, due (and converting) at the trial's end."""
    now = shop.clock.now()
    plan = shop.plan(amount_won=amount_won, name=f"월간 플랜 ({days}일 무료 체험)")
    plan.trial_days = days
    user = user or shop.user()
    user.phone = phone
    end = cycle.trial_end(now, days, shop.config.billing_hour_kst)
    return shop.subscribe(plan=plan, user=user, status="trialing", start=end, trial_end_at=end)


def paid_subscriber(
    shop, *, amount_won: int = 9900, interval: str = "month", plan: Plan | None = None, user: User | None = None
) -> Subscription:
    """A subscriber whose first period is paid now."""
    plan = plan or shop.plan(
        amount_won=amount_won, interval=interval, name="연간 플랜" if interval == "year" else "월간 플랜"
    )
    sub = shop.subscribe(plan=plan, user=user)
    assert shop.charge(sub.id).outcome == "paid"
    return shop.sub(sub.id)


def sweep(shop) -> int:
    return consent.send_due_requests(shop.session, notifier=shop.notifier, clock=shop.clock, config=shop.config)


def renewal_sweep(shop) -> int:
    return notices.send_renewal_notices(shop.session, notifier=shop.notifier, clock=shop.clock, config=shop.config)


def outbox(session, kind: str | None = None, channel: str = "email") -> list[EmailMessage]:
    session.expire_all()
    query = select(EmailMessage).where(EmailMessage.channel == channel).order_by(EmailMessage.id)
    if kind is not None:
        query = query.where(EmailMessage.kind == kind)
    return list(session.scalars(query))


def changes(session, subscription_id: int) -> list[PriceChange]:
    session.expire_all()
    return list(
        session.scalars(
            select(PriceChange).where(PriceChange.subscription_id == subscription_id).order_by(PriceChange.id)
        )
    )


def consents(session, subscription_id: int) -> list[Consent]:
    session.expire_all()
    return list(session.scalars(select(Consent).where(Consent.subscription_id == subscription_id).order_by(Consent.id)))


def detail(row: Consent) -> dict:
    return json.loads(row.detail)
