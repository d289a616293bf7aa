"""청약철회 (전자상거래법 제17조) in self-service: withdraw a payment within its window, get all of it back, once.

Not to be confused with billing/compliance/withdrawal.py, which is 회원탈퇴 (closing an account).

This module owns whether a payment may still be withdrawn (`for_subscription`, `for_order`:
read-only, what the pages show) and the withdrawal itself (`withdraw_subscription` for 내 구독,
the latest paid period of a subscription; `withdraw_order` for a one-time order). The rules:

- The window is the product's ``cooling_off_days`` (7 by default, the law's minimum) counted in
  days after the day of payment in Asia/Seoul, the payment day itself not counted (민법 제157조),
  so it ends at midnight KST closing the last day (`deadline`). After it, 내 구독's pro-rata
  cancel (`subscriptions.cancel_now_with_refund`) applies instead.
- A product with a ``cooling_off_exclusion`` is digital content whose 청약철회 is limited once its
  provision has begun (제17조②5); the text says what counts as that beginning and the product
  page discloses it (제17조⑥). The site cannot see whether a shopper has begun, so such a product
  is not withdrawn in self-service: the refusal says so and sends the shopper to 고객센터, where the
  merchant checks and refunds an unused purchase (the admin's 환불 page).
- The refund is the whole amount still refundable on the payment's Attempt (all of it unless
  the merchant already refunded part), through `refunds.refund` with the Idempotency-Key
  ``cooling-off-<attempt id>``: the Refund row is committed before Toss is called, and a double
  click, a replay or a retry after a crash finds that row and never calls Toss a second time.

A subscription withdrawn ends at once (``canceled``, ``ended_reason`` ``withdrawn_by_customer``),
COMMITTED together with its notice before the refund is sent, and its card is released. An
order becomes ``canceled`` when Toss reports its balance 0 (`refunds`). A crash between ending a
subscription and writing its Refund row is finished by `finish_withdrawals` (the refund settle job)
or by the shopper asking again, under the same key. Refusals raise
`CoolingOffRefused` (an `ActionRefused`) with a plain-Korean message and change nothing.
No Flask in here: callers pass the session, the Toss client, the notifier and the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, UTC
from functools import partial
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront.billing.recurring import cycle, periods, settlement, statuses
from storefront.billing.refunding import refunds
from storefront.billing.wallet.cards import release_card_if_unused
from storefront.billing.one_time.order_settlement import confirm_attempt, lock_order
from storefront.billing.recurring.subscriptions import ActionRefused, notify, owned
from storefront.billing.wallet.vault import Actor
from storefront.clock import KST
from storefront.models import Attempt, Charge, Order, Product, Refund, Subscription, User

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MIN_DAYS",
    "WITHDRAWN_REASON",
    "CoolingOff",
    "CoolingOffRefused",
    "Withdrawn",
    "deadline",
    "finish_withdrawals",
    "for_order",
    "for_subscription",
    "for_subscriptions",
    "idempotency_key",
    "korean_date",
    "receipt_facts",
    "withdraw_order",
    "withdraw_subscription",
]

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
MIN_DAYS = 7  # 전자상거래법 제17조①: at least 7 days; a longer window may be agreed
MAX_DAYS = 90
WITHDRAWN_REASON = "withdrawn_by_customer"
KEY_PREFIX = "cooling-off-"
REFUND_REASON = "청약철회 (전자상거래법 제17조): 결제 금액 전액 환불"
# `finish_withdrawals` leaves younger withdrawals to the request still running, and looks back this far.
FINISH_GRACE = timedelta(minutes=5)
FINISH_WINDOW = timedelta(days=30)

ALLOWED = "allowed"
EXCLUDED = "excluded"  # the product limits 청약철회 once provision has begun
WINDOW_CLOSED = "window_closed"
NOT_PAID = "not_paid"  # nothing paid that could be withdrawn (a trial, an unpaid period, a pending order)
REFUNDED = "refunded"  # the payment was already refunded in full
BUSY = "busy"  # the next period's charge is being processed


class CoolingOffRefused(ActionRefused):
    """청약철회 cannot be done in self-service now; `message` says why and what the shopper can do instead."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CoolingOff:
    """Whether a payment may be withdrawn now, what that refunds, and until when."""

    reason: str  # ALLOWED, or why not
    message: str  # plain Korean: what the shopper sees
    attempt_id: int | None = None
    paid_at: datetime | None = None
    deadline: datetime | None = None
    refund_won: int = 0
    exclusion: str = ""  # the product's disclosure of what counts as the beginning of provision

    @property
    def allowed(self) -> bool:
        return self.reason == ALLOWED

    @property
    def idempotency_key(self) -> str | None:
        return idempotency_key(self.attempt_id) if self.attempt_id is not None else None

    @property
    def until(self) -> str:
        """The last day of the window, e.g. ``2026년 3월 17일`` (empty when there is no payment)."""
        if self.deadline is None:
            return ""
        return korean_date(cycle.kst_date(self.deadline) - timedelta(days=1))


