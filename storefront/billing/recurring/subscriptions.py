"""Self-service on a subscription: cancel at period end, resume, change card, change plan.

Every state change here locks the subscription row first (`periods.lock_subscription`),
exactly as the billing engine does before it charges, so a cancellation or a plan change
and a renewal charge never interleave. Each public function checks that the subscription
belongs to the user (`ActionRefused` otherwise, and for anything that cannot be done in
its state, with a plain-Korean message and nothing changed), COMMITS once, queues its
notice in the same transaction (inside a SAVEPOINT: a notice that cannot be written never
undoes the change), and returns the new outbox rows' ids so the caller can enqueue their
delivery after the commit.

Billing keys: a cancellation at period end keeps the card (resuming needs no new card, as
Toss advises); a card change replaces the key on the subscription; when a subscription has
fully ended, or its old card was replaced, `cards.release_card_if_unused` destroys the
sealed key if no live subscription still uses it and asks Toss to delete it. The engine
calls the same function after it ends a subscription.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront.billing.wallet import cards
from storefront.billing.refunding import refunds
from storefront.billing.compliance import consent
from storefront.billing.recurring import charging, cycle, periods, settlement, statuses
from storefront.billing.wallet.cards import release_card_if_unused, release_unused_cards
from storefront.billing.errors import BillingError
from storefront.billing.recurring.proration import Proration, prorate
from storefront.billing.wallet.vault import Actor
from storefront.models import Attempt, Charge, Consent, Plan, Refund, Subscription, User

__all__ = [
    "ActionRefused",
    "CancelResult",
    "CardChange",
    "Deps",
    "PlanChange",
    "PlanOption",
    "RefundOffer",
    "cancel_now_with_refund",
    "cancel_subscription",
    "change_plan",
    "refund_offer",
    "complete_card_change",
    "finish_cancel_now",
    "plan_options",
    "release_card_if_unused",
    "release_unused_cards",
    "resume_subscription",
]

log = logging.getLogger(__name__)

CANCELABLE_AT_PERIOD_END = statuses.RUNNING
PLAN_CHANGEABLE = statuses.RUNNING


class ActionRefused(BillingError):
    """The shopper asked for something that cannot be done now; `message` says why in plain Korean."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Deps:
    """The collaborators a flow passes on to the engine."""

    toss: Any
    vault: Any
    notifier: Any
    clock: Any
    config: Any


@dataclass(frozen=True)
class CancelResult:
    subscription_id: int
    ended_now: bool  # an unpaid (incomplete / past due) subscription ends at once
    access_until: datetime | None  # when access ends (the paid period's end, or now)
    already: bool = False  # it was already set to cancel (or already ended now): nothing changed
    notice_ids: tuple[int, ...] = ()
    # cancel_now_with_refund only: the pro-rata refund and what became of it
    refund_won: int | None = None
    refund_status: str | None = None  # done | failed | unknown | sending | not_sent; None when 0 won


@dataclass(frozen=True)
class RefundOffer:
    """Ending a paid period now: the paid Attempt to refund and the terms' pro-rata amount."""

    subscription_id: int
    charge_id: int
    attempt_id: int
    proration: Proration
    refund_won: int  # the pro-rata amount, capped by what is still refundable on the attempt

    @property
    def idempotency_key(self) -> str:
        return prorata_refund_key(self.charge_id)


@dataclass(frozen=True)
class CardChange:
    subscription_id: int
    charge: charging.ChargeResult | None  # the retry of an unpaid period on the new card
    first_charge: bool  # the subscription had never been paid (a checkout retried with another card)
    notice_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class PlanOption:
    """A plan of the subscription's product, with what choosing it would do."""

    plan_id: int
    name: str
    amount_won: int
    interval: str
    effective_at: datetime | None  # when its price applies: the start of the next period
    following_at: datetime | None  # the billing date after that, on its interval
    current: bool
    booked: bool  # already booked as the pending change


@dataclass(frozen=True)
class PlanChange:
    subscription_id: int
    option: PlanOption
    reverted: bool  # the shopper went back to the current plan: the booked change is dropped
    notice_ids: tuple[int, ...] = ()


