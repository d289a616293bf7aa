"""The shopper's own changes to a subscription, in the AuditLog the merchant reads at /admin/audit.

Cancel (at period end, or now when nothing was paid), 바로 해지 with the pro-rata refund,
청약철회, 해지 취소 and a plan change each add one row: the shopper as actor, their IP, the
subscription and what they asked for, in Korean. The row is added to the session before the
domain function runs, so it is committed with the change itself and rolled back with a refusal,
as the admin's actions are (`billing.recurring.admin_actions.record`).
"""

from __future__ import annotations

from flask_login import current_user

from storefront.extensions import client_ip, db, services
from storefront.formatting import kst_date
from storefront.models import AuditLog, Plan, Subscription

# action code -> label; the admin's LABELS["audit_action"] shows these.
ACTIONS: dict[str, str] = {
    "customer_cancel_at_period_end": "회원 해지 신청 (기간 만료 시)",
    "customer_cancel": "회원 해지 (즉시 종료, 결제 없음)",
    "customer_cancel_now_refund": "회원 즉시 해지 (일할 환불)",
    "customer_withdraw": "회원 청약철회 (전액 환불)",
    "customer_resume": "회원 해지 취소",
    "customer_change_plan": "회원 요금제 변경",
}


def _record(action: str, subscription_id: int, detail: str) -> None:
    """Add (not commit) the row of the signed-in shopper's `action` on their subscription."""
    db.session.add(
        AuditLog(
            at=services().clock.now(),
            actor_type="user",
            actor_id=current_user.id,
            action=action,
            reason=f"구독 #{subscription_id} {detail}"[:200],
            ip=client_ip()[:64],
            subscription_id=subscription_id,
            user_id=current_user.id,
        )
    )


def _own(subscription_id: int) -> Subscription | None:
    sub = db.session.get(Subscription, subscription_id)
    return sub if sub is not None and sub.user_id == current_user.id else None


def record_cancel(subscription_id: int) -> None:
    """해지하기: ends now when nothing is paid for (미완료, 결제 실패), else at the end of the period."""
    sub = _own(subscription_id)
    if sub is None or sub.cancel_at_period_end:  # refused, or asked again: nothing changes
        return
    if sub.status in ("incomplete", "past_due"):
        _record("customer_cancel", subscription_id, "해지 (결제되지 않은 구독이라 바로 종료)")
    else:
        until = sub.current_period_end or sub.trial_end_at or sub.next_charge_at
        _record(
            "customer_cancel_at_period_end", subscription_id, f"기간 만료 시 해지 신청 ({kst_date(until)}까지 이용)"
        )


def record_cancel_now(subscription_id: int) -> None:
    _record("customer_cancel_now_refund", subscription_id, "바로 해지하고 남은 기간 일할 환불 요청")


def record_withdraw(subscription_id: int) -> None:
    _record("customer_withdraw", subscription_id, "청약철회하고 결제 금액 전액 환불 요청")


def record_resume(subscription_id: int) -> None:
    _record("customer_resume", subscription_id, "해지 취소 (구독 계속)")


def record_plan_change(sub: Subscription, plan_id: int) -> None:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        return
    if plan.id == sub.plan_id:
        booked = sub.pending_plan.name if sub.pending_plan else ""
        _record("customer_change_plan", sub.id, f"요금제 변경 예약 취소 ({booked} 대신 {plan.name} 유지)")
        return
    _record("customer_change_plan", sub.id, f"요금제 변경 예약: {sub.plan.name} → {plan.name} ({plan.amount_won:,}원)")
