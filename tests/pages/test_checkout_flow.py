"""One click from 주문 확인 to Toss's window, a success URL that answers at once, and one charge whatever the
shopper does meanwhile (reload, double click, a second tab)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import func, select

from storefront.billing.recurring import checkout
from storefront.models import CheckoutIntent, Consent, Subscription
from tests.conftest import csrf_token
from tests.web.checkout_support import (  # noqa: F401
    catalog,
    intent_token,
    local,
    new_auth_key,
    shopper,
    toss,
)

JSON = {"Accept": "application/json"}


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def success_url(shopper, plan, auth_key: str) -> str:
    button = shopper.toss_button(shopper.card_page(plan))
    query = urlencode({"customerKey": button["customer_key"], "authKey": auth_key})
    return f"{local(button['success_url'])}&{query}"


def settle(client, url: str, page: str):
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post(url, data={"csrf_token": token})


def test_the_order_form_answers_a_script_with_the_card_window_parameters(shopper, catalog, db_session, app):
    path = f"/subscribe/{catalog.monthly.id}"
    response = shopper.client.post(
        path,
        headers=JSON,
        data={"csrf_token": csrf_token(shopper.client, path), "agree_terms": "y", "agree_renewal": "y"},
    )

    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    intent = db_session.scalars(select(CheckoutIntent)).one()
    assert body["card_url"] == f"/billing/card?intent={intent.token}"
    assert body["toss"]["customer_key"] == shopper.user.customer_key
    assert body["toss"]["success_url"].endswith(f"/billing/success?intent={intent.token}")
    assert body["toss"]["client_key"] == app.config["STOREFRONT"].toss_client_key
    assert app.config["STOREFRONT"].toss_secret_key not in response.get_data(as_text=True)
    # the consents are recorded before the window opens, as for the plain form
    assert {c.kind for c in db_session.scalars(select(Consent))} == {"terms", "auto_renewal"}


def test_a_missing_consent_is_summarised_at_the_top_with_a_link_to_the_box(shopper, catalog, db_session):
    path = f"/subscribe/{catalog.monthly.id}"
    response = shopper.client.post(
        path, headers=JSON, data={"csrf_token": csrf_token(shopper.client, path), "agree_terms": "y"}
    )

    assert response.status_code == 400 and not response.is_json  # the script then sends the form as usual
    page = response.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary" id="error-summary"[^>]*tabindex="-1".*?</div>', page, re.S)
    assert summary, "no error summary"
    assert page.index("error-summary") < page.index("<h2>주문 내용</h2>")  # above everything else
    assert 'href="#agree_renewal"' in summary.group(0)
    assert "정기결제(자동갱신) 조건에 동의해야 구독할 수 있습니다." in summary.group(0)
    assert re.search(
        r'<input[^>]*aria-invalid="true"[^>]*id="agree_renewal"|<input[^>]*id="agree_renewal"[^>]*'
        r'aria-invalid="true"',
        page,
    )
    assert count(db_session, CheckoutIntent) == 0


def test_the_success_url_answers_at_once_without_calling_toss(shopper, catalog, db_session, toss):
    auth_key = new_auth_key()
    url = success_url(shopper, catalog.monthly, auth_key)

    page = shopper.client.get(url)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "결제를 처리하고 있습니다" in html and 'data-mode="settle"' in html and 'role="status"' in html
    assert '<script src="/static/js/processing.js"></script>' in html
    assert auth_key not in html  # the one-time key stays in the address bar only
    assert toss.issue_calls == [] and toss.approved == []
    assert db_session.scalars(select(CheckoutIntent)).one().used_at is None

    done = settle(shopper.client, url, html)
    assert done.status_code == 302 and done.headers["Location"].startswith("/billing/result/")
    assert len(toss.issue_calls) == 1 and [p.total_amount for p in toss.approved] == [9900]


def test_a_double_submit_and_a_reload_charge_once(shopper, catalog, db_session, toss):
    url = success_url(shopper, catalog.monthly, new_auth_key())
    html = shopper.client.get(url).get_data(as_text=True)

    first = settle(shopper.client, url, html)
    second = settle(shopper.client, url, html)  # the same form sent again
    reload = shopper.client.get(url)

    assert first.status_code == 302
    assert second.status_code == 303 and local(second.headers["Location"]) == url  # back to the page, which...
    assert reload.status_code == 302 and reload.headers["Location"] == first.headers["Location"]  # ...shows the result
    assert len(toss.issue_calls) == 1 and len(toss.approved) == 1
    assert count(db_session, Subscription) == 1


def test_a_reload_while_another_request_works_waits_instead_of_starting_again(
    shopper, catalog, db_session, toss, clock
):
    auth_key = new_auth_key()
    url = success_url(shopper, catalog.monthly, auth_key)
    # another request (the first tab) has claimed the intent and is talking to Toss right now
    checkout.claim_intent(
        db_session,
        user=shopper.user,
        token=intent_token(url),
        customer_key=shopper.user.customer_key,
        auth_key=auth_key,
        now=clock.now(),
    )

    page = shopper.client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-state="waiting"' in html and 'data-mode="wait"' in html
    assert 'data-mode="settle"' not in html and auth_key not in html
    posted = shopper.client.post(url, data={"csrf_token": csrf_token(shopper.client, "/account")})
    assert posted.status_code == 303
    assert toss.issue_calls == [] and toss.approved == []


def test_a_post_without_its_token_changes_nothing(shopper, catalog, db_session, toss):
    url = success_url(shopper, catalog.monthly, new_auth_key())
    response = shopper.client.post(url, data={})
    assert response.status_code == 400 and "새로 고친 뒤 다시 시도해 주세요" in response.get_data(as_text=True)
    assert toss.issue_calls == [] and db_session.scalars(select(CheckoutIntent)).one().used_at is None