def owned(session: Session, user: User, subscription_id: int, *, lock: bool = False) -> Subscription:
    """The user's subscription (locked when asked), or `ActionRefused` (after a rollback)."""
    sub = periods.lock_subscription(session, subscription_id) if lock else session.get(Subscription, subscription_id)
    if sub is None or sub.user_id != user.id:
        session.rollback()
        raise ActionRefused("구독을 찾을 수 없습니다.")
    return sub


def notify(
    session: Session, notifier: Any, user: User, kind: str, dedup_key: str, context: dict[str, Any], now: datetime
) -> tuple[int, ...]:
    """Queue a notice in a SAVEPOINT; the ids of the new outbox rows (none if it failed or existed)."""
    try:
        with session.begin_nested():
            rows = notifier.queue(session, user=user, kind=kind, dedup_key=dedup_key, context=context, now=now)
    except Exception:
        log.exception("could not queue %s notice %s", kind, dedup_key)
        return ()
    return tuple(row.id for row in rows or ())


def _refuse(session: Session, message: str) -> ActionRefused:
    session.rollback()
    return ActionRefused(message)


# -- cancel and resume -----------------------------------------------------------------------------


def cancel_subscription(
    session: Session,
    *,
    user: User,
    subscription_id: int,
    toss: Any,
    vault: Any,
    notifier: Any,
    clock: Any,
    config: Any,
    ip: str,
    actor: Actor | None = None,
) -> CancelResult:
    """Stop renewal at the end of the paid period (trial included); an unpaid subscription ends now. COMMITS.

    `user` owns the subscription; `actor` is who asked when it is not the shopper (an admin
    acting from /admin/, with their IP): it is recorded on the card's release.

    ``trialing``/``active`` (and ``past_due`` with a charge still in flight): set
    ``cancel_at_period_end``; the engine ends it, without charging, when the period ends;
    the card is kept until then so `resume_subscription` needs no new card. ``past_due``
    and ``incomplete``: nothing was paid for the current period, so it ends now (status
    ``canceled``), its open charge is canceled and its card released. Asking again changes
    nothing (``already``). Queues ``subscription_canceled``.
    """
    now = clock.now()
    sub = owned(session, user, subscription_id, lock=True)
    if sub.status in statuses.ENDED:
        raise _refuse(session, "이미 종료된 구독입니다.")
    if sub.cancel_at_period_end:
        session.commit()
        return CancelResult(sub.id, False, _access_until(sub), already=True)
    pending = periods.pending_charge(session, sub.id)
    in_flight = pending is not None and periods.open_attempt(session, pending.id) is not None
    if sub.status == "incomplete" and in_flight:
        raise _refuse(session, "결제 결과를 확인하는 중입니다. 잠시 후 다시 시도해 주세요.")
    context = {"product_name": sub.plan.product.name, "resume_url": None}
    if sub.status in ("incomplete", "past_due") and not in_flight:
        was_past_due = sub.status == "past_due"
        if pending is not None:
            pending.status, pending.next_retry_at = "canceled", None
        settlement.end_subscription(sub, status="canceled", reason="canceled_by_customer", now=now)
        notices = (
            notify(
                session,
                notifier,
                user,
                "subscription_canceled",
                f"canceled:subscription:{sub.id}:ended",
                {**context, "access_until": now},
                now,
            )
            if was_past_due
            else ()
        )
        session.commit()
        release_card_if_unused(
            session,
            sub.billing_key_id,
            toss=toss,
            vault=vault,
            clock=clock,
            actor=actor or Actor("user", user.id, ip),
            reason="subscription canceled by the customer",
        )
        return CancelResult(sub.id, True, now, notice_ids=notices)
    sub.cancel_at_period_end, sub.canceled_at = True, now
    access_until = _access_until(sub)
    notices = notify(
        session,
        notifier,
        user,
        "subscription_canceled",
        f"canceled:subscription:{sub.id}:{secrets.token_hex(6)}",
        {**context, "access_until": access_until, "resume_url": f"{config.site_url}/account"},
        now,
    )
    session.commit()
    return CancelResult(sub.id, False, access_until, notice_ids=notices)


