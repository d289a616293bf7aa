"""Consent before a trial's first paid charge or a price rise: asked, reminded, recorded, enforced.

The clock starts at 2026-03-10 10:00 KST and is moved by hand; FakeToss keeps the ledger of
money that moved; the app's real notifier renders every message into the outbox.
"""

from __future__ import annotations

from datetime import date, timedelta
from collections.abc import Iterator

import pytest

from storefront import create_app
from storefront.billing.recurring import charging
from storefront.billing.compliance import consent
from storefront.extensions import db
from storefront.models import Consent
from tests.billing.conftest import Shop
from tests.billing.consent_support import (
    CARD,
    PHONE,
    changes,
    consents,
    detail,
    kst,
    outbox,
    paid_subscriber,
    start_trial,
    sweep,
)
from tests.conftest import make_config

IP = "203.0.113.7"


@pytest.fixture
def notifier(app):
    return app.extensions["storefront"].notifier


def answer(shop, change, decision: str, *, ip: str = IP):
    result = consent.record_answer(
        shop.session,
        change.token,
        decision,
        user_id=change.subscription.user_id,
        ip=ip,
        now=shop.clock.now(),
        notifier=shop.notifier,
    )
    shop.session.commit()
    return result


def dedup_keys(session, kind: str, channel: str = "email") -> list[str]:
    return [row.dedup_key for row in outbox(session, kind, channel)]


# -- trials ----------------------------------------------------------------------------------------


def test_trial_converts_with_consent_and_is_charged_the_plan_price_once_at_trial_end(shop):
    sub = start_trial(shop)
    trial_end = kst(2026, 3, 24, 10)
    assert sub.next_charge_at == trial_end

    assert sweep(shop) == 0  # never at the moment of sign-up
    [change] = changes(shop.session, sub.id)
    assert (change.kind, change.old_amount_won, change.new_amount_won, change.effective_at, change.status) == (
        "trial_conversion",
        0,
        12900,
        trial_end,
        "pending",
    )

    shop.clock.advance(days=1)
    assert sweep(shop) == 1
    [request] = outbox(shop.session, "consent_request")
    for fact in (
        "2026년 3월 24일",
        "0원",
        "12,900원",
        CARD,
        f"{shop.config.site_url}/consent/{change.token}",
        "아무것도 결제되지 않으며",
    ):
        assert fact in request.body_text
    [sms] = outbox(shop.session, "consent_request", "sms")
    assert sms.to == PHONE and change.token in sms.body_text

    shop.clock.advance(hours=2)
    answer(shop, change, "agreed")
    [row] = consents(shop.session, sub.id)
    assert (row.kind, row.decision, row.ip, row.at, row.text_version) == (
        "trial_conversion",
        "agreed",
        IP,
        shop.clock.now(),
        consent.TEXT_VERSION,
    )
    assert {
        "price_change_id": change.id,
        "change_type": "trial_conversion",
        "old_amount_won": 0,
        "new_amount_won": 12900,
        "effective_at": trial_end.isoformat(),
        "card_label": CARD,
    }.items() <= detail(row).items()

    for day in (16, 17, 21, 23):  # the advance notice still goes out; no reminder after an answer
        shop.clock.set(kst(2026, 3, day, 10))
        sweep(shop)
    assert len(outbox(shop.session, "trial_conversion_notice")) == 1
    assert outbox(shop.session, "consent_reminder") == []

    shop.clock.set(trial_end)
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    assert shop.charge(sub.id).outcome == "skipped"
    assert [p.total_amount for p in shop.toss.approved] == [12900]
    [charge] = shop.charges(sub.id)
    assert (charge.amount_won, charge.period_start, charge.status) == (12900, trial_end, "paid")
    sub = shop.sub(sub.id)
    assert (sub.status, sub.amount_won) == ("active", 12900)
    assert changes(shop.session, sub.id)[0].status == "applied"


