"""Daily reconciliation (대사) against the sandbox: record what Toss has and we lack, flag the rest.

The store charges through the real TossClient and the sandbox (webhooks off: the sandbox's
default), and things then happen at "Toss" behind the store's back, as in real life: a refund
in the merchant dashboard, an approval after all of an order we recorded as declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront.accounts import NewUser, create_user
from storefront.billing import charging, orders, reconciliation
from storefront.billing.vault import Actor
from storefront.clock import FixedClock
from storefront.config import Config
from storefront.models import (Attempt, BillingKey, Category, Charge, EmailMessage, Order, Plan, Product,
                               Reconciliation, ReconciliationItem, Refund, Subscription, User)
from storefront.toss.client import TossClient
from storefront.toss.errors import Category as TossCategory
from storefront.toss.errors import TossError
from tests.conftest import Auth
from tests.sandbox.calls import billing_path, post
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
        plan = Plan(product=product, name="월간 플랜" if kind == "subscription" else "1회", interval=interval,
                    amount_won=amount_won)
        self.session.add_all([category, product, plan])
        self.session.commit()
        return plan

    def shopper(self) -> User:
        self._n += 1
        user = create_user(self.session, NewUser(email=f"buyer{self._n}@example.com", password=PASSWORD, name="김구매"),
                           now=self.clock.now(), cheap_hash=True)
        self.session.commit()
        return user

    def paid_subscription(self, *, amount_won: int = 9900, card_number: str = APPROVED_CARD) -> Subscription:
        """A subscriber whose first period was charged at the sandbox (a real billing key, sealed)."""
        user = self.shopper()
        plan = self.plan(amount_won=amount_won)
        issued = self.sandbox.issue_billing_key(user.customer_key, card_number)
        card = BillingKey(user_id=user.id, customer_key=user.customer_key, issued_at=self.clock.now(),
                          card_company="현대", card_number_masked=issued["card"]["number"])
        self.session.add(card)
        self.session.flush()
        self.services.vault.seal(card, issued["billingKey"])
        sub = Subscription(user_id=user.id, plan_id=plan.id, billing_key_id=card.id, status="incomplete",
                           amount_won=plan.amount_won, anchor_day=charging.cycle.anchor_day_for(self.clock.now()),
                           next_charge_at=self.clock.now(), created_at=self.clock.now())
        self.session.add(sub)
        self.session.commit()
        self.charge(sub.id)
        return sub

    def charge(self, subscription_id: int) -> charging.ChargeResult:
        return charging.charge_period(self.session, subscription_id, toss=self.toss, vault=self.services.vault,
                                      notifier=self.services.notifier, clock=self.clock, config=self.config)

    def paid_order(self, *, amount_won: int = 15000) -> Order:
        user = self.shopper()
        order = orders.create_order(self.session, user=user, plan=self.plan(interval="once", amount_won=amount_won),
                                    text_version="terms:1", ip="127.0.0.1", clock=self.clock)
        window = self.sandbox.pay(order_id=order.order_id, amount=amount_won, order_name=order.order_name)
        orders.confirm_order(self.session, order, payment_key=window["paymentKey"], amount_won=amount_won,
                             toss=self.toss, notifier=self.services.notifier, clock=self.clock)
        return order

    def attempt(self, subscription_id: int) -> Attempt:
        self.session.expire_all()
        return self.session.scalar(select(Attempt).join(Charge).where(Charge.subscription_id == subscription_id)
                                   .order_by(Attempt.id.desc()))

    def cancel_at_toss(self, payment_key: str, amount: int | None = None, reason: str = "고객 요청 (대시보드)") -> dict:
        """What the merchant does in Toss's dashboard: the store is not told (webhooks are off)."""
        body: dict[str, Any] = {"cancelReason": reason}
        if amount is not None:
            body["cancelAmount"] = amount
        response = post(self.sandbox, f"/v1/payments/{payment_key}/cancel", body)
        assert response.status_code == 200, response.text
        return response.json()

    def reconcile(self, day: date = DAY, **kwargs: Any) -> Reconciliation:
        return reconciliation.reconcile_day(self.session, day, toss=kwargs.pop("toss", self.toss), clock=self.clock,
                                            **kwargs)

    def refunds(self) -> list[Refund]:
        self.session.expire_all()
        return list(self.session.scalars(select(Refund).order_by(Refund.id)))

    def items(self, day: date = DAY) -> list[tuple[str, str, str, bool]]:
        self.session.expire_all()
        rows = self.session.scalars(select(ReconciliationItem).join(Reconciliation).where(Reconciliation.day == day)
                                    .order_by(ReconciliationItem.id))
        return [(i.kind, i.resolution, i.ref, i.resolved_at is None) for i in rows]

    @property
    def services(self) -> Any:
        return self.app.extensions["storefront"]

    def next_morning(self) -> None:
        """05:00 KST the next day, when the timer reconciles yesterday."""
        self.clock.set(datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc))


