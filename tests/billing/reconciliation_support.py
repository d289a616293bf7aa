"""A store wired to the sandbox for reconciliation tests: real TossClient, real charges, sealed keys.

Things then happen at "Toss" behind the store's back, as in real life: a refund in the
merchant dashboard (`cancel_at_toss`; the sandbox sends no webhooks unless told to).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, UTC
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront.accounts import NewUser, create_user
from storefront.billing.recurring import charging
from storefront.billing.one_time import orders
from storefront.billing.toss_sync import reconciliation
from storefront.clock import FixedClock
from storefront.config import Config
from storefront.models import (
    Attempt,
    BillingKey,
    Category,
    Charge,
    Order,
    Plan,
    Product,
    Reconciliation,
    ReconciliationItem,
    Refund,
    Subscription,
    User,
)
from storefront.toss.client import TossClient
from tests.sandbox.calls import post
from tests.sandbox_server import APPROVED_CARD, SandboxServer

DAY = date(2026, 3, 10)  # the clock fixture: 2026-03-10 10:00 KST
PASSWORD = "correct horse 1"


@pytest.fixture
def toss(sandbox: SandboxServer) -> TossClient:
    return TossClient(sandbox.url, sandbox.secret_key, timeout=(3.05, 10.0), sleep=lambda _s: None)


@dataclass
class Store:
    app: Flask
    session: Session
    toss: TossClient
    sandbox: SandboxServer
    clock: FixedClock
    config: Config
    _n: int = 0

    def plan(self, *, interval: str = "month", amount_won: int = 9900) -> Plan:
        self._n += 1
        category = Category(slug=f"cat{self._n}", name="구독")
        kind = "one_time" if interval == "once" else "subscription"
        product = Product(category=category, slug=f"prod{self._n}", name="원두 정기배송", kind=kind)
        plan = Plan(
            product=product,
            name="월간 플랜" if kind == "subscription" else "1회",
            interval=interval,
            amount_won=amount_won,
        )
        self.session.add_all([category, product, plan])
        self.session.commit()
        return plan

    def shopper(self) -> User:
        self._n += 1
        user = create_user(
            self.session,
            NewUser(email=f"buyer{self._n}@example.com", password=PASSWORD, name="김구매"),
            now=self.clock.now(),
            cheap_hash=True,
        )
        self.session.commit()
        return user

    def paid_subscription(self, *, amount_won: int = 9900, card_number: str = APPROVED_CARD) -> Subscription:
        """A subscriber whose first period was charged at the sandbox (a real billing key, sealed)."""
        user = self.shopper()
        plan = self.plan(amount_won=amount_won)
        issued = self.sandbox.issue_billing_key(user.customer_key, card_number)
        card = BillingKey(
            user_id=user.id,
            customer_key=user.customer_key,
            issued_at=self.clock.now(),
            card_company="현대",
            card_number_masked=issued["card"]["number"],
        )
        self.session.add(card)
        self.session.flush()
        self.services.vault.seal(card, issued["billingKey"])
        sub = Subscription(
            user_id=user.id,
            plan_id=plan.id,
            billing_key_id=card.id,
            status="incomplete",
            amount_won=plan.amount_won,
            anchor_day=charging.cycle.anchor_day_for(self.clock.now()),
            next_charge_at=self.clock.now(),
            created_at=self.clock.now(),
        )
        self.session.add(sub)
        self.session.commit()
        self.charge(sub.id)
        return sub

    def charge(self, subscription_id: int) -> charging.ChargeResult:
        return charging.charge_period(
            self.session,
            subscription_id,
            toss=self.toss,
            vault=self.services.vault,
            notifier=self.services.notifier,
            clock=self.clock,
            config=self.config,
        )

    def paid_order(self, *, amount_won: int = 15000) -> Order:
        user = self.shopper()
        order = orders.create_order(
            self.session,
            user=user,
            plan=self.plan(interval="once", amount_won=amount_won),
            text_version="terms:1",
            ip="127.0.0.1",
            clock=self.clock,
        )
        window = self.sandbox.pay(order_id=order.order_id, amount=amount_won, order_name=order.order_name)
        orders.confirm_order(
            self.session,
            order,
            payment_key=window["paymentKey"],
            amount_won=amount_won,
            toss=self.toss,
            notifier=self.services.notifier,
            clock=self.clock,
        )
        return order

    def attempt(self, subscription_id: int) -> Attempt:
        self.session.expire_all()
        return self.session.scalar(
            select(Attempt).join(Charge).where(Charge.subscription_id == subscription_id).order_by(Attempt.id.desc())
        )

    def cancel_at_toss(self, payment_key: str, amount: int | None = None, reason: str = "고객 요청 (대시보드)") -> dict:
        """What the merchant does in Toss's dashboard: the store is not told (webhooks are off)."""
        body: dict[str, Any] = {"cancelReason": reason}
        if amount is not None:
            body["cancelAmount"] = amount
        response = post(self.sandbox, f"/v1/payments/{payment_key}/cancel", body)
        assert response.status_code == 200, response.text
        return response.json()

    def reconcile(self, day: date = DAY, **kwargs: Any) -> Reconciliation:
        return reconciliation.reconcile_day(
            self.session, day, toss=kwargs.pop("toss", self.toss), clock=self.clock, **kwargs
        )

    def refunds(self) -> list[Refund]:
        self.session.expire_all()
        return list(self.session.scalars(select(Refund).order_by(Refund.id)))

    def items(self, day: date = DAY) -> list[tuple[str, str, str, bool]]:
        self.session.expire_all()
        rows = self.session.scalars(
            select(ReconciliationItem)
            .join(Reconciliation)
            .where(Reconciliation.day == day)
            .order_by(ReconciliationItem.id)
        )
        return [(i.kind, i.resolution, i.ref, i.resolved_at is None) for i in rows]

    @property
    def services(self) -> Any:
        return self.app.extensions["storefront"]

    def next_morning(self) -> None:
        """05:00 KST the next day, when the timer reconciles yesterday."""
        self.clock.set(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))


@pytest.fixture
def store(
    app: Flask, db_session: Session, toss: TossClient, sandbox: SandboxServer, clock: FixedClock, config: Config
) -> Store:
    return Store(app, db_session, toss, sandbox, clock, config)
