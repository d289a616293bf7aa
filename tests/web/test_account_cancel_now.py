"""바로 해지하고 환불받기 through the forms: the amount shown is the amount refunded, once.

Periods are charged by the real billing engine on the moved clock; refunds go to FakeToss,
whose ledger shows the money that came back (`toss.refunded`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, UTC

import pytest
from sqlalchemy import func, select

from storefront import jobs
from storefront.billing.recurring import charging, subscriptions
from storefront.billing.refunding import refunds
from storefront.models import EmailMessage, Refund, Subscription
from tests.conftest import csrf_token
from tests.fakes import TIMEOUT_AFTER_APPROVE, decline
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401

KST = timezone(timedelta(hours=9))


@pytest.fixture
def renew(app, db_session, toss, clock):
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


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST).astimezone(UTC)


def subscribed(shopper: Shopper, plan) -> Subscription:
    assert shopper.subscribe(plan).status_code == 302
    [sub] = [s for s in shopper.subscriptions() if s.plan_id == plan.id]
    return sub


def in_a_30_day_period(shopper, catalog, clock, renew) -> Subscription:
    """Monthly 9,900원 renewed on 2026-04-10 for 4/10–5/10: the refund policy's 30-day example."""
    sub = subscribed(shopper, catalog.monthly)
    clock.set(sub.next_charge_at)
    assert [r.outcome for r in renew()] == ["paid"]
    return shopper.subscriptions()[0]


def cancel_page(shopper, sub) -> str:
    return shopper.signed_in().client.get(f"/account/subscriptions/{sub.id}/cancel").get_data(as_text=True)


def cancel_now(shopper, sub, *, again: bool = False, **extra: str):
    """Submit 바로 해지 from the cancel page (or, `again`, a stale copy of it once it redirects away)."""
    path = "/account" if again else f"/account/subscriptions/{sub.id}/cancel"
    return shopper.post(f"/account/subscriptions/{sub.id}/cancel-now", form_page=path, **extra)


def refund_rows(session) -> list[Refund]:
    session.expire_all()
    return list(session.scalars(select(Refund).order_by(Refund.id)))


def canceled_emails(session) -> list[str]:
    session.expire_all()
    return [
        m.body_text
        for m in session.scalars(
            select(EmailMessage).where(EmailMessage.kind == "subscription_canceled", EmailMessage.channel == "email")
        )
    ]


def test_the_amount_shown_before_confirming_is_the_amount_refunded(shopper, catalog, db_session, toss, clock, renew):
    sub = in_a_30_day_period(shopper, catalog, clock, renew)
    paid = toss.approved[-1].payment_key
    clock.set(kst(2026, 4, 19, 15))  # the 10th day, counting 4/10 and 4/19
    page = cancel_page(shopper, sub)
    assert "이용 기간이 끝나면 해지" in page and "바로 해지하고 환불받기" in page  # both choices
    assert 'class="refund-amount">6,600원<' in page
    assert "9,900원 × 남은 20일 ÷ 이용 기간 30일" in page
    assert "청약철회로 전액" not in page  # day 10: past the 7-day window

    response = cancel_now(shopper, sub, refund_won="99000", amount_won="99000")  # the form's numbers are ignored
    assert response.headers["Location"] == "/account"
    account = shopper.client.get("/account").get_data(as_text=True)
    assert "남은 기간의 요금 6,600원을 카드 결제 취소로 환불했습니다" in account
    assert toss.refunded(paid) == [6600]
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.ended_reason, sub.next_charge_at) == ("canceled", "canceled_now_by_customer", None)
    assert sub.ended_at == clock.now()
    assert sub.billing_key.sealed is None and sub.billing_key.destroyed_at is not None
    [row] = refund_rows(db_session)
    assert (row.status, row.amount_won, row.idempotency_key) == ("done", 6600, f"prorata-{sub.charges[-1].id}")
    [email] = canceled_emails(db_session)
    assert "6,600원" in email and "환불" in email and "바로 종료되었으며" in email
    assert "지금처럼 이용하실 수 있고" not in email

    clock.advance(days=40)
    assert renew() == [] and len(toss.approved) == 2  # never charged again