def test_trial_without_consent_ends_at_trial_end_uncharged_and_the_shopper_is_told(shop):
    sub = start_trial(shop)
    trial_end = kst(2026, 3, 24, 10)
    moments = [
        kst(2026, 3, 10, 10),
        kst(2026, 3, 11, 10),
        kst(2026, 3, 11, 10, 30),
        kst(2026, 3, 16, 10),
        kst(2026, 3, 17, 10),
        kst(2026, 3, 17, 11),
        kst(2026, 3, 21, 10),
        kst(2026, 3, 21, 23),
        kst(2026, 3, 23, 10),
    ]
    for moment in moments:
        shop.clock.set(moment)
        sweep(shop)
        sweep(shop)  # a second sweep at the same moment (or a racing one) sends nothing more

    [change] = changes(shop.session, sub.id)
    assert dedup_keys(shop.session, "consent_request") == [f"consent:{change.id}:request:email"]
    assert dedup_keys(shop.session, "consent_reminder") == [
        f"consent:{change.id}:reminder:7:email",
        f"consent:{change.id}:reminder:3:email",
    ]
    assert len(outbox(shop.session, "consent_reminder", "sms")) == 2
    assert len(outbox(shop.session, "trial_conversion_notice")) == 1

    shop.clock.set(trial_end + timedelta(minutes=2))
    assert [r.outcome for r in shop.charge_due()] == ["ended"]
    assert shop.toss.calls == [] and shop.charges(sub.id) == []
    sub = shop.sub(sub.id)
    assert (sub.status, sub.ended_at, sub.ended_reason, sub.next_charge_at) == (
        "canceled",
        trial_end,
        "trial_conversion_no_consent",
        None,
    )
    assert changes(shop.session, sub.id)[0].status == "lapsed"
    [ended] = outbox(shop.session, "subscription_ended")
    assert "유료 전환에 동의하지 않으셔서, 결제 없이" in ended.body_text and "2026년 3월 24일" in ended.body_text
    shop.clock.advance(days=40)
    assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []


def test_trial_conversion_notice_goes_by_sms_and_email_at_least_seven_days_ahead(shop):
    sub = start_trial(shop)
    trial_end = sub.next_charge_at
    shop.clock.set(kst(2026, 3, 15, 10))  # D-9: too early
    sweep(shop)
    assert outbox(shop.session, "trial_conversion_notice", "sms") == []
    shop.clock.set(kst(2026, 3, 16, 10))  # D-8
    sweep(shop)
    [sms] = outbox(shop.session, "trial_conversion_notice", "sms")
    [email] = outbox(shop.session, "trial_conversion_notice")
    assert sms.to == PHONE and sms.created_at <= trial_end - timedelta(days=7)
    assert "2026년 3월 24일" in sms.body_text and "12,900원" in sms.body_text
    assert "12,900원" in email.body_text


def test_a_short_trial_is_asked_one_day_after_sign_up_never_at_it(shop):
    sub = start_trial(shop, days=5)  # converts 2026-03-15 10:00 KST
    assert sweep(shop) == 1  # only the advance notice (it cannot be 7 days ahead; it goes at once)
    assert outbox(shop.session, "consent_request") == []
    [change] = changes(shop.session, sub.id)
    with pytest.raises(consent.NotYetOpen):
        answer(shop, change, "agreed")  # an answer at sign-up would be bundled with it: refused
    assert consents(shop.session, sub.id) == []

    shop.clock.advance(hours=23)
    assert sweep(shop) == 0
    shop.clock.advance(hours=1)
    assert sweep(shop) == 1
    assert len(outbox(shop.session, "consent_request")) == 1
    shop.clock.set(kst(2026, 3, 12, 10))  # D-3: the D-7 reminder was already behind the request
    sweep(shop)
    assert dedup_keys(shop.session, "consent_reminder") == [f"consent:{change.id}:reminder:3:email"]


def test_a_consent_bundled_at_sign_up_does_not_count(shop):
    sub = start_trial(shop)
    change = consent.open_trial_conversion(shop.session, sub, now=shop.clock.now())
    bundled = Consent(
        user_id=sub.user_id,
        subscription_id=sub.id,
        kind="trial_conversion",
        decision="agreed",
        text_version="checkout-1",
        detail="{}",
        ip=IP,
        at=shop.clock.now(),
    )
    shop.session.add(bundled)
    shop.session.flush()
    change.status, change.consent_id = "agreed", bundled.id  # even pointed at the change, it is outside the window
    shop.session.commit()

    shop.clock.set(sub.next_charge_at)
    assert [r.outcome for r in shop.charge_due()] == ["ended"]
    assert shop.toss.calls == []
    assert shop.sub(sub.id).ended_reason == "trial_conversion_no_consent"


