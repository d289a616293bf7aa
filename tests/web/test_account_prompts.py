"""내 구독 also shows one-time purchases and any change waiting for the shopper's consent."""

from __future__ import annotations

from datetime import timedelta


from storefront.billing.compliance import consent
from storefront.models import Order, Plan
from tests.web.checkout_support import catalog, shopper, toss  # noqa: F401


def test_paid_one_time_order_is_listed_with_its_receipt(shopper, catalog, db_session, clock):
    product = catalog.monthly.product
    once = Plan(product=product, name="단품", interval="once", amount_won=29000)
    db_session.add(once)
    db_session.flush()
    db_session.add(
        Order(
            order_id="order_abc123",
            user_id=shopper.user.id,
            plan_id=once.id,
            order_name="단품",
            amount_won=29000,
            status="paid",
            receipt_url="https://receipt.example/abc",
            created_at=clock.now(),
            expires_at=clock.now() + timedelta(minutes=30),
        )
    )
    db_session.commit()
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "1회 구매" in page and "29,000원" in page and "결제 완료" in page
    assert "https://receipt.example/abc" in page


def test_a_change_waiting_for_consent_is_shown_with_a_link(shopper, catalog, db_session, clock, app):
    assert shopper.subscribe(catalog.trial).status_code == 302
    [sub] = shopper.subscriptions()
    assert sub.status == "trialing"
    clock.advance(days=2)
    found = app.extensions["storefront"]
    consent.send_due_requests(db_session, notifier=found.notifier, clock=clock, config=app.config["STOREFRONT"])
    [change] = consent.open_changes_for_user(db_session, shopper.user.id, now=clock.now())
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "동의가 필요한 변경" in page and "유료 전환" in page
    assert f"/consent/{change.token}" in page


def test_resume_is_refused_after_refusing_the_trial_conversion(shopper, catalog, db_session, clock, app):
    assert shopper.subscribe(catalog.trial).status_code == 302
    [sub] = shopper.subscriptions()
    clock.advance(days=2)
    found = app.extensions["storefront"]
    consent.send_due_requests(db_session, notifier=found.notifier, clock=clock, config=app.config["STOREFRONT"])
    [change] = consent.open_changes_for_user(db_session, shopper.user.id, now=clock.now())
    consent.record_answer(
        db_session,
        change.token,
        "refused",
        user_id=shopper.user.id,
        ip="203.0.113.9",
        now=clock.now(),
        notifier=found.notifier,
    )
    db_session.commit()

    response = shopper.post(f"/account/subscriptions/{sub.id}/resume")
    page = shopper.client.get("/account").get_data(as_text=True)
    assert "동의하지 않으셔서" in page
    db_session.expire_all()
    assert db_session.get(type(sub), sub.id).cancel_at_period_end is True
    assert response.status_code == 302