def resume_subscription(
    session: Session, *, user: User, subscription_id: int, notifier: Any, clock: Any
) -> Subscription:
    """Undo a cancellation at period end while the paid period lasts. COMMITS; queues ``subscription_resumed``.

    Renewal goes on as before on the card kept on file. Raises `ActionRefused` when the
    subscription is not set to cancel, its period has already ended, or the cancellation
    comes from refusing a price rise or a trial's conversion (the refusal still decides).
    """
    now = clock.now()
    sub = owned(session, user, subscription_id, lock=True)
    if not sub.cancel_at_period_end or sub.status not in CANCELABLE_AT_PERIOD_END:
        raise _refuse(session, "해지 신청된 구독이 아닙니다.")
    access_until = _access_until(sub)
    if access_until is not None and access_until <= now:
        raise _refuse(session, "이용 기간이 이미 끝나 해지를 취소할 수 없습니다. 새로 구독해 주세요.")
    if consent.gate(session, sub, now=now).decision == "refused":
        # Resuming would only end at the renewal anyway: the refused change still decides it.
        raise _refuse(
            session,
            "가격 변경(유료 전환)에 동의하지 않으셔서 이용 기간이 끝나면 종료됩니다. "
            "계속 이용하시려면 종료 후 새 가격으로 다시 구독해 주세요.",
        )
    sub.cancel_at_period_end, sub.canceled_at = False, None
    next_plan = sub.pending_plan or sub.plan
    notify(
        session,
        notifier,
        user,
        "subscription_resumed",
        f"resumed:subscription:{sub.id}:{secrets.token_hex(6)}",
        {
            "product_name": sub.plan.product.name,
            "next_charge_at": sub.next_charge_at,
            "amount_won": next_plan.amount_won,
        },
        now,
    )
    session.commit()
    return sub


def _access_until(sub: Subscription) -> datetime | None:
    """Until when the shopper may use what they paid for (or their trial)."""
    return sub.current_period_end or sub.trial_end_at or sub.next_charge_at


# -- end now with a pro-rata refund (약관 제16조) ---------------------------------------------------

CANCELED_NOW_REASON = "canceled_now_by_customer"
# `finish_cancel_now` leaves younger ends to the request still running, and looks back this far.
FINISH_GRACE = timedelta(minutes=5)
FINISH_WINDOW = timedelta(days=30)


def prorata_refund_key(charge_id: int) -> str:
    """The Idempotency-Key of the pro-rata refund of a period: one refund per charge, ever."""
    return f"prorata-{charge_id}"


def refund_offer(session: Session, sub: Subscription, *, now: datetime) -> RefundOffer | None:
    """What ending `sub` now would refund, or None when ending now with a refund is not offered.

    Offered only for an ``active`` subscription whose current period was paid (a trial, an
    unpaid or past-due subscription ends at once through `cancel_subscription` instead) and
    while no next period's charge is open. Reads only; the amount may be 0.
    """
    if sub.status != "active" or periods.pending_charge(session, sub.id) is not None:
        return None
    return _offer_at(session, sub, now)


def refund_offer_from(
    sub: periods.SubscriptionState, period: periods.CurrentPeriod | None, *, now: datetime
) -> RefundOffer | None:
    """`refund_offer` judged from the current period read already (`periods.current_periods`): no statement.

    The same rule on the same rows: the pending flag for `pending_charge`, the period's Charge for
    `charge_for`, its first approved attempt with a payment key, and that attempt's refunds for what is
    still refundable and for the pro-rata refund asked before (a period's pro-rata refund goes to its
    paid attempt, so it is among them). 내 구독 judges every 해지 예정 subscription this way.
    """
    if sub.status != "active" or sub.current_period_start is None or period is None or period.has_pending_charge:
        return None
    if not _paid_period_contains(period.status, period.period_start, period.period_end, now):
        return None
    attempt = period.paid_attempt
    if attempt is None:
        return None
    own = period.refunds_of(attempt.id)
    refundable = max(attempt.amount_won - sum(r.amount_won for r in own if r.status in refunds.RESERVING), 0)
    key = prorata_refund_key(period.charge_id)
    already = next((r for r in own if r.idempotency_key == key), None)
    return _offer(sub.id, period.charge_id, attempt.id, attempt.amount_won, period, refundable, already, now)


