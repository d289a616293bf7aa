"""Acting on one customer from the admin: each action behind a confirmation page, through the shopper's domain
functions, audited with the admin and IP. The shopper subscribes through the real forms; renewals are charged by
the real billing engine on the moved clock; Toss is tests.fakes.FakeToss."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storefront.billing.recurring import charging
from storefront.models import AuditLog, BillingKey, Charge, EmailMessage, Refund, Subscription
from tests.conftest import Auth, csrf_token
from tests.fakes import decline, hard_decline
from tests.web.admin_support import ADMIN_EMAIL, ADMIN_PASSWORD, make_admin
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401


class Browser:
    """A second browser. Each request runs in a fresh app context: the test's own context (db_session) keeps
    Flask-Login's user in `g`, which would otherwise make every client look like the last one signed in."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()

    def get(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.post(*args, **kwargs)

    def sign_in(self) -> None:
        """Sign in as the merchant (again after the clock moved past the session's lifetime)."""
        assert Auth(self).login(email=ADMIN_EMAIL, password=ADMIN_PASSWORD).status_code == 302


@pytest.fixture
def admin(app, db_session, clock) -> Browser:
    """A second browser, signed in as the merchant."""
    make_admin(db_session, clock.now())
    browser = Browser(app)
    browser.sign_in()
    return browser


@pytest.fixture
def renew(app, db_session, toss, clock):
    found = app.extensions["storefront"]

    def run() -> list[str]:
        return [
            charging.charge_period(
                db_session,
                sub_id,
                toss=toss,
                vault=found.vault,
                notifier=found.notifier,
                clock=clock,
                config=app.config["STOREFRONT"],
            ).outcome
            for sub_id in charging.due_subscription_ids(db_session, clock.now())
        ]

    return run


def subscribed(shopper: Shopper, plan) -> Subscription:
    assert shopper.subscribe(plan).status_code == 302
    return shopper.subscriptions()[-1]


def past_due(shopper: Shopper, catalog, toss, clock, renew, admin: Browser, outcome=None) -> Subscription:
    sub = subscribed(shopper, catalog.monthly)
    toss.will_for(shopper.user.customer_key, outcome or decline())
    clock.set(sub.next_charge_at)
    admin.sign_in()  # a month on, the earlier sign-in has expired
    assert renew() == ["declined"]
    [sub] = shopper.subscriptions()
    assert sub.status == "past_due"
    return sub


def act(admin: Browser, sub: Subscription, name: str) -> str:
    """Open the action's confirmation page, press its button, follow back to the subscription page."""
    url = f"/admin/subscriptions/{sub.id}/actions/{name}"
    confirm = admin.get(url)
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    assert f'data-action="{name}"' in confirm.get_data(as_text=True)
    response = admin.post(url, data={"csrf_token": csrf_token(admin, url)}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def audit(db_session, action: str) -> AuditLog:
    db_session.expire_all()
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action)).one()


def emails(db_session, kind: str) -> list[EmailMessage]:
    db_session.expire_all()
    return list(
        db_session.scalars(select(EmailMessage).where(EmailMessage.kind == kind, EmailMessage.channel == "email"))
    )


def test_the_page_shows_the_booked_plan_change_the_consent_state_and_the_actions(shopper, catalog, admin, db_session):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(
        f"/account/subscriptions/{sub.id}/plan",
        form_page=f"/account/subscriptions/{sub.id}/plan",
        plan_id=str(catalog.premium.id),
        agree="y",
    )

    page = admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)

    fact = re.search(r'data-fact="pending-plan">(.*?)</dd>', page, re.S).group(1)
    assert "월간 프리미엄 (19,900원, 매월)" in fact and "2026년 4월 10일 결제부터" in fact
    assert "동의가 필요한 가격 변경 없음" in re.search(r'data-fact="consent-gate">(.*?)</dd>', page, re.S).group(1)
    actions = re.findall(rf'href="/admin/subscriptions/{sub.id}/actions/([a-z_]+)"', page)
    assert actions == ["cancel_at_period_end", "cancel_now_refund", "cancel_now"]


def test_cancel_at_period_end_then_undo_it(shopper, catalog, admin, db_session, clock):
    sub = subscribed(shopper, catalog.monthly)

    page = act(admin, sub, "cancel_at_period_end")

    assert "기간 만료 시 해지로 설정했습니다. 2026년 4월 10일까지 이용하고 더 결제되지 않습니다." in page
    [sub] = shopper.subscriptions()
    assert sub.cancel_at_period_end and sub.status == "active"
    row = audit(db_session, "admin_cancel_at_period_end")
    assert (row.actor_type, row.ip, row.subscription_id, row.user_id) == ("admin", "127.0.0.1", sub.id, sub.user_id)
    assert len(emails(db_session, "subscription_canceled")) == 1
    assert "해지 예정" in shopper.client.get("/account").get_data(as_text=True)

    page = act(admin, sub, "resume")

    assert "해지를 취소했습니다. 다음 결제일은 2026년 4월 10일입니다." in page
    assert not shopper.subscriptions()[0].cancel_at_period_end
    assert audit(db_session, "admin_resume").actor_type == "admin"
    assert len(emails(db_session, "subscription_resumed")) == 1


