"""Every URL this work added refuses guests (sent to log in) and shoppers (403), and every POST needs its CSRF token."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storefront.models import Refund, Subscription
from tests.web.admin_support import FakeToss, login_admin, make_paid

GET_URLS = [
    "/admin/payments.csv",
    "/admin/subscriptions.csv",
    "/admin/customers.csv",
    "/admin/refunds.csv",
    "/admin/audit.csv",
    "/admin/accounting",
    "/admin/accounting/vat.csv",
    "/admin/readiness",
    "/admin/readiness/print",
    "/admin/subscriptions/{sub}/actions/cancel_now",
    "/admin/subscriptions/{sub}/actions/cancel_at_period_end",
]


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def paid(db_session, clock, toss):
    return make_paid(db_session, clock.now(), toss=toss)


@pytest.mark.parametrize("url", GET_URLS)
def test_guests_are_sent_to_log_in_and_shoppers_get_403(client, auth, paid, url):
    url = url.format(sub=paid.subscription.id)
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    auth.signup()
    assert client.get(url).status_code == 403, url


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(app, client, auth, db_session, clock, paid, toss):
    login_admin(auth, db_session, clock.now())
    request_id = "0b7e3c2a-8d1f-4c55-9a39-6f0f7a1d2e11"
    with app.app_context():  # a fresh `g`: the login's CSRF check must not carry over
        refund = client.post(
            f"/admin/attempts/{paid.attempt.id}/refund",
            data={"amount_won": "100", "reason": "x", "request_id": request_id, "step": "confirm"},
        )
        action = client.post(f"/admin/subscriptions/{paid.subscription.id}/actions/cancel_now")
        product = client.post(f"/admin/products/{paid.plan.product_id}/edit", data={"name": "바뀐 이름"})
    assert (refund.status_code, action.status_code, product.status_code) == (400, 400, 400)
    db_session.expire_all()
    assert toss.cancel_calls == [] and db_session.scalars(select(Refund)).all() == []
    assert db_session.get(Subscription, paid.subscription.id).status == "active"
    assert paid.plan.product.name == "클라우드 노트"