@dataclass(frozen=True)
class Withdrawn:
    """What a withdrawal did: the refund asked for and its status (done | failed | unknown | sending | not_sent)."""

    refund_won: int
    refund_status: str
    already: bool = False  # asked before: nothing new was done, the first request's refund is reported
    notice_ids: tuple[int, ...] = ()

    def message(self, what_ended: str) -> str:
        """What the shopper is told afterwards, in plain Korean; `what_ended` says what stopped."""
        head = "이미 접수된 청약철회입니다." if self.already else "청약철회가 접수되었습니다."
        won = f"{self.refund_won:,}원"
        if self.refund_won <= 0:
            return f"{head} {what_ended}"
        if self.refund_status == "done":
            return (
                f"{head} {what_ended} 결제 금액 {won} 전액을 카드 결제 취소로 환불했습니다. "
                "카드사에 따라 반영까지 영업일 기준 3~7일이 걸릴 수 있습니다."
            )
        return (
            f"{head} {what_ended} 환불 금액 {won}은 카드사 처리 결과를 확인하는 중입니다. 확인되는 대로 "
            "3영업일 이내에 환불해 드리며, 두 번 환불되지 않습니다. 궁금한 점은 고객센터로 문의해 주세요."
        )


# -- the window ------------------------------------------------------------------------------------


def deadline(paid_at: datetime, days: int) -> datetime:
    """When the window closes: midnight KST after the `days`-th day following the payment day (UTC).

    Paid on 3월 10일 with 7 days: the window runs through 3월 17일 and closes at 3월 18일 00:00 KST.
    """
    last_day: date = cycle.kst_date(paid_at) + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=KST).astimezone(UTC)


def last_day(paid_at: datetime, days: int) -> date:
    """The last day (KST) on which the payment can still be withdrawn."""
    return cycle.kst_date(paid_at) + timedelta(days=days)


def korean_date(day: date) -> str:
    return f"{day.year}년 {day.month}월 {day.day}일"


def idempotency_key(attempt_id: int) -> str:
    """The Idempotency-Key of the 청약철회 refund of a payment: one per paid Attempt, ever."""
    return f"{KEY_PREFIX}{attempt_id}"


def days_of(product: periods.ProductTerms) -> int:
    days = product.cooling_off_days if product.cooling_off_days is not None else DEFAULT_DAYS
    return max(days, MIN_DAYS)


def receipt_facts(product: Product, paid_at: datetime | None) -> dict[str, Any]:
    """What a receipt says about 청약철회 and getting started (context keys for the receipt notices)."""
    facts: dict[str, Any] = {
        "getting_started": product.getting_started or "",
        "cooling_off_exclusion": product.cooling_off_exclusion or "",
        "cooling_off_until": "",
    }
    if paid_at is not None:
        facts["cooling_off_until"] = korean_date(last_day(paid_at, days_of(product)))
    return facts


# -- reading: may this be withdrawn now? ------------------------------------------------------------


def for_subscription(session: Session, sub: Subscription, *, now: datetime) -> CoolingOff:
    """Whether the latest paid period of `sub` can be withdrawn now (read-only).

    Only an ``active`` subscription (set to cancel at period end or not) whose current period
    was paid, with no next period's charge in progress, has a period to withdraw.
    """
    return for_subscriptions(session, [sub], now=now)[sub.id]


