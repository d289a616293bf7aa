"""내 구독 through its forms: what the shopper sees, cancel, resume, change card, change plan.

Renewals are run by the real billing engine (`charging.charge_period`) on the moved clock, so
"the new price applies from the next period" is checked in the FakeToss ledger.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from storefront.billing.recurring import charging
from storefront.models import BillingKey, Consent, EmailMessage, Subscription
from tests.conftest import csrf_token
from tests.fakes import decline, hard_decline
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401


@pytest.fixture
def renew(app, db_session, toss, clock):
    """Run the engine for whatever is due now (what the cron job does)."""
    found = app.extensions["storefront"]

    def run() -> list[charging.ChargeResult]:
        return [
            charging.charge_period(
                db_session,
                sub_id,
                toss=toss,
                vault=found.vault,
                notifier=found.notifier,
                clock=clock,
                config=app.config["STOREFRONT"],
            )
            for sub_id in charging.due_subscription_ids(db_session, clock.now())
        ]

    return run


def subscribed(shopper: Shopper, plan) -> Subscription:
    assert shopper.subscribe(plan).status_code == 302
    [sub] = [s for s in shopper.subscriptions() if s.plan_id == plan.id]
    return sub


def notices(session, kind: str) -> list[EmailMessage]:
    session.expire_all()
    return list(session.scalars(select(EmailMessage).where(EmailMessage.kind == kind)))


# -- seeing ------------------------------------------------------------------------------------------


def test_the_account_page_shows_status_plan_amount_card_next_date_and_receipts(shopper, catalog, toss):
    sub = subscribed(shopper, catalog.monthly)
    page = shopper.client.get("/account").get_data(as_text=True)

    assert "매일 영어 회화" in page and "월간 베이직" in page
    assert "이용 중" in page and "9,900원 / 월" in page
    assert "현대 43301234****123*" in page
    assert "2026년 4월 10일" in page  # next billing date
    [payment] = toss.approved
    assert payment.receipt_url in page and "결제 완료" in page
    assert f"/account/subscriptions/{sub.id}/cancel" in page
    assert shopper.email in page


def test_guests_are_sent_to_login_and_come_back(client, db_session, catalog):
    for path in ("/account", "/account/subscriptions/1/plan", "/account/subscriptions/1/cancel"):
        response = client.get(path)
        assert response.status_code == 302 and unquote(response.headers["Location"]) == f"/login?next={path}"
    token = csrf_token(client, "/login")
    response = client.post("/account/subscriptions/1/resume", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    shopper = Shopper(client, db_session).signup()
    shopper.auth.logout()
    login = shopper.auth.login(next="/account")
    assert login.headers["Location"] == "/account"


def test_someone_elses_subscription_cannot_be_seen_or_touched(client, db_session, catalog):
    alice = Shopper(client, db_session, "alice@example.com").signup()
    sub = subscribed(alice, catalog.monthly)
    alice.auth.logout()
    bob = Shopper(client, db_session, "bob@example.com").signup()
    assert bob.client.get(f"/account/subscriptions/{sub.id}/cancel").status_code == 404
    assert bob.client.get(f"/billing/result/{sub.id}").status_code == 404
    response = bob.post(f"/account/subscriptions/{sub.id}/cancel")
    assert response.status_code == 302
    assert "구독을 찾을 수 없습니다" in bob.client.get("/account").get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Subscription, sub.id).cancel_at_period_end is False


# -- cancel and resume ---------------------------------------------------------------------------------


def test_cancel_takes_one_confirmation_keeps_the_card_and_ends_without_charging(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = subscribed(shopper, catalog.monthly)
    confirm = shopper.client.get(f"/account/subscriptions/{sub.id}/cancel").get_data(as_text=True)
    assert "2026년 4월 10일" in confirm and "까지는 지금처럼 이용할 수 있고" in confirm

    response = shopper.post(
        f"/account/subscriptions/{sub.id}/cancel", form_page=f"/account/subscriptions/{sub.id}/cancel"
    )
    assert response.headers["Location"] == "/account"
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "해지 신청이 완료되었습니다. 2026년 4월 10일까지 이용할 수 있고" in page
    assert "해지 예정" in page and "해지 취소" in page
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert sub.billing_key.sealed is not None  # kept: resuming needs no new card
    [notice] = notices(db_session, "subscription_canceled")
    assert "2026년 4월 10일까지" in notice.body_text

    clock.set(sub.next_charge_at)
    [ended] = renew()
    assert ended.outcome == "ended" and len(toss.approved) == 1
    [sub] = shopper.subscriptions()
    assert sub.status == "canceled"


def test_resume_before_the_period_ends_keeps_renewing_on_the_same_card(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    response = shopper.post(f"/account/subscriptions/{sub.id}/resume")
    assert response.headers["Location"] == "/account"
    assert "해지 신청을 취소했습니다" in shopper.client.get("/account").get_data(as_text=True)
    [sub] = shopper.subscriptions()
    assert (sub.cancel_at_period_end, sub.canceled_at) == (False, None)
    assert len(notices(db_session, "subscription_resumed")) == 1

    clock.set(sub.next_charge_at)
    assert [r.outcome for r in renew()] == ["paid"]
    assert [p.total_amount for p in toss.approved] == [9900, 9900]
    assert len({call.billing_key for call in toss.calls}) == 1


def test_resume_is_refused_once_the_period_is_over(shopper, catalog, db_session, clock):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    clock.set(sub.current_period_end)
    shopper.post(f"/account/subscriptions/{sub.id}/resume")
    assert "이용 기간이 이미 끝나" in shopper.client.get("/account").get_data(as_text=True)
    assert shopper.subscriptions()[0].cancel_at_period_end is True


def test_cancelling_a_past_due_subscription_ends_it_now_and_forgets_the_card(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = subscribed(shopper, catalog.monthly)
    toss.will_for(shopper.user.customer_key, decline())
    clock.set(sub.next_charge_at)
    assert [r.outcome for r in renew()] == ["declined"]
    billing_key = toss.calls[-1].billing_key

    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.ended_reason) == ("canceled", "canceled_by_customer")
    assert sub.billing_key.sealed is None and sub.billing_key.destroyed_at is not None
    assert toss.deleted_keys == [billing_key]
    clock.advance(days=10)
    assert renew() == [] and len(toss.approved) == 1


# -- change card ---------------------------------------------------------------------------------------


def test_change_card_puts_the_new_key_on_the_subscription_and_retires_the_old(
    shopper, catalog, db_session, toss, clock, renew
):
    from storefront.toss.types import CardSummary

    sub = subscribed(shopper, catalog.monthly)
    old = sub.billing_key
    old_key = toss.calls[0].billing_key
    toss.next_cards.append(CardSummary("88", "88", "55700000****001*", "체크", "개인", "신한"))
    response = shopper.change_card(sub.id)

    assert response.headers["Location"] == "/account"
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "결제 카드가 변경되었습니다" in page and "신한 55700000****001*" in page
    [sub] = shopper.subscriptions()
    assert sub.billing_key_id != old.id and sub.status == "active"
    db_session.refresh(old)
    assert old.deactivated_at is not None and old.sealed is None  # row kept, key destroyed
    assert toss.deleted_keys == [old_key]
    assert len(notices(db_session, "card_registered")) == 2

    clock.set(sub.next_charge_at)
    renew()
    assert toss.calls[-1].billing_key != old_key and len(toss.approved) == 2


def test_change_card_on_a_past_due_subscription_retries_at_once_and_says_so(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = subscribed(shopper, catalog.monthly)
    toss.will_for(shopper.user.customer_key, hard_decline())
    clock.set(sub.next_charge_at)
    assert [r.outcome for r in renew()] == ["declined"]
    assert shopper.subscriptions()[0].status == "past_due"
    assert "결제 실패 (재시도 중)" in shopper.signed_in().client.get("/account").get_data(as_text=True)

    clock.advance(hours=3)
    shopper.change_card(sub.id)
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "밀린 결제가 새 카드로 완료되었습니다" in page
    [sub] = shopper.subscriptions()
    assert sub.status == "active"
    assert [p.total_amount for p in toss.approved] == [9900, 9900]


def test_a_failed_retry_on_the_new_card_is_reported(shopper, catalog, db_session, toss, clock, renew):
    sub = subscribed(shopper, catalog.monthly)
    toss.will_for(shopper.user.customer_key, hard_decline(), decline())
    clock.set(sub.next_charge_at)
    renew()
    clock.advance(hours=1)
    shopper.change_card(sub.id)
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "밀린 결제는 승인되지 않았습니다" in page and "잔액 부족 또는 한도 초과" in page
    assert shopper.subscriptions()[0].status == "past_due" and len(toss.approved) == 1


# -- change plan ---------------------------------------------------------------------------------------


def test_a_dearer_plan_applies_from_the_next_period_and_is_consented(shopper, catalog, db_session, toss, clock, renew):
    sub = subscribed(shopper, catalog.monthly)
    page = shopper.client.get(f"/account/subscriptions/{sub.id}/plan").get_data(as_text=True)
    assert "2026년 4월 10일 결제부터 19,900원" in page  # shown before confirming

    path = f"/account/subscriptions/{sub.id}/plan"
    response = shopper.post(path, form_page=path, plan_id=str(catalog.premium.id), agree="y")
    assert response.headers["Location"] == "/account"
    account = shopper.client.get("/account").get_data(as_text=True)
    assert "요금제 변경을 예약했습니다. 2026년 4월 10일부터 월간 프리미엄" in account
    [sub] = shopper.subscriptions()
    assert (sub.plan_id, sub.pending_plan_id, sub.amount_won) == (catalog.monthly.id, catalog.premium.id, 9900)
    consent = db_session.scalars(select(Consent).where(Consent.kind == "plan_change")).one()
    detail = json.loads(consent.detail)
    assert (consent.subscription_id, consent.decision, detail["old_amount_won"], detail["new_amount_won"]) == (
        sub.id,
        "agreed",
        9900,
        19900,
    )
    assert len(notices(db_session, "plan_changed")) == 1

    clock.set(sub.next_charge_at)
    renew()
    assert [p.total_amount for p in toss.approved] == [9900, 19900]
    [sub] = shopper.subscriptions()
    assert (sub.plan_id, sub.pending_plan_id, sub.amount_won) == (catalog.premium.id, None, 19900)


def test_a_change_of_interval_moves_the_billing_date_after_the_next_charge(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = subscribed(shopper, catalog.monthly)
    path = f"/account/subscriptions/{sub.id}/plan"
    page = shopper.client.get(path).get_data(as_text=True)
    assert "2026년 4월 10일 결제부터 99,000원, 그다음 결제일은 2027년 4월 10일" in page
    shopper.post(path, form_page=path, plan_id=str(catalog.yearly.id), agree="y")

    clock.set(shopper.subscriptions()[0].next_charge_at)
    renew()
    [sub] = shopper.subscriptions()
    assert [p.total_amount for p in toss.approved] == [9900, 99000]
    assert sub.next_charge_at.isoformat() == "2027-04-10T01:00:00+00:00"
    assert sub.plan.interval == "year"


def test_choosing_the_current_plan_again_drops_the_booked_change(shopper, catalog, db_session, clock, renew, toss):
    sub = subscribed(shopper, catalog.monthly)
    path = f"/account/subscriptions/{sub.id}/plan"
    shopper.post(path, form_page=path, plan_id=str(catalog.premium.id), agree="y")
    shopper.post(path, form_page=path, plan_id=str(catalog.monthly.id), agree="y")
    assert "요금제 변경 예약을 취소했습니다" in shopper.client.get("/account").get_data(as_text=True)
    clock.set(shopper.subscriptions()[0].next_charge_at)
    renew()
    assert [p.total_amount for p in toss.approved] == [9900, 9900]


def test_bad_plan_changes_are_refused_and_change_nothing(shopper, catalog, db_session):
    sub = subscribed(shopper, catalog.monthly)
    path = f"/account/subscriptions/{sub.id}/plan"
    cases = [
        ({"plan_id": str(catalog.premium.id)}, "변경 내용을 확인하고 동의해 주세요"),  # no confirmation
        ({"agree": "y"}, "바꿀 요금제를 선택해 주세요"),
        ({"plan_id": str(catalog.trial.id), "agree": "y"}, None),  # another product's plan: not a choice
        ({"plan_id": "abc", "agree": "y"}, None),
        ({"plan_id": str(catalog.monthly.id), "agree": "y"}, "지금 이용 중인 요금제입니다"),
    ]
    for data, message in cases:
        response = shopper.post(path, form_page=path, **data)
        assert response.status_code == 400, data
        if message:
            assert message in response.get_data(as_text=True), data
    assert shopper.subscriptions()[0].pending_plan_id is None
    assert db_session.scalar(select(func.count(Consent.id)).where(Consent.kind == "plan_change")) == 0


def test_a_plan_change_is_refused_while_the_subscription_is_set_to_cancel(shopper, catalog, db_session):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    path = f"/account/subscriptions/{sub.id}/plan"
    response = shopper.post(path, form_page=path, plan_id=str(catalog.premium.id), agree="y")
    assert response.status_code == 400 and "먼저 해지를 취소해 주세요" in response.get_data(as_text=True)
    assert shopper.subscriptions()[0].pending_plan_id is None


def test_every_state_change_needs_the_csrf_token(shopper, catalog, db_session):
    sub = subscribed(shopper, catalog.monthly)
    for path in (
        f"/account/subscriptions/{sub.id}/cancel",
        f"/account/subscriptions/{sub.id}/card",
        f"/account/subscriptions/{sub.id}/plan",
        f"/billing/retry/{sub.id}",
    ):
        assert shopper.client.post(path, data={"plan_id": catalog.premium.id, "agree": "y"}).status_code == 400, path
    assert shopper.subscriptions()[0].cancel_at_period_end is False
    assert db_session.scalar(select(func.count(BillingKey.id))) == 1


def test_the_account_pages_keep_the_footer(shopper, catalog):
    sub = subscribed(shopper, catalog.monthly)
    for path in (
        "/account",
        f"/account/subscriptions/{sub.id}/cancel",
        f"/account/subscriptions/{sub.id}/plan",
        f"/billing/result/{sub.id}",
    ):
        page = shopper.client.get(path).get_data(as_text=True)
        assert 'id="business-info"' in page, path
        assert csrf_token(shopper.client, path)