def _offer_at(session: Session, sub: Subscription, moment: datetime) -> RefundOffer | None:
    """The refund of the paid period of `sub` that contains `moment` (the status is not checked)."""
    if sub.current_period_start is None:
        return None
    charge = periods.charge_for(session, sub.id, sub.current_period_start)
    if charge is None or not _paid_period_contains(charge.status, charge.period_start, charge.period_end, moment):
        return None
    attempt = _paid_attempt(session, charge)
    if attempt is None:
        return None
    refundable = refunds.refundable_won(session, attempt)
    already = _prorata_refund(session, charge.id)
    return _offer(sub.id, charge.id, attempt.id, attempt.amount_won, charge, refundable, already, moment)


def _paid_period_contains(status: str, start: datetime, end: datetime, moment: datetime) -> bool:
    return status in ("paid", "refunded") and start <= moment < end


def _offer(
    sub_id: int,
    charge_id: int,
    attempt_id: int,
    paid_won: int,
    period: Any,
    refundable: int,
    already: Any,
    moment: datetime,
) -> RefundOffer:
    """The pro-rata refund of the paid `period` (its ``period_start``, ``period_end``, ``paid_at``) at
    `moment`, capped by what is still `refundable`; `already` is the pro-rata refund asked before, if any."""
    proration = prorate(
        paid_won, period_start=period.period_start, period_end=period.period_end, paid_at=period.paid_at, now=moment
    )
    if already is not None:  # asked before: the amount it was asked for, not what is left after it
        refundable += already.amount_won if already.status in refunds.RESERVING else 0
    return RefundOffer(sub_id, charge_id, attempt_id, proration, min(proration.refund_won, refundable))


def _paid_attempt(session: Session, charge: Charge) -> Attempt | None:
    return session.scalars(
        select(Attempt)
        .where(Attempt.charge_id == charge.id, Attempt.status == "done", Attempt.payment_key.is_not(None))
        .order_by(Attempt.id)
    ).first()


def _prorata_refund(session: Session, charge_id: int) -> Refund | None:
    return session.scalar(select(Refund).where(Refund.idempotency_key == prorata_refund_key(charge_id)))


def cancel_now_with_refund(
    session: Session,
    *,
    user: User,
    subscription_id: int,
    toss: Any,
    vault: Any,
    notifier: Any,
    clock: Any,
    config: Any,
    ip: str,
    actor: Actor | None = None,
) -> CancelResult:
    """End a paid subscription now and refund the unused days of its period (약관 제16조). COMMITS.

    Under the row lock the refund is recomputed from the paid Attempt and the clock (never
    taken from a form; `refund_offer`), then the subscription ends (status ``canceled``,
    ``ended_reason`` ``canceled_now_by_customer``, no next charge) and ``subscription_canceled``
    (with ``refund_amount_won``) is queued, all COMMITTED together. Only then is the refund
    sent through `refunds.refund` with the Idempotency-Key ``prorata-<charge id>``, so a
    second submit, or a retry after a crash, asks for the same refund (amount recomputed at
    ``ended_at``) and Toss is called at most once. A refund of 0 won calls nothing. A
    declined (``failed``) or unanswered (``unknown``) refund leaves the subscription ended:
    the admin's 환불 page and the settle job finish it. A process that dies between the commit
    and the Refund row is finished by `finish_cancel_now` (the refund settle job) or by the
    shopper asking again. Finally the card is released.

    Raises `ActionRefused` (nothing changed) when the subscription is not the user's, is not
    ``active`` with a paid current period, or its next charge is being processed. An admin
    acting for the shopper passes `actor`: the refund is requested in the admin's name and
    the card released as theirs.
    """
    now = clock.now()
    sub = owned(session, user, subscription_id, lock=True)
    if sub.status == "canceled" and sub.ended_reason == CANCELED_NOW_REASON and sub.ended_at is not None:
        already = True
        offer = _offer_at(session, sub, sub.ended_at)
        notices: tuple[int, ...] = ()
    else:
        already = False
        if sub.status in statuses.ENDED:
            raise _refuse(session, "이미 종료된 구독입니다.")
        if sub.status == "active" and periods.pending_charge(session, sub.id) is not None:
            raise _refuse(session, "다음 결제를 처리하는 중입니다. 잠시 후 다시 시도해 주세요.")
        offer = refund_offer(session, sub, now=now)
        if offer is None:
            raise _refuse(
                session,
                "결제된 이용 기간이 있는 구독만 바로 해지하고 환불받을 수 있습니다. "
                "무료 체험이나 결제되지 않은 구독은 일반 해지로 바로 종료됩니다.",
            )
        settlement.end_subscription(sub, status="canceled", reason=CANCELED_NOW_REASON, now=now)
        sub.cancel_at_period_end, sub.pending_plan_id, sub.pending_plan = False, None, None
        notices = notify(
            session,
            notifier,
            user,
            "subscription_canceled",
            f"canceled:subscription:{sub.id}:now",
            {
                "product_name": sub.plan.product.name,
                "access_until": now,
                "resume_url": None,
                "refund_amount_won": offer.refund_won,
                "ended_now": True,
            },
            now,
        )
    billing_key_id = sub.billing_key_id
    session.commit()
    requested_by = actor.id if actor is not None and actor.type == "admin" else user.id
    refund_won, status = (
        (offer.refund_won, _send_prorata_refund(session, offer, requested_by=requested_by, toss=toss, clock=clock))
        if offer is not None
        else (None, None)
    )
    release_card_if_unused(
        session,
        billing_key_id,
        toss=toss,
        vault=vault,
        clock=clock,
        actor=actor or Actor("user", user.id, ip),
        reason="subscription ended now by the customer",
    )
    return CancelResult(
        sub.id, True, sub.ended_at, already=already, notice_ids=notices, refund_won=refund_won, refund_status=status
    )


