"""Refunds from the admin: the form, its confirmation step, its hidden request id, and what Toss's ledger holds."""

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
    fields = dict(re.findall(r'name="(csrf_token|request_id)"[^>]*value="([^"]*)"', page))
    assert {"csrf_token", "request_id"} <= fields.keys(), page
    return fields


def _review(client, attempt_id: int, form: dict, **changes):
    data = {"amount_won": "9900", **form, "reason": "고객 청약철회 요청", "step": "review", **changes}
    return client.post(f"/admin/attempts/{attempt_id}/refund", data=data)


def _submit(client, attempt_id: int, form: dict, **changes):
    """Fill in the form, then press the confirmation page's button, as an admin would."""
    review = _review(client, attempt_id, form, **changes)
    if review.status_code != 200 or "환불 내용 확인" not in review.get_data(as_text=True):
        return review
    hidden = dict(
        re.findall(
            r'name="(csrf_token|request_id|amount_won|reason)"[^>]*value="([^"]*)"', review.get_data(as_text=True)
        )
    )
    return client.post(
        f"/admin/attempts/{attempt_id}/refund", data={**hidden, "step": "confirm"}, follow_redirects=True
    )


def _refunds(db_session) -> list[Refund]:
    db_session.expire_all()
    return db_session.scalars(select(Refund).order_by(Refund.id)).all()


def test_the_form_starts_empty_and_shows_paid_refunded_and_refundable(client, paid, admin):
    page = client.get(f"/admin/attempts/{paid.attempt.id}/refund").get_data(as_text=True)

    assert re.search(r'<input[^>]*name="amount_won"[^>]*>', page)
    assert 'value="9900"' not in page  # nothing is pre-filled: the admin types the amount
    for figure, value in (("paid", "9,900원"), ("refunded", "0원"), ("refundable", "9,900원")):
        assert re.search(rf'data-figure="{figure}">{value}', page), figure
    assert "환불 사유" in page and "다음: 환불 내용 확인" in page


def test_nothing_is_sent_until_the_confirmation_is_pressed(client, db_session, paid, admin, toss):
    form = _form(client, paid.attempt.id)

    review = _review(client, paid.attempt.id, form, amount_won="4000")
    page = review.get_data(as_text=True)

    assert review.status_code == 200 and "환불 내용 확인" in page
    assert 'data-figure="confirm-amount">4,000원<' in page and "부분 환불합니다" in page
    assert 'data-figure="left-after">5,900원<' in page and "고객 청약철회 요청" in page
    assert "4,000원 환불하기" in page
    assert toss.cancel_calls == [] and _refunds(db_session) == []

    edit = client.post(
        f"/admin/attempts/{paid.attempt.id}/refund",
        data={**form, "amount_won": "4000", "reason": "고객 청약철회 요청", "step": "edit"},
    )
    assert 'value="4000"' in edit.get_data(as_text=True) and "다음: 환불 내용 확인" in edit.get_data(as_text=True)
    assert toss.cancel_calls == []

    stepless = client.post(
        f"/admin/attempts/{paid.attempt.id}/refund", data={**form, "amount_won": "4000", "reason": "x"}
    )
    assert stepless.status_code == 400 and toss.cancel_calls == [] and _refunds(db_session) == []


def test_a_subscriptions_current_period_shows_the_pro_rata_amount_as_a_labelled_suggestion(
    client, db_session, paid, admin, clock
):
    clock.advance(days=10)  # day 11 of a 31-day period: 20 days left, 9,900 × 20 ÷ 31 = 6,387

    page = client.get(f"/admin/attempts/{paid.attempt.id}/refund").get_data(as_text=True)

    assert 'data-suggestion="6387"' in page and "일할 계산 금액 6,387원" in page
    assert "31일 중 11일 이용" in page and 'value="6387"' not in page


def test_full_refund(client, db_session, paid, admin, toss):
    form = _form(client, paid.attempt.id)

    page = _submit(client, paid.attempt.id, form).get_data(as_text=True)

    assert "9,900원 환불(결제 취소)이 완료되었습니다." in page
    [refund] = _refunds(db_session)
    assert (refund.status, refund.amount_won, refund.transaction_key, refund.requested_by_id) == (
        "done",
        9900,
        "tx-0001",
        admin.id,
    )
    assert refund.idempotency_key == "refund-" + form["request_id"]
    assert db_session.get(Charge, paid.charge.id).status == "refunded"
    assert [c.cancel_amount for c in toss.ledger(paid.attempt.payment_key)] == [9900]
    assert "더 환불할 금액이 없습니다" in page


def test_partial_refunds(client, db_session, paid, admin, toss):
    page = _submit(client, paid.attempt.id, _form(client, paid.attempt.id), amount_won="3000").get_data(as_text=True)
    assert db_session.get(Charge, paid.charge.id).status == "paid"
    assert 'data-refund-state="partial">부분 환불<' in page and 'data-figure="refundable">6,900원' in page
    form = _form(client, paid.attempt.id)
    page = _submit(client, paid.attempt.id, form, amount_won="6900").get_data(as_text=True)
    assert 'data-refund-state="full">환불 완료<' in page
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
    assert response.status_code == 400
    assert "환불 가능 금액(9,900원)을 넘을 수 없습니다." in response.get_data(as_text=True)
    assert _refunds(db_session) == [] and toss.cancel_calls == []


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"reason": ""}, "환불 사유를 입력해 주세요."),
        ({"amount_won": "0"}, "1원 이상"),
        ({"amount_won": "abc"}, "올바르지 않은 정수 값입니다."),
        ({"request_id": "not-a-uuid"}, "요청 번호가 올바르지 않습니다."),
    ],
)
def test_bad_input_rerenders_and_changes_nothing(client, db_session, paid, admin, toss, changes, message):
    response = _submit(client, paid.attempt.id, _form(client, paid.attempt.id), **changes)
    assert response.status_code == 400
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
    assert "다음: 환불 내용 확인" not in client.get(f"/admin/attempts/{paid.attempt.id}/refund").get_data(as_text=True)
    assert 'data-figure="unknown-refunds">1<' in client.get("/admin/").get_data(as_text=True)

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    settled = client.post("/admin/refunds/settle", data={"csrf_token": token}, follow_redirects=True)

    assert "1건을 토스페이먼츠에 조회했습니다 (아직 미확인 0건)" in settled.get_data(as_text=True)
    [refund] = _refunds(db_session)
    assert (refund.status, refund.transaction_key) == ("done", "tx-0001")
    assert db_session.get(Charge, paid.charge.id).status == "refunded"
    assert len(toss.ledger(paid.attempt.payment_key)) == 1