def test_an_agreement_is_for_one_conversion_date_a_longer_trial_asks_again(shop):
    sub = start_trial(shop)
    sweep(shop)
    shop.clock.advance(days=1)
    [change] = changes(shop.session, sub.id)
    answer(shop, change, "agreed")
    sub = shop.sub(sub.id)
    sub.next_charge_at = sub.trial_end_at = kst(2026, 3, 31, 10)  # the merchant extends the trial a week
    shop.session.commit()
    sweep(shop)
    old, new = changes(shop.session, sub.id)
    assert (old.status, new.status, new.effective_at) == ("lapsed", "pending", kst(2026, 3, 31, 10))
    shop.clock.set(kst(2026, 3, 31, 10))
    assert [r.outcome for r in shop.charge_due()] == ["ended"]
    assert shop.toss.calls == []


def test_a_trial_with_no_conversion_change_at_all_is_not_charged(shop):
    sub = start_trial(shop)
    shop.clock.set(sub.next_charge_at)  # no sweep ever ran: nobody was asked
    assert [r.outcome for r in shop.charge_due()] == ["ended"]
    assert shop.toss.calls == []
    assert len(outbox(shop.session, "subscription_ended")) == 1


# -- price rises -----------------------------------------------------------------------------------


def raise_price(
    shop, sub, *, new_amount_won: int = 12900, effective_on: date = date(2026, 4, 20), reason: str = "plan_price"
):
    change = consent.schedule_price_change(
        shop.session,
        sub,
        new_amount_won=new_amount_won,
        effective_on=effective_on,
        reason=reason,
        now=shop.clock.now(),
        config=shop.config,
    )
    shop.session.commit()
    return change


def renew(shop, sub_id: int) -> None:
    shop.clock.set(shop.sub(sub_id).next_charge_at)
    shop.charge_due()


def test_a_price_rise_refused_by_silence_is_never_charged_and_ends_at_period_end(shop):
    sub = paid_subscriber(shop)  # 9,900원, renews on the 10th
    change = raise_price(shop, sub)
    assert change.effective_at == kst(2026, 5, 10, 10)  # the first renewal on or after 2026-04-20

    renew(shop, sub.id)  # 2026-04-10: before the change, the old price
    for moment in (kst(2026, 4, 25, 10), kst(2026, 4, 26, 10), kst(2026, 5, 3, 10), kst(2026, 5, 7, 10)):
        shop.clock.set(moment)
        sweep(shop)
    assert len(outbox(shop.session, "consent_request")) == 1
    assert len(outbox(shop.session, "consent_reminder")) == 2
    [request] = outbox(shop.session, "consent_request")
    for fact in ("2026년 5월 10일", "9,900원", "12,900원", CARD, change.token):
        assert fact in request.body_text

    shop.clock.set(kst(2026, 5, 10, 10))
    assert [r.outcome for r in shop.charge_due()] == ["ended"]
    assert [p.total_amount for p in shop.toss.approved] == [9900, 9900]
    assert [c.amount_won for c in shop.charges(sub.id)] == [9900, 9900]
    sub = shop.sub(sub.id)
    assert (sub.status, sub.amount_won, sub.ended_at, sub.ended_reason) == (
        "canceled",
        9900,
        kst(2026, 5, 10, 10),
        "price_increase_no_consent",
    )
    [ended] = outbox(shop.session, "subscription_ended")
    assert "변경된 요금에 동의하지 않으셔서 인상된 요금은 결제되지 않았으며" in ended.body_text


def test_a_price_rise_agreed_is_charged_from_the_effective_renewal(shop):
    sub = paid_subscriber(shop)
    change = raise_price(shop, sub)
    renew(shop, sub.id)
    shop.clock.set(kst(2026, 4, 26, 10))
    sweep(shop)
    assert consent.open_changes_for_user(shop.session, sub.user_id, now=shop.clock.now()) == [change]
    shop.clock.set(kst(2026, 4, 27, 21))
    answer(shop, change, "agreed")
    assert consent.open_changes_for_user(shop.session, sub.user_id, now=shop.clock.now()) == []
    shop.clock.set(kst(2026, 5, 3, 10))
    sweep(shop)
    assert outbox(shop.session, "consent_reminder") == []

    renew(shop, sub.id)  # 2026-05-10
    assert shop.charge(sub.id).outcome == "skipped"
    renew(shop, sub.id)  # 2026-06-10
    assert [p.total_amount for p in shop.toss.approved] == [9900, 9900, 12900, 12900]
    assert [(c.period_start, c.amount_won) for c in shop.charges(sub.id)][2:] == [
        (kst(2026, 5, 10, 10), 12900),
        (kst(2026, 6, 10, 10), 12900),
    ]
    assert shop.sub(sub.id).status == "active"
    assert changes(shop.session, sub.id)[0].status == "applied"
    [row] = consents(shop.session, sub.id)
    assert (row.kind, row.decision, detail(row)["old_amount_won"], detail(row)["new_amount_won"]) == (
        "price_increase",
        "agreed",
        9900,
        12900,
    )