def for_subscriptions(
    session: Session,
    subs: Sequence[periods.SubscriptionState],
    *,
    now: datetime,
    current: Mapping[int, periods.CurrentPeriod] | None = None,
) -> dict[int, CoolingOff]:
    """`for_subscription` for each of `subs`, by id, with their current periods read in one statement
    (`periods.current_periods`), or taken from `current` when the caller has read them already."""
    if current is None:
        current = periods.current_periods(session, [sub for sub in subs if sub.status == "active"])
    return {sub.id: _for_period(sub, current.get(sub.id), now=now) for sub in subs}


def _for_period(sub: periods.SubscriptionState, period: periods.CurrentPeriod | None, *, now: datetime) -> CoolingOff:
    if sub.status != "active" or sub.current_period_start is None:
        return _not_paid()
    attempt = period.paid_attempt if period is not None else None
    if period is None or attempt is None or period.status not in ("paid", "refunded"):
        return _not_paid()
    if period.has_pending_charge:
        return CoolingOff(BUSY, "다음 결제를 처리하는 중입니다. 잠시 후 다시 시도해 주세요.")
    # What `refunds.refundable_won` reads, from the refunds read with the period.
    reserved = sum(r.amount_won for r in period.refunds_of(attempt.id) if r.status in refunds.RESERVING)
    return _judge(
        sub.plan.product,
        attempt.id,
        period.paid_at or attempt.approved_at,
        refundable=lambda: max(attempt.amount_won - reserved, 0),
        now=now,
        after_window="바로 해지하고 남은 기간의 요금을 일할 계산으로 환불받을 수 있습니다.",
    )


def for_order(session: Session, order: Order, *, now: datetime) -> CoolingOff:
    """Whether the one-time order `order` can be withdrawn now (read-only)."""
    attempt = confirm_attempt(order)
    if (
        order.status not in ("paid", "canceled")
        or attempt is None
        or attempt.status != "done"
        or not attempt.payment_key
    ):
        return _not_paid()
    return _judge(
        order.plan.product,
        attempt.id,
        order.paid_at or attempt.approved_at,
        refundable=lambda: refunds.refundable_won(session, attempt),
        now=now,
    )


def _judge(
    product: periods.ProductTerms,
    attempt_id: int,
    paid_at: datetime | None,
    *,
    refundable: Callable[[], int],
    now: datetime,
    after_window: str = "",
) -> CoolingOff:
    """The verdict on a payment; `refundable` says what is still refundable on it (read only when needed)."""
    if paid_at is None:
        return _not_paid()
    days = days_of(product)
    ends = deadline(paid_at, days)
    until = korean_date(last_day(paid_at, days))
    verdict = partial(
        CoolingOff, attempt_id=attempt_id, paid_at=paid_at, deadline=ends, exclusion=product.cooling_off_exclusion or ""
    )
    refundable_won = refundable()
    if refundable_won <= 0:
        return verdict(REFUNDED, "이미 전액 환불된 결제입니다.")
    if now >= ends:
        return verdict(WINDOW_CLOSED, _closed_message(until, days, after_window))
    if product.cooling_off_exclusion:
        return verdict(EXCLUDED, _excluded_message(product.cooling_off_exclusion, after_window))
    return verdict(
        ALLOWED,
        f"{until}까지 청약철회하면 결제 금액 전액({refundable_won:,}원)을 환불해 드립니다.",
        refund_won=refundable_won,
    )


def _not_paid() -> CoolingOff:
    return CoolingOff(
        NOT_PAID,
        "청약철회할 결제가 없습니다. 무료 체험이나 결제되지 않은 구독은 해지하면 바로 종료되며 결제된 금액이 없습니다.",
    )


def _excluded_message(exclusion: str, after_window: str) -> str:
    return " ".join(
        part
        for part in (
            f"이 상품은 디지털 콘텐츠로, 제공이 개시된 경우({exclusion}) "
            "청약철회가 제한됩니다(전자상거래법 제17조 제2항 제5호).",
            "아직 이용을 시작하지 않으셨다면 고객센터로 청약철회를 요청해 "
            "주세요. 확인한 뒤 3영업일 이내에 전액 환불해 드립니다.",
            after_window,
        )
        if part
    )


def _closed_message(until: str, days: int, after_window: str) -> str:
    return " ".join(
        part
        for part in (
            f"청약철회 기간(결제일 다음 날부터 {days}일, {until}까지)이 지났습니다.",
            after_window,
            "상품이 표시·광고나 계약 내용과 달랐다면 제공받은 날부터 3개월 이내(그 사실을 안 날부터 30일 이내)에 "
            "고객센터로 청약철회를 요청하실 수 있습니다.",
        )
        if part
    )


