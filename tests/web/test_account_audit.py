"""The shopper's own cancel, 해지 취소, 바로 해지, 청약철회 and plan change appear in /admin/audit: who, what, when,
which subscription. A refused action leaves no row."""

from __future__ import annotations

import re

from sqlalchemy import select

from storefront.models import AuditLog
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401
from tests.web.test_account_cancel_now import kst
from tests.web.test_admin_actions import admin, subscribed  # noqa: F401
from tests.web.test_admin_exports import read_csv


def shopper_rows(db_session) -> list[AuditLog]:
    db_session.expire_all()
    return list(db_session.scalars(select(AuditLog).where(AuditLog.action.like("customer_%")).order_by(AuditLog.id)))


def audit_page_rows(admin, **query: str) -> list[str]:
    page = admin.get("/admin/audit", query_string=query).get_data(as_text=True)
    rows = re.findall(r"<tr data-audit=\"\d+\">(.*?)</tr>", page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def change_plan(shopper: Shopper, sub, plan_id: int):
    path = f"/account/subscriptions/{sub.id}/plan"
    return shopper.post(path, form_page=path, plan_id=str(plan_id), agree="y")


def test_each_self_service_change_is_recorded_with_the_shopper_and_the_subscription(
    shopper, catalog, admin, db_session, clock
):
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 12, 9))
    change_plan(shopper, sub, catalog.premium.id)
    change_plan(shopper, sub, catalog.monthly.id)  # drops the booked change
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    shopper.post(f"/account/subscriptions/{sub.id}/resume")
    clock.set(kst(2026, 3, 20, 9))  # after the 청약철회 window
    shopper.post(f"/account/subscriptions/{sub.id}/cancel-now", form_page=f"/account/subscriptions/{sub.id}/cancel")

    rows = shopper_rows(db_session)
    assert [r.action for r in rows] == [
        "customer_change_plan",
        "customer_change_plan",
        "customer_cancel_at_period_end",
        "customer_resume",
        "customer_cancel_now_refund",
    ]
    assert {(r.actor_id, r.user_id, r.subscription_id) for r in rows} == {(shopper.user.id, shopper.user.id, sub.id)}
    assert all(r.ip for r in rows)
    assert rows[0].reason == f"구독 #{sub.id} 요금제 변경 예약: 월간 베이직 → 월간 프리미엄 (19,900원)"
    assert rows[2].reason == f"구독 #{sub.id} 기간 만료 시 해지 신청 (2026년 4월 10일까지 이용)"

    labels = ("회원 요금제 변경", "회원 해지 신청", "회원 해지 취소", "회원 즉시 해지")
    shown = [row for row in audit_page_rows(admin, actor="user") if any(label in row for label in labels)]
    assert len(shown) == 5, shown
    newest = shown[0]
    assert "회원 #" in newest and "shopper@example.com" in newest and "회원 즉시 해지 (일할 환불)" in newest
    assert f"구독 #{sub.id}" in newest and "2026년 3월 20일" in newest
    assert "회원 해지 취소" in shown[1] and "회원 해지 신청 (기간 만료 시)" in shown[2]
    assert audit_page_rows(admin, action="customer_resume", customer="shopper@")[0] == shown[1]


def test_withdrawal_is_recorded_and_a_refused_action_leaves_no_row(shopper, catalog, admin, db_session, clock):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/resume")  # not set to cancel: refused
    change_plan(shopper, sub, catalog.monthly.id)  # the plan it already has: refused
    assert shopper_rows(db_session) == []
    path = f"/account/subscriptions/{sub.id}/withdraw"
    shopper.post(path, form_page=path)
    [row] = shopper_rows(db_session)
    assert (row.action, row.subscription_id) == ("customer_withdraw", sub.id)
    assert any("회원 청약철회 (전액 환불)" in row for row in audit_page_rows(admin))


def test_the_audit_page_reads_in_korean(shopper, catalog, admin, db_session, clock):
    """Card openings, registrations and deletions are stored with English reasons; the page translates them."""
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 20, 9))
    shopper.post(f"/account/subscriptions/{sub.id}/cancel-now", form_page=f"/account/subscriptions/{sub.id}/cancel")
    stored = " ".join(r.reason for r in db_session.scalars(select(AuditLog)))
    assert "first charge of subscription" in stored and "delete at Toss" in stored  # the record stays as written
    shown = " ".join(audit_page_rows(admin))
    assert (
        "구독 #1 첫 결제" in shown and "카드 정보 삭제 (토스페이먼츠에도 삭제 요청): 회원이 구독을 바로 해지함" in shown
    )
    assert re.findall(r"[A-Za-z]+ [a-z]+", shown) == []
    _, *exported = read_csv(admin.get("/admin/audit.csv"))
    details = " ".join(row[6] for row in exported)
    assert "구독 #1 첫 결제" in details and "first charge of subscription" not in details  # the CSV says it alike