def finish_cancel_now(session: Session, *, toss: Any, clock: Any) -> int:
    """Send the refund of every 바로 해지 whose Refund row was never written. COMMITS each; how many it sent.

    That happens when the process died (or the database failed) between committing the ended
    subscription and committing the ``sending`` Refund row. The amount is the one the shopper was
    shown: the pro-rata refund at ``ended_at`` (`_offer_at`), under the same Idempotency-Key as
    the request, so Toss moves the money once whoever sends it. Ends younger than FINISH_GRACE are
    left to their own request; ends older than FINISH_WINDOW are left to the admin's 환불 page.
    """
    now = clock.now()
    subs = session.scalars(
        select(Subscription)
        .where(
            Subscription.status == "canceled",
            Subscription.ended_reason == CANCELED_NOW_REASON,
            Subscription.ended_at >= now - FINISH_WINDOW,
            Subscription.ended_at <= now - FINISH_GRACE,
        )
        .order_by(Subscription.id)
    ).all()
    sent = 0
    for sub in subs:
        offer = _offer_at(session, sub, sub.ended_at) if sub.ended_at is not None else None
        if offer is None or offer.refund_won <= 0 or _prorata_refund(session, offer.charge_id) is not None:
            continue
        log.warning(
            "subscription %s ended now without its refund row: sending the pro-rata refund of charge %s",
            sub.id,
            offer.charge_id,
        )
        if _send_prorata_refund(session, offer, requested_by=sub.user_id, toss=toss, clock=clock) != "not_sent":
            sent += 1
    session.commit()
    return sent


def _send_prorata_refund(
    session: Session, offer: RefundOffer, *, requested_by: int | None, toss: Any, clock: Any
) -> str | None:
    """Send (or find) the offer's refund; its status, ``not_sent`` if refused before anything was written."""
    if offer.refund_won <= 0:
        return None
    days = offer.proration
    reason = f"중도 해지 일할 환불 ({days.total_days}일 중 {days.used_days}일 이용, 남은 {days.remaining_days}일)"
    try:
        row = refunds.refund(
            session,
            offer.attempt_id,
            amount_won=offer.refund_won,
            reason=reason,
            requested_by=requested_by,
            idempotency_key=offer.idempotency_key,
            toss=toss,
            clock=clock,
        )
    except refunds.RefundError:
        session.rollback()
        log.exception("pro-rata refund of charge %s refused before sending", offer.charge_id)
        return "not_sent"
    except Exception:  # the row, if written, is 'sending': the settle job resolves it
        session.rollback()
        log.exception("pro-rata refund of charge %s: outcome unknown", offer.charge_id)
        written = _prorata_refund(session, offer.charge_id)
        return written.status if written is not None else "not_sent"
    return row.status