def test_a_double_submit_refunds_once(shopper, catalog, db_session, toss, clock, renew):
    sub = in_a_30_day_period(shopper, catalog, clock, renew)
    clock.set(kst(2026, 4, 19, 15))
    token_page = f"/account/subscriptions/{sub.id}/cancel"
    token = csrf_token(shopper.signed_in().client, token_page)
    for _ in range(2):  # the same form, sent twice (a double click)
        response = shopper.client.post(f"/account/subscriptions/{sub.id}/cancel-now", data={"csrf_token": token})
        assert response.status_code == 302
    clock.advance(hours=1)
    cancel_now(shopper, sub, again=True)  # and once more later
    assert toss.refunded(toss.approved[-1].payment_key) == [6600]
    assert len(toss.cancel_calls) == 1 and len(refund_rows(db_session)) == 1
    assert len(canceled_emails(db_session)) == 1


def test_a_declined_refund_leaves_the_subscription_ended_and_says_the_refund_is_being_confirmed(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = in_a_30_day_period(shopper, catalog, clock, renew)
    clock.set(kst(2026, 4, 19, 15))
    toss.cancel_outcomes.append(decline("REJECT_CARD_COMPANY", message="카드사에서 거절했습니다."))
    cancel_now(shopper, sub)
    account = shopper.client.get("/account").get_data(as_text=True)
    assert (
        "구독을 바로 종료했습니다" in account and "환불 금액 6,600원은 카드사 처리 결과를 확인하는 중입니다" in account
    )
    [sub] = shopper.subscriptions()
    assert sub.status == "canceled"
    [row] = refund_rows(db_session)
    assert (row.status, row.amount_won, row.failure_code) == ("failed", 6600, "REJECT_CARD_COMPANY")
    assert toss.refunded(toss.approved[-1].payment_key) == []
    cancel_now(
        shopper, sub, again=True
    )  # asking again does not send a second request: the admin's 환불 page finishes it
    assert len(toss.cancel_calls) == 1 and len(refund_rows(db_session)) == 1


def test_an_unanswered_refund_is_settled_by_asking_toss_and_never_sent_twice(
    shopper, catalog, db_session, toss, clock, renew
):
    sub = in_a_30_day_period(shopper, catalog, clock, renew)
    clock.set(kst(2026, 4, 19, 15))
    toss.cancel_outcomes.append(TIMEOUT_AFTER_APPROVE)
    cancel_now(shopper, sub)
    assert "확인하는 중입니다" in shopper.client.get("/account").get_data(as_text=True)
    [row] = refund_rows(db_session)
    assert row.status == "unknown"
    cancel_now(shopper, sub, again=True)
    clock.advance(minutes=15)
    refunds.settle_unknown_refunds(db_session, toss=toss, clock=clock)
    [row] = refund_rows(db_session)
    assert row.status == "done" and row.transaction_key
    assert toss.refunded(toss.approved[-1].payment_key) == [6600] and len(toss.cancel_calls) == 1


class ProcessDied(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no `except Exception` catches it."""


def crash_before_the_refund_row(shopper, sub, monkeypatch) -> None:
    """바로 해지 whose process dies after the ended subscription was committed, before the Refund row."""

    def die(*args, **kwargs):
        raise ProcessDied()

    with monkeypatch.context() as patched:
        patched.setattr(subscriptions.refunds, "refund", die)
        with pytest.raises(ProcessDied):
            cancel_now(shopper, sub)


@pytest.fixture
def settle_refunds_job(app, monkeypatch, db_session):
    """The timer's refund job, in this process, on the test's app, clock and FakeToss."""
    monkeypatch.setattr(jobs.process, "_built", None)
    jobs.adopt_app(app)

    def run() -> int:
        looked = jobs.settle_refunds_job()
        db_session.expire_all()
        return looked

    return run


def test_a_crash_between_ending_and_refunding_is_finished_by_the_refund_job_once(
    shopper, catalog, db_session, toss, clock, renew, monkeypatch, settle_refunds_job
):
    sub = in_a_30_day_period(shopper, catalog, clock, renew)
    paid = toss.approved[-1].payment_key
    clock.set(kst(2026, 4, 19, 15))
    crash_before_the_refund_row(shopper, sub, monkeypatch)
    [ended] = shopper.subscriptions()
    assert (ended.status, ended.ended_reason) == ("canceled", subscriptions.CANCELED_NOW_REASON)
    assert refund_rows(db_session) == [] and toss.cancel_calls == []

    settle_refunds_job()  # right away: the request may still be running, so it is left alone
    assert toss.cancel_calls == []
    clock.advance(minutes=6)
    settle_refunds_job()
    [row] = refund_rows(db_session)
    assert (row.status, row.amount_won, row.idempotency_key) == ("done", 6600, f"prorata-{row.attempt.charge_id}")
    assert toss.refunded(paid) == [6600]  # the amount at the moment it ended, not at the moment it was finished

    clock.advance(hours=1)
    settle_refunds_job()
    cancel_now(shopper, sub, again=True)  # and a late double click sends nothing more
    assert toss.refunded(paid) == [6600] and len(toss.cancel_calls) == 1 and len(refund_rows(db_session)) == 1
    assert len(canceled_emails(db_session)) == 1


def test_the_yearly_example_of_the_terms(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.yearly)  # paid 2026-03-10 for a 365-day year
    clock.set(kst(2026, 6, 17, 20))  # day 100, counting 3/10 and 6/17
    page = cancel_page(shopper, sub)
    assert 'class="refund-amount">71,876원<' in page and "남은 265일 ÷ 이용 기간 365일" in page
    cancel_now(shopper, sub)
    assert toss.refunded(toss.approved[-1].payment_key) == [71876]
    assert "71,876원" in canceled_emails(db_session)[0]


def test_the_day_changes_at_midnight_in_seoul(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)  # 3/10–4/10: 31 days
    clock.set(kst(2026, 3, 19, 23, 59))  # day 10 (still 3/19 in UTC as well)
    assert f'class="refund-amount">{9900 * 21 // 31:,}원<' in cancel_page(shopper, sub)
    clock.set(kst(2026, 3, 20, 0, 0))  # day 11 in Seoul, though 3/19 in UTC
    assert f'class="refund-amount">{9900 * 20 // 31:,}원<' in cancel_page(shopper, sub)
    cancel_now(shopper, sub)
    assert toss.refunded(toss.approved[-1].payment_key) == [9900 * 20 // 31]


def test_on_the_last_day_of_the_period_nothing_is_refunded_and_toss_is_not_called(
    shopper, catalog, db_session, toss, clock
):
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 4, 9, 23, 0))  # 4/9 is the 31st day of 3/10–4/10
    page = cancel_page(shopper, sub)
    assert 'class="refund-amount">0원<' in page and "바로 해지하기" in page
    cancel_now(shopper, sub)
    assert "환불할 금액은 없습니다" in shopper.client.get("/account").get_data(as_text=True)
    assert toss.cancel_calls == [] and refund_rows(db_session) == []
    assert shopper.subscriptions()[0].status == "canceled"


def test_a_cancellation_at_period_end_can_still_be_turned_into_an_end_now(shopper, catalog, db_session, toss, clock):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    assert "청약철회 (전액 환불)" in shopper.client.get("/account").get_data(as_text=True)
    clock.set(kst(2026, 3, 10, 23))  # still the payment day: within the 7-day 청약철회 window
    page = cancel_page(shopper, sub)
    assert "청약철회하고 9,900원 환불받기" in page and "이용 기간이 끝나면 해지" not in page
    assert 'class="refund-formula"' not in page  # the full refund replaces the pro-rata one
    clock.set(kst(2026, 3, 18, 9))  # the window closed at 3/18 00:00: day 9 of 31
    page = cancel_page(shopper, sub)
    assert "바로 해지하고 환불받기" in page and "이용 기간이 끝나면 해지" not in page and "청약철회하고" not in page
    cancel_now(shopper, sub)
    assert toss.refunded(toss.approved[-1].payment_key) == [9900 * 22 // 31]
    [sub] = shopper.subscriptions()
    assert (sub.status, sub.cancel_at_period_end) == ("canceled", False)


def test_trials_and_unpaid_subscriptions_are_not_offered_a_refund(shopper, catalog, db_session, toss, clock, renew):
    trial = subscribed(shopper, catalog.trial)
    page = cancel_page(shopper, trial)
    assert "바로 해지하고 환불받기" not in page and "무료 체험이 끝나면 해지" in page
    response = cancel_now(shopper, trial)
    assert response.headers["Location"] == "/account"
    assert "결제된 이용 기간이 있는 구독만" in shopper.client.get("/account").get_data(as_text=True)
    assert shopper.subscriptions()[0].status == "trialing"

    monthly = subscribed(shopper, catalog.monthly)
    toss.will_for(shopper.user.customer_key, decline())
    clock.set(monthly.next_charge_at)
    assert [r.outcome for r in renew() if r.subscription_id == monthly.id] == ["declined"]
    assert "바로 해지하고 환불받기" not in cancel_page(shopper, monthly)
    cancel_now(shopper, monthly)
    assert shopper.subscriptions()[1].status == "past_due"
    assert toss.cancel_calls == []


def test_someone_else_cannot_end_a_subscription_and_csrf_is_required(client, db_session, catalog, toss):
    alice = Shopper(client, db_session, "alice@example.com").signup()
    sub = subscribed(alice, catalog.monthly)
    assert alice.client.post(f"/account/subscriptions/{sub.id}/cancel-now").status_code == 400
    alice.auth.logout()
    bob = Shopper(client, db_session, "bob@example.com").signup()
    bob.post(f"/account/subscriptions/{sub.id}/cancel-now")
    assert "구독을 찾을 수 없습니다" in bob.client.get("/account").get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Subscription, sub.id).status == "active"
    assert toss.cancel_calls == [] and db_session.scalar(select(func.count(Refund.id))) == 0


def test_account_judges_the_end_now_refund_from_the_current_period_it_read(
    shopper, catalog, db_session, toss, clock, app
):
    """내 구독's 바로 해지하고 환불받기 for a 해지 예정 subscription comes from the current period the page
    read anyway (`refund_offer_from`): the same offer as `refund_offer` in every state, and no statement
    of its own."""
    from storefront.billing.recurring import periods
    from storefront.models import Charge
    from tests.web.test_query_counts import SHOPPER_PAGES, statements_per_page

    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")

    def same_offer() -> subscriptions.RefundOffer | None:
        db_session.expire_all()
        fresh = db_session.get(Subscription, sub.id)
        now = clock.now()
        period = periods.current_periods(db_session, [fresh]).get(fresh.id)
        offer = subscriptions.refund_offer(db_session, fresh, now=now)
        assert subscriptions.refund_offer_from(fresh, period, now=now) == offer
        return offer

    assert same_offer() is not None  # inside the 청약철회 window the page offers that instead
    clock.set(kst(2026, 3, 18, 9))  # the window closed: day 9 of 31
    offer = same_offer()
    assert offer is not None and offer.refund_won == 9900 * 22 // 31
    assert statements_per_page(app, shopper.signed_in().client, {"/account": 0}) == {
        "/account": SHOPPER_PAGES["/account"]
    }
    assert "바로 해지하고 환불받기" in shopper.client.get("/account").get_data(as_text=True)

    attempt_id = offer.attempt_id
    for key, status, amount in (
        (subscriptions.prorata_refund_key(offer.charge_id), "failed", 7000),
        (subscriptions.prorata_refund_key(offer.charge_id), "sending", 7000),
        ("toss-cancel-partial", "done", 9000),
    ):
        db_session.query(Refund).filter(Refund.idempotency_key == key).delete()
        db_session.add(
            Refund(
                attempt_id=attempt_id,
                amount_won=amount,
                reason="test",
                idempotency_key=key,
                status=status,
                created_at=clock.now(),
            )
        )
        db_session.commit()
        same_offer()
    period_end = db_session.get(Subscription, sub.id).current_period_end
    db_session.add(
        Charge(
            subscription_id=sub.id,
            period_start=period_end,
            period_end=period_end + timedelta(days=30),
            status="pending",
            amount_won=9900,
            created_at=clock.now(),
        )
    )
    db_session.commit()
    assert same_offer() is None  # a next period's charge in progress
    clock.set(kst(2026, 5, 11))  # after the period
    assert same_offer() is None
