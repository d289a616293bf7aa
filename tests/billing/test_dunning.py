"""Declines: retries on the dunning days, hard declines wait for a new card, the end after the last retry."""

import logging
from datetime import timedelta

import pytest

from storefront.billing.recurring import charging
from storefront.toss.errors import Category
from tests.fakes import decline, failure, hard_decline


def _renewing(shop):
    """A subscriber whose first period is paid, with the clock at their first renewal."""
    sub = shop.subscribe()
    assert shop.charge(sub.id).outcome == "paid"
    sub = shop.sub(sub.id)
    shop.clock.set(sub.next_charge_at)
    return sub


def test_soft_decline_is_retried_on_the_same_card_and_recovers(shop):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will_for(sub.user.customer_key, decline(), decline())

    first = shop.charge(sub.id)

    assert (first.outcome, first.hard_decline, first.retry_at) == ("declined", False, due_at + timedelta(days=1))
    assert first.error_message == "잔액 부족 또는 한도 초과로 결제가 승인되지 않았습니다."
    sub = shop.sub(sub.id)
    assert (sub.status, sub.next_charge_at) == ("past_due", due_at + timedelta(days=1))
    charge = shop.charges(sub.id)[-1]
    assert (charge.retry_count, charge.next_retry_at, charge.first_failed_at) == (1, due_at + timedelta(days=1), due_at)
    [failed] = shop.notices("payment_failed")
    assert failed.context["retry_at"] == (due_at + timedelta(days=1)).isoformat()
    assert failed.context["final"] is False and failed.context["hard_decline"] is False
    assert failed.context["failure_message"] == "잔액 부족 또는 한도 초과로 결제가 승인되지 않았습니다."
    assert failed.context["change_card_url"].endswith("/account")

    shop.clock.advance(hours=23)
    assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []
    shop.clock.advance(hours=1)
    assert [r.outcome for r in shop.charge_due()] == ["declined"]  # day 1: still short
    assert shop.sub(sub.id).next_charge_at == due_at + timedelta(days=3)
    shop.clock.set(due_at + timedelta(days=3))
    assert [r.outcome for r in shop.charge_due()] == ["paid"]  # day 3: through

    sub = shop.sub(sub.id)
    charges = shop.charges(sub.id)
    assert len(charges) == 2 and charges[-1].status == "paid" and charges[-1].retry_count == 2
    # Paying late does not move the anchor: the period is the one that was due.
    assert (sub.status, sub.current_period_start, sub.next_charge_at) == ("active", due_at, charges[-1].period_end)
    assert len(shop.toss.approved) == 2
    assert len({a.order_id for c in charges for a in c.attempts}) == 4
    assert len(shop.notices("payment_failed")) == 2


def test_hard_decline_stops_retries_until_the_card_changes_then_charges_once(shop):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    old_card_id = sub.billing_key_id
    shop.toss.will_for(sub.user.customer_key, hard_decline("INVALID_STOPPED_CARD"))

    result = shop.charge(sub.id)

    assert (result.outcome, result.hard_decline, result.retry_at) == ("declined", True, None)
    assert result.error_message == "정지된 카드입니다."
    [failed] = shop.notices("payment_failed")
    assert failed.context["hard_decline"] is True and failed.context["retry_at"] is None
    assert failed.context["deadline"] == (due_at + timedelta(days=5)).isoformat()
    for day in (1, 3, 4):
        shop.clock.set(due_at + timedelta(days=day))
        assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []
    assert len(shop.toss.calls) == 2  # the first period and the hard decline: no retry on the dead card

    new_card = shop.card(shop.sub(sub.id).user, billing_key="bk_new_card_value")
    sub = shop.sub(sub.id)
    sub.billing_key_id = new_card.id
    shop.session.commit()
    retried = shop.retry_after_card_change(sub.id)

    assert retried.outcome == "paid"
    assert shop.toss.calls[-1].billing_key == "bk_new_card_value"
    assert len(shop.toss.approved) == 2
    sub = shop.sub(sub.id)
    assert (sub.status, sub.current_period_start) == ("active", due_at)
    assert old_card_id != sub.billing_key_id
    assert shop.retry_after_card_change(sub.id).outcome == "skipped"  # nothing unpaid any more
    assert len(shop.toss.approved) == 2


def test_hard_decline_without_a_new_card_ends_on_the_last_dunning_day(shop):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will_for(sub.user.customer_key, hard_decline())
    shop.charge(sub.id)

    shop.clock.set(due_at + timedelta(days=5))
    [result] = shop.charge_due()

    assert result.outcome == "ended"
    sub = shop.sub(sub.id)
    assert (sub.status, sub.ended_reason, sub.ended_at) == ("unpaid", "payment_failed", due_at + timedelta(days=5))
    assert shop.charges(sub.id)[-1].status == "failed"
    assert len(shop.toss.calls) == 2
    [ended] = shop.notices("subscription_ended")
    assert "결제" in ended.context["ended_reason"]