# -- change card -----------------------------------------------------------------------------------


def complete_card_change(
    session: Session,
    *,
    user: User,
    subscription_id: int | None,
    auth_key: str,
    idempotency_key: str,
    deps: Deps,
    actor: Actor,
    ip: str,
) -> CardChange:
    """Register the new card and put it on the subscription; retry an unpaid period on it at once.

    Called by `checkout.complete_billing_auth` for a claimed ``change_card`` intent. The key
    is exchanged (`cards.exchange_auth_key`, may raise `cards.CardRegistrationFailed`)
    before the row lock is taken; then, under the lock, the new key is sealed and set on
    the subscription and the change COMMITTED. The old card is released if no live
    subscription still uses it (destroyed locally and deleted at Toss; the row stays,
    deactivated, for the charges that reference it). A ``past_due`` subscription's open
    period, or an ``incomplete`` one's first charge, is then charged on the new card
    (`charging.retry_after_card_change`). Raises `ActionRefused` if the subscription
    ended meanwhile (the new key is then released as well).
    """
    sub = session.get(Subscription, subscription_id) if subscription_id else None
    if sub is None or sub.user_id != user.id or sub.status not in statuses.NOT_ENDED:
        raise _refuse(session, "구독이 이미 종료되어 카드를 바꿀 수 없습니다.")
    session.commit()
    billing = cards.exchange_auth_key(
        deps.toss, auth_key=auth_key, customer_key=user.customer_key, idempotency_key=idempotency_key
    )
    now = deps.clock.now()
    sub = owned(session, user, sub.id, lock=True)
    card = cards.store_card(session, user=user, billing=billing, vault=deps.vault, actor=actor, now=now)
    if sub.status not in statuses.NOT_ENDED:
        session.commit()
        release_card_if_unused(
            session,
            card.id,
            toss=deps.toss,
            vault=deps.vault,
            clock=deps.clock,
            actor=actor,
            reason="registered for a subscription that had ended",
        )
        raise ActionRefused("구독이 이미 종료되어 카드를 바꿀 수 없습니다.")
    old_id, status = sub.billing_key_id, sub.status
    sub.billing_key_id, sub.billing_key = card.id, card
    notices = notify(
        session,
        deps.notifier,
        user,
        "card_registered",
        f"card_registered:{card.id}",
        {"card_label": cards.card_label(card)},
        now,
    )
    session.commit()
    if old_id is not None and old_id != card.id:
        release_card_if_unused(
            session,
            old_id,
            toss=deps.toss,
            vault=deps.vault,
            clock=deps.clock,
            actor=actor,
            reason="replaced by a new card",
        )
    charge = None
    if status in ("past_due", "incomplete"):
        charge = charging.retry_after_card_change(
            session,
            sub.id,
            toss=deps.toss,
            vault=deps.vault,
            notifier=deps.notifier,
            clock=deps.clock,
            config=deps.config,
            actor=actor,
            customer_ip=ip,
        )
    return CardChange(sub.id, charge, status == "incomplete", notices)


# -- change plan -----------------------------------------------------------------------------------


def plan_options(session: Session, sub: Subscription, *, billing_hour_kst: int) -> list[PlanOption]:
    """Every active plan of the subscription's product, with when its price would apply."""
    effective_at = change_effective_at(session, sub)
    plans = session.scalars(
        select(Plan)
        .where(Plan.product_id == sub.plan.product_id, Plan.active.is_(True), Plan.interval.in_(cycle.INTERVALS))
        .order_by(Plan.position, Plan.id)
    ).all()
    return [_option(sub, plan, effective_at, billing_hour_kst) for plan in plans]


def change_effective_at(session: Session, sub: Subscription) -> datetime | None:
    """When a booked plan takes effect: the start of the first period not yet charged.

    For a paid period (or a trial) that is its end (``next_charge_at``); for a past-due
    subscription, the end of the period still being collected.
    """
    pending = periods.pending_charge(session, sub.id)
    return pending.period_end if pending is not None else sub.next_charge_at