def test_refusing_ends_the_subscription_at_the_end_of_the_paid_period_and_confirms_it(shop):
    sub = paid_subscriber(shop)
    change = raise_price(shop, sub)
    renew(shop, sub.id)
    shop.clock.set(kst(2026, 4, 27, 9))
    answer(shop, change, "refused", ip="198.51.100.4")

    sub = shop.sub(sub.id)
    assert sub.cancel_at_period_end and sub.status == "active"
    [row] = consents(shop.session, sub.id)
    assert (row.kind, row.decision, row.ip) == ("price_increase", "refused", "198.51.100.4")
    [canceled] = outbox(shop.session, "subscription_canceled")
    assert "2026년 5월 10일까지" in canceled.body_text
    with pytest.raises(consent.AlreadyRefused):
        answer(shop, change, "agreed")
    shop.clock.set(kst(2026, 5, 7, 10))
    assert sweep(shop) == 0  # no reminder to someone who said no

    renew(shop, sub.id)
    assert [p.total_amount for p in shop.toss.approved] == [9900, 9900]
    sub = shop.sub(sub.id)
    assert (sub.status, sub.ended_at) == ("canceled", kst(2026, 5, 10, 10))


def test_an_answer_before_the_window_opens_does_not_count_and_records_nothing(shop):
    sub = paid_subscriber(shop)
    change = raise_price(shop, sub)  # effective 2026-05-10: the window opens 2026-04-10 10:00 KST
    shop.clock.set(kst(2026, 4, 10, 9, 59))
    with pytest.raises(consent.NotYetOpen):
        answer(shop, change, "agreed")
    assert consents(shop.session, sub.id) == [] and changes(shop.session, sub.id)[0].status == "pending"
    shop.clock.set(kst(2026, 4, 10, 10))
    answer(shop, change, "agreed")
    assert changes(shop.session, sub.id)[0].status == "agreed"


def test_an_agreement_older_than_thirty_days_before_the_change_is_not_consent(shop):
    sub = paid_subscriber(shop)
    change = raise_price(shop, sub)
    stale = Consent(
        user_id=sub.user_id,
        subscription_id=sub.id,
        kind="price_increase",
        decision="agreed",
        text_version=consent.TEXT_VERSION,
        detail="{}",
        ip=IP,
        at=kst(2026, 4, 10, 9),
    )
    shop.session.add(stale)
    shop.session.flush()
    change.status, change.consent_id = "agreed", stale.id
    shop.session.commit()

    renew(shop, sub.id)
    renew(shop, sub.id)
    assert [p.total_amount for p in shop.toss.approved] == [9900, 9900]
    assert shop.sub(sub.id).ended_reason == "price_increase_no_consent"


def test_an_agreement_does_not_stretch_to_a_renewal_moved_more_than_thirty_days_past_it(shop):
    sub = paid_subscriber(shop)
    change = raise_price(shop, sub)  # effective 2026-05-10
    renew(shop, sub.id)
    shop.clock.set(kst(2026, 4, 11, 10))
    answer(shop, change, "agreed")
    sub = shop.sub(sub.id)
    sub.next_charge_at = kst(2026, 5, 20, 10)  # the renewal moved (say, a pause): 39 days after the answer
    shop.session.commit()
    renew(shop, sub.id)
    assert [p.total_amount for p in shop.toss.approved] == [9900, 9900]
    assert shop.sub(sub.id).ended_reason == "price_increase_no_consent"


def test_answers_after_the_date_are_refused(shop):
    sub = paid_subscriber(shop)
    change = raise_price(shop, sub)
    shop.clock.set(change.effective_at)
    with pytest.raises(consent.Closed):
        answer(shop, change, "agreed")
    with pytest.raises(consent.UnknownChange):
        consent.record_answer(
            shop.session,
            change.token,
            "agreed",
            user_id=sub.user_id + 999,
            ip=IP,
            now=kst(2026, 4, 20, 10),
            notifier=shop.notifier,
        )