def test_refund_page_access_and_the_refund_are_logged_with_the_admin_and_ip(client, db_session, paid, admin):
    _submit(client, paid.attempt.id, _form(client, paid.attempt.id), amount_won="1000")
    views = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_view_payment")).all()
    done = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_refund")).one()
    assert len(views) == 2  # the form, and the page after the refund
    assert {(v.actor_id, v.subscription_id, v.user_id) for v in views} == {
        (admin.id, paid.subscription.id, paid.user.id)
    }
    assert (done.actor_type, done.actor_id, done.ip, done.user_id) == ("admin", admin.id, "127.0.0.1", paid.user.id)
    assert "1,000원 환불 요청: 고객 청약철회 요청" in done.reason


def test_refunds_list(client, db_session, paid, admin, toss):
    _submit(client, paid.attempt.id, _form(client, paid.attempt.id), amount_won="1000")
    page = client.get("/admin/refunds").get_data(as_text=True)
    assert paid.attempt.order_id in page and "1,000원" in page and "환불 완료" in page and "admin@example.com" in page


def _refund_cell(page: str, attempt_id: int) -> str:
    """What the payment lists show in the refund column of this attempt's row."""
    link = f'href="/admin/attempts/{attempt_id}/refund"'
    if link in page:
        return page.split(link, 1)[1].split("</a>", 1)[0].split(">", 1)[1]
    found = re.findall(r'data-refund-left="0">([^<]+)<', page)
    return found[0] if found else ""


def test_the_lists_offer_a_refund_only_while_something_is_left(client, db_session, paid, admin, toss):
    attempt_id, sub_id = paid.attempt.id, paid.charge.subscription_id
    pages = ("/admin/attempts", f"/admin/subscriptions/{sub_id}")
    assert [_refund_cell(client.get(p).get_data(as_text=True), attempt_id) for p in pages] == ["환불하기"] * 2
    _submit(client, attempt_id, _form(client, attempt_id), amount_won="3000")
    assert [_refund_cell(client.get(p).get_data(as_text=True), attempt_id) for p in pages] == ["환불하기"] * 2
    _submit(client, attempt_id, _form(client, attempt_id), amount_won="6900")
    assert [_refund_cell(client.get(p).get_data(as_text=True), attempt_id) for p in pages] == ["환불 완료"] * 2


def test_an_answer_still_unknown_is_not_offered_as_a_new_refund(client, db_session, paid, admin, toss):
    toss.lose_next_answer = True
    _submit(client, paid.attempt.id, _form(client, paid.attempt.id))
    assert [r.status for r in _refunds(db_session)] == ["unknown"]
    page = client.get("/admin/attempts").get_data(as_text=True)
    assert _refund_cell(page, paid.attempt.id) == "환불 확인 중"


def test_a_stale_form_cannot_refund_a_fully_refunded_payment_again(client, db_session, paid, admin, toss):
    """Two tabs: one refunds everything; the other's form, filled in before, is refused at both steps."""
    stale = _form(client, paid.attempt.id)
    _submit(client, paid.attempt.id, _form(client, paid.attempt.id))
    assert [c.cancel_amount for c in toss.ledger(paid.attempt.payment_key)] == [9900]
    review = _review(client, paid.attempt.id, stale, amount_won="1")
    assert review.status_code == 400 and "환불 가능 금액(0원)을 넘을 수 없습니다." in review.get_data(as_text=True)
    confirm = client.post(
        f"/admin/attempts/{paid.attempt.id}/refund",
        data={**stale, "amount_won": "1", "reason": "다시", "step": "confirm"},
    )
    assert confirm.status_code == 400 and "환불 가능 금액(0원)을 넘을 수 없습니다." in confirm.get_data(as_text=True)
    assert len(toss.cancel_calls) == 1 and len(_refunds(db_session)) == 1


def test_the_domain_refuses_an_over_refund_on_its_own(db_session, paid, toss, clock):
    """The view checks first; the domain checks again under its own lock, whoever calls it."""
    from storefront.billing.refunding import refunds as refund_service

    refund_service.refund(
        db_session,
        paid.attempt.id,
        amount_won=9000,
        reason="a",
        requested_by=None,
        idempotency_key="k1",
        toss=toss,
        clock=clock,
    )
    with pytest.raises(refund_service.ExceedsRefundable):
        refund_service.refund(
            db_session,
            paid.attempt.id,
            amount_won=901,
            reason="b",
            requested_by=None,
            idempotency_key="k2",
            toss=toss,
            clock=clock,
        )
    db_session.rollback()
    assert [c.cancel_amount for c in toss.ledger(paid.attempt.payment_key)] == [9000]