def _option(sub: Subscription, plan: Plan, effective_at: datetime | None, hour: int) -> PlanOption:
    following = cycle.period_end(effective_at, plan.interval, sub.anchor_day, hour) if effective_at else None
    return PlanOption(
        plan.id,
        plan.name,
        plan.amount_won,
        plan.interval,
        effective_at,
        following,
        current=plan.id == sub.plan_id,
        booked=plan.id == sub.pending_plan_id,
    )


def change_plan(
    session: Session,
    *,
    user: User,
    subscription_id: int,
    plan_id: int,
    ip: str,
    notifier: Any,
    clock: Any,
    config: Any,
    terms_version: str,
) -> PlanChange:
    """Book a change to another plan of the same product, from the next period. COMMITS.

    Stored as ``pending_plan_id``; the engine switches plan, price and interval when it
    opens the next period's charge (`periods.apply_pending_plan`), so the period already
    paid is untouched and the next one is charged the new price, and a change of interval
    moves the billing date after it. The shopper's confirmation is recorded as a Consent
    (kind ``plan_change``, the old and new price and the dates shown), so a higher price
    the shopper chose is consented. Choosing the current plan again drops a booked change.
    Queues ``plan_changed``. Raises `ActionRefused` (nothing changed) for a plan of another
    product or an inactive one, a subscription set to cancel, or one that is not live.
    """
    now = clock.now()
    sub = owned(session, user, subscription_id, lock=True)
    if sub.status not in PLAN_CHANGEABLE:
        raise _refuse(session, "지금은 요금제를 바꿀 수 없는 구독입니다.")
    if sub.cancel_at_period_end:
        raise _refuse(session, "해지 예정인 구독은 요금제를 바꿀 수 없습니다. 먼저 해지를 취소해 주세요.")
    plan = session.get(Plan, plan_id)
    if (
        plan is None
        or plan.product_id != sub.plan.product_id
        or not plan.active
        or plan.interval not in cycle.INTERVALS
    ):
        raise _refuse(session, "선택할 수 없는 요금제입니다.")
    if plan.id == sub.plan_id and sub.pending_plan_id is None:
        raise _refuse(session, "지금 이용 중인 요금제입니다.")
    if plan.id == sub.pending_plan_id:
        raise _refuse(session, "이미 변경을 예약한 요금제입니다.")
    effective_at = change_effective_at(session, sub)
    if effective_at is None:
        raise _refuse(session, "다음 결제일이 정해지지 않아 요금제를 바꿀 수 없습니다.")
    option = _option(sub, plan, effective_at, config.billing_hour_kst)
    old_plan = sub.pending_plan or sub.plan
    session.add(
        Consent(
            user_id=user.id,
            subscription_id=sub.id,
            kind="plan_change",
            decision="agreed",
            text_version=terms_version,
            ip=ip[:64],
            at=now,
            detail=json.dumps(_consent_detail(old_plan, option), ensure_ascii=False),
        )
    )
    reverted = plan.id == sub.plan_id
    sub.pending_plan_id, sub.pending_plan = (None, None) if reverted else (plan.id, plan)
    notices = notify(
        session,
        notifier,
        user,
        "plan_changed",
        f"plan_changed:subscription:{sub.id}:{secrets.token_hex(6)}",
        {
            "product_name": plan.product.name,
            "old_plan_name": old_plan.name,
            "new_plan_name": plan.name,
            "new_amount_won": plan.amount_won,
            "effective_at": effective_at,
        },
        now,
    )
    session.commit()
    return PlanChange(sub.id, option, reverted, notices)


def _consent_detail(old_plan: Plan, option: PlanOption) -> dict[str, Any]:
    return {
        "from_plan_id": old_plan.id,
        "from_plan_name": old_plan.name,
        "old_amount_won": old_plan.amount_won,
        "old_interval": old_plan.interval,
        "to_plan_id": option.plan_id,
        "to_plan_name": option.name,
        "new_amount_won": option.amount_won,
        "new_interval": option.interval,
        "effective_at": option.effective_at.isoformat() if option.effective_at else None,
        "following_at": option.following_at.isoformat() if option.following_at else None,
    }