@pytest.mark.parametrize("final_status", ["unpaid", "canceled"])
def test_after_the_last_retry_fails_the_subscription_ends_with_the_configured_status(shop, final_status):
    shop.config = shop.config.__class__(**{**shop.config.__dict__, "dunning_final_status": final_status})
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will_for(sub.user.customer_key, *[decline()] * 4)

    outcomes = [shop.charge(sub.id).outcome]
    for day in (1, 3, 5):
        shop.clock.set(due_at + timedelta(days=day))
        outcomes += [r.outcome for r in shop.charge_due()]

    assert outcomes == ["declined"] * 4
    sub = shop.sub(sub.id)
    assert (sub.status, sub.ended_at, sub.next_charge_at) == (final_status, due_at + timedelta(days=5), None)
    assert (sub.canceled_at is not None) == (final_status == "canceled")
    charge = shop.charges(sub.id)[-1]
    assert (charge.status, charge.retry_count) == ("failed", 4)
    notices = shop.notices("payment_failed")
    assert [n.context["final"] for n in notices] == [False, False, False, True]
    assert [n.context["retry_at"] for n in notices] == [(due_at + timedelta(days=d)).isoformat() for d in (1, 3, 5)] + [
        None
    ]
    shop.clock.advance(days=60)
    assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []
    assert len(shop.toss.approved) == 1


@pytest.mark.settings(DUNNING_RETRY_DAYS="2,7")
def test_the_dunning_days_come_from_the_settings(shop):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will_for(sub.user.customer_key, decline(), decline(), decline())
    shop.charge(sub.id)
    assert shop.sub(sub.id).next_charge_at == due_at + timedelta(days=2)
    shop.clock.set(due_at + timedelta(days=2))
    shop.charge_due()
    assert shop.sub(sub.id).next_charge_at == due_at + timedelta(days=7)
    shop.clock.set(due_at + timedelta(days=7))
    shop.charge_due()
    assert shop.sub(sub.id).status == "unpaid"


def test_a_late_retry_skips_to_the_next_dunning_day(shop):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will_for(sub.user.customer_key, decline(), decline())
    shop.charge(sub.id)
    shop.clock.set(due_at + timedelta(days=3, hours=2))  # the workers were down on day 1
    shop.charge_due()
    assert shop.sub(sub.id).next_charge_at == due_at + timedelta(days=5)


def test_transient_error_retries_in_minutes_and_is_not_a_decline(shop):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will(failure("PROVIDER_ERROR", Category.TRANSIENT, 400))

    result = shop.charge(sub.id)

    assert (result.outcome, result.retry_at) == ("retry", due_at + timedelta(minutes=5))
    sub = shop.sub(sub.id)
    assert (sub.status, sub.next_charge_at) == ("active", due_at + timedelta(minutes=5))
    charge = shop.charges(sub.id)[-1]
    assert (charge.retry_count, charge.first_failed_at) == (0, None)
    assert shop.notices("payment_failed") == []
    shop.clock.advance(minutes=5)
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    assert len(shop.charges(sub.id)) == 2  # the same period's charge, paid on the second attempt


def test_config_error_pauses_for_an_hour_logs_an_alert_and_spends_no_retry(shop, caplog):
    sub = _renewing(shop)
    due_at = sub.next_charge_at
    shop.toss.will(failure("UNAUTHORIZED_KEY", Category.CONFIG, 401))

    with caplog.at_level(logging.ERROR):
        result = shop.charge(sub.id)

    assert (result.outcome, result.retry_at) == ("retry", due_at + timedelta(hours=1))
    assert "ALERT" in caplog.text and "UNAUTHORIZED_KEY" in caplog.text
    assert shop.charges(sub.id)[-1].retry_count == 0
    assert shop.sub(sub.id).status == "active"
    assert shop.notices("payment_failed") == []
    shop.clock.advance(minutes=59)
    assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []
    shop.clock.advance(minutes=1)
    assert [r.outcome for r in shop.charge_due()] == ["paid"]


def test_declined_first_charge_does_not_start_dunning_and_can_be_retried_with_a_new_card(shop):
    sub = shop.subscribe()
    shop.toss.will(hard_decline())
    result = shop.charge(sub.id)
    assert (result.outcome, result.hard_decline) == ("declined", True)
    sub = shop.sub(sub.id)
    assert (sub.status, sub.next_charge_at) == ("incomplete", None)
    assert shop.notices("payment_failed")[0].context["first_charge"] is True
    shop.clock.advance(days=30)
    assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []

    new_card = shop.card(sub.user, billing_key="bk_second_card")
    sub.billing_key_id = new_card.id
    shop.session.commit()
    assert shop.retry_after_card_change(sub.id).outcome == "paid"
    sub = shop.sub(sub.id)
    # The subscription starts when it is first paid, not when the first card failed.
    assert (sub.status, sub.current_period_start) == ("active", shop.clock.now())
    assert sub.anchor_day == charging.cycle.anchor_day_for(shop.clock.now())
    assert [c.status for c in shop.charges(sub.id)] == ["failed", "paid"]
    assert len(shop.toss.approved) == 1
