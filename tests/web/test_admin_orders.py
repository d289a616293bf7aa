"""Admin 1회 구매: who may see orders, the list's filters and search, and one order's money trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from storefront.models import Attempt, AuditLog, Order, Plan, Refund, User
from tests.web.admin_support import login_admin
from tests.web.order_support import PRICE, make_catalog

FULL_KEY = "tpay_20260310_secretpart_9f8e7d"


@dataclass
class Orders:
    paid: Order
    failed: Order
    checking: Order
    expired: Order


def _user(session, email: str, now) -> User:
    user = User(email=email, password_hash="x", name="김구매", phone="010-2222-3333", created_at=now)
    session.add(user)
    session.flush()
    return user


def _order(session, user: User, plan: Plan, now, suffix: str, status: str, **fields) -> Order:
    order = Order(
        order_id=f"O20260310-{suffix}",
        user_id=user.id,
        plan_id=plan.id,
        order_name="템플릿 팩 단품 구매",
        amount_won=PRICE,
        status=status,
        created_at=now,
        expires_at=now + timedelta(minutes=30),
        **fields,
    )
    session.add(order)
    session.flush()
    return order


def _attempt(session, order: Order, now, status: str, **fields) -> Attempt:
    attempt = Attempt(
        order_pk=order.id,
        order_id=order.order_id,
        idempotency_key=f"confirm-{order.order_id}",
        amount_won=order.amount_won,
        status=status,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(attempt)
    session.flush()
    return attempt


@pytest.fixture
def orders(db_session, clock) -> Orders:
    """Four orders by four shoppers: paid (partly refunded), failed, checking (answer lost), expired."""
    now = clock.now()
    plan = db_session.get(Plan, make_catalog(db_session).once_plan_id)
    paid = _order(
        db_session,
        _user(db_session, "kim@example.com", now),
        plan,
        now,
        "aaaa1111bbbb2222",
        "paid",
        payment_key=FULL_KEY,
        receipt_url="https://dashboard.tosspayments.com/receipt/kim",
        paid_at=now,
    )
    attempt = _attempt(
        db_session,
        paid,
        now,
        "done",
        payment_key=FULL_KEY,
        approved_at=now,
        receipt_url="https://dashboard.tosspayments.com/receipt/kim",
    )
    db_session.add(
        Refund(
            attempt_id=attempt.id,
            amount_won=5000,
            reason="일부 청약철회",
            idempotency_key="refund-1",
            status="done",
            transaction_key="tx-1",
            created_at=now,
            settled_at=now,
        )
    )
    failed = _order(
        db_session,
        _user(db_session, "lee@example.com", now),
        plan,
        now,
        "cccc3333dddd4444",
        "failed",
        failure_code="REJECT_CARD_PAYMENT",
        failure_message="잔액 부족 또는 한도 초과로 결제가 승인되지 않았습니다.",
        closed_at=now,
    )
    _attempt(db_session, failed, now, "failed", failure_code="REJECT_CARD_PAYMENT", failure_message="한도 초과")
    checking = _order(db_session, _user(db_session, "park@example.com", now), plan, now, "eeee5555ffff6666", "pending")
    _attempt(db_session, checking, now, "unknown", payment_key="tpay_lost_answer_0000111122")
    expired = _order(
        db_session,
        _user(db_session, "choi@example.com", now),
        plan,
        now - timedelta(hours=2),
        "abab7777cdcd8888",
        "expired",
        closed_at=now,
    )
    db_session.commit()
    return Orders(paid, failed, checking, expired)


@pytest.mark.parametrize("path", ["/admin/orders", "/admin/orders/O20260310-aaaa1111bbbb2222"])
def test_guests_are_sent_to_log_in_and_shoppers_get_403(client, auth, orders, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    auth.signup()
    response = client.get(path)
    assert response.status_code == 403
    assert "kim@example.com" not in response.get_data(as_text=True)


def test_the_list_filters_by_status_and_searches_email_and_order_id(client, auth, db_session, clock, orders):
    login_admin(auth, db_session, clock.now())

    everyone = client.get("/admin/orders").get_data(as_text=True)
    for email in ("kim@", "lee@", "park@", "choi@"):
        assert email in everyone
    assert "29,000원" in everyone and "프레젠테이션 템플릿 팩 · 단품 구매" in everyone

    def shown(query: str) -> set[str]:
        page = client.get(f"/admin/orders?{query}").get_data(as_text=True)
        return {e for e in ("kim@", "lee@", "park@", "choi@") if e in page}

    assert shown("status=paid") == {"kim@"}
    assert shown("status=failed") == {"lee@"}
    assert shown("status=expired") == {"choi@"}
    assert shown("status=checking") == {"park@"}  # pending with a lost answer: 확인 중
    assert shown("status=pending") == {"park@"}
    assert shown("status=canceled") == set()
    assert shown("q=LEE@EXAMPLE") == {"lee@"}
    assert shown("q=eeee5555") == {"park@"}  # part of the orderId
    assert shown("status=paid&q=lee") == set()
    assert shown("q=%25") == set()  # % is searched literally
    assert shown("status=bogus") == {"kim@", "lee@", "park@", "choi@"}  # an unknown filter shows everything
    assert "확인 중" in client.get("/admin/orders?status=checking").get_data(as_text=True)


def test_the_detail_shows_the_money_trail_with_the_payment_key_masked(client, auth, db_session, clock, orders):
    admin = login_admin(auth, db_session, clock.now())

    response = client.get(f"/admin/orders/{orders.paid.order_id}")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    attempt_id = orders.paid.attempts[0].id
    for shown in (
        "김구매",
        "kim@example.com",
        "010-2222-3333",
        "프레젠테이션 템플릿 팩",
        "단품 구매",
        "29,000원",
        'data-order-state="partially_refunded">부분 환불<',
        'data-refund-state="partial">부분 환불<',
        "https://dashboard.tosspayments.com/receipt/kim",
        "일부 청약철회",
        "환불 완료",
        "-5,000원",
        f'href="/admin/attempts/{attempt_id}/refund"',
    ):
        assert shown in page, shown
    assert 'data-figure="order-refunded">5,000원' in page
    assert 'data-figure="payment-key">••••9f8e7d<' in page
    assert FULL_KEY not in page and "secretpart" not in page
    [log] = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_view_order")).all()
    assert log.actor_id == admin.id and orders.paid.order_id in log.reason


def test_failed_and_checking_orders_say_why_and_offer_no_refund(client, auth, db_session, clock, orders):
    login_admin(auth, db_session, clock.now())

    failed = client.get(f"/admin/orders/{orders.failed.order_id}").get_data(as_text=True)
    assert "REJECT_CARD_PAYMENT" in failed and "잔액 부족 또는 한도 초과" in failed and "한도 초과" in failed
    assert "환불하기" not in failed

    checking = client.get(f"/admin/orders/{orders.checking.order_id}").get_data(as_text=True)
    assert "확인 중" in checking and "결과 미확인" in checking and "다시 결제를 요청하지 마세요" in checking
    assert "환불하기" not in checking and "tpay_lost_answer_0000111122" not in checking

    expired = client.get(f"/admin/orders/{orders.expired.order_id}").get_data(as_text=True)
    assert "만료" in expired and "결제 시도가 없습니다" in expired


def test_unknown_or_malformed_order_ids_are_404(client, auth, db_session, clock, orders):
    login_admin(auth, db_session, clock.now())
    assert client.get("/admin/orders/O20260310-0000000000000000").status_code == 404
    assert client.get("/admin/orders/bad%20id!").status_code == 404


def test_the_refund_form_of_an_order_links_back_to_it(client, auth, db_session, clock, orders):
    login_admin(auth, db_session, clock.now())
    page = client.get(f"/admin/attempts/{orders.paid.attempts[0].id}/refund").get_data(as_text=True)
    assert f'href="/admin/orders/{orders.paid.order_id}"' in page and "kim@example.com" in page
    assert "24,000원" in page  # 29,000원 paid, 5,000원 refunded


def test_viewing_the_list_is_recorded_in_the_access_log(client, auth, db_session, clock, orders):
    admin = login_admin(auth, db_session, clock.now())
    client.get("/admin/orders?status=paid&q=kim")
    [log] = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_list_orders")).all()
    assert log.actor_id == admin.id and "상태=paid" in log.reason and "검색=kim" in log.reason


def test_a_fully_refunded_order_says_so_instead_of_offering_a_refund(client, auth, db_session, clock, orders):
    login_admin(auth, db_session, clock.now())
    attempt = orders.paid.attempts[0]
    db_session.add(
        Refund(
            attempt_id=attempt.id,
            amount_won=PRICE - 5000,
            reason="나머지 환불",
            idempotency_key="refund-2",
            status="done",
            transaction_key="tx-2",
            created_at=clock.now(),
            settled_at=clock.now(),
        )
    )
    db_session.commit()
    page = client.get(f"/admin/orders/{orders.paid.order_id}").get_data(as_text=True)
    assert f'href="/admin/attempts/{attempt.id}/refund"' not in page
    assert 'data-refund-left="0">환불 완료<' in page