def test_end_now_with_the_pro_rata_refund_shown_before_confirming(shopper, catalog, admin, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)  # paid 9,900 for 3/10–4/10 (31 days)
    clock.advance(days=10)  # day 11: 20 days left → 9,900 × 20 ÷ 31 = 6,387
    confirm = admin.get(f"/admin/subscriptions/{sub.id}/actions/cancel_now_refund").get_data(as_text=True)
    assert 'data-figure="action-refund">6,387원<' in confirm and "31일 중 11일 이용" in confirm

    page = act(admin, sub, "cancel_now_refund")

    assert "남은 기간의 요금 6,387원을 환불했습니다." in page
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.ended_reason) == ("canceled", "canceled_now_by_customer")
    db_session.expire_all()
    [refund] = db_session.scalars(select(Refund)).all()
    admin_id = audit(db_session, "admin_cancel_now_refund").actor_id
    assert (refund.amount_won, refund.status, refund.requested_by_id) == (6_387, "done", admin_id)
    assert [amount for _, amount, _ in toss.cancel_calls] == [6_387]
    card = db_session.get(BillingKey, sub.billing_key_id)
    assert card.sealed is None  # released, as when the shopper ends it
    opened = db_session.scalars(
        select(AuditLog).where(AuditLog.action == "open_billing_key", AuditLog.actor_type == "admin")
    ).all()
    assert [o.actor_id for o in opened] == [admin_id]


def test_end_now_without_a_refund(shopper, catalog, admin, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)

    page = act(admin, sub, "cancel_now")

    assert "구독을 바로 종료했습니다 (환불 없음)." in page
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.ended_reason, sub.next_charge_at) == ("canceled", "canceled_now_by_admin", None)
    assert toss.cancel_calls == [] and db_session.scalar(select(func.count()).select_from(Refund)) == 0
    [ended] = emails(db_session, "subscription_ended")
    assert "상점 관리자가 구독을 바로 종료했습니다" in ended.body_text
    assert "해지됨" in admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    again = admin.get(f"/admin/subscriptions/{sub.id}/actions/cancel_now", follow_redirects=True)
    assert "지금 이 구독에는 할 수 없는 조치입니다." in again.get_data(as_text=True)


def test_retry_a_past_due_period_now(shopper, catalog, admin, db_session, toss, clock, renew):
    sub = past_due(shopper, catalog, toss, clock, renew, admin)
    page = admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert re.findall(rf'/admin/subscriptions/{sub.id}/actions/([a-z_]+)"', page) == [
        "retry",
        "resend_card_notice",
        "cancel_now",
    ]
    toss.will_for(shopper.user.customer_key, decline())

    declined = act(admin, sub, "retry")

    assert "카드사가 결제를 거절했습니다" in declined and shopper.subscriptions()[0].status == "past_due"

    paid = act(admin, sub, "retry")

    assert "결제가 완료되었습니다." in paid
    [sub] = shopper.subscriptions()
    assert sub.status == "active"
    db_session.expire_all()
    charges = db_session.scalars(select(Charge).where(Charge.subscription_id == sub.id).order_by(Charge.id)).all()
    assert [c.status for c in charges] == ["paid", "paid"]
    renewal = [c for c in toss.calls if c.amount == 9_900][1:]  # the first charge at checkout, then the renewal
    assert [c.customer_ip for c in renewal] == [None, None, None]  # the admin's IP is not the shopper's
    rows = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_retry_charge")).all()
    assert len(rows) == 2 and {r.ip for r in rows} == {"127.0.0.1"}


def test_retry_a_declined_checkout_with_the_same_card(shopper, catalog, admin, db_session, toss, clock):
    toss.will_for(shopper.user.customer_key, decline())
    shopper.subscribe(catalog.monthly)
    [sub] = shopper.subscriptions()
    assert sub.status == "incomplete"
    clock.advance(minutes=5)  # the shopper calls the merchant

    page = act(admin, sub, "retry")

    assert "결제가 완료되었습니다." in page, re.findall(r"flash[^>]*>([^<]*)<", page)
    assert shopper.subscriptions()[0].status == "active"


def test_resend_the_card_change_notice(shopper, catalog, admin, db_session, toss, clock, renew):
    sub = past_due(shopper, catalog, toss, clock, renew, admin, outcome=hard_decline())
    assert len(emails(db_session, "payment_failed")) == 1

    page = act(admin, sub, "resend_card_notice")
    act(admin, sub, "resend_card_notice")

    assert f"{shopper.email}에게 결제 실패·카드 변경 안내를 다시 보냈습니다." in page
    sent = emails(db_session, "payment_failed")
    assert len(sent) == 3
    assert "결제수단을 변경해 주세요" in sent[-1].body_text and "/account" in sent[-1].body_text
    assert len(db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_resend_card_notice")).all()) == 2


def test_actions_refuse_what_does_not_apply_unknown_names_and_missing_csrf(shopper, catalog, admin, db_session, toss):
    sub = subscribed(shopper, catalog.monthly)

    refused = admin.get(f"/admin/subscriptions/{sub.id}/actions/resume", follow_redirects=True)
    assert "지금 이 구독에는 할 수 없는 조치입니다." in refused.get_data(as_text=True)
    assert admin.get(f"/admin/subscriptions/{sub.id}/actions/explode").status_code == 404
    assert admin.get("/admin/subscriptions/99999/actions/cancel_now").status_code == 404
    no_token = admin.post(f"/admin/subscriptions/{sub.id}/actions/cancel_now")
    assert no_token.status_code == 400
    assert shopper.subscriptions()[0].status == "active"
    db_session.expire_all()
    assert (
        db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.like("admin_cancel%"))) == 0
    )


@pytest.mark.parametrize("name", ["cancel_now", "cancel_at_period_end"])
def test_guests_and_shoppers_cannot_act(app, shopper, catalog, db_session, name):
    sub = subscribed(shopper, catalog.monthly)
    url = f"/admin/subscriptions/{sub.id}/actions/{name}"
    assert shopper.client.get(url).status_code == 403
    assert shopper.post(url).status_code == 403
    guest = Browser(app)
    assert guest.get(url).status_code == 302 and guest.get(url).headers["Location"].startswith("/login")
    assert shopper.subscriptions()[0].status == "active"
