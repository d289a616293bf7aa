"""Charging periods: renewals on the anchor day, one payment per period, receipts, cancellation."""

import re
from datetime import date, datetime, timedelta, UTC
from itertools import pairwise

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storefront.billing.recurring import charging, periods
from storefront.billing.compliance import consent
from storefront.billing.wallet.vault import Actor
from storefront.clock import KST
from storefront.models import Attempt, AuditLog, Charge
from tests.fakes import BrokenNotifier, decline

UTC = UTC


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST).astimezone(UTC)


def kst_day(moment: datetime) -> date:
    return moment.astimezone(KST).date()


def test_first_charge_in_a_web_request_pays_and_starts_the_period(shop):
    shop.clock.set(kst(2026, 1, 31, 15, 37))
    sub = shop.subscribe()
    user_actor = Actor("user", sub.user_id, "203.0.113.7")

    result = shop.charge(sub.id, actor=user_actor, customer_ip="203.0.113.7")

    assert result.outcome == "paid" and result.paid
    sub = shop.sub(sub.id)
    assert sub.status == "active"
    assert (sub.current_period_start, sub.current_period_end) == (kst(2026, 1, 31, 15, 37), kst(2026, 2, 28, 10))
    assert sub.next_charge_at == kst(2026, 2, 28, 10)
    [payment] = shop.toss.approved
    assert payment.total_amount == 9900
    [call] = shop.toss.calls
    assert call.customer_ip == "203.0.113.7"
    assert call.idempotency_key == call.order_id == result.order_id
    assert call.billing_key == f"bk_{sub.user_id}_{sub.billing_key_id}_secretvalue"
    assert call.customer_key == sub.user.customer_key
    audit = shop.session.scalars(select(AuditLog)).one()
    assert (audit.actor_type, audit.actor_id, audit.ip, audit.subscription_id) == (
        "user",
        sub.user_id,
        "203.0.113.7",
        sub.id,
    )
    [receipt] = shop.notices("payment_receipt")
    assert receipt.context["first"] is True
    assert receipt.context["amount_won"] == 9900
    assert receipt.context["order_id"] == result.order_id
    assert receipt.context["next_charge_at"] == kst(2026, 2, 28, 10).isoformat()
    assert receipt.dedup_key == f"receipt:charge:{result.charge_id}"


def test_a_year_of_monthly_renewals_on_a_jan_31_anchor(shop):
    shop.clock.set(kst(2026, 1, 31, 10))
    sub = shop.subscribe()
    assert shop.charge(sub.id).outcome == "paid"
    for _ in range(11):
        due_at = shop.sub(sub.id).next_charge_at
        shop.clock.set(due_at - timedelta(seconds=1))
        assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []
        shop.clock.set(due_at)
        assert [r.outcome for r in shop.charge_due()] == ["paid"]
        assert shop.charge(sub.id).outcome == "skipped"  # the same moment again: nothing more

    charges = shop.charges(sub.id)
    assert [kst_day(c.period_start) for c in charges] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
        date(2026, 7, 31),
        date(2026, 8, 31),
        date(2026, 9, 30),
        date(2026, 10, 31),
        date(2026, 11, 30),
        date(2026, 12, 31),
    ]
    assert all(c.status == "paid" and c.amount_won == 9900 for c in charges)
    assert all(a.period_end == b.period_start for a, b in pairwise(charges))  # no gap, no overlap
    assert len(shop.toss.approved) == 12
    assert len({p.order_id for p in shop.toss.approved}) == 12
    audits = list(shop.session.scalars(select(AuditLog).order_by(AuditLog.id)))
    assert len(audits) == 12  # one audited opening of the key per charge, no more
    assert {(a.actor_type, a.billing_key_id, a.subscription_id) for a in audits[1:]} == {
        ("worker", sub.billing_key_id, sub.id)
    }
    assert all("renewal" in a.reason for a in audits[1:])
    assert len(shop.notices("payment_receipt")) == 12
    assert [n.context["first"] for n in shop.notices("payment_receipt")].count(True) == 1
    assert shop.sub(sub.id).next_charge_at == kst(2027, 1, 31, 10)


def test_yearly_plan_anchored_on_feb_29(shop):
    shop.clock.set(kst(2028, 2, 29, 10))
    sub = shop.subscribe(plan=shop.plan(interval="year", amount_won=99000, name="연간 플랜"))
    assert shop.charge(sub.id).outcome == "paid"
    for _ in range(4):
        shop.clock.set(shop.sub(sub.id).next_charge_at)
        assert [r.outcome for r in shop.charge_due()] == ["paid"]
    assert [kst_day(c.period_start) for c in shop.charges(sub.id)] == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]
    assert sum(p.total_amount for p in shop.toss.approved) == 5 * 99000


