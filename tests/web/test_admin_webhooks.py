"""Admin pages over the webhook log: what they show (never a billing key) and reprocessing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storefront.extensions import services
from storefront.models import Refund
from storefront.toss.errors import Category, TossError
from tests.conftest import csrf_token
from tests.web.admin_support import FakeToss, fixture_bytes, fixture_json, login_admin, make_paid
from tests.web.test_webhooks import ORDER_ID, PAYMENT_KEY, _events, _post


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


def test_admin_webhook_page_lists_events_without_secrets(client, auth, db_session, clock, toss):
    paid = make_paid(db_session, clock.now(), toss=toss)
    billing_key = fixture_json("webhook.billing-deleted.json")["data"]["billingKey"]
    services().vault.seal(paid.card, billing_key)
    db_session.commit()
    _post(client, fixture_bytes("webhook.billing-deleted.json"), transmission_id="whtrans_page")
    _post(client, b"garbage", transmission_id="whtrans_garbage")
    login_admin(auth, db_session, clock.now())
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "whtrans_page" in page and "BILLING_DELETED" in page and "whtrans_garbage" in page
    assert billing_key not in page
    assert "http://localhost/webhooks/toss" in page  # the URL to register at Toss


def test_admin_can_reprocess_an_error_event(client, auth, db_session, clock, toss):
    make_paid(db_session, clock.now(), toss=toss, amount_won=4900, order_id=ORDER_ID, payment_key=PAYMENT_KEY)
    toss.cancel_payment(PAYMENT_KEY, reason="취소", idempotency_key="dashboard", amount=None)
    toss.get_error = TossError("TIMEOUT", "timeout", None, Category.UNKNOWN_OUTCOME)
    _post(client, fixture_bytes("webhook.payment-status-changed.json"))
    toss.get_error = None
    login_admin(auth, db_session, clock.now())
    [event] = _events(db_session)
    token = csrf_token(client, "/admin/webhooks")
    response = client.post(f"/admin/webhooks/{event.id}/reprocess", data={"csrf_token": token})
    assert response.status_code == 302
    assert _events(db_session)[0].status == "processed"
    assert len(db_session.scalars(select(Refund)).all()) == 1
