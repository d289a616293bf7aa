"""Buying a one-time product: /buy, the pay page, Toss's success and fail redirects, against the
sandbox over real HTTP (the store's own TossClient, the sandbox's card window and ledger)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storefront.billing.one_time import orders
from storefront.extensions import services
from storefront.models import Attempt, Consent, EmailMessage, Order
from storefront.toss.client import TossClient
from tests.conftest import Auth, csrf_token, make_config
from tests.sandbox_server import CardRefused
from tests.web.admin_support import login_admin
from tests.web.order_support import (
    PRICE,
    PROVISION,
    RecordingToss,
    make_catalog,
    order_row,
    place_order,
    come_back,
    success_path,
)

DECLINING_CARD = "4330000000000051"  # REJECT_CARD_PAYMENT at confirm


@pytest.fixture
def config(tmp_path: Path, sandbox):
    return make_config(tmp_path, TOSS_API_BASE=sandbox.url, SITE_URL="http://localhost")


@pytest.fixture
def toss(sandbox) -> RecordingToss:
    return RecordingToss(TossClient(sandbox.url, sandbox.secret_key, timeout=(3.05, 10.0)))


@pytest.fixture
def catalog(db_session):
    return make_catalog(db_session)


@pytest.fixture
def shopper(auth: Auth):
    response = auth.signup(email="buyer@example.com", name="김구매")
    assert response.status_code == 302
    return auth


def _pay(sandbox, order_id: str, **kwargs) -> dict[str, str]:
    """The shopper fills in the sandbox's payment window; returns the success redirect's query."""
    return sandbox.pay(order_id=order_id, amount=PRICE, order_name="프레젠테이션 템플릿 팩 단품 구매", **kwargs)


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


# -- ordering ------------------------------------------------------------------------------------


def test_guest_is_sent_to_signup_and_comes_back_to_the_order(client, auth, catalog):
    response = client.get(f"/buy/{catalog.once_plan_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/signup?next=/buy/{catalog.once_plan_id}"

    response = auth.signup(next=f"/buy/{catalog.once_plan_id}")
    assert response.headers["Location"] == f"/buy/{catalog.once_plan_id}"
    assert "주문 확인" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_order_page_shows_what_is_bought_and_an_unticked_consent(client, shopper, catalog):
    html = client.get(f"/buy/{catalog.once_plan_id}").get_data(as_text=True)

    for fact in (
        "프레젠테이션 템플릿 팩",
        "단품 구매",
        "29,000원",
        "VAT 포함",
        PROVISION,
        "청약철회",
        "7일 이내",
        "자동 결제(정기결제)되지 않습니다",
    ):
        assert fact in html, fact
    assert 'href="/terms"' in html and 'href="/refund-policy"' in html
    checkbox = re.search(r'<input[^>]*name="agree"[^>]*>', html).group(0)
    assert 'type="checkbox"' in checkbox and "checked" not in checkbox


def test_without_consent_no_order_is_made(client, shopper, catalog, db_session):
    token = csrf_token(client, f"/buy/{catalog.once_plan_id}")
    response = client.post(f"/buy/{catalog.once_plan_id}", data={"csrf_token": token})

    assert response.status_code == 200
    assert "구매조건을 확인하고 동의해 주셔야 주문할 수 있습니다" in response.get_data(as_text=True)
    assert _count(db_session, Order) == 0


def test_an_order_without_the_csrf_token_is_refused(client, shopper, catalog, db_session):
    response = client.post(f"/buy/{catalog.once_plan_id}", data={"agree": "y"})

    assert response.status_code == 400
    assert _count(db_session, Order) == 0


def test_a_subscription_plan_cannot_be_bought_once(client, shopper, catalog):
    assert client.get(f"/buy/{catalog.monthly_plan_id}").status_code == 404


def test_the_order_takes_its_price_from_the_plan_and_records_the_consent(client, shopper, catalog, db_session):
    token = csrf_token(client, f"/buy/{catalog.once_plan_id}")
    response = client.post(
        f"/buy/{catalog.once_plan_id}", data={"csrf_token": token, "agree": "y", "amount": "100", "amount_won": "100"}
    )
    order_id = response.headers["Location"].split("/")[2]

    order = order_row(db_session, order_id)
    assert order.amount_won == PRICE and order.status == "pending"
    assert re.fullmatch(r"[A-Za-z0-9_-]{6,64}", order.order_id)
    assert order.expires_at - order.created_at == timedelta(minutes=30)
    consent = db_session.get(Consent, order.consent_id)
    assert (consent.kind, consent.decision, consent.user_id) == ("order_terms", "agreed", order.user_id)
    assert consent.text_version.startswith("terms:")
    assert json.loads(consent.detail)["amount_won"] == PRICE


def test_the_pay_page_hands_the_order_to_the_script_through_data_attributes(client, shopper, catalog, sandbox):
    order_id = place_order(client, catalog.once_plan_id)
    response = client.get(f"/orders/{order_id}/pay")
    html = response.get_data(as_text=True)

    button = re.search(r'<button[^>]*id="pay-button"[^>]*>', html, re.S).group(0)
    assert f'data-order-id="{order_id}"' in button and f'data-amount="{PRICE}"' in button
    assert 'data-success-url="http://localhost/payments/success"' in button
    assert f'data-fail-url="http://localhost/payments/fail?order={order_id}"' in button
    assert f'data-client-key="{sandbox.client_key}"' in button
    assert f'<script src="{sandbox.url}/v2/standard"></script>' in html
    assert '<script src="/static/js/payment.js"></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert " style=" not in html
    assert f"script-src 'self' {sandbox.url}" in response.headers["Content-Security-Policy"]


# -- paying --------------------------------------------------------------------------------------


def test_paying_in_the_window_confirms_once_and_shows_the_order_complete_page(
    client, shopper, catalog, sandbox, toss, db_session
):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    assert query["paymentType"] == "NORMAL"

    response = come_back(client, query)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "주문이 완료되었습니다" in html
    assert order_id in html and "29,000원" in html and "프레젠테이션 템플릿 팩" in html
    assert re.search(rf'id="receipt-link" href="{re.escape(sandbox.url)}/_sandbox/receipts/', html)
    assert "청약철회·환불 방법" in html and "청약철회하고 전액 환불받기" in html
    ledger = sandbox.ledger()
    assert [(p["orderId"], p["amount"], p["status"]) for p in ledger] == [(order_id, PRICE, "DONE")]
    order = order_row(db_session, order_id)
    assert order.status == "paid" and order.payment_key == ledger[0]["paymentKey"]
    attempt = db_session.scalars(select(Attempt).where(Attempt.order_pk == order.id)).one()
    assert (attempt.status, attempt.charge_id, attempt.order_id) == ("done", None, order_id)
    assert attempt.idempotency_key == f"confirm-{order_id}"
    assert attempt.receipt_url == order.receipt_url and attempt.approved_at is not None
    assert json.loads(attempt.raw_response)["status"] == "DONE"
    [(_, args, kwargs)] = [c for c in toss.calls if c[0] == "confirm_payment"]
    assert args == (query["paymentKey"], order_id, PRICE) and kwargs == {"idempotency_key": f"confirm-{order_id}"}
    receipt = db_session.scalars(select(EmailMessage).where(EmailMessage.kind == "order_receipt")).one()
    assert receipt.to == "buyer@example.com" and order_id in receipt.body_text and "29,000원" in receipt.body_text


def test_a_replayed_success_url_never_confirms_again(client, shopper, catalog, sandbox, toss, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    come_back(client, query)

    for _ in range(2):
        response = come_back(client, query)
        assert response.status_code == 200 and "주문이 완료되었습니다" in response.get_data(as_text=True)

    assert toss.count("confirm_payment") == 1
    assert len(sandbox.ledger()) == 1
    assert _count(db_session, Attempt) == 1
    assert _count(db_session, EmailMessage, EmailMessage.kind == "order_receipt") == 1


def test_a_tampered_amount_is_refused_and_nothing_is_confirmed(client, shopper, catalog, sandbox, toss, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)

    for amount in ("100", "29000.5", "-29000", ""):
        response = come_back(client, {**query, "amount": amount})
        assert response.status_code == 400
        assert "결제 금액이 주문 금액(29,000원)과 일치하지 않아 결제를 승인하지 않았습니다" in response.get_data(
            as_text=True
        )

    assert toss.count("confirm_payment") == 0 and sandbox.ledger() == []
    assert order_row(db_session, order_id).status == "pending" and _count(db_session, Attempt) == 0
    # the genuine redirect still goes through
    assert "주문이 완료되었습니다" in come_back(client, query).get_data(as_text=True)


def test_someone_elses_order_is_not_found_and_not_confirmed(client, shopper, catalog, sandbox, toss, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    shopper.logout()
    shopper.signup(email="other@example.com", name="이타인")

    response = come_back(client, query)

    assert response.status_code == 404
    assert toss.count("confirm_payment") == 0 and sandbox.ledger() == []
    assert client.get(f"/orders/{order_id}").status_code == 404
    assert client.get(f"/orders/{order_id}/pay").status_code == 404


def test_success_url_needs_a_signed_in_shopper(client, shopper, catalog, sandbox, toss):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    shopper.logout()

    response = come_back(client, query)

    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert toss.count("confirm_payment") == 0
    shopper.login(email="buyer@example.com", next=success_path(query))
    assert "주문이 완료되었습니다" in come_back(client, query).get_data(as_text=True)


def test_malformed_success_parameters_get_a_plain_page(client, shopper, catalog, toss):
    for query in (
        {},
        {"orderId": "bad id!", "paymentKey": "k", "amount": "1"},
        {"orderId": "O20260310-00", "paymentKey": "", "amount": "1"},
    ):
        response = come_back(client, query)
        assert response.status_code == 400
        assert "결제 정보(주문번호 또는 결제 키)가 올바르지 않아" in response.get_data(as_text=True)
    assert toss.count("confirm_payment") == 0


def test_a_declined_card_fails_with_a_plain_korean_reason(client, shopper, catalog, sandbox, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id, card_number=DECLINING_CARD)

    response = come_back(client, query)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "결제가 완료되지 않았습니다" in html
    assert "잔액 부족 또는 한도 초과로 결제가 승인되지 않았습니다." in html
    assert f'href="/buy/{catalog.once_plan_id}"' in html  # buy again
    assert sandbox.ledger() == []
    order = order_row(db_session, order_id)
    assert (order.status, order.failure_code) == ("failed", "REJECT_CARD_PAYMENT")
    assert db_session.scalars(select(Attempt.status)).one() == "failed"


def test_confirming_after_tosss_ten_minutes_fails_plainly(client, shopper, catalog, sandbox, clock, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    clock.advance(minutes=11)

    html = come_back(client, query).get_data(as_text=True)

    assert "결제 승인 가능 시간(10분)이 지나 결제되지 않았습니다" in html
    assert order_row(db_session, order_id).status == "failed" and sandbox.ledger() == []


def test_an_unknown_outcome_shows_checking_and_settles_on_reload(client, shopper, catalog, sandbox, toss, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    sandbox.settings(drop_rate=1.0)  # Toss approves, the answer never arrives

    response = come_back(client, query)

    assert response.status_code == 200
    assert "확인 중" in response.get_data(as_text=True)
    assert order_row(db_session, order_id).status == "pending"
    assert db_session.scalars(select(Attempt.status)).one() == "unknown"
    assert len(sandbox.ledger()) == 1  # money moved at Toss

    sandbox.settings(drop_rate=0.0)
    response = come_back(client, query)

    assert "주문이 완료되었습니다" in response.get_data(as_text=True)
    assert toss.count("confirm_payment") == 1 and toss.count("get_payment_by_order_id") == 1
    assert len(sandbox.ledger()) == 1 and order_row(db_session, order_id).status == "paid"
    assert _count(db_session, EmailMessage, EmailMessage.kind == "order_receipt") == 1


def test_the_periodic_job_settles_an_unknown_outcome(client, shopper, catalog, sandbox, app, db_session, clock):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    sandbox.settings(drop_rate=1.0)
    come_back(client, query)
    sandbox.settings(drop_rate=0.0)

    svc = services()
    outcomes = orders.settle_unknown_orders(db_session, toss=svc.toss, clock=clock, notifier=svc.notifier)

    assert [o.state for o in outcomes] == ["paid"]
    assert order_row(db_session, order_id).status == "paid"
    assert _count(db_session, EmailMessage, EmailMessage.kind == "order_receipt") == 1
    assert "주문이 완료되었습니다" in client.get(f"/orders/{order_id}").get_data(as_text=True)


# -- failUrl and expiry --------------------------------------------------------------------------


def test_closing_the_window_explains_and_offers_the_same_order_again(client, shopper, catalog, db_session):
    order_id = place_order(client, catalog.once_plan_id)

    response = client.get(
        "/payments/fail?" + f"code=PAY_PROCESS_CANCELED&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E&order={order_id}"
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "결제를 취소하셨습니다. 결제된 금액은 없습니다." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert f'href="/orders/{order_id}/pay"' in html and "다시 결제하기" in html
    assert order_row(db_session, order_id).status == "pending"


def test_a_refused_card_in_the_window_is_explained(client, shopper, catalog, sandbox):
    order_id = place_order(client, catalog.once_plan_id)
    with pytest.raises(CardRefused) as refused:
        _pay(sandbox, order_id, card_number="4330000000000091")

    html = client.get(f"/payments/fail?code={refused.value.code}&message=x&orderId={order_id}").get_data(as_text=True)

    assert "카드 번호가 올바르지 않습니다" in html and "다시 결제하기" in html


@pytest.mark.parametrize("query", ["", "code=%00%0a&message=" + "가" * 5000, "code=../../etc&orderId=zz"])
def test_the_fail_page_never_breaks_on_odd_input(client, query):
    response = client.get("/payments/fail?" + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "결제가 완료되지 않았습니다" in html and "UNKNOWN_ERROR" in html and "Traceback" not in html


def test_an_order_not_paid_within_30_minutes_expires(client, shopper, catalog, sandbox, toss, clock, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    query = _pay(sandbox, order_id)
    clock.advance(minutes=30)

    response = client.get(f"/orders/{order_id}/pay")
    assert response.headers["Location"] == f"/orders/{order_id}"
    assert "주문이 만료되었습니다" in client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "주문이 만료되었습니다" in come_back(client, query).get_data(as_text=True)
    assert toss.count("confirm_payment") == 0
    assert order_row(db_session, order_id).status == "expired"


def test_the_sweep_expires_unpaid_orders_only(client, shopper, catalog, sandbox, clock, db_session):
    stale = place_order(client, catalog.once_plan_id)
    paid = place_order(client, catalog.once_plan_id)
    come_back(client, _pay(sandbox, paid))
    clock.advance(minutes=20)
    fresh = place_order(client, catalog.once_plan_id)
    clock.advance(minutes=11)

    assert orders.expire_stale_orders(db_session, clock=clock) == 1

    assert [order_row(db_session, o).status for o in (stale, paid, fresh)] == ["expired", "paid", "pending"]


# -- refunds -------------------------------------------------------------------------------------


def test_an_admin_refunds_a_one_time_order_like_any_payment(client, shopper, catalog, sandbox, clock, db_session):
    order_id = place_order(client, catalog.once_plan_id)
    come_back(client, _pay(sandbox, order_id))
    attempt_id = db_session.scalars(select(Attempt.id)).one()
    shopper.logout()
    login_admin(shopper, db_session, clock.now())

    page = client.get(f"/admin/attempts/{attempt_id}/refund").get_data(as_text=True)
    assert order_id in page and "29,000원" in page
    fields = dict(re.findall(r'name="(csrf_token|request_id)"[^>]*value="([^"]*)"', page))
    form = {**fields, "amount_won": "29000", "reason": "청약철회"}
    review = client.post(f"/admin/attempts/{attempt_id}/refund", data={**form, "step": "review"})
    assert "29,000원 환불하기" in review.get_data(as_text=True) and sandbox.ledger()[0]["status"] == "DONE"
    done = client.post(f"/admin/attempts/{attempt_id}/refund", data={**form, "step": "confirm"}, follow_redirects=True)
    assert "29,000원 환불(결제 취소)이 완료되었습니다." in done.get_data(as_text=True)
    assert sandbox.ledger()[0]["status"] == "CANCELED"

    db_session.expire_all()
    assert order_row(db_session, order_id).status == "canceled"  # at once, not at the next settlement job
    assert orders.close_refunded_orders(db_session, clock=clock) == 0
    shopper.logout()
    shopper.login(email="buyer@example.com")
    html = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "결제가 취소(환불)된 주문입니다" in html and "환불 금액" in html