def test_the_end_of_a_discount_is_a_price_rise_like_any_other(shop):
    plan = shop.plan(amount_won=9900)
    sub = paid_subscriber(shop, plan=plan)
    sub.amount_won = 7900  # an introductory discount the shopper has been paying
    shop.session.commit()
    change = raise_price(shop, sub, new_amount_won=9900, effective_on=date(2026, 5, 1), reason="discount_end")
    assert (change.reason, change.old_amount_won, change.new_amount_won, change.effective_at) == (
        "discount_end",
        7900,
        9900,
        kst(2026, 5, 10, 10),
    )
    renew(shop, sub.id)
    shop.clock.set(kst(2026, 4, 26, 10))
    assert sweep(shop) == 1
    answer(shop, change, "agreed")
    renew(shop, sub.id)
    assert [p.total_amount for p in shop.toss.approved] == [9900, 7900, 9900]


def test_scheduling_rules(shop):
    sub = paid_subscriber(shop)
    with pytest.raises(consent.TooSoon) as too_soon:
        raise_price(shop, sub, effective_on=date(2026, 4, 8))
    assert too_soon.value.earliest == date(2026, 4, 9)
    with pytest.raises(consent.NotAnIncrease):
        raise_price(shop, sub, new_amount_won=9900)
    raise_price(shop, sub, effective_on=date(2026, 4, 9))
    with pytest.raises(consent.ConsentError):
        raise_price(shop, sub, new_amount_won=15900)  # one change at a time


def test_applying_a_plan_price_asks_risers_lowers_the_others_and_skips_trials(shop):
    plan = shop.plan(amount_won=9900)
    cheaper = paid_subscriber(shop, plan=plan)
    dearer = paid_subscriber(shop, plan=plan)
    dearer.amount_won = 15900
    trial = start_trial(shop, amount_won=9900)
    trial.plan_id = plan.id
    plan.amount_won = 12900
    shop.session.commit()

    with pytest.raises(consent.TooSoon):
        consent.apply_plan_price(
            shop.session, plan, effective_on=date(2026, 4, 1), now=shop.clock.now(), config=shop.config
        )
    rollout = consent.apply_plan_price(
        shop.session, plan, effective_on=date(2026, 4, 10), now=shop.clock.now(), config=shop.config, created_by_id=None
    )
    shop.session.commit()
    assert (rollout.requested, rollout.lowered, rollout.skipped) == (1, 1, 1)
    [change] = changes(shop.session, cheaper.id)
    assert (change.old_amount_won, change.new_amount_won, change.effective_at, change.plan_id) == (
        9900,
        12900,
        kst(2026, 4, 10, 10),
        plan.id,
    )
    assert shop.sub(dearer.id).amount_won == 12900 and changes(shop.session, dearer.id) == []
    assert changes(shop.session, trial.id) == []


# -- PostgreSQL (the migrated schema, row locks) ---------------------------------------------------


@pytest.fixture
def pg_shop(tmp_path, postgres_url, clock, toss) -> Iterator[Shop]:
    from flask_migrate import upgrade

    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url), clock=clock, toss=toss)
    with app.app_context():
        upgrade()
        found = app.extensions["storefront"]
        yield Shop(db.session, toss, found.vault, found.notifier, clock, app.config["STOREFRONT"])
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgres
def test_on_postgres_a_consented_trial_converts_and_a_silent_price_rise_ends(pg_shop):
    shop = pg_shop
    trial = start_trial(shop)
    rise = paid_subscriber(shop)
    change = raise_price(shop, rise)
    shop.clock.set(kst(2026, 3, 11, 10))
    assert sweep(shop) == 1 and sweep(shop) == 0
    [trial_change] = changes(shop.session, trial.id)
    answer(shop, trial_change, "agreed")

    shop.clock.set(kst(2026, 3, 24, 10))
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    for moment in (kst(2026, 4, 10, 10), kst(2026, 4, 26, 10), kst(2026, 5, 3, 10)):
        shop.clock.set(moment)
        sweep(shop)
        shop.charge_due()
    shop.clock.set(change.effective_at)
    outcomes = {r.subscription_id: r.outcome for r in shop.charge_due()}
    assert outcomes[rise.id] == "ended"
    assert sorted(p.total_amount for p in shop.toss.approved) == [9900, 9900, 12900, 12900]
    assert shop.sub(rise.id).ended_reason == "price_increase_no_consent"
