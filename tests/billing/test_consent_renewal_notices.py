"""Renewal notices: one per renewal, RENEWAL_NOTICE_DAYS ahead (default 7), yearly plans also 30 days ahead."""

from __future__ import annotations

from datetime import date

import pytest

from storefront.billing.compliance import consent
from tests.billing.consent_support import CARD, kst, outbox, paid_subscriber, renewal_sweep, start_trial, sweep


@pytest.fixture
def notifier(app):
    return app.extensions["storefront"].notifier


def keys(session) -> list[str]:
    return [row.dedup_key for row in outbox(session, "renewal_notice")]


def at(shop, *moment: int) -> int:
    shop.clock.set(kst(*moment))
    return renewal_sweep(shop)


def test_a_monthly_renewal_is_announced_once_seven_days_ahead(shop):
    sub = paid_subscriber(shop)  # renews 2026-04-10 10:00 KST
    assert at(shop, 2026, 4, 3, 9, 59) == 0
    assert at(shop, 2026, 4, 3, 10) == 1
    assert at(shop, 2026, 4, 3, 10) == 0
    assert at(shop, 2026, 4, 9, 10) == 0
    [notice] = outbox(shop.session, "renewal_notice")
    assert notice.dedup_key == f"renewal:subscription:{sub.id}:2026041010:d7:email"
    for fact in ("2026년 4월 10일", "9,900원", CARD, "해지"):
        assert fact in notice.body_text

    shop.clock.set(kst(2026, 4, 10, 10))
    shop.charge_due()
    assert at(shop, 2026, 5, 2, 10) == 0
    assert at(shop, 2026, 5, 3, 10) == 1
    assert keys(shop.session)[1] == f"renewal:subscription:{sub.id}:2026051010:d7:email"


def test_a_yearly_renewal_is_announced_thirty_and_seven_days_ahead_once_each(shop):
    sub = paid_subscriber(shop, amount_won=99000, interval="year")  # renews 2027-03-10 10:00 KST
    assert at(shop, 2027, 2, 7, 10) == 0
    assert at(shop, 2027, 2, 8, 10) == 1
    assert at(shop, 2027, 2, 8, 10) + at(shop, 2027, 2, 20, 10) == 0
    assert at(shop, 2027, 3, 3, 10) == 1
    assert at(shop, 2027, 3, 3, 10) + at(shop, 2027, 3, 9, 10) == 0
    assert keys(shop.session) == [
        f"renewal:subscription:{sub.id}:2027031010:d30:email",
        f"renewal:subscription:{sub.id}:2027031010:d7:email",
    ]
    assert all(
        "99,000원" in row.body_text and "2027년 3월 10일" in row.body_text
        for row in outbox(shop.session, "renewal_notice")
    )


def test_a_missed_sweep_sends_only_the_nearest_notice(shop):
    paid_subscriber(shop, amount_won=99000, interval="year")
    assert at(shop, 2027, 3, 5, 10) == 1
    assert at(shop, 2027, 3, 6, 10) == 0
    assert keys(shop.session)[0].endswith(":d7:email")


@pytest.mark.settings(RENEWAL_NOTICE_DAYS="3")
def test_the_notice_day_is_configurable(shop):
    paid_subscriber(shop)
    assert at(shop, 2026, 4, 3, 10) == 0
    assert at(shop, 2026, 4, 7, 10) == 1


def test_no_notice_for_what_will_not_renew_or_has_its_own_messages(shop):
    ending = paid_subscriber(shop)
    ending.cancel_at_period_end = True
    start_trial(shop)  # converts 2026-03-24: the consent request and conversion notice speak for it
    shop.session.commit()
    assert at(shop, 2026, 3, 20, 10) == 0
    assert at(shop, 2026, 4, 3, 10) == 0
    assert outbox(shop.session, "renewal_notice") == []


def test_a_renewal_with_a_pending_rise_waits_for_the_answer_then_shows_the_new_price(shop):
    sub = paid_subscriber(shop)
    change = consent.schedule_price_change(
        shop.session,
        sub,
        new_amount_won=12900,
        effective_on=date(2026, 4, 9),
        reason="plan_price",
        now=shop.clock.now(),
        config=shop.config,
    )
    shop.session.commit()
    shop.clock.set(kst(2026, 4, 3, 10))
    sweep(shop)
    assert renewal_sweep(shop) == 0  # the consent messages say what will happen
    shop.clock.set(kst(2026, 4, 4, 10))
    consent.record_answer(
        shop.session,
        change.token,
        "agreed",
        user_id=sub.user_id,
        ip="203.0.113.7",
        now=shop.clock.now(),
        notifier=shop.notifier,
    )
    shop.session.commit()
    assert renewal_sweep(shop) == 1
    [notice] = outbox(shop.session, "renewal_notice")
    assert "12,900원" in notice.body_text and "9,900원" not in notice.body_text
