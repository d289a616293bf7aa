"""Fixtures for the billing engine: a FakeToss, a recording notifier and builders of subscribers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront.billing.recurring import charging
from storefront.billing.wallet.vault import Vault
from storefront.clock import FixedClock
from storefront.config import Config
from storefront.models import AuditLog, BillingKey, Category, Charge, Plan, Product, Subscription, User
from tests.fakes import FakeToss, RecordingNotifier


@pytest.fixture
def toss(clock: FixedClock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@dataclass
class Shop:
    """The billing engine wired to one session, the fake Toss, the clock and the config."""

    session: Session
    toss: FakeToss
    vault: Vault
    notifier: RecordingNotifier
    clock: FixedClock
    config: Config
    _n: int = 0

    # -- builders --
    def plan(self, *, interval: str = "month", amount_won: int = 9900, name: str = "월간 플랜") -> Plan:
        self._n += 1
        category = Category(slug=f"cat{self._n}", name="구독")
        product = Product(category=category, slug=f"prod{self._n}", name="원두 정기배송", kind="subscription")
        plan = Plan(product=product, name=name, interval=interval, amount_won=amount_won)
        self.session.add_all([category, product, plan])
        self.session.flush()
        return plan

    def user(self) -> User:
        self._n += 1
        user = User(email=f"buyer{self._n}@example.com", password_hash="x", name="김구매", created_at=self.clock.now())
        self.session.add(user)
        self.session.flush()
        return user

    def card(self, user: User, billing_key: str | None = None) -> BillingKey:
        row = BillingKey(
            user_id=user.id,
            customer_key=user.customer_key,
            issued_at=self.clock.now(),
            card_company="현대",
            card_number_masked="43301234****123*",
        )
        self.session.add(row)
        self.session.flush()
        self.vault.seal(row, billing_key or f"bk_{user.id}_{row.id}_secretvalue")
        self.session.flush()
        return row

    def subscribe(
        self,
        *,
        plan: Plan | None = None,
        user: User | None = None,
        status: str = "incomplete",
        start: datetime | None = None,
        **fields: Any,
    ) -> Subscription:
        """A subscription as the subscribe flow leaves it: due now (`start`), not yet charged."""
        plan = plan or self.plan()
        user = user or self.user()
        start = start or self.clock.now()
        card = fields.pop("billing_key", None) or self.card(user)
        sub = Subscription(
            user_id=user.id,
            plan_id=plan.id,
            billing_key_id=card.id,
            status=status,
            amount_won=plan.amount_won,
            anchor_day=charging.cycle.anchor_day_for(start),
            next_charge_at=start,
            created_at=self.clock.now(),
            **fields,
        )
        self.session.add(sub)
        self.session.commit()
        return sub

    # -- the engine --
    def charge(self, subscription_id: int, **kwargs: Any) -> charging.ChargeResult:
        return charging.charge_period(
            self.session,
            subscription_id,
            toss=self.toss,
            vault=self.vault,
            notifier=self.notifier,
            clock=self.clock,
            config=self.config,
            **kwargs,
        )

    def charge_due(self) -> list[charging.ChargeResult]:
        return [self.charge(i) for i in charging.due_subscription_ids(self.session, self.clock.now())]

    def reconcile(self, **kwargs: Any) -> list[charging.ReconcileResult]:
        return charging.reconcile(
            self.session,
            toss=self.toss,
            vault=self.vault,
            notifier=self.notifier,
            clock=self.clock,
            config=self.config,
            **kwargs,
        )

    def retry_after_card_change(self, subscription_id: int, **kwargs: Any) -> charging.ChargeResult:
        return charging.retry_after_card_change(
            self.session,
            subscription_id,
            toss=self.toss,
            vault=self.vault,
            notifier=self.notifier,
            clock=self.clock,
            config=self.config,
            **kwargs,
        )

    # -- reading --
    def sub(self, subscription_id: int) -> Subscription:
        self.session.expire_all()
        return self.session.get(Subscription, subscription_id)

    def charges(self, subscription_id: int) -> list[Charge]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(Charge).where(Charge.subscription_id == subscription_id).order_by(Charge.period_start)
            )
        )

    def audits(self) -> int:
        return self.session.scalar(select(func.count(AuditLog.id))) or 0

    def notices(self, kind: str | None = None):
        return self.notifier.sent(self.session, kind)


@pytest.fixture
def shop(app, db_session, toss: FakeToss, notifier: RecordingNotifier, clock: FixedClock, config: Config) -> Shop:
    return Shop(db_session, toss, app.extensions["storefront"].vault, notifier, clock, config)
