"""Daily reconciliation (대사) against the sandbox: record what Toss has and we lack, flag the rest.

The store charges through the real TossClient and the sandbox (webhooks off: the sandbox's
default), and things then happen at "Toss" behind the store's back, as in real life: a refund
in the merchant dashboard, an approval after all of an order we recorded as declined.
"""

from __future__ import annotations

import re
from datetime import date, datetime, UTC
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from storefront.billing.toss_sync import reconciliation
from storefront.billing.wallet.vault import Actor
from storefront.models import (
    Attempt,
    BillingKey,
    Charge,
    EmailMessage,
    Order,
    Reconciliation,
    ReconciliationItem,
    Refund,
)
from storefront.toss.client import TossClient
from storefront.toss.errors import Category as TossCategory
from storefront.toss.errors import TossError
from tests.billing.reconciliation_support import PASSWORD, store, toss  # noqa: F401  (fixtures)
from tests.conftest import Auth
from tests.sandbox.calls import billing_path, post


def _figures(row: Reconciliation) -> tuple[Any, ...]:
    return (
        row.status,
        row.toss_approved_count,
        row.toss_approved_won,
        row.toss_canceled_count,
        row.toss_canceled_won,
        row.our_paid_count,
        row.our_paid_won,
        row.our_refunded_count,
        row.our_refunded_won,
        row.matched_count,
        row.recorded_count,
        row.flagged_count,
        row.settlement_amount_won,
        row.settlement_fee_won,
        row.settlement_payout_won,
        row.payout_dates,
    )


def _payment_rows(client: FlaskClient) -> list[str]:
    """The status cells of 내 구독's 결제 내역, as the shopper reads them."""
    page = client.get("/account").get_data(as_text=True)
    section = page.split('class="account-payments"', 1)[1].split("</table>", 1)[0]
    return [
        re.sub(r"<[^>]+>", " ", cells[4]).split()[0]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)
        )
        if len(cells) == 6
    ]


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
    store.session.add(
        Refund(
            attempt_id=attempt.id,
            amount_won=2000,
            reason="일할 환불",
            idempotency_key="refund-lost",
            status="unknown",
            created_at=store.clock.now(),
        )
    )
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
    billing_key = store.services.vault.open(
        store.session,
        store.session.get(BillingKey, sub.billing_key_id),
        actor=Actor.worker(),
        reason="test",
        now=store.clock.now(),
    )
    store.session.commit()
    approved = post(
        store.sandbox,
        billing_path(billing_key),
        {"customerKey": user.customer_key, "amount": 9900, "orderId": attempt.order_id, "orderName": "구독"},
    )
    assert approved.status_code == 200
    store.next_morning()

    day = store.reconcile()

    assert (day.status, day.flagged_count, day.matched_count) == ("differences", 1, 0)
    [item] = store.session.scalars(select(ReconciliationItem)).all()
    assert (item.kind, item.resolution, item.order_id, item.attempt_id) == (
        "approved_not_recorded",
        "flagged",
        attempt.order_id,
        attempt.id,
    )
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
    ghost = Attempt(
        charge_id=charge.id,
        order_id="ghost-order-0001",
        idempotency_key="ghost-order-0001",
        amount_won=4900,
        status="done",
        payment_key="tsbx-ghost",
        approved_at=store.clock.now(),
        created_at=store.clock.now(),
        updated_at=store.clock.now(),
    )
    store.session.add(ghost)
    store.session.add(
        Refund(
            attempt=attempt,
            amount_won=1000,
            reason="환불",
            idempotency_key="refund-ghost",
            status="done",
            transaction_key="NO-SUCH-CANCEL",
            created_at=store.clock.now(),
            settled_at=store.clock.now(),
        )
    )
    store.session.commit()
    store.next_morning()

    day = store.reconcile()

    assert sorted((kind, ref) for kind, _, ref, _ in store.items()) == [
        ("missing_at_toss", "ghost-order-0001"),
        ("refund_missing_at_toss", "NO-SUCH-CANCEL"),
    ]
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
        2,
        7500,
        320 - 80,
        7500 - 240,
    )
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
    assert reconciliation.previous_day(datetime(2026, 3, 10, 20, 0, tzinfo=UTC)) == date(2026, 3, 10)
    assert reconciliation.previous_day(datetime(2026, 3, 10, 14, 59, tzinfo=UTC)) == date(2026, 3, 9)