def test_charging_twice_in_a_row_charges_once(shop):
    sub = shop.subscribe()
    first, second = shop.charge(sub.id), shop.charge(sub.id)
    assert (first.outcome, second.outcome) == ("paid", "skipped")
    assert len(shop.toss.approved) == 1
    assert len(shop.charges(sub.id)) == 1


def test_due_scan_lists_only_what_is_due(shop):
    now = shop.clock.now()
    due = shop.subscribe(status="active")
    shop.subscribe(status="active", start=now + timedelta(minutes=1))
    shop.subscribe(status="canceled")
    shop.subscribe(status="incomplete")  # only the subscribe flow charges these
    past_due = shop.subscribe(status="past_due", start=now - timedelta(days=1))
    trialing = shop.subscribe(status="trialing", start=now - timedelta(hours=1))
    assert charging.due_subscription_ids(shop.session, now) == [past_due.id, trialing.id, due.id]
    assert charging.due_subscription_ids(shop.session, now, limit=1) == [past_due.id]


def test_due_scan_searches_the_due_index_instead_of_scanning(shop):
    from sqlalchemy import event

    seen = []
    engine = shop.session.get_bind()
    listener = lambda conn, cursor, statement, params, context, many: seen.append((statement, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        charging.due_subscription_ids(shop.session, shop.clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    [(statement, params)] = seen
    connection = shop.session.connection()
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        detail = " ".join(str(row[-1]) for row in plan)
        assert (
            "SEARCH subscriptions USING COVERING INDEX ix_subscriptions_due (status=? AND next_charge_at<?)" in detail
        )
    else:  # PostgreSQL reads a table this small whole; with that ruled out it must be able to use the index
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        detail = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, params))
        assert "ix_subscriptions_due" in detail and "Seq Scan" not in detail, detail
    shop.session.rollback()


def test_trial_converts_at_trial_end(shop):
    trial_end = shop.clock.now() + timedelta(days=14)
    sub = shop.subscribe(status="trialing", start=trial_end, trial_end_at=trial_end)
    assert shop.charge(sub.id).outcome == "skipped"
    # The first paid period needs the shopper's separate consent inside the trial (tests/billing/test_consent.py).
    shop.clock.advance(days=3)
    change = consent.open_trial_conversion(shop.session, sub, now=shop.clock.now())
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
    shop.clock.set(trial_end)
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    sub = shop.sub(sub.id)
    assert sub.status == "active" and sub.current_period_start == trial_end


def test_cancel_at_period_end_is_not_charged_and_ends_quietly_with_a_notice(shop):
    sub = shop.subscribe()
    shop.charge(sub.id)
    sub = shop.sub(sub.id)
    sub.cancel_at_period_end = True
    shop.session.commit()
    period_end = sub.current_period_end

    shop.clock.set(period_end + timedelta(minutes=3))
    [result] = shop.charge_due()

    assert result.outcome == "ended"
    sub = shop.sub(sub.id)
    assert (sub.status, sub.ended_at, sub.ended_reason, sub.next_charge_at) == (
        "canceled",
        period_end,
        "canceled_at_period_end",
        None,
    )
    assert len(shop.toss.calls) == 1 and len(shop.charges(sub.id)) == 1
    [ended] = shop.notices("subscription_ended")
    assert ended.context["ended_at"] == period_end.isoformat()
    shop.clock.advance(days=40)
    assert charging.due_subscription_ids(shop.session, shop.clock.now()) == []
    assert shop.charge(sub.id).outcome == "ended"


def test_charge_amount_is_fixed_at_creation_and_a_plan_change_waits_for_the_next_period(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will_for(sub.user.customer_key, decline())
    assert shop.charge(sub.id).outcome == "declined"
    # The merchant raises the price and the shopper books a bigger plan before the retry.
    sub = shop.sub(sub.id)
    sub.plan.amount_won = 12900
    sub.amount_won = 12900
    bigger = shop.plan(amount_won=19900, name="프리미엄")
    sub.pending_plan_id = bigger.id
    shop.session.commit()

    shop.clock.advance(days=1)
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    assert [p.total_amount for p in shop.toss.approved] == [9900]
    sub = shop.sub(sub.id)
    assert (sub.plan_id, sub.amount_won, sub.pending_plan_id) == (bigger.id, 19900, None)

    shop.clock.set(sub.next_charge_at)
    shop.charge_due()
    assert [p.total_amount for p in shop.toss.approved] == [9900, 19900]


def _committed_charge_for_next_period(shop, sub, status: str) -> Charge:
    """A ₩5,000 Charge for the period starting at `sub.next_charge_at`, made outside the charging code."""
    charge = Charge(
        subscription_id=sub.id,
        period_start=sub.next_charge_at,
        period_end=sub.next_charge_at,
        amount_won=5000,
        status=status,
        created_at=shop.clock.now(),
    )
    shop.session.add(charge)
    shop.session.commit()
    return charge


def test_an_existing_charge_for_the_period_is_reused_never_duplicated(shop):
    sub = shop.subscribe(status="active")
    existing = _committed_charge_for_next_period(shop, sub, "pending")
    assert shop.charge(sub.id).outcome == "paid"
    assert [c.id for c in shop.charges(sub.id)] == [existing.id]
    assert shop.toss.approved[0].total_amount == 5000


def test_creating_a_period_charge_that_exists_after_all_fails_instead_of_making_a_second(shop):
    """Under the lock no second Charge can appear, so the insert takes no SAVEPOINT; should one be
    there anyway, the unique key refuses it and the caller's transaction commits nothing."""
    sub = shop.subscribe(status="active")
    existing = _committed_charge_for_next_period(shop, sub, "paid")
    locked = periods.lock_subscription(shop.session, sub.id, related=True)
    with pytest.raises(IntegrityError):
        periods.create_charge(shop.session, locked, now=shop.clock.now())
    shop.session.rollback()
    assert [c.id for c in shop.charges(sub.id)] == [existing.id]
    # `open_charge`'s guarded insert hands back the row that is there instead.
    locked = periods.lock_subscription(shop.session, sub.id)
    assert periods.create_charge(shop.session, locked, now=shop.clock.now(), guarded=True) == (existing, False)
    shop.session.rollback()


def test_a_paid_period_is_never_charged_again_even_if_next_charge_at_goes_back(shop):
    sub = shop.subscribe()
    first = shop.charge(sub.id)
    sub = shop.sub(sub.id)
    sub.next_charge_at = sub.current_period_start  # an operator's slip
    shop.session.commit()
    assert shop.charge(sub.id).outcome == "already_paid"
    assert len(shop.toss.approved) == 1
    assert first.charge_id == shop.charges(sub.id)[0].id


def test_order_ids_follow_toss_rules_and_are_unique_per_attempt(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(decline())
    shop.charge(sub.id)
    shop.clock.advance(days=1)
    shop.charge(sub.id)
    order_ids = [a.order_id for a in shop.session.scalars(select(Attempt).order_by(Attempt.id))]
    assert len(order_ids) == 2 and len(set(order_ids)) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{6,64}", o) for o in order_ids)
    assert sub.user.customer_key not in "".join(order_ids)


def test_a_broken_notifier_never_undoes_a_payment(shop, caplog):
    shop.notifier = BrokenNotifier()
    sub = shop.subscribe()
    assert shop.charge(sub.id).outcome == "paid"
    assert shop.sub(sub.id).status == "active"
    assert shop.charges(sub.id)[0].status == "paid"
    assert "could not queue payment_receipt" in caplog.text


def test_no_secret_reaches_logs_results_or_notices(shop, caplog):
    sub = shop.subscribe()
    shop.toss.will(decline())
    result = shop.charge(sub.id)
    secret = f"bk_{sub.user_id}_{sub.billing_key_id}_secretvalue"
    everything = caplog.text + repr(result) + repr(shop.toss.calls) + str([n.context for n in shop.notices()])
    assert secret not in everything
    assert sub.user.customer_key not in str([n.context for n in shop.notices()])


def test_a_removed_card_is_a_hard_decline_without_calling_toss(shop):
    sub = shop.subscribe(status="active")
    sub.billing_key.deactivated_at = shop.clock.now()
    shop.session.commit()
    result = shop.charge(sub.id)
    assert (result.outcome, result.hard_decline, result.error_code) == ("declined", True, "NO_USABLE_CARD")
    assert shop.toss.calls == [] and shop.audits() == 0
    assert shop.sub(sub.id).status == "past_due"


@pytest.mark.parametrize("status", ["canceled", "unpaid"])
def test_ended_subscriptions_are_never_charged(shop, status):
    sub = shop.subscribe(status=status)
    assert shop.charge(sub.id).outcome == "ended"
    assert shop.toss.calls == []


def test_unknown_subscription_is_skipped(shop):
    assert shop.charge(424242).outcome == "skipped"
