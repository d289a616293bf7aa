"""Acting on one subscription from the admin: what can be done now, and the two actions shoppers have no button for.

The admin's 지금 결제 재시도, 즉시 해지 with the pro-rata refund, 기간 만료 시 해지 and 해지 취소
call the very functions the shopper's buttons call (`checkout.retry_first_charge`,
`charging.retry_after_card_change`, `subscriptions.cancel_now_with_refund`,
`subscriptions.cancel_subscription`, `subscriptions.resume_subscription`), with the
subscription's owner as ``user`` and the admin as ``actor``. This module adds what only the
admin does: `end_now` (즉시 해지 without a refund) and `resend_card_change_notice`, plus
`available_actions` (what the subscription page offers) and `record` (the AuditLog row with
the admin and their IP, added to the session so it is committed with the change itself, and
rolled back with it when the action is refused).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from storefront.billing.recurring import periods, settlement, statuses, subscriptions
from storefront.billing.errors import failure_message
from storefront.billing.recurring.subscriptions import ActionRefused, CancelResult, notify, release_card_if_unused
from storefront.billing.wallet.vault import Actor
from storefront.models import AuditLog, Subscription
from storefront.toss.errors import categorize

ENDED_BY_ADMIN = "canceled_now_by_admin"

# name -> (audit action, button label); the order is the page's order.
ACTIONS: dict[str, tuple[str, str]] = {
    "retry": ("admin_retry_charge", "지금 결제 재시도"),
    "resend_card_notice": ("admin_resend_card_notice", "카드 변경 안내 다시 보내기"),
    "cancel_at_period_end": ("admin_cancel_at_period_end", "기간 만료 시 해지"),
    "resume": ("admin_resume", "해지 취소"),
    "cancel_now_refund": ("admin_cancel_now_refund", "즉시 해지 (일할 환불)"),
    "cancel_now": ("admin_cancel_now", "즉시 해지 (환불 없음)"),
}


@dataclass(frozen=True)
class CardNotice:
    subscription_id: int
    notice_ids: tuple[int, ...]


def record(
    session: Session, name: str, sub: Subscription, *, actor: Actor, now: datetime, detail: str = ""
) -> AuditLog:
    """Add the AuditLog row of admin action `name` on `sub` (not committed: it goes with the action's commit)."""
    label = ACTIONS[name][1]
    row = AuditLog(
        at=now,
        actor_type=actor.type,
        actor_id=actor.id,
        action=ACTIONS[name][0],
        reason=f"구독 #{sub.id} {label}{': ' + detail if detail else ''}"[:200],
        ip=actor.ip[:64],
        subscription_id=sub.id,
        user_id=sub.user_id,
    )
    session.add(row)
    return row


def available_actions(session: Session, sub: Subscription, *, now: datetime) -> list[str]:
    """The actions that make sense for `sub` now (each still re-checks under the row lock when done)."""
    pending = periods.pending_charge(session, sub.id)
    in_flight = pending is not None and periods.open_attempt(session, pending.id) is not None
    found = []
    if not in_flight and (_retryable_past_due(sub, pending) or _retryable_checkout(sub)):
        found.append("retry")
    if sub.status == "past_due" and pending is not None and (pending.retry_count or 0) > 0:
        found.append("resend_card_notice")
    if sub.status in ("trialing", "active") and not sub.cancel_at_period_end:
        found.append("cancel_at_period_end")
    if sub.cancel_at_period_end and sub.status in subscriptions.CANCELABLE_AT_PERIOD_END:
        until = subscriptions._access_until(sub)
        if until is None or until > now:
            found.append("resume")
    if subscriptions.refund_offer(session, sub, now=now) is not None:
        found.append("cancel_now_refund")
    if sub.status in statuses.NOT_ENDED and not in_flight:
        found.append("cancel_now")
    return [name for name in ACTIONS if name in found]


def _retryable_past_due(sub: Subscription, pending) -> bool:
    return sub.status == "past_due" and pending is not None


def _retryable_checkout(sub: Subscription) -> bool:
    card = sub.billing_key
    return sub.status == "incomplete" and card is not None and card.sealed is not None and card.deactivated_at is None


def end_now(
    session: Session, *, subscription_id: int, actor: Actor, toss: Any, vault: Any, notifier: Any, clock: Any
) -> CancelResult:
    """End a live subscription at once without a refund (즉시 해지, 환불 없음). COMMITS, then releases the card.

    Under the row lock: refuses (`ActionRefused`, nothing changed) an ended subscription or
    one whose charge is on the wire; otherwise cancels its unpaid charge if any, ends it
    (status ``canceled``, reason ``canceled_now_by_admin``, no next charge, no booked plan)
    and queues ``subscription_ended`` in the same commit. Money already paid stays paid: a
    refund, if any is owed, goes through the refund page. Asking again is refused as ended.
    """
    now = clock.now()
    sub = periods.lock_subscription(session, subscription_id)
    if sub is None:
        session.rollback()
        raise ActionRefused("구독을 찾을 수 없습니다.")
    if sub.status in statuses.ENDED:
        session.rollback()
        raise ActionRefused("이미 종료된 구독입니다.")
    pending = periods.pending_charge(session, sub.id)
    if pending is not None and periods.open_attempt(session, pending.id) is not None:
        session.rollback()
        raise ActionRefused("결제 결과를 확인하는 중입니다. 잠시 후 다시 시도해 주세요.")
    if pending is not None:
        pending.status, pending.next_retry_at = "canceled", None
    settlement.end_subscription(sub, status="canceled", reason=ENDED_BY_ADMIN, now=now)
    sub.cancel_at_period_end, sub.pending_plan_id, sub.pending_plan = False, None, None
    notices = notify(
        session,
        notifier,
        sub.user,
        "subscription_ended",
        f"ended:subscription:{sub.id}",
        {
            "product_name": sub.plan.product.name,
            "ended_reason": settlement.ended_reason_text(ENDED_BY_ADMIN),
            "ended_reason_code": ENDED_BY_ADMIN,
            "ended_at": now,
        },
        now,
    )
    billing_key_id = sub.billing_key_id
    session.commit()
    release_card_if_unused(
        session,
        billing_key_id,
        toss=toss,
        vault=vault,
        clock=clock,
        actor=actor,
        reason="subscription ended now by an admin",
    )
    return CancelResult(sub.id, True, now, notice_ids=notices)


def resend_card_change_notice(
    session: Session, *, subscription_id: int, notifier: Any, clock: Any, config: Any
) -> CardNotice:
    """Queue the 결제 실패 (결제수단 변경) notice of a past-due subscription's unpaid period again. COMMITS.

    The same kind of message the engine sent on the decline (``payment_failed``), with the
    period's current state: the reason, the next automatic try (none after a hard decline),
    the last day before the subscription ends, and the link to change the card. A new dedup
    key each time, so pressing it sends one more message. Refused unless ``past_due`` with a
    declined unpaid period.
    """
    now = clock.now()
    sub = periods.lock_subscription(session, subscription_id)
    charge = periods.pending_charge(session, subscription_id) if sub is not None else None
    if sub is None or sub.status != "past_due" or charge is None or not (charge.retry_count or 0):
        session.rollback()
        raise ActionRefused("결제에 실패해 카드 변경을 기다리는 구독에만 보낼 수 있습니다.")
    first = charge.first_failed_at or now
    days = tuple(getattr(config, "dunning_days", ()) or ())
    context = {
        "product_name": sub.plan.product.name,
        "amount_won": charge.amount_won,
        "failure_message": failure_message(charge.failure_code, categorize(charge.failure_code or "")),
        "retry_at": charge.next_retry_at,
        "final": False,
        "hard_decline": charge.next_retry_at is None,
        "change_card_url": f"{config.site_url}/account",
        "deadline": first + timedelta(days=days[-1]) if days else None,
        "first_charge": False,
    }
    notices = notify(
        session,
        notifier,
        sub.user,
        "payment_failed",
        f"card_notice:charge:{charge.id}:{secrets.token_hex(6)}",
        context,
        now,
    )
    if not notices:
        session.rollback()
        raise ActionRefused("안내를 발송 대기열에 넣지 못했습니다. 발송함과 로그를 확인해 주세요.")
    session.commit()
    return CardNotice(sub.id, notices)


__all__ = ["ACTIONS", "CardNotice", "available_actions", "end_now", "record", "resend_card_change_notice"]
