"""청약철회 from 내 구독: within the product's window the latest paid period is refunded in full, exactly once.

Subscriptions are paid through the real checkout and billing engine on the moved clock; refunds go
to FakeToss, whose ledger shows the money that came back (`toss.refunded`) and every cancel call
(`toss.cancel_calls`). The default clock pays on 2026-03-10 (KST): the 7-day window runs through
3월 17일 and closes at 3월 18일 00:00 KST.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, UTC

import pytest
from sqlalchemy import select

from storefront.billing.recurring import charging
from storefront.billing.compliance import cooling_off
from storefront.models import EmailMessage, Refund, Subscription
from tests.conftest import csrf_token
from tests.fakes import TIMEOUT_AFTER_APPROVE, decline
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401

KST = timezone(timedelta(hours=9))


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST).astimezone(UTC)


def subscribed(shopper: Shopper, plan) -> Subscription:
    assert shopper.subscribe(plan).status_code == 302
    [sub] = [s for s in shopper.subscriptions() if s.plan_id == plan.id]
    return sub


def confirm_page(shopper: Shopper, sub: Subscription) -> str:
    response = shopper.signed_in().client.get(f"/account/subscriptions/{sub.id}/withdraw")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def withdraw(shopper: Shopper, sub: Subscription, **extra: str):
    return shopper.post(
        f"/account/subscriptions/{sub.id}/withdraw", form_page=f"/account/subscriptions/{sub.id}/withdraw", **extra
    )


def main(page: str) -> str:
    """The page without the site header (whose 로그아웃 is a form too)."""
    return page.split("<main", 1)[1]


def refund_rows(session) -> list[Refund]:
    session.expire_all()
    return list(session.scalars(select(Refund).order_by(Refund.id)))


def emails(session, kind: str) -> list[EmailMessage]:
    session.expire_all()
    return list(session.scalars(select(EmailMessage).where(EmailMessage.kind == kind, EmailMessage.channel == "email")))


def account(shopper: Shopper) -> str:
    return shopper.client.get("/account").get_data(as_text=True)


def test_within_seven_days_the_shopper_withdraws_and_gets_everything_back(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)
    paid = toss.approved[-1].payment_key
    clock.set(kst(2026, 3, 17, 23, 30))  # the last day of the window
    assert "청약철회 (전액 환불)" in account(shopper)
    page = confirm_page(shopper, sub)
    assert 'class="refund-amount">9,900원<' in page and "2026년 3월 17일까지" in page
    assert main(page).count('type="submit"') == 1  # one confirmation, one button

    response = withdraw(shopper, sub, refund_won="1", amount_won="1")  # the form's numbers are ignored
    assert response.headers["Location"] == "/account"
    page = account(shopper)
    assert "청약철회가 접수되었습니다" in page and "결제 금액 9,900원 전액을 카드 결제 취소로 환불했습니다" in page
    assert toss.refunded(paid) == [9900]
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.ended_reason, sub.next_charge_at) == ("canceled", "withdrawn_by_customer", None)
    assert sub.billing_key.sealed is None and sub.billing_key.destroyed_at is not None
    assert sub.charges[-1].status == "refunded"
    [row] = refund_rows(db_session)
    attempt_id = sub.charges[-1].attempts[-1].id
    assert (row.status, row.amount_won, row.idempotency_key) == ("done", 9900, f"cooling-off-{attempt_id}")
    [email] = emails(db_session, "subscription_canceled")
    assert (
        email.subject.endswith("청약철회 완료 안내") and "9,900원" in email.body_text and "전액 환불" in email.body_text
    )

    clock.advance(days=40)
    assert charging.due_subscription_ids(db_session, clock.now()) == []  # never charged again


def test_a_double_click_and_a_replay_refund_once(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 12, 9))
    path = f"/account/subscriptions/{sub.id}/withdraw"
    token = csrf_token(shopper.client, path)
    for _ in range(2):  # the same form sent twice
        assert shopper.client.post(path, data={"csrf_token": token}).status_code == 302
    clock.advance(hours=2)
    shopper.post(path, form_page="/account")  # and once more, later
    assert "이미 접수된 청약철회입니다" in account(shopper)
    assert toss.refunded(toss.approved[-1].payment_key) == [9900]
    assert len(toss.cancel_calls) == 1 and len(refund_rows(db_session)) == 1
    assert len(emails(db_session, "subscription_canceled")) == 1


def test_after_the_window_it_is_refused_and_nothing_moves(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 18, 0, 0))  # the window closed at midnight
    assert "청약철회 (전액 환불)" not in account(shopper)
    page = confirm_page(shopper, sub)
    assert "청약철회 기간(결제일 다음 날부터 7일, 2026년 3월 17일까지)이 지났습니다" in page
    assert "바로 해지하고 남은 기간의 요금을" in page and main(page).count('type="submit"') == 0
    cancel = shopper.client.get(f"/account/subscriptions/{sub.id}/cancel").get_data(as_text=True)
    assert "바로 해지하고 환불받기" in cancel and "청약철회하고" not in cancel  # the pro-rata cancel applies

    withdraw(shopper, sub)  # a stale form
    assert "이 지났습니다" in account(shopper)
    assert toss.cancel_calls == [] and refund_rows(db_session) == []
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.ended_at, sub.billing_key.sealed is not None) == ("active", None, True)


def test_a_product_that_limits_withdrawal_once_provision_began_is_refused_and_sent_to_support(
    shopper, catalog, db_session, toss, clock
):
    catalog.product.cooling_off_exclusion = "강의를 1편 이상 재생한 때"
    db_session.commit()
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 11, 9))
    page = confirm_page(shopper, sub)
    assert "디지털 콘텐츠로, 제공이 개시된 경우(강의를 1편 이상 재생한 때) 청약철회가 제한됩니다" in page
    assert "고객센터로 청약철회를 요청해 주세요" in page
    cancel = shopper.client.get(f"/account/subscriptions/{sub.id}/cancel").get_data(as_text=True)
    assert "바로 해지하고 환불받기" in cancel and "강의를 1편 이상 재생한 때" in cancel

    withdraw(shopper, sub)
    assert "청약철회가 제한됩니다" in account(shopper)
    assert toss.cancel_calls == [] and refund_rows(db_session) == []
    assert shopper.subscriptions()[0].status == "active"


def test_a_renewal_is_withdrawn_on_its_own_and_the_earlier_periods_stay_paid(
    shopper, catalog, db_session, toss, clock, app
):
    sub = subscribed(shopper, catalog.monthly)
    clock.set(sub.next_charge_at)  # 2026-04-10: the second period is charged
    found = app.extensions["storefront"]
    [result] = [
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
    assert result.outcome == "paid"
    first, renewal = (p.payment_key for p in toss.approved)
    clock.set(kst(2026, 4, 15, 12))
    assert "2026년 4월 17일까지" in confirm_page(shopper, sub)
    withdraw(shopper, sub)
    assert toss.refunded(renewal) == [9900] and toss.refunded(first) == []
    [sub] = shopper.subscriptions()
    assert [c.status for c in sub.charges] == ["paid", "refunded"]


def test_trials_have_nothing_to_withdraw(shopper, catalog, db_session, toss, clock):
    trial = subscribed(shopper, catalog.trial)
    page = confirm_page(shopper, trial)
    assert "청약철회할 결제가 없습니다" in page
    withdraw(shopper, trial)
    assert toss.cancel_calls == [] and shopper.subscriptions()[0].status == "trialing"


def test_a_declined_refund_leaves_the_subscription_ended_and_is_never_sent_twice(
    shopper, catalog, db_session, toss, clock
):
    sub = subscribed(shopper, catalog.monthly)
    toss.cancel_outcomes.append(decline("REJECT_CARD_COMPANY", message="카드사에서 거절했습니다."))
    withdraw(shopper, sub)
    assert "환불 금액 9,900원은 카드사 처리 결과를 확인하는 중입니다" in account(shopper)
    assert shopper.subscriptions()[0].status == "canceled"
    withdraw(shopper, sub)  # asking again: the admin's 환불 page finishes a declined refund
    [row] = refund_rows(db_session)
    assert (row.status, row.failure_code) == ("failed", "REJECT_CARD_COMPANY")
    assert len(toss.cancel_calls) == 1


def test_an_unanswered_refund_is_reported_as_being_checked(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)
    toss.cancel_outcomes.append(TIMEOUT_AFTER_APPROVE)
    withdraw(shopper, sub)
    assert "확인하는 중입니다" in account(shopper)
    [row] = refund_rows(db_session)
    assert row.status == "unknown" and toss.refunded(toss.approved[-1].payment_key) == [9900]


def crash_before_the_refund_row(shopper, sub, monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("the process died before the refund row was written")

    with monkeypatch.context() as patched:
        patched.setattr(cooling_off.refunds, "refund", crash)
        withdraw(shopper, sub)


def test_a_crash_after_ending_the_subscription_is_finished_by_asking_again(
    shopper, catalog, db_session, toss, clock, monkeypatch
):
    sub = subscribed(shopper, catalog.monthly)
    crash_before_the_refund_row(shopper, sub, monkeypatch)
    assert shopper.subscriptions()[0].status == "canceled" and refund_rows(db_session) == []
    withdraw(shopper, sub)  # the double click after the error page sends the refund, with the same key
    assert toss.refunded(toss.approved[-1].payment_key) == [9900] and len(toss.cancel_calls) == 1
    clock.advance(minutes=10)
    assert cooling_off.finish_withdrawals(db_session, toss=toss, clock=clock) == 0  # nothing left to finish


def test_a_crash_after_ending_the_subscription_is_finished_by_the_settle_job(
    shopper, catalog, db_session, toss, clock, monkeypatch
):
    sub = subscribed(shopper, catalog.monthly)
    crash_before_the_refund_row(shopper, sub, monkeypatch)
    assert cooling_off.finish_withdrawals(db_session, toss=toss, clock=clock) == 0  # the request may still run
    clock.advance(minutes=6)
    assert cooling_off.finish_withdrawals(db_session, toss=toss, clock=clock) == 1
    assert cooling_off.finish_withdrawals(db_session, toss=toss, clock=clock) == 0
    withdraw(shopper, sub)  # and a late double click sends nothing more
    [row] = refund_rows(db_session)
    assert (row.status, row.amount_won) == ("done", 9900)
    assert toss.refunded(toss.approved[-1].payment_key) == [9900] and len(toss.cancel_calls) == 1


def test_someone_elses_subscription_cannot_be_withdrawn(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)
    shopper.auth.logout()
    other = Shopper(shopper.client, db_session, email="other@example.com").signup()
    assert other.client.get(f"/account/subscriptions/{sub.id}/withdraw").status_code == 404
    other.post(f"/account/subscriptions/{sub.id}/withdraw")
    assert "구독을 찾을 수 없습니다" in other.client.get("/account").get_data(as_text=True)
    db_session.expire_all()
    assert toss.cancel_calls == [] and db_session.get(Subscription, sub.id).status == "active"


@pytest.mark.parametrize(
    "paid, days, last_open, first_closed",
    [
        (kst(2026, 3, 10, 10), 7, kst(2026, 3, 17, 23, 59), kst(2026, 3, 18, 0, 0)),
        (kst(2026, 3, 10, 0, 30), 7, kst(2026, 3, 17, 23, 59), kst(2026, 3, 18, 0, 0)),  # 3/9 in UTC, 3/10 in Seoul
        (kst(2026, 2, 25, 23), 14, kst(2026, 3, 11, 23, 59), kst(2026, 3, 12, 0, 0)),
    ],
)
def test_the_window_counts_days_after_the_payment_day_in_seoul(paid, days, last_open, first_closed):
    ends = cooling_off.deadline(paid, days)
    assert last_open < ends <= first_closed and ends == first_closed


def test_after_the_window_a_limiting_product_no_longer_points_to_support_for_a_withdrawal(
    shopper, catalog, db_session, clock
):
    catalog.product.cooling_off_exclusion = "강의를 1편 이상 재생한 때"
    db_session.commit()
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 20, 9))
    page = confirm_page(shopper, sub)
    assert "이 지났습니다" in page and "아직 이용을 시작하지 않으셨다면" not in page