def _paid_attempt(session: Session, charge: Charge) -> Attempt | None:
    return session.scalars(
        select(Attempt)
        .where(Attempt.charge_id == charge.id, Attempt.status == "done", Attempt.payment_key.is_not(None))
        .order_by(Attempt.id)
    ).first()


def _refund_row(session: Session, attempt_id: int) -> Refund | None:
    return session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key(attempt_id)))


def _refuse(session: Session, offer: CoolingOff) -> CoolingOffRefused:
    session.rollback()
    return CoolingOffRefused(offer.message, offer.reason)


# -- withdrawing -----------------------------------------------------------------------------------


def withdraw_subscription(
    session: Session, *, user: User, subscription_id: int, toss: Any, vault: Any, notifier: Any, clock: Any, ip: str
) -> Withdrawn:
    """Withdraw the latest paid period of the user's subscription: end it now, refund it in full. COMMITS.

    Under the subscription's row lock the window is judged on the clock (`for_subscription`);
    then the subscription ends (``canceled``, ``withdrawn_by_customer``, no next charge, no
    booked plan) and ``subscription_canceled`` (``withdrawn``, with the refund) is queued, all
    COMMITTED together. Only then is the refund sent (`refunds.refund`, key
    ``cooling-off-<attempt id>``), and the card released. A second call for a subscription
    already withdrawn sends nothing new: it reports the first request's refund, or sends it
    if a crash came between the commit and the refund (same key, so Toss moves money once).
    Raises `CoolingOffRefused` (nothing changed) for another user's subscription, an ended
    one, a period not paid, a product that limits 청약철회, or after the window.
    """
    now = clock.now()
    sub = owned(session, user, subscription_id, lock=True)
    if sub.status == "canceled" and sub.ended_reason == WITHDRAWN_REASON:
        return _again(session, _withdrawn_attempt_id(session, sub), user=user, toss=toss, clock=clock)
    if sub.status in statuses.ENDED:
        session.rollback()
        raise CoolingOffRefused("이미 종료된 구독입니다.", NOT_PAID)
    offer = for_subscription(session, sub, now=now)
    if not offer.allowed:
        raise _refuse(session, offer)
    assert offer.attempt_id is not None  # an allowed offer names the payment it refunds
    settlement.end_subscription(sub, status="canceled", reason=WITHDRAWN_REASON, now=now)
    sub.cancel_at_period_end, sub.pending_plan_id, sub.pending_plan = False, None, None
    notices = notify(
        session,
        notifier,
        user,
        "subscription_canceled",
        f"canceled:subscription:{sub.id}:withdrawn",
        {
            "product_name": sub.plan.product.name,
            "access_until": now,
            "resume_url": None,
            "refund_amount_won": offer.refund_won,
            "ended_now": True,
            "withdrawn": True,
        },
        now,
    )
    billing_key_id = sub.billing_key_id
    session.commit()
    status = _send(session, offer.attempt_id, offer.refund_won, user=user, toss=toss, clock=clock)
    release_card_if_unused(
        session,
        billing_key_id,
        toss=toss,
        vault=vault,
        clock=clock,
        actor=Actor("user", user.id, ip),
        reason="subscription withdrawn (청약철회) by the customer",
    )
    return Withdrawn(offer.refund_won, status, notice_ids=notices)


