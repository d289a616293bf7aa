"""Unknown outcomes and crashes: never a failure, never a second payment; Toss's ledger settles them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from storefront.billing.recurring import charging
from storefront.models import Attempt
from storefront.toss.errors import Category, TossError
from tests.fakes import (
    CRASH_AFTER_APPROVE,
    CRASH_BEFORE_SEND,
    SERVER_ERROR,
    TIMEOUT_AFTER_APPROVE,
    TIMEOUT_BEFORE_APPROVE,
    SimulatedCrash,
    timeout_after_decline,
)


def _attempts(shop):
    shop.session.expire_all()
    return list(shop.session.scalars(select(Attempt).order_by(Attempt.id)))


def test_timeout_after_approval_is_unknown_not_a_failure_and_reconcile_pays_it_once(shop):
    sub = shop.subscribe(status="active")
    due_at = sub.next_charge_at
    shop.toss.will(TIMEOUT_AFTER_APPROVE)

    result = shop.charge(sub.id)

    assert (result.outcome, result.error_code) == ("unknown", "TIMEOUT")
    [attempt] = _attempts(shop)
    assert attempt.status == "unknown"
    sub = shop.sub(sub.id)
    assert (sub.status, sub.next_charge_at) == ("active", due_at)  # nothing else changed
    assert shop.charges(sub.id)[0].retry_count == 0
    assert shop.notices() == []
    # Later runs neither charge again nor count it as a decline.
    assert shop.charge(sub.id).outcome == "unknown"
    assert shop.reconcile() == []  # too fresh: the request might still be on the wire
    assert len(shop.toss.calls) == 1

    shop.clock.advance(minutes=10)
    [settled] = shop.reconcile()

    assert (settled.outcome, settled.attempt_id) == ("paid", attempt.id)
    assert len(shop.toss.approved) == 1
    [attempt] = _attempts(shop)
    assert attempt.status == "done" and attempt.payment_key == shop.toss.approved[0].payment_key
    sub = shop.sub(sub.id)
    assert (sub.status, sub.current_period_start) == ("active", due_at)
    assert len(shop.notices("payment_receipt")) == 1
    assert shop.reconcile() == [] and shop.charge(sub.id).outcome == "skipped"
    assert len(shop.toss.approved) == 1


def test_worker_killed_after_the_attempt_commit_then_reconcile_pays_once(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(CRASH_AFTER_APPROVE)

    with pytest.raises(SimulatedCrash):
        shop.charge(sub.id)
    shop.session.rollback()  # what is left of the dead worker's session

    [attempt] = _attempts(shop)
    assert attempt.status == "sending"
    assert shop.audits() == 1  # the opening of the key was committed with the attempt
    assert len(shop.toss.approved) == 1
    assert shop.charge(sub.id).outcome == "in_flight"  # the next run does not start another
    shop.clock.advance(minutes=11)
    assert shop.charge(sub.id).outcome == "in_flight"

    [settled] = shop.reconcile()

    assert settled.outcome == "paid"
    assert shop.sub(sub.id).status == "active"
    assert shop.charges(sub.id)[0].status == "paid"
    assert len(shop.toss.approved) == 1 and len(shop.toss.calls) == 1


def test_worker_killed_before_the_request_left_then_a_new_attempt_charges_once(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(CRASH_BEFORE_SEND)
    with pytest.raises(SimulatedCrash):
        shop.charge(sub.id)
    shop.session.rollback()
    shop.clock.advance(minutes=10)

    [settled] = shop.reconcile()

    assert (settled.outcome, settled.error_code) == ("retry", "NO_PAYMENT")
    (first,) = _attempts(shop)
    assert (first.status, first.failure_code) == ("failed", "NO_PAYMENT")
    assert shop.sub(sub.id).status == "active"  # not a decline
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    attempts = _attempts(shop)
    assert len(attempts) == 2 and attempts[0].order_id != attempts[1].order_id
    assert [p.order_id for p in shop.toss.approved] == [attempts[1].order_id]
    assert len(shop.charges(sub.id)) == 1


def test_timeout_before_approval_is_settled_by_not_found_and_charged_once(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(TIMEOUT_BEFORE_APPROVE)
    assert shop.charge(sub.id).outcome == "unknown"
    shop.clock.advance(minutes=10)
    assert [r.outcome for r in shop.reconcile()] == ["retry"]
    assert [r.outcome for r in shop.charge_due()] == ["paid"]
    assert len(shop.toss.approved) == 1


def test_a_5xx_is_unknown_and_never_counted_as_a_decline(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(SERVER_ERROR)
    result = shop.charge(sub.id)
    assert (result.outcome, result.error_code) == ("unknown", "FAILED_INTERNAL_SYSTEM_PROCESSING")
    assert shop.sub(sub.id).status == "active" and shop.charges(sub.id)[0].retry_count == 0


def test_a_decline_whose_answer_was_lost_is_settled_as_a_decline(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(timeout_after_decline())
    assert shop.charge(sub.id).outcome == "unknown"
    assert shop.sub(sub.id).status == "active"
    shop.clock.advance(minutes=10)

    [settled] = shop.reconcile()

    assert settled.outcome == "declined"
    sub = shop.sub(sub.id)
    assert (sub.status, sub.next_charge_at) == ("past_due", shop.clock.now() + timedelta(days=1))
    assert shop.charges(sub.id)[0].first_failed_at == shop.clock.now()
    [failed] = shop.notices("payment_failed")
    assert failed.context["failure_message"] == "잔액 부족 또는 한도 초과로 결제가 승인되지 않았습니다."
    assert shop.toss.approved == []


def test_a_failed_lookup_leaves_the_attempt_for_the_next_run(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(TIMEOUT_AFTER_APPROVE)
    shop.charge(sub.id)
    shop.clock.advance(minutes=10)
    shop.toss.lookup_errors.append(TossError("TIMEOUT", "read timed out", None, Category.UNKNOWN_OUTCOME))

    assert [(r.outcome, r.error_code) for r in shop.reconcile()] == [("left", "TIMEOUT")]
    assert _attempts(shop)[0].status == "unknown"
    assert [r.outcome for r in shop.reconcile()] == ["paid"]


def test_duplicated_order_id_is_an_unknown_outcome_settled_by_lookup(shop):
    sub = shop.subscribe(status="active")
    shop.toss.will(TIMEOUT_AFTER_APPROVE)
    shop.charge(sub.id)
    attempt = _attempts(shop)[0]
    # Someone resends the same order id under another Idempotency-Key: Toss refuses it.
    with pytest.raises(TossError) as refused:
        shop.toss.charge_billing_key(
            "bk",
            customer_key=sub.user.customer_key,
            amount=9900,
            order_id=attempt.order_id,
            order_name="x",
            idempotency_key="other",
        )
    assert refused.value.category is Category.UNKNOWN_OUTCOME
    shop.clock.advance(minutes=10)
    assert [r.outcome for r in shop.reconcile()] == ["paid"]
    assert len(shop.toss.approved) == 1


def test_the_same_idempotency_key_never_pays_twice_at_the_fake(shop):
    sub = shop.subscribe(status="active")
    shop.charge(sub.id)
    call = shop.toss.calls[0]
    again = shop.toss.charge_billing_key(
        call.billing_key,
        customer_key=call.customer_key,
        amount=call.amount,
        order_id=call.order_id,
        order_name=call.order_name,
        idempotency_key=call.idempotency_key,
    )
    assert again.payment_key == shop.toss.approved[0].payment_key
    assert len(shop.toss.approved) == 1


def test_reconcile_settling_after_the_worker_did_changes_nothing(shop):
    sub = shop.subscribe(status="active")
    shop.charge(sub.id)
    attempt = _attempts(shop)[0]
    again = charging._settle(
        shop.session,
        attempt.id,
        shop.toss.approved[0],
        notifier=shop.notifier,
        config=shop.config,
        now=shop.clock.now() + timedelta(minutes=1),
    )
    assert again.outcome == "already_paid"
    assert len(shop.notices("payment_receipt")) == 1