@pytest.fixture
def store(app: Flask, db_session: Session, toss: TossClient, sandbox: SandboxServer, clock: FixedClock,
          config: Config) -> Store:
    return Store(app, db_session, toss, sandbox, clock, config)


def _figures(row: Reconciliation) -> tuple[Any, ...]:
    return (row.status, row.toss_approved_count, row.toss_approved_won, row.toss_canceled_count, row.toss_canceled_won,
            row.our_paid_count, row.our_paid_won, row.our_refunded_count, row.our_refunded_won, row.matched_count,
            row.recorded_count, row.flagged_count, row.settlement_amount_won, row.settlement_fee_won,
            row.settlement_payout_won, row.payout_dates)


def _payment_rows(client: FlaskClient) -> list[str]:
    """The status cells of 내 구독's 결제 내역, as the shopper reads them."""
    import re

    page = client.get("/account").get_data(as_text=True)
    section = page.split('class="account-payments"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", cells[4]).split()[0]
            for cells in (re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", section, re.S))
            if len(cells) == 6]


# -- what Toss has and we lack is recorded, once ----------------------------------------------------

def test_a_dashboard_refund_is_found_the_next_day_and_shown_to_the_shopper_once(store, client):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    toss_payment = store.cancel_at_toss(attempt.payment_key, 3900)
    assert store.sandbox.webhooks() == []  # nobody told the store
    store.next_morning()

    day = store.reconcile()

    [refund] = store.refunds()
    assert (refund.attempt_id, refund.amount_won, refund.status) == (attempt.id, 3900, "done")
    assert refund.transaction_key == toss_payment["cancels"][0]["transactionKey"]
    assert refund.reason == "고객 요청 (대시보드)"
    assert (day.status, day.recorded_count, day.flagged_count, day.matched_count) == ("recorded", 1, 0, 2)
    assert store.items() == [("refund_recorded", "recorded", refund.transaction_key, True)]
    Auth(client).login(sub.user.email, PASSWORD)
    assert _payment_rows(client) == ["부분"]  # "부분 환불", once

    figures, items = _figures(day), store.items()
    emails = store.session.scalar(select(func.count(EmailMessage.id)))
    store.clock.advance(hours=1)
    again = store.reconcile()

    assert len(store.refunds()) == 1
    assert (_figures(again), store.items()) == (figures, items)
    assert store.session.scalar(select(func.count(EmailMessage.id))) == emails
    assert _payment_rows(client) == ["부분"]


def test_a_full_dashboard_refund_refunds_the_charge_as_the_webhook_would(store, client):
    sub = store.paid_subscription()
    store.cancel_at_toss(store.attempt(sub.id).payment_key)
    store.next_morning()

    day = store.reconcile()

    assert [(r.amount_won, r.status) for r in store.refunds()] == [(9900, "done")]
    store.session.expire_all()
    assert store.session.get(Charge, store.attempt(sub.id).charge_id).status == "refunded"
    assert (day.toss_canceled_count, day.toss_canceled_won, day.our_refunded_won) == (1, 9900, 9900)
    Auth(client).login(sub.user.email, PASSWORD)
    assert _payment_rows(client) == ["환불됨"]


def test_a_dashboard_cancel_of_a_one_time_order_cancels_the_order(store):
    order = store.paid_order()
    store.session.expire_all()
    assert store.session.get(Order, order.id).status == "paid"
    store.cancel_at_toss(store.session.get(Order, order.id).payment_key)
    store.next_morning()

    day = store.reconcile()

    store.session.expire_all()
    assert store.session.get(Order, order.id).status == "canceled"
    assert (day.status, day.recorded_count, [r.amount_won for r in store.refunds()]) == ("recorded", 1, [15000])


def test_a_refund_our_side_lost_the_answer_to_is_settled_not_doubled(store):
    """A refund of ours left 'unknown' (the answer never came) is the same cancel Toss reports."""
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    toss_payment = store.cancel_at_toss(attempt.payment_key, 2000, reason="일할 환불")
    store.session.add(Refund(attempt_id=attempt.id, amount_won=2000, reason="일할 환불", idempotency_key="refund-lost",
                             status="unknown", created_at=store.clock.now()))
    store.session.commit()
    store.next_morning()

    day = store.reconcile()

    [refund] = store.refunds()
    assert (refund.idempotency_key, refund.status) == ("refund-lost", "done")
    assert refund.transaction_key == toss_payment["cancels"][0]["transactionKey"]
    assert (day.recorded_count, day.flagged_count) == (1, 0)


# -- what differs is flagged, never fixed -----------------------------------------------------------

def test_a_charge_recorded_as_failed_but_approved_at_toss_is_flagged(store):
    sub = store.paid_subscription(card_number="4330000000000051")  # the card declines ...
    user = sub.user
    attempt = store.attempt(sub.id)
    assert (attempt.status, attempt.failure_code) == ("failed", "REJECT_CARD_PAYMENT")
    store.sandbox.set_outcome(user.customer_key, None)  # ... and Toss approves the same order after all
    billing_key = store.services.vault.open(store.session, store.session.get(BillingKey, sub.billing_key_id),
                                            actor=Actor.worker(), reason="test", now=store.clock.now())
    store.session.commit()
    approved = post(store.sandbox, billing_path(billing_key), {"customerKey": user.customer_key, "amount": 9900,
                                                               "orderId": attempt.order_id, "orderName": "구독"})
    assert approved.status_code == 200
    store.next_morning()

    day = store.reconcile()

    assert (day.status, day.flagged_count, day.matched_count) == ("differences", 1, 0)
    [item] = store.session.scalars(select(ReconciliationItem)).all()
    assert (item.kind, item.resolution, item.order_id, item.attempt_id) == (
        "approved_not_recorded", "flagged", attempt.order_id, attempt.id)
    assert (item.toss_amount_won, item.our_amount_won) == (9900, 9900) and "REJECT_CARD_PAYMENT" in item.note
    assert store.attempt(sub.id).status == "failed"  # flagged, not "fixed"
    store.session.expire_all()
    assert store.session.get(Charge, attempt.charge_id).status == "failed"

    before = (_figures(day), store.items())
    again = store.reconcile()
    assert (_figures(again), store.items()) == before


def test_amounts_that_differ_are_flagged_and_resolved_when_they_agree_again(store):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    attempt.amount_won = 9000  # our record says otherwise
    store.session.commit()
    store.next_morning()

    day = store.reconcile()

    assert (day.status, day.flagged_count) == ("differences", 1)
    [item] = store.session.scalars(select(ReconciliationItem)).all()
    assert (item.kind, item.toss_amount_won, item.our_amount_won) == ("amount_differs", 9900, 9000)

    attempt = store.attempt(sub.id)
    attempt.amount_won = 9900  # someone corrected it
    store.session.commit()
    store.clock.advance(hours=1)
    day = store.reconcile()

    assert (day.status, day.flagged_count, day.matched_count) == ("matched", 0, 1)
    store.session.expire_all()
    [item] = store.session.scalars(select(ReconciliationItem)).all()
    assert item.resolved_at == store.clock.now()


def test_what_we_have_and_toss_lacks_is_flagged(store):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    charge = store.session.get(Charge, attempt.charge_id)
    ghost = Attempt(charge_id=charge.id, order_id="ghost-order-0001", idempotency_key="ghost-order-0001",
                    amount_won=4900, status="done", payment_key="tsbx-ghost", approved_at=store.clock.now(),
                    created_at=store.clock.now(), updated_at=store.clock.now())
    store.session.add(ghost)
    store.session.add(Refund(attempt=attempt, amount_won=1000, reason="환불", idempotency_key="refund-ghost",
                             status="done", transaction_key="NO-SUCH-CANCEL", created_at=store.clock.now(),
                             settled_at=store.clock.now()))
    store.session.commit()
    store.next_morning()

    day = store.reconcile()

    assert sorted((kind, ref) for kind, _, ref, _ in store.items()) == [
        ("missing_at_toss", "ghost-order-0001"), ("refund_missing_at_toss", "NO-SUCH-CANCEL")]
    assert (day.status, day.flagged_count, day.matched_count) == ("differences", 2, 1)
    assert (day.our_paid_count, day.our_paid_won, day.our_refunded_won) == (2, 9900 + 4900, 1000)
    assert [r.transaction_key for r in store.refunds()] == ["NO-SUCH-CANCEL"]  # nothing invented or removed


def test_an_approval_our_side_has_not_settled_yet_is_flagged_for_the_sweep(store):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    attempt.status = "unknown"  # as a timeout leaves it
    store.session.commit()
    store.next_morning()

    store.reconcile()

    assert [(k, r) for k, r, _, _ in store.items()] == [("unsettled_here", "flagged")]
    assert store.attempt(sub.id).status == "unknown"  # charging.reconcile settles it, not this


# -- paging, settlements, failures ------------------------------------------------------------------

def test_a_day_with_more_transactions_than_a_page_is_read_whole(store):
    subs = [store.paid_subscription(amount_won=1000 + n) for n in range(5)]
    store.cancel_at_toss(store.attempt(subs[-1].id).payment_key, 500)
    store.next_morning()

    day = store.reconcile(page_size=2)

    assert (day.toss_approved_count, day.toss_approved_won) == (5, sum(1000 + n for n in range(5)))
    assert (day.toss_canceled_count, day.matched_count, day.recorded_count, day.flagged_count) == (1, 6, 1, 0)


def test_the_days_settlement_is_set_against_our_revenue(store):
    store.sandbox.settings(fee_rate=0.032, payout_days=2)
    sub = store.paid_subscription(amount_won=10000)
    store.cancel_at_toss(store.attempt(sub.id).payment_key, 2500)
    store.next_morning()

    day = store.reconcile()

    assert (day.settlement_count, day.settlement_amount_won, day.settlement_fee_won, day.settlement_payout_won) == (
        2, 7500, 320 - 80, 7500 - 240)
    assert day.payout_dates == "2026-03-12"
    assert (day.our_paid_won, day.our_refunded_won, day.our_revenue_won) == (10000, 2500, 7500)


class _Unreachable:
    def __init__(self, inner: TossClient, code: str = "FAILED_INTERNAL_SYSTEM_PROCESSING") -> None:
        self.inner, self.code = inner, code

    def iter_transactions(self, *args: Any, **kwargs: Any):
        raise TossError(self.code, "Toss is down", 500, TossCategory.TRANSIENT)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_when_toss_cannot_be_read_the_day_is_failed_and_the_next_run_completes_it(store):
    sub = store.paid_subscription()
    store.cancel_at_toss(store.attempt(sub.id).payment_key, 1000)
    store.next_morning()

    failed = store.reconcile(toss=_Unreachable(store.toss))

    assert (failed.status, failed.flagged_count) == ("failed", 0)
    assert "FAILED_INTERNAL_SYSTEM_PROCESSING" in failed.error and store.refunds() == []
    store.clock.advance(minutes=30)
    done = store.reconcile()
    assert (done.id, done.status, done.error, done.recorded_count) == (failed.id, "recorded", None, 1)
    assert done.first_run_at < done.last_run_at


def test_a_quiet_day_matches_with_nothing_to_show(store):
    store.next_morning()
    day = store.reconcile()
    assert (day.status, day.matched_count, day.toss_approved_count, day.settlement_count) == ("matched", 0, 0, 0)
    assert "정산 내역이 아직 없습니다" in day.settlement_note


def test_previous_day_is_yesterday_in_korea():
    assert reconciliation.previous_day(datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc)) == date(2026, 3, 10)
    assert reconciliation.previous_day(datetime(2026, 3, 10, 14, 59, tzinfo=timezone.utc)) == date(2026, 3, 9)