def withdraw_order(session: Session, *, user: User, order_pk: int, toss: Any, notifier: Any, clock: Any) -> Withdrawn:
    """Withdraw a paid one-time order: refund it in full, once. COMMITS.

    Under the order's row lock: an order already withdrawn reports (or, after a crash, sends)
    its refund under the same key; otherwise the window is judged on the clock (`for_order`),
    the ``order_withdrawn`` notice is queued and COMMITTED with the ``sending`` Refund row, and
    Toss is called once (`refunds.refund`). The order becomes ``canceled`` when Toss reports the
    payment fully cancelled. Raises `CoolingOffRefused` (nothing changed) for someone else's
    order, an unpaid or refunded one, a product that limits 청약철회, or after the window.
    """
    now = clock.now()
    order = session.get(Order, order_pk)
    if order is None or order.user_id != user.id:
        session.rollback()
        raise CoolingOffRefused("주문을 찾을 수 없습니다.", NOT_PAID)
    order = lock_order(session, order_pk)
    attempt = confirm_attempt(order)
    if attempt is not None and _refund_row(session, attempt.id) is not None:
        return _again(session, attempt.id, user=user, toss=toss, clock=clock)
    offer = for_order(session, order, now=now)
    if not offer.allowed:
        raise _refuse(session, offer)
    assert offer.attempt_id is not None  # an allowed offer names the payment it refunds
    notices = notify(
        session,
        notifier,
        user,
        "order_withdrawn",
        f"withdrawn:order:{order.id}",
        {
            "product_name": order.plan.product.name,
            "plan_name": order.plan.name,
            "order_id": order.order_id,
            "refund_amount_won": offer.refund_won,
            "withdrawn_at": now,
        },
        now,
    )
    status = _send(session, offer.attempt_id, offer.refund_won, user=user, toss=toss, clock=clock)
    return Withdrawn(offer.refund_won, status, notice_ids=notices if status != "not_sent" else ())


def finish_withdrawals(session: Session, *, toss: Any, clock: Any) -> int:
    """Send the refund of every subscription withdrawn whose Refund row was never written. COMMITS each.

    That happens only when the process died between ending the subscription and committing the
    ``sending`` Refund row. Withdrawals ended less than FINISH_GRACE ago are left to their own
    request; the key is the same either way, so Toss moves the money once. Returns how many it sent.
    """
    now = clock.now()
    subs = session.scalars(
        select(Subscription).where(
            Subscription.status == "canceled",
            Subscription.ended_reason == WITHDRAWN_REASON,
            Subscription.ended_at >= now - FINISH_WINDOW,
            Subscription.ended_at <= now - FINISH_GRACE,
        )
    ).all()
    sent = 0
    for sub in subs:
        attempt_id = _withdrawn_attempt_id(session, sub)
        if attempt_id is None or _refund_row(session, attempt_id) is not None:
            continue
        amount = refunds.refundable_won(session, session.get_one(Attempt, attempt_id))
        if amount > 0:
            _send(session, attempt_id, amount, user=sub.user, toss=toss, clock=clock)
            sent += 1
    session.commit()
    return sent


def _withdrawn_attempt_id(session: Session, sub: Subscription) -> int | None:
    charge = periods.charge_for(session, sub.id, sub.current_period_start) if sub.current_period_start else None
    attempt = _paid_attempt(session, charge) if charge is not None else None
    return attempt.id if attempt is not None else None


def _again(session: Session, attempt_id: int | None, *, user: User, toss: Any, clock: Any) -> Withdrawn:
    """A withdrawal asked again: report the first request's refund; send it only if it was never written."""
    row = _refund_row(session, attempt_id) if attempt_id is not None else None
    if row is not None:
        session.commit()
        return Withdrawn(row.amount_won, row.status, already=True)
    attempt = session.get(Attempt, attempt_id) if attempt_id is not None else None
    amount = refunds.refundable_won(session, attempt) if attempt is not None else 0
    session.commit()
    if attempt_id is None or amount <= 0:
        return Withdrawn(0, "not_sent", already=True)
    return Withdrawn(amount, _send(session, attempt_id, amount, user=user, toss=toss, clock=clock), already=True)


def _send(session: Session, attempt_id: int, amount_won: int, *, user: User, toss: Any, clock: Any) -> str:
    """Send (or find) the full refund; its status, ``not_sent`` if refused before anything was written."""
    try:
        row = refunds.refund(
            session,
            attempt_id,
            amount_won=amount_won,
            reason=REFUND_REASON,
            requested_by=user.id,
            idempotency_key=idempotency_key(attempt_id),
            toss=toss,
            clock=clock,
        )
    except refunds.RefundError:
        session.rollback()
        log.exception("청약철회 refund of attempt %s refused before sending", attempt_id)
        return "not_sent"
    except Exception:  # the row, if written, is 'sending': the settle job resolves it
        session.rollback()
        log.exception("청약철회 refund of attempt %s: outcome unknown", attempt_id)
        written = _refund_row(session, attempt_id)
        return written.status if written is not None else "not_sent"
    return row.status
