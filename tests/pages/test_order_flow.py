"""The one-time purchase in one click, and Toss's success URL answering at once before the confirm."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storefront.models import Order
from storefront.toss.client import TossClient
from tests.conftest import Auth, csrf_token, make_config
from tests.web.order_support import PRICE, RecordingToss, make_catalog, place_order, success_path

JSON = {"Accept": "application/json"}


@pytest.fixture
def config(tmp_path: Path, sandbox):
    return make_config(tmp_path, TOSS_API_BASE=sandbox.url, SITE_URL="http://localhost")


@pytest.fixture
def toss(sandbox) -> RecordingToss:
    return RecordingToss(TossClient(sandbox.url, sandbox.secret_key, timeout=(3.05, 10.0)))


@pytest.fixture
def catalog(db_session, auth: Auth):
    assert auth.signup(email="buyer@example.com", name="김구매").status_code == 302
    return make_catalog(db_session)


def test_the_order_form_answers_a_script_with_the_payment_window_parameters(client, catalog, db_session, app):
    path = f"/buy/{catalog.once_plan_id}"
    response = client.post(path, headers=JSON, data={"csrf_token": csrf_token(client, path), "agree": "y"})

    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    order = db_session.query(Order).one()
    assert body["pay_url"] == f"/orders/{order.order_id}/pay"
    assert (body["toss"]["order_id"], body["toss"]["amount"]) == (order.order_id, PRICE)
    assert body["toss"]["success_url"] == "http://localhost/payments/success"
    assert app.config["STOREFRONT"].toss_secret_key not in response.get_data(as_text=True)


def test_a_missing_tick_is_summarised_at_the_top(client, catalog, db_session):
    path = f"/buy/{catalog.once_plan_id}"
    page = client.post(path, headers=JSON, data={"csrf_token": csrf_token(client, path)}).get_data(as_text=True)
    assert 'id="error-summary"' in page and 'href="#agree"' in page
    assert page.index("error-summary") < page.index('class="order-facts"')
    assert db_session.query(Order).count() == 0


def test_the_success_url_answers_before_the_confirm_and_its_form_confirms_once(
    client, catalog, sandbox, toss, db_session
):
    order_id = place_order(client, catalog.once_plan_id)
    query = sandbox.pay(order_id=order_id, amount=PRICE, order_name="팩")

    page = client.get(success_path(query))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "결제를 처리하고 있습니다" in html and 'data-mode="settle"' in html
    assert query["paymentKey"] not in html
    assert toss.count("confirm_payment") == 0 and sandbox.ledger() == []

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    first = client.post(success_path(query), data={"csrf_token": token})
    again = client.post(success_path(query), data={"csrf_token": token})  # a double click
    reload = client.get(success_path(query))
    for response in (first, again, reload):
        assert response.status_code == 200 and "주문이 완료되었습니다" in response.get_data(as_text=True)
    assert toss.count("confirm_payment") == 1 and len(sandbox.ledger()) == 1
