"""billing.recurring.subscriptions and billing.wallet.cards below the web layer.

Releasing cards, trials, plan bookings.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from storefront.billing.wallet import cards
from storefront.billing.compliance import consent
from storefront.billing.recurring import charging, checkout, subscriptions
from storefront.billing.wallet.vault import Actor, Vault
from storefront.models import AuditLog, BillingKey, Category, Plan, Product, Subscription, User
from storefront.toss.errors import Category as ErrorCategory
from storefront.toss.errors import TossError
from tests.fakes import FakeToss, RecordingNotifier


@pytest.fixture
def fake(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def vault(app) -> Vault:
    return app.extensions["storefront"].vault


@pytest.fixture
def notifier(app):
    return app.extensions["storefront"].notifier


@pytest.fixture
def plans(db_session):
    category = Category(slug="c", name="구독")
    product = Product(category=category, slug="p", name="원두 정기배송", kind="subscription")
    monthly = Plan(product=product, name="월간", interval="month", amount_won=9900)
    yearly = Plan(product=product, name="연간", interval="year", amount_won=99000)
    trial = Plan(product=product, name="체험", interval="month", amount_won=9900, trial_days=14)
    db_session.add_all([category, product, monthly, yearly, trial])
    db_session.commit()
    return {"monthly": monthly, "yearly": yearly, "trial": trial}


def user(session, clock, n: int = 1) -> User:
    row = User(email=f"u{n}@example.com", password_hash="x", name="김구매", created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def card(session, vault, fake, owner: User, clock) -> tuple[BillingKey, str]:
    billing = fake.issue_billing_key(f"auth-{uuid.uuid4().hex}", owner.customer_key, idempotency_key=None)
    row = cards.store_card(session, user=owner, billing=billing, vault=vault, actor=Actor.worker(), now=clock.now())
    session.commit()
    return row, billing.billing_key


def sub(session, owner: User, plan: Plan, key: BillingKey, clock, status: str = "active") -> Subscription:
    now = clock.now()
    row = Subscription(
        user_id=owner.id,
        plan_id=plan.id,
        billing_key_id=key.id,
        status=status,
        amount_won=plan.amount_won,
        anchor_day=charging.cycle.anchor_day_for(now),
        current_period_start=now,
        current_period_end=now + timedelta(days=30),
        next_charge_at=now + timedelta(days=30),
        created_at=now,
    )
    session.add(row)
    session.commit()
    return row


# -- releasing cards -------------------------------------------------------------------------------


def test_a_card_a_live_subscription_uses_is_kept(db_session, vault, fake, clock, plans):
    owner = user(db_session, clock)
    key, _ = card(db_session, vault, fake, owner, clock)
    sub(db_session, owner, plans["monthly"], key, clock, status="active")
    ended = sub(db_session, owner, plans["yearly"], key, clock, status="canceled")

    assert cards.release_card_if_unused(db_session, ended.billing_key_id, toss=fake, vault=vault, clock=clock) is False
    assert key.sealed is not None and fake.deleted_keys == []


def test_an_unused_card_is_destroyed_here_deleted_at_toss_and_the_opening_audited(
    db_session, vault, fake, clock, plans
):
    owner = user(db_session, clock)
    key, plaintext = card(db_session, vault, fake, owner, clock)
    sub(db_session, owner, plans["monthly"], key, clock, status="unpaid")

    assert cards.release_card_if_unused(db_session, key.id, toss=fake, vault=vault, clock=clock) is True
    db_session.expire_all()
    row = db_session.get(BillingKey, key.id)
    assert row.sealed is None and row.destroyed_at == clock.now() and row.deactivated_at == clock.now()
    assert fake.deleted_keys == [plaintext]
    [opened] = db_session.scalars(select(AuditLog).where(AuditLog.action == "open_billing_key")).all()
    assert opened.billing_key_id == key.id and opened.reason.startswith("delete at Toss")
    # twice is harmless
    assert cards.release_card_if_unused(db_session, key.id, toss=fake, vault=vault, clock=clock) is False
    assert fake.deleted_keys == [plaintext]


def test_a_key_that_no_longer_opens_is_still_destroyed_locally(db_session, vault, fake, clock, plans):
    owner = user(db_session, clock)
    key, _ = card(db_session, vault, fake, owner, clock)
    other_vault = Vault(bytes.fromhex("22" * 32))  # ENCRYPTION_KEY rotated and the old one dropped
    assert cards.release_card_if_unused(db_session, key.id, toss=fake, vault=other_vault, clock=clock) is True
    assert db_session.get(BillingKey, key.id).sealed is None and fake.deleted_keys == []


def test_toss_trouble_while_deleting_changes_nothing_here(db_session, vault, clock, plans):
    class Unreachable(FakeToss):
        def delete_billing_key(self, billing_key: str) -> bool:
            raise ConnectionError("network down")

    fake = Unreachable(clock)
    owner = user(db_session, clock)
    key, _ = card(db_session, vault, fake, owner, clock)
    assert cards.release_card_if_unused(db_session, key.id, toss=fake, vault=vault, clock=clock) is True
    assert db_session.get(BillingKey, key.id).sealed is None


def test_the_sweep_releases_every_card_no_live_subscription_uses(db_session, vault, fake, clock, plans):
    owner = user(db_session, clock)
    live, _ = card(db_session, vault, fake, owner, clock)
    ended, _ = card(db_session, vault, fake, owner, clock)
    sub(db_session, owner, plans["monthly"], live, clock, status="past_due")
    sub(db_session, owner, plans["yearly"], ended, clock, status="canceled")

    assert cards.release_unused_cards(db_session, toss=fake, vault=vault, clock=clock) == 1
    db_session.expire_all()
    assert db_session.get(BillingKey, live.id).sealed is not None
    assert db_session.get(BillingKey, ended.id).sealed is None
    assert cards.release_unused_cards(db_session, toss=fake, vault=vault, clock=clock) == 0


# -- exchanging the authKey ------------------------------------------------------------------------


def test_a_config_error_is_not_retried_and_speaks_korean(fake):
    fake.issue_errors.append(TossError("UNAUTHORIZED_KEY", "인증되지 않은 키", 401, ErrorCategory.CONFIG))
    with pytest.raises(cards.CardRegistrationFailed) as raised:
        cards.exchange_auth_key(fake, auth_key="a", customer_key="cust-1", idempotency_key="k")
    assert "상점의 결제 설정 문제" in raised.value.message and len(fake.issue_calls) == 1


def test_a_billing_key_issued_for_another_customer_is_not_accepted(fake, clock):
    class Confused(FakeToss):
        def issue_billing_key(self, auth_key, customer_key, *, idempotency_key=None):
            return super().issue_billing_key(auth_key, "someone-else", idempotency_key=idempotency_key)

    with pytest.raises(cards.CardRegistrationFailed):
        cards.exchange_auth_key(Confused(clock), auth_key="a", customer_key="cust-1", idempotency_key="k")


def test_registration_failures_read_as_plain_korean():
    assert "취소하셨습니다" in cards.registration_failure_message("PAY_PROCESS_CANCELED")
    assert "지원하지 않는 카드" in cards.registration_failure_message("NOT_SUPPORTED_CARD_TYPE")
    assert "정지된 카드" in cards.registration_failure_message("INVALID_STOPPED_CARD")
    assert cards.registration_failure_message("SOMETHING_NEW").startswith("카드 등록을 완료하지 못했습니다")


# -- trials and plan bookings through the engine -------------------------------------------------


def test_cancelling_a_trial_ends_it_at_the_trial_end_without_a_charge(
    db_session, vault, fake, clock, plans, notifier, config
):
    owner = user(db_session, clock)
    key, _ = card(db_session, vault, fake, owner, clock)
    end = charging.cycle.trial_end(clock.now(), 14, config.billing_hour_kst)
    trial = Subscription(
        user_id=owner.id,
        plan_id=plans["trial"].id,
        billing_key_id=key.id,
        status="trialing",
        amount_won=9900,
        anchor_day=charging.cycle.anchor_day_for(end),
        next_charge_at=end,
        trial_end_at=end,
        current_period_start=clock.now(),
        current_period_end=end,
        created_at=clock.now(),
    )
    db_session.add(trial)
    db_session.commit()

    result = subscriptions.cancel_subscription(
        db_session,
        user=owner,
        subscription_id=trial.id,
        toss=fake,
        vault=vault,
        notifier=notifier,
        clock=clock,
        config=config,
        ip="1.2.3.4",
    )
    assert (result.ended_now, result.access_until) == (False, end)
    clock.set(end)
    outcome = charging.charge_period(
        db_session, trial.id, toss=fake, vault=vault, notifier=RecordingNotifier(), clock=clock, config=config
    )
    assert outcome.outcome == "ended" and fake.calls == []
    assert cards.release_card_if_unused(db_session, key.id, toss=fake, vault=vault, clock=clock) is True


def test_a_plan_booked_during_a_trial_is_what_the_trial_converts_to(
    db_session, vault, fake, clock, plans, notifier, config
):
    owner = user(db_session, clock)
    key, _ = card(db_session, vault, fake, owner, clock)
    end = charging.cycle.trial_end(clock.now(), 14, config.billing_hour_kst)
    trial = Subscription(
        user_id=owner.id,
        plan_id=plans["trial"].id,
        billing_key_id=key.id,
        status="trialing",
        amount_won=9900,
        anchor_day=charging.cycle.anchor_day_for(end),
        next_charge_at=end,
        trial_end_at=end,
        current_period_start=clock.now(),
        current_period_end=end,
        created_at=clock.now(),
    )
    db_session.add(trial)
    db_session.commit()

    change = subscriptions.change_plan(
        db_session,
        user=owner,
        subscription_id=trial.id,
        plan_id=plans["yearly"].id,
        ip="1.2.3.4",
        notifier=notifier,
        clock=clock,
        config=config,
        terms_version="v1",
    )
    assert change.option.effective_at == end
    assert change.option.following_at == charging.cycle.period_end(end, "year", trial.anchor_day, 10)
    # The conversion still needs its own consent, and it names the booked plan's price.
    clock.advance(days=3)
    conversion = consent.open_trial_conversion(db_session, trial, now=clock.now())
    assert (conversion.old_amount_won, conversion.new_amount_won) == (0, 99000)
    consent.record_answer(
        db_session, conversion.token, "agreed", user_id=owner.id, ip="1.2.3.4", now=clock.now(), notifier=notifier
    )
    db_session.commit()
    clock.set(end)
    charging.charge_period(
        db_session, trial.id, toss=fake, vault=vault, notifier=RecordingNotifier(), clock=clock, config=config
    )
    assert [p.total_amount for p in fake.approved] == [99000]
    db_session.expire_all()
    converted = db_session.get(Subscription, trial.id)
    assert converted.next_charge_at == change.option.following_at and converted.plan_id == plans["yearly"].id


def test_order_summary_dates_match_what_the_engine_charges(plans, clock, config):
    summary = checkout.order_summary(plans["monthly"], now=clock.now(), billing_hour_kst=config.billing_hour_kst)
    assert summary.charge_now and summary.first_charge_at == clock.now()
    assert summary.next_billing_at == charging.cycle.period_end(
        clock.now(), "month", charging.cycle.anchor_day_for(clock.now()), 10
    )
    trial = checkout.order_summary(plans["trial"], now=clock.now(), billing_hour_kst=config.billing_hour_kst)
    assert not trial.charge_now and trial.first_charge_at == trial.trial_end_at


def test_a_booked_plan_is_charged_at_the_price_the_shopper_agreed_to_even_after_a_price_rise(
    db_session, vault, fake, clock, plans, notifier, config
):
    owner = user(db_session, clock)
    key, _ = card(db_session, vault, fake, owner, clock)
    monthly = sub(db_session, owner, plans["monthly"], key, clock)
    subscriptions.change_plan(
        db_session,
        user=owner,
        subscription_id=monthly.id,
        plan_id=plans["yearly"].id,
        ip="1.2.3.4",
        notifier=notifier,
        clock=clock,
        config=config,
        terms_version="v1",
    )
    plans["yearly"].amount_won = 120000  # the merchant raises the yearly price after the booking
    db_session.commit()

    clock.set(monthly.next_charge_at)
    charging.charge_period(
        db_session, monthly.id, toss=fake, vault=vault, notifier=RecordingNotifier(), clock=clock, config=config
    )
    assert [p.total_amount for p in fake.approved] == [99000]
    db_session.expire_all()
    assert db_session.get(Subscription, monthly.id).amount_won == 99000
