"""A refund made in Toss's dashboard reaches the shopper as one email, whichever way the store learns of it.

The store charges through the real TossClient and the sandbox; the merchant then cancels in the
"dashboard" (the sandbox's cancel API, webhooks off). The store learns of it from the next day's
reconciliation or from a PAYMENT_STATUS_CHANGED webhook, and the refund settle job (as the timer
runs it) tells the shopper. Redeliveries and second reconciliations add nothing; refunds the store
made itself (바로 해지) are announced by their own flow only. The subscription renews as before,
and 내 구독 and the admin say what was refunded.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from storefront import jobs
from storefront.billing.refunding import refund_notices
from storefront.billing.recurring import subscriptions
from storefront.models import EmailMessage, Order, Subscription, User
from tests.billing.reconciliation_support import PASSWORD, store, toss  # noqa: F401  (fixtures)
from tests.conftest import Auth

HEADER = "tosspayments-webhook-transmission-id"


@pytest.fixture
def settle_refunds_job(store, monkeypatch):
    """The timer's refund job, in this process, on the store's app, clock and sandbox."""
    monkeypatch.setattr(jobs.process, "_built", None)
    jobs.adopt_app(store.app)

    def run() -> int:
        looked = jobs.settle_refunds_job()
        store.session.expire_all()
        return looked

    return run


def emails(store, kind: str = refund_notices.KIND) -> list[EmailMessage]:
    store.session.expire_all()
    return list(
        store.session.scalars(
            select(EmailMessage)
            .where(EmailMessage.kind == kind, EmailMessage.channel == "email")
            .order_by(EmailMessage.id)
        )
    )


def webhook(client, payment_key: str, order_id: str, transmission_id: str):
    """What Toss posts after a cancel: the body only names the payment, the store asks Toss the rest."""
    body = {
        "eventType": "PAYMENT_STATUS_CHANGED",
        "createdAt": "2026-03-10T11:00:00.000000",
        "data": {"paymentKey": payment_key, "orderId": order_id, "status": "CANCELED"},
    }
    response = client.post(
        "/webhooks/toss", data=json.dumps(body), headers={HEADER: transmission_id}, content_type="application/json"
    )
    assert response.status_code == 200
    return response.get_json()


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_dashboard_refund_found_by_the_reconciliation_is_emailed_once(store, client, settle_refunds_job):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    store.cancel_at_toss(attempt.payment_key, 3900)
    settle_refunds_job()
    assert emails(store) == []  # nothing is known yet: no webhook came
    store.next_morning()

    store.reconcile()
    settle_refunds_job()

    [email] = emails(store)
    assert email.to == sub.user.email and email.status in ("queued", "logged")
    assert "결제 중 3,900원이 카드 결제 취소로 환불되었습니다" in email.body_text
    assert "환불 후 남은 결제 금액: 6,000원" in email.body_text
    assert "구독은 그대로 유지됩니다" in email.body_text and "다음 결제일(2026년 4월 10일)" in email.body_text
    store.clock.advance(hours=1)
    store.reconcile()  # the day again, and the job again: still one email
    settle_refunds_job()
    store.clock.advance(days=1)
    settle_refunds_job()
    assert [e.id for e in emails(store)] == [email.id]


def test_a_full_dashboard_refund_delivered_by_webhook_is_emailed_once_and_the_subscription_goes_on(
    store, client, settle_refunds_job
):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    next_charge_at = store.session.get(Subscription, sub.id).next_charge_at
    store.cancel_at_toss(attempt.payment_key)

    assert webhook(client, attempt.payment_key, attempt.order_id, "whtrans-1")["status"] == "processed"
    settle_refunds_job()
    assert webhook(client, attempt.payment_key, attempt.order_id, "whtrans-2")["status"] == "processed"  # resent
    store.next_morning()
    assert store.reconcile().recorded_count == 0  # the webhook recorded it already
    settle_refunds_job()

    [email] = emails(store)
    assert "결제 중 9,900원(전액)이 카드 결제 취소로 환불되었습니다" in email.body_text
    assert "결제 금액 전액이 환불되었습니다" in email.body_text and "구독은 그대로 유지됩니다" in email.body_text
    ongoing = store.session.get(Subscription, sub.id)
    assert (ongoing.status, ongoing.cancel_at_period_end, ongoing.next_charge_at) == ("active", False, next_charge_at)

    Auth(client).login(sub.user.email, PASSWORD)
    account = text(client.get("/account").get_data(as_text=True))
    assert "다음 결제일 2026년 4월 10일 (9,900원)" in account
    assert (
        "환불 이번 기간 결제 9,900원 전액 환불 (2026년 3월 10일). 구독은 유지되며 다음 결제일에 결제됩니다" in account
    )


def test_the_admin_sees_what_toss_refunded_of_the_current_period(store, client, settle_refunds_job):
    sub = store.paid_subscription()
    store.cancel_at_toss(store.attempt(sub.id).payment_key)
    store.next_morning()
    store.reconcile()
    admin = store.shopper()
    store.session.get(User, admin.id).is_admin = True
    store.session.commit()

    Auth(client).login(admin.email, PASSWORD)
    page = text(client.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True))

    assert "현재 기간 환불 9,900원 중 9,900원 (전액, 토스페이먼츠에서 직접 취소 9,900원)" in page
    assert "구독은 유지되며 다음 결제일에 결제됩니다" in page


def test_a_dashboard_cancel_of_a_one_time_order_is_emailed_once(store, settle_refunds_job):
    order = store.paid_order()
    payment_key = store.session.get(Order, order.id).payment_key
    store.cancel_at_toss(payment_key)
    store.next_morning()
    store.reconcile()
    settle_refunds_job()
    store.reconcile()
    settle_refunds_job()

    [email] = emails(store)
    assert order.order_id in email.body_text and "주문이 취소되었습니다" in email.body_text
    assert "15,000원(전액)" in email.body_text


def test_a_refund_the_store_made_itself_is_announced_by_its_own_flow_only(store, client, settle_refunds_job):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    store.clock.advance(days=10)
    found = store.services
    ended = subscriptions.cancel_now_with_refund(
        store.session,
        user=store.session.get(User, sub.user_id),
        subscription_id=sub.id,
        toss=store.toss,
        vault=found.vault,
        notifier=found.notifier,
        clock=store.clock,
        config=store.config,
        ip="127.0.0.1",
    )
    assert ended.refund_status == "done" and ended.refund_won > 0

    webhook(client, attempt.payment_key, attempt.order_id, "whtrans-own")  # Toss reports our own cancel back
    store.clock.advance(days=1)
    assert store.reconcile(date(2026, 3, 20)).recorded_count == 0  # the day of the refund: nothing missing
    settle_refunds_job()

    assert emails(store) == []
    assert len(emails(store, "subscription_canceled")) == 1


def test_a_withdrawn_member_is_not_emailed(store, settle_refunds_job):
    from storefront.billing.compliance import withdrawal

    order = store.paid_order()
    store.session.expire_all()
    paid = store.session.get(Order, order.id)
    withdrawal.delete_account(
        store.session,
        user=paid.user,
        password=PASSWORD,
        toss=store.toss,
        vault=store.services.vault,
        clock=store.clock,
        ip="127.0.0.1",
    )
    store.cancel_at_toss(paid.payment_key)
    store.next_morning()
    store.reconcile()
    settle_refunds_job()
    assert emails(store) == []
