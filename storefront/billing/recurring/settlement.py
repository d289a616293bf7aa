"""What happens to the rows once Toss has answered: paid, declined (dunning), retry, unknown, ended.

Every function here takes rows the caller has already locked (`charging.lock_subscription`)
inside one transaction, changes them, queues the customer's notice through the injected
notifier, and returns a :class:`ChargeResult`. None of them commits, calls Toss or reads
the clock: `charging` does those, so a normal answer and a reconciled one go through the
same code. Notices are queued inside a SAVEPOINT, so a notice that cannot be written
(a template bug, say) is logged and never undoes the bookkeeping of money that moved.

Dunning: the first decline of a charge starts the clock (`Charge.first_failed_at`); soft
declines are retried on the same card at each of ``config.dunning_days`` after it; a hard
decline stops automatic attempts (``Charge.next_retry_at = None``) until
`charging.retry_after_card_change`, and the subscription is only looked at again on the
last of those days, when it ends if the card was not changed. A decline with no date
left ends the subscription with ``config.dunning_final_status``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from storefront.billing.recurring import statuses
from storefront.billing.errors import NO_PAYMENT, failure_message
from storefront.config import Config
from storefront.dml import write_through
from storefront.models import Attempt, Charge, Subscription
from storefront.toss.errors import Category
from storefront.toss.types import Payment

log = logging.getLogger(__name__)

OUTCOMES = ("paid", "declined", "retry", "unknown", "skipped", "already_paid", "in_flight", "ended")
DECLINES = (Category.HARD_DECLINE, Category.SOFT_DECLINE)
TRANSIENT_RETRY_DELAY = timedelta(minutes=5)
CONFIG_RETRY_DELAY = timedelta(hours=1)

_ENDED_REASONS = {
    "canceled_at_period_end": "고객님의 해지 신청에 따라 이용 기간 종료와 함께 구독이 종료되었습니다.",
    "canceled_now_by_customer": "고객님의 요청에 따라 구독을 바로 종료하고 남은 기간의 요금을 환불했습니다.",
    "withdrawn_by_customer": "고객님의 청약철회 요청에 따라 구독을 바로 종료하고 결제 금액 전액을 환불했습니다.",
    # billing/recurring/admin_actions.py: 즉시 해지 (환불 없음) from the admin
    "canceled_now_by_admin": "상점 관리자가 구독을 바로 종료했습니다. 더 이상 "
    "결제되지 않으며, 궁금한 점은 고객센터로 문의해 주세요.",
    "payment_failed": "정기결제가 여러 차례 승인되지 않아 구독이 종료되었습니다.",
    # billing/compliance/consent.py: a raised amount is never charged without consent given within 30 days before it
    "trial_conversion_no_consent": "무료 체험이 끝나기 전까지 유료 전환에 동의하지 "
    "않으셔서, 결제 없이 체험 종료와 함께 "
    "구독이 종료되었습니다.",
    "trial_conversion_refused": "유료 전환 대신 해지를 선택하셔서, 결제 없이 체험 종료와 함께 구독이 종료되었습니다.",
    "price_increase_no_consent": "변경된 요금에 동의하지 않으셔서 인상된 요금은 "
    "결제되지 않았으며, 이미 결제하신 이용 기간이 "
    "끝나는 날 구독이 종료되었습니다.",
    "price_increase_refused": "요금 변경 대신 해지를 선택하셔서 인상된 요금은 "
    "결제되지 않았으며, 이미 결제하신 이용 기간이 "
    "끝나는 날 구독이 종료되었습니다.",
}


@dataclass(frozen=True)
class ChargeResult:
    """What one call of `charging.charge_period` (or a settlement) did.

    outcome:
      paid          the period is paid (now, or found paid by the reconciler)
      declined      the card was declined; dunning scheduled or the subscription ended
      retry         not charged (Toss hiccup or our config); due again at `retry_at`
      unknown       the outcome is unknown; the reconciler asks Toss later
      in_flight     an earlier attempt for this period is still being sent; nothing done
      already_paid  this period was already paid; nothing done
      skipped       not due, not chargeable, or nothing to do
      ended         the subscription ended instead of being charged
    """

    outcome: str
    subscription_id: int
    charge_id: int | None = None
    attempt_id: int | None = None
    order_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None  # plain Korean, fit for a page or a notice
    hard_decline: bool = False
    retry_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown charge outcome {self.outcome!r}")

    @property
    def paid(self) -> bool:
        return self.outcome in ("paid", "already_paid")


def result(
    outcome: str, sub: Subscription, charge: Charge | None = None, attempt: Attempt | None = None, **extra: Any
) -> ChargeResult:
    return ChargeResult(
        outcome,
        sub.id,
        charge.id if charge else None,
        attempt.id if attempt else None,
        attempt.order_id if attempt else None,
        **extra,
    )


# -- paid ------------------------------------------------------------------------------------------


def mark_paid(
    session: Session,
    sub: Subscription,
    charge: Charge,
    attempt: Attempt,
    payment: Payment,
    *,
    notifier: Any,
    config: Config,
    now: datetime,
) -> ChargeResult:
    """Attempt done, Charge paid, the subscription moved to the next period, receipt queued."""
    if payment.total_amount != charge.amount_won:
        log.error(
            "charge %s: Toss approved %s won for order %s, expected %s",
            charge.id,
            payment.total_amount,
            attempt.order_id,
            charge.amount_won,
        )
    first = _paid_count(session, sub.id) == 0  # before the attempt changes: nothing for autoflush to write yet
    record_payment(attempt, payment, now)
    charge.status, charge.paid_at, charge.next_retry_at = "paid", payment.approved_at or now, None
    charge.failure_code = charge.failure_message = None
    receipt = _receipt_context(sub, charge, attempt, first)
    if sub.status in statuses.ENDED:
        # Money moved after the subscription ended (an unknown outcome settled late): book it, flag it.
        log.warning("subscription %s is %s but charge %s was paid; review for a refund", sub.id, sub.status, charge.id)
    else:
        _advance(sub, charge)
        receipt["next_charge_at"] = None if sub.cancel_at_period_end else sub.next_charge_at
    # The three rows' UPDATEs go out now, before the receipt's SAVEPOINT, without the unit of work's
    # flush (every renewal pays this path; see `dml.write_through`).
    write_through(session, attempt, charge, sub)
    _notify(session, notifier, sub, "payment_receipt", f"receipt:charge:{charge.id}", receipt, now)
    return result("paid", sub, charge, attempt)


def record_payment(attempt: Attempt, payment: Payment, now: datetime) -> None:
    """Copy an approved Payment onto its Attempt (renewals and one-time orders alike)."""
    attempt.status = "done"
    attempt.payment_key = payment.payment_key
    attempt.receipt_url = payment.receipt_url
    attempt.approved_at = payment.approved_at or now
    attempt.card_summary = _card_label(payment)
    attempt.raw_response = json.dumps(payment.raw, ensure_ascii=False, default=str)
    attempt.failure_code = attempt.failure_message = None
    attempt.updated_at = now


def _advance(sub: Subscription, charge: Charge) -> None:
    sub.current_period_start, sub.current_period_end = charge.period_start, charge.period_end
    sub.next_charge_at = charge.period_end
    sub.status = "active"
    if sub.pending_plan_id is not None and sub.pending_plan is not None:
        # A plan change waits for the period it was booked for: the one after this charge.
        sub.plan_id, sub.amount_won = sub.pending_plan_id, sub.pending_plan.amount_won
        sub.pending_plan_id = None


_PAID_COUNT = select(func.count(Charge.id)).where(
    Charge.subscription_id == bindparam("subscription_id"), Charge.status == "paid"
)


def _paid_count(session: Session, subscription_id: int) -> int:
    return session.scalar(_PAID_COUNT, {"subscription_id": subscription_id}) or 0


def _receipt_context(sub: Subscription, charge: Charge, attempt: Attempt, first: bool) -> dict[str, Any]:
    from storefront.billing.compliance.cooling_off import receipt_facts  # imports this module: bound at call time

    return {
        **receipt_facts(sub.plan.product, charge.paid_at),
        "product_name": sub.plan.product.name,
        "plan_name": sub.plan.name,
        "amount_won": charge.amount_won,
        "period_start": charge.period_start,
        "period_end": charge.period_end,
        "card_label": attempt.card_summary or (sub.billing_key.label if sub.billing_key else "") or "등록된 카드",
        "receipt_url": attempt.receipt_url,
        "order_id": attempt.order_id,
        "next_charge_at": None,
        "first": first,
    }


def _card_label(payment: Payment) -> str | None:
    if payment.card is None:
        return None
    return f"{payment.card.company} {payment.card.number}".strip()[:80] or None


# -- declined: dunning -----------------------------------------------------------------------------


def mark_declined(
    session: Session,
    sub: Subscription,
    charge: Charge,
    attempt: Attempt | None,
    *,
    code: str,
    message: str,
    category: Category,
    notifier: Any,
    config: Config,
    now: datetime,
) -> ChargeResult:
    """Record a decline and schedule what follows (see the module docstring).

    `attempt` is None when no call was made (no usable card). A first charge
    (status ``incomplete``) never enters dunning: the Charge fails and the
    subscription is not charged again unless `retry_after_card_change` is called.
    """
    hard = category is Category.HARD_DECLINE
    if attempt is not None:
        _fail_attempt(attempt, code, message, now)
    charge.failure_code, charge.failure_message = code[:64], message[:512]
    charge.retry_count = (charge.retry_count or 0) + 1
    charge.first_failed_at = charge.first_failed_at or now
    if sub.status in statuses.ENDED:
        charge.status, charge.next_retry_at = "failed", None
        return _declined(sub, charge, attempt, code, category)
    if sub.status == "incomplete":  # a checkout's first charge is not retried on a schedule
        sub.next_charge_at = None
        return _failed_for_good(session, sub, charge, attempt, code, category, notifier, config, now)
    dates = [charge.first_failed_at + timedelta(days=d) for d in config.dunning_days]
    upcoming = [d for d in dates if d > now]
    if not upcoming:
        end_subscription(sub, status=config.dunning_final_status, reason="payment_failed", now=now)
        # One message says both things: the charge failed for good and the subscription ended.
        return _failed_for_good(session, sub, charge, attempt, code, category, notifier, config, now)
    retry_at = None if hard else upcoming[0]
    sub.status = "past_due"
    charge.next_retry_at = retry_at
    sub.next_charge_at = retry_at or dates[-1]  # hard: looked at again only on the deadline
    _notify_failed(
        session,
        notifier,
        sub,
        charge,
        attempt,
        code,
        category,
        config,
        now,
        retry_at=retry_at,
        final=False,
        deadline=dates[-1],
    )
    return _declined(sub, charge, attempt, code, category, retry_at=retry_at)


def _failed_for_good(
    session: Session,
    sub: Subscription,
    charge: Charge,
    attempt: Attempt | None,
    code: str,
    category: Category,
    notifier: Any,
    config: Config,
    now: datetime,
) -> ChargeResult:
    """No attempt follows: the charge fails and the shopper is told once (the caller has set `sub`'s state)."""
    charge.status, charge.next_retry_at = "failed", None
    _notify_failed(
        session, notifier, sub, charge, attempt, code, category, config, now, retry_at=None, final=True, deadline=None
    )
    return _declined(sub, charge, attempt, code, category)


def _declined(
    sub: Subscription,
    charge: Charge,
    attempt: Attempt | None,
    code: str,
    category: Category,
    retry_at: datetime | None = None,
) -> ChargeResult:
    return result(
        "declined",
        sub,
        charge,
        attempt,
        error_code=code,
        error_message=failure_message(code, category),
        hard_decline=category is Category.HARD_DECLINE,
        retry_at=retry_at,
    )


def awaiting_card_change(charge: Charge) -> bool:
    """True while a hard-declined charge waits for a new card (no automatic attempt is scheduled)."""
    return charge.status == "pending" and (charge.retry_count or 0) > 0 and charge.next_retry_at is None


def end_after_deadline(
    session: Session, sub: Subscription, charge: Charge, *, notifier: Any, config: Config, now: datetime
) -> ChargeResult:
    """The last dunning day passed while waiting for a new card: end it and say so."""
    charge.status = "failed"
    end_subscription(sub, status=config.dunning_final_status, reason="payment_failed", now=now)
    notify_ended(session, notifier, sub, now)
    return result(
        "ended",
        sub,
        charge,
        error_code=charge.failure_code,
        error_message=failure_message(charge.failure_code, Category.HARD_DECLINE),
        hard_decline=True,
    )


def _notify_failed(
    session: Session,
    notifier: Any,
    sub: Subscription,
    charge: Charge,
    attempt: Attempt | None,
    code: str,
    category: Category,
    config: Config,
    now: datetime,
    *,
    retry_at: datetime | None,
    final: bool,
    deadline: datetime | None,
) -> None:
    dedup = f"failed:attempt:{attempt.id}" if attempt else f"failed:charge:{charge.id}:{charge.retry_count}"
    context = {
        "product_name": sub.plan.product.name,
        "amount_won": charge.amount_won,
        "failure_message": failure_message(code, category),
        "retry_at": retry_at,
        "final": final,
        "hard_decline": category is Category.HARD_DECLINE,
        "change_card_url": f"{config.site_url}/account",
        "deadline": deadline,
        "first_charge": sub.status == "incomplete",
    }
    _notify(session, notifier, sub, "payment_failed", dedup, context, now)


# -- not a decline: retry later, or unknown --------------------------------------------------------


def mark_retry(
    sub: Subscription,
    charge: Charge,
    attempt: Attempt | None,
    *,
    code: str,
    message: str,
    category: Category,
    now: datetime,
) -> ChargeResult:
    """Toss hiccupped (TRANSIENT: again in minutes) or our setup is wrong (CONFIG: again in an hour, alert).

    Neither counts as a decline nor moves the dunning schedule. A first charge
    (``incomplete``) is left due so the shopper can simply try again.
    """
    if attempt is not None:
        _fail_attempt(attempt, code, message, now)
    delay = CONFIG_RETRY_DELAY if category is Category.CONFIG else TRANSIENT_RETRY_DELAY
    if category is Category.CONFIG:
        log.error("ALERT charge %s of subscription %s refused for a configuration reason: %s", charge.id, sub.id, code)
    else:
        log.warning("charge %s of subscription %s: transient Toss error %s", charge.id, sub.id, code)
    retry_at = None
    if sub.status != "incomplete":
        retry_at = now + delay
        sub.next_charge_at = charge.next_retry_at = retry_at
    return result(
        "retry", sub, charge, attempt, error_code=code, error_message=failure_message(code, category), retry_at=retry_at
    )


def mark_unknown(
    sub: Subscription, charge: Charge, attempt: Attempt, *, code: str, message: str, now: datetime
) -> ChargeResult:
    """The call may or may not have charged: keep everything else as it is; `reconcile` asks Toss."""
    attempt.status = "unknown"
    attempt.failure_code, attempt.failure_message = code[:64], message[:512]
    attempt.updated_at = now
    log.warning("attempt %s (order %s): outcome unknown (%s); left for reconcile", attempt.id, attempt.order_id, code)
    return result(
        "unknown", sub, charge, attempt, error_code=code, error_message=failure_message(code, Category.UNKNOWN_OUTCOME)
    )


def mark_no_payment(sub: Subscription, charge: Charge, attempt: Attempt, *, now: datetime) -> ChargeResult:
    """Toss has no payment for the order: the attempt never happened, so a new one may start."""
    _fail_attempt(attempt, NO_PAYMENT, "Toss has no payment for this order id", now)
    return result("retry", sub, charge, attempt, error_code=NO_PAYMENT, retry_at=sub.next_charge_at)


def _fail_attempt(attempt: Attempt, code: str, message: str, now: datetime) -> None:
    attempt.status = "failed"
    attempt.failure_code, attempt.failure_message = code[:64], message[:512]
    attempt.updated_at = now


# -- ending ----------------------------------------------------------------------------------------


def end_subscription(sub: Subscription, *, status: str, reason: str, now: datetime) -> None:
    """Move `sub` to an ended status; an unpaid open Charge of it is canceled by the caller."""
    sub.status = status
    sub.ended_at = now
    sub.ended_reason = reason
    sub.next_charge_at = None
    if status == "canceled" and sub.canceled_at is None:
        sub.canceled_at = now


def cancel_at_period_end(
    session: Session, sub: Subscription, pending: Charge | None, *, notifier: Any, now: datetime
) -> ChargeResult:
    """A cancellation the shopper confirmed earlier takes effect: end it, charge nothing, tell them."""
    if pending is not None:
        pending.status, pending.next_retry_at = "canceled", None
    ended_at = min(sub.current_period_end or now, now)
    end_subscription(sub, status="canceled", reason="canceled_at_period_end", now=ended_at)
    notify_ended(session, notifier, sub, now)
    return result("ended", sub, pending)


def ended_reason_text(reason: str | None) -> str:
    """Why a subscription ended, in plain Korean for the shopper."""
    return _ENDED_REASONS.get(reason or "", "구독이 종료되었습니다.")


def notify_ended(session: Session, notifier: Any, sub: Subscription, now: datetime) -> None:
    context = {
        "product_name": sub.plan.product.name,
        "ended_reason": ended_reason_text(sub.ended_reason),
        "ended_reason_code": sub.ended_reason,
        "ended_at": sub.ended_at,
    }
    _notify(session, notifier, sub, "subscription_ended", f"ended:subscription:{sub.id}", context, now)


def _notify(
    session: Session,
    notifier: Any,
    sub: Subscription,
    kind: str,
    dedup_key: str,
    context: dict[str, Any],
    now: datetime,
) -> None:
    try:
        with session.begin_nested():
            notifier.queue(session, user=sub.user, kind=kind, dedup_key=dedup_key, context=context, now=now)
    except Exception:
        # The money trail must not depend on a notice; the outbox can be repaired, a lost payment cannot.
        log.exception("could not queue %s notice %s for subscription %s", kind, dedup_key, sub.id)
