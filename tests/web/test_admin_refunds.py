"""Refunds from the admin: the form, its hidden request id, and what Toss's ledger ends up holding."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storefront.models import AuditLog, Charge, Refund
from storefront.toss.errors import Category, TossError
from tests.web.admin_support import FakeToss, login_admin, make_paid


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def paid(db_session, clock, toss):
    return make_paid(db_session, clock.now(), toss=toss)


@pytest.fixture
def admin(auth, db_session, clock):
    return login_admin(auth, db_session, clock.now())


def _form(client, attempt_id: int) -> dict:
    page = client.get(f"/admin/attempts/{attempt_id}/refund").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|request_id|amount_won)"[^>]*value="([^"]*)"', page))
    assert {"csrf_token", "request_id", "amount_won"} <= fields.keys(), page
    return fields


def _submit(client, attempt_id: int, form: dict, **changes):
    data = {**form, "reason": "고객 청약철회 요청", **changes}
    return client.post(f"/admin/attempts/{attempt_id}/refund", data=data, follow_redirects=True)


def _refunds(db_session) -> list[Refund]:
    db_session.expire_all()
    return db_session.scalars(select(Refund).order_by(Refund.id)).all()


def test_full_refund(client, db_session, paid, admin, toss):
    form = _form(client, paid.attempt.id)
    assert form["amount_won"] == "9900"  # the refundable balance is offered

    page = _submit(client, paid.attempt.id, form).get_data(as_text=True)

    assert "9,900원 환불(결제 취소)이 완료되었습니다." in page
    [refund] = _refunds(db_session)
    assert (refund.status, refund.amount_won, refund.transaction_key, refund.requested_by_id) == ("done", 9900, "tx-0001", admin.id)
    assert refund.idempotency_key == "refund-" + form["request_id"]
    assert db_session.get(Charge, paid.charge.id).status == "refunded"
    assert [c.cancel_amount for c in toss.ledger(paid.attempt.payment_key)] == [9900]
    assert "더 환불할 금액이 없습니다" in page


def test_partial_refunds(client, db_session, paid, admin, toss):
    _submit(client, paid.attempt.id, _form(client, paid.attempt.id), amount_won="3000")
    assert db_session.get(Charge, paid.charge.id).status == "paid"
    form = _form(client, paid.attempt.id)
    assert form["amount_won"] == "6900"
    _submit(client, paid.attempt.id, form)
    assert [c.cancel_amount for c in toss.ledger(paid.attempt.payment_key)] == [3000, 6900]
    assert [r.status for r in _refunds(db_session)] == ["done", "done"]
    assert db_session.get(Charge, paid.charge.id).status == "refunded"


def test_double_submit_refunds_once(client, db_session, paid, admin, toss):
    form = _form(client, paid.attempt.id)
    _submit(client, paid.attempt.id, form, amount_won="1000")
    again = _submit(client, paid.attempt.id, form, amount_won="1000")
    assert again.status_code == 200 and "1,000원 환불(결제 취소)이 완료되었습니다." in again.get_data(as_text=True)
    assert len(_refunds(db_session)) == 1
    assert [c.cancel_amount for c in toss.ledger(paid.attempt.payment_key)] == [1000]
    assert len(toss.cancel_calls) == 1


def test_over_refund_is_refused_with_a_message(client, db_session, paid, admin, toss):
    response = _submit(client, paid.attempt.id, _form(client, paid.attempt.id), amount_won="9901")
    assert response.status_code == 200
    assert "환불 가능 금액(9,900원)을 넘을 수 없습니다." in response.get_data(as_text=True)
    assert _refunds(db_session) == [] and toss.cancel_calls == []


@pytest.mark.parametrize("changes,message", [
    ({"reason": ""}, "환불 사유를 입력해 주세요."),
    ({"amount_won": "0"}, "1원 이상"),
    ({"amount_won": "abc"}, "올바르지 않은 정수 값입니다."),
    ({"request_id": "not-a-uuid"}, "요청 번호가 올바르지 않습니다."),
])
def test_bad_input_rerenders_and_changes_nothing(client, db_session, paid, admin, toss, changes, message):
    response = _submit(client, paid.attempt.id, _form(client, paid.attempt.id), **changes)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _refunds(db_session) == [] and toss.cancel_calls == []


def test_toss_decline_is_shown_and_recorded(client, db_session, paid, admin, toss):
    toss.decline_next = TossError("NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다.", 403, Category.CONFIG)
    page = _submit(client, paid.attempt.id, _form(client, paid.attempt.id)).get_data(as_text=True)
    assert "토스페이먼츠가 환불을 거절했습니다: 취소 할 수 없는 결제 입니다." in page
    [refund] = _refunds(db_session)
    assert (refund.status, refund.failure_code) == ("failed", "NOT_CANCELABLE_PAYMENT")
    assert db_session.get(Charge, paid.charge.id).status == "paid"


def test_unknown_outcome_is_shown_then_settled_from_the_admin(client, db_session, paid, admin, toss):
    toss.lose_next_answer = True
    page = _submit(client, paid.attempt.id, _form(client, paid.attempt.id)).get_data(as_text=True)
    assert "환불 결과를 아직 알 수 없습니다" in page
    assert "결과 미확인" in page and "환불 결과 확인" in page
    [refund] = _refunds(db_session)
    assert refund.status == "unknown"
    assert "환불 요청</button>" not in client.get(f"/admin/attempts/{paid.attempt.id}/refund").get_data(as_text=True)
    assert 'data-figure="unknown-refunds">1<' in client.get("/admin/").get_data(as_text=True)

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    settled = client.post("/admin/refunds/settle", data={"csrf_token": token}, follow_redirects=True)

    assert "1건을 토스페이먼츠에 조회했습니다 (아직 미확인 0건)" in settled.get_data(as_text=True)
    [refund] = _refunds(db_session)
    assert (refund.status, refund.transaction_key) == ("done", "tx-0001")
    assert db_session.get(Charge, paid.charge.id).status == "refunded"
    assert len(toss.ledger(paid.attempt.payment_key)) == 1


def test_refund_page_access_is_logged(client, db_session, paid, admin):
    _form(client, paid.attempt.id)
    audit = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_view_payment")).one()
    assert (audit.actor_id, audit.subscription_id) == (admin.id, paid.subscription.id)


def test_refunds_list(client, db_session, paid, admin, toss):
    _submit(client, paid.attempt.id, _form(client, paid.attempt.id), amount_won="1000")
    page = client.get("/admin/refunds").get_data(as_text=True)
    assert paid.attempt.order_id in page and "1,000원" in page and "환불 완료" in page and "admin@example.com" in page
