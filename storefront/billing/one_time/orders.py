"""One-time orders: created with the shopper's consent, confirmed once through Toss, settled, expired.

Owns the life of an `Order` (a plan with interval ``once``) and its money trail, one `Attempt`
per order (``charge_id`` NULL, ``order_pk`` set): ``pending`` → ``paid`` | ``failed`` |
``expired``, and ``paid`` → ``canceled`` once Toss shows the payment refunded in full. The
shopper pays in Toss's payment window; Toss redirects to the success URL, whose handler calls
`confirm_order`. `settle_order` and `settle_unknown_orders` finish confirms whose answer was
lost; `expire_stale_orders` closes orders nobody paid.

Invariants:
- The amount is the plan's price copied when the order is created; the success URL's
  ``amount`` must equal it, or nothing is written or sent (`AmountMismatch`).
- One confirm per order: the Attempt (``order_id`` = the order's Toss orderId, unique) is
  committed ``sending`` *before* Toss is called, with Idempotency-Key ``confirm-<orderId>``.
  A replayed success URL finds the Attempt (or the paid order) and never confirms again; if it
  must ask Toss again (the first answer was lost), it sends the same key, so Toss answers with
  the first result instead of approving twice.
- An answer Toss did not give (timeout, reset, 5xx, ``ALREADY_PROCESSED_PAYMENT``) leaves the
  Attempt ``unknown`` and the order ``pending``; only Toss's own view of the order
  (``GET /v1/payments/orders/{orderId}``) settles it. It never counts as a decline, and an order
  whose confirm may have happened is never expired.

Applying Toss's answer to the rows (and the plain-Korean reasons) is `order_settlement`'s.
Nothing here imports Flask or reads the time: callers pass the session, `toss`, `notifier` and
`clock`. Every public function that changes rows commits (documented per function).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.billing.recurring import cycle
from storefront.billing.errors import BillingError
from storefront.billing.one_time.order_settlement import (
    OPEN,
    STATES,
    OrderOutcome,
    checking,
    confirm_attempt,
    expire,
    failure_message,
    lock_order,
    outcome,
    settle,
)
from storefront.models import Attempt, Consent, Order, Plan, Refund, User
from storefront.toss.errors import Category, TossError
from storefront.toss.types import Payment

__all__ = [
    "STATES",
    "AmountMismatch",
    "NotPurchasable",
    "OrderError",
    "OrderOutcome",
    "close_refunded_orders",
    "confirm_attempt",
    "confirm_order",
    "create_order",
    "current_state",
    "expire_stale_orders",
    "failure_message",
    "idempotency_key_for",
    "lock_order",
    "new_order_id",
    "order_for_user",
    "refunded_won",
    "settle_order",
    "settle_unknown_orders",
]

log = logging.getLogger(__name__)

ORDER_TTL = timedelta(minutes=30)  # an order not paid within this is expired
CONFIRM_WINDOW = timedelta(minutes=10)  # Toss: confirm within 10 minutes of the window, else EXPIRED
SENDING_GRACE = timedelta(minutes=2)  # longer than the client's confirm timeout and 409 re-asks
IDEMPOTENCY_PREFIX = "confirm-"
CONSENT_KIND = "order_terms"
ORDER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{6,64}")


class Clock(Protocol):
    def now(self) -> datetime: ...


class OrderError(BillingError):
    """A request about an order that cannot be carried out; nothing was written or sent."""


class NotPurchasable(OrderError):
    """The plan is not a one-time plan that is on sale."""


class AmountMismatch(OrderError):
    """The success URL's amount is not the order's (tampered, or another order's)."""

    def __init__(self, expected_won: int) -> None:
        super().__init__(f"the order is for {expected_won} won")
        self.expected_won = expected_won


def idempotency_key_for(order_id: str) -> str:
    """The Idempotency-Key of an order's confirm: derived from the orderId, the same on every retry."""
    return IDEMPOTENCY_PREFIX + order_id


def new_order_id(now: datetime) -> str:
    """``O<yyyymmdd KST>-<16 hex>``: Toss's ``[A-Za-z0-9_-]{6,64}``, random so it is unguessable in URLs
    and unique at Toss even when the database is recreated."""
    return f"O{cycle.kst_date(now):%Y%m%d}-{secrets.token_hex(8)}"


# -- creating --------------------------------------------------------------------------------------


def create_order(session: Session, *, user: User, plan: Plan, text_version: str, ip: str, clock: Clock) -> Order:
    """A pending Order for `plan` at its current price, with the shopper's consent recorded. Commits.

    The consent (kind ``order_terms``: 이용약관 and 구매조건) stores the versions shown and the facts
    agreed to. The order can be paid until ``expires_at`` (30 minutes). Raises NotPurchasable for a
    plan that is not a one-time plan on sale; nothing is written then.
    """
    if plan.interval != "once" or not plan.active or not plan.product.active or plan.amount_won <= 0:
        raise NotPurchasable(f"plan {plan.id} cannot be bought once")
    now = clock.now()
    order = Order(
        order_id=new_order_id(now),
        user_id=user.id,
        plan_id=plan.id,
        order_name=order_name(plan),
        amount_won=plan.amount_won,
        status="pending",
        created_at=now,
        expires_at=now + ORDER_TTL,
    )
    detail = {
        "order_id": order.order_id,
        "product_name": plan.product.name,
        "plan_name": plan.name,
        "amount_won": plan.amount_won,
        "provision": plan.product.provision,
    }
    order.consent = Consent(
        user_id=user.id,
        kind=CONSENT_KIND,
        decision="agreed",
        text_version=text_version[:40],
        detail=json.dumps(detail, ensure_ascii=False),
        ip=(ip or "unknown")[:64],
        at=now,
    )
    session.add(order)
    session.commit()
    return order


def order_name(plan: Plan) -> str:
    """What Toss's window and the card statement show (at most 100 characters)."""
    return f"{plan.product.name} {plan.name}".strip()[:100]


def order_for_user(session: Session, order_id: str | None, user_id: int) -> Order | None:
    """The user's order with this Toss orderId; None for a malformed id or someone else's order."""
    if not isinstance(order_id, str) or not ORDER_ID_PATTERN.fullmatch(order_id):
        return None
    return session.scalar(select(Order).where(Order.order_id == order_id, Order.user_id == user_id))


# -- reading ---------------------------------------------------------------------------------------


def current_state(session: Session, order: Order, *, clock: Clock) -> OrderOutcome:
    """Where the order stands now; a pending order past its 30 minutes with no confirm becomes
    expired (commits only then)."""
    return _state(session, order, clock.now())


def _state(session: Session, order: Order, now: datetime) -> OrderOutcome:
    if order.status == "pending" and confirm_attempt(order) is None and now >= order.expires_at:
        return expire(session, order.id, now)
    return outcome(order)


def refunded_won(session: Session, order: Order) -> int:
    """Won refunded so far on the order's payment (refunds Toss confirmed)."""
    attempt = confirm_attempt(order)
    if attempt is None:
        return 0
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_won), 0)).where(
            Refund.attempt_id == attempt.id, Refund.status == "done"
        )
    )
    return int(total or 0)


# -- confirming ------------------------------------------------------------------------------------


def confirm_order(
    session: Session, order: Order, *, payment_key: str, amount_won: int, toss: Any, notifier: Any, clock: Clock
) -> OrderOutcome:
    """Confirm the payment Toss's window authenticated for `order`, at most once. Commits.

    The caller has checked that the order is the signed-in shopper's (`order_for_user` with the
    success URL's orderId) and that `payment_key` is a plausible key. Then:
    `amount_won` must be the order's amount, else AmountMismatch (nothing written or sent); an
    order that is no longer pending answers its state without calling Toss (a replayed success
    URL of a paid order); an order with an Attempt already is settled by `settle_order` (a reload
    of the success URL); an order past its 30 minutes expires; otherwise a ``sending`` Attempt is
    COMMITTED, ``toss.confirm_payment`` is called with Idempotency-Key ``confirm-<orderId>``, and
    the answer is applied and committed: DONE → paid (receipt notice queued), a decline or an
    error → failed with a plain-Korean reason, no answer → ``checking`` (Attempt ``unknown``).
    """
    if isinstance(amount_won, bool) or amount_won != order.amount_won:
        raise AmountMismatch(order.amount_won)
    if order.status != "pending":
        return outcome(order)
    if confirm_attempt(order) is not None:
        return settle_order(session, order, toss=toss, notifier=notifier, clock=clock)
    begun = _begin(session, order.id, payment_key, clock.now())
    if isinstance(begun, OrderOutcome):
        return begun
    answer = _send_confirm(toss, begun.payment_key, begun.order_id, begun.amount_won)
    return settle(session, begun.order_pk, answer, notifier=notifier, now=clock.now())


@dataclass(frozen=True)
class _Confirm:
    """What the confirm call needs, read before the commit so nothing lazy-loads during the call."""

    order_pk: int
    order_id: str
    amount_won: int
    payment_key: str


def _begin(session: Session, order_pk: int, payment_key: str, now: datetime) -> _Confirm | OrderOutcome:
    """Under the order's lock: re-check, then commit the ``sending`` Attempt (or say why there is none)."""
    order = lock_order(session, order_pk)
    if order.status != "pending" or confirm_attempt(order) is not None:
        session.commit()
        return outcome(order)
    if now >= order.expires_at:
        return expire(session, order.id, now)
    call = _Confirm(order.id, order.order_id, order.amount_won, payment_key[:200])
    session.add(
        Attempt(
            order_pk=order.id,
            order_id=order.order_id,
            idempotency_key=idempotency_key_for(order.order_id),
            amount_won=order.amount_won,
            status="sending",
            payment_key=call.payment_key,
            created_at=now,
            updated_at=now,
        )
    )
    try:
        session.commit()
    except IntegrityError:  # another request for the same order committed its Attempt first
        session.rollback()
        return checking(order_pk)
    return call


def _send_confirm(toss: Any, payment_key: str, order_id: str, amount_won: int) -> Payment | TossError:
    try:
        return toss.confirm_payment(payment_key, order_id, amount_won, idempotency_key=idempotency_key_for(order_id))
    except TossError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a client bug or an unwrapped network error: money may have moved
        log.error("order %s: unexpected %s from the Toss client; outcome unknown", order_id, type(exc).__name__)
        return TossError("CLIENT_ERROR", type(exc).__name__, category=Category.UNKNOWN_OUTCOME)


# -- settling --------------------------------------------------------------------------------------


def settle_order(session: Session, order: Order, *, toss: Any, notifier: Any, clock: Clock) -> OrderOutcome:
    """Settle an order whose confirm answer was lost, by asking Toss; otherwise report its state. Commits.

    Acts only on a pending order whose Attempt is ``unknown``, or ``sending`` for longer than
    SENDING_GRACE (the request that sent it died); a younger ``sending`` one belongs to a request
    still on the wire and gives ``checking``. Toss's ``GET /v1/payments/orders/{orderId}``:
    DONE → paid (as a normal success); CANCELED/PARTIAL_CANCELED → paid, then the cancels folded
    into Refund rows (canceled when nothing is left); ABORTED → failed; EXPIRED → expired;
    READY/IN_PROGRESS (the confirm never arrived) → confirm sent again with the same
    Idempotency-Key while Toss's 10-minute window lasts; NOT_FOUND after that window → failed
    ``NO_PAYMENT``. A failed lookup, or anything else, leaves it ``checking`` for the next run.
    """
    attempt = confirm_attempt(order)
    if order.status != "pending" or attempt is None or attempt.status not in OPEN:
        return current_state(session, order, clock=clock)
    now = clock.now()
    unsettled = checking(order.id)
    if attempt.status == "sending" and now - attempt.updated_at < SENDING_GRACE:
        return unsettled
    payment_key, within_window = attempt.payment_key, now < attempt.created_at + CONFIRM_WINDOW
    order_pk, order_id, amount_won = order.id, order.order_id, order.amount_won
    session.commit()  # no transaction stays open while Toss is asked
    answer = _look_up(toss, order_id)
    if isinstance(answer, TossError):
        return unsettled
    if answer is None:
        return unsettled if within_window else settle(session, order_pk, None, notifier=notifier, now=clock.now())
    if answer.status in ("READY", "IN_PROGRESS"):
        if not (within_window and payment_key):
            return unsettled
        answer = _send_confirm(toss, payment_key, order_id, amount_won)
    return settle(session, order_pk, answer, notifier=notifier, now=clock.now())


def _look_up(toss: Any, order_id: str) -> Payment | TossError | None:
    """Toss's payment for the orderId; None when Toss has none; a TossError when the lookup failed."""
    try:
        payment = toss.get_payment_by_order_id(order_id)
    except TossError as exc:
        if exc.category is Category.NOT_FOUND:
            return None
        log.warning("order %s: lookup failed (%s); left for the next run", order_id, exc.code)
        return exc
    except Exception as exc:  # noqa: BLE001 - leave it; the next run asks again
        log.error("order %s: lookup raised %s", order_id, type(exc).__name__)
        return TossError("CLIENT_ERROR", type(exc).__name__, category=Category.TRANSIENT)
    if payment.order_id != order_id:
        log.error("order %s: Toss answered with order %s; left for the next run", order_id, payment.order_id)
        return TossError("ORDER_MISMATCH", "lookup answered another order", category=Category.TRANSIENT)
    return payment


def settle_unknown_orders(session: Session, *, toss: Any, clock: Clock, notifier: Any = None) -> list[OrderOutcome]:
    """The periodic job for one-time orders: settle lost confirms, expire unpaid orders, close refunded ones.

    Settles (`settle_order`) every pending order whose Attempt is ``unknown`` or stale
    ``sending``; then `expire_stale_orders` and `close_refunded_orders`. Commits per order.
    Pass `notifier` so orders found paid get their receipt; without one the receipt is not
    queued (logged). Returns the settle outcomes. Safe to run concurrently with the web flow
    and with itself: every change re-checks under the order's lock.
    """
    now = clock.now()
    stale = and_(Attempt.status == "sending", Attempt.updated_at <= now - SENDING_GRACE)
    order_pks = session.scalars(
        select(Order.id)
        .join(Attempt, Attempt.order_pk == Order.id)
        .where(Order.status == "pending", or_(Attempt.status == "unknown", stale))
        .order_by(Order.id)
    ).all()
    session.commit()
    outcomes = []
    for order_pk in order_pks:
        order = session.get(Order, order_pk)
        if order is not None:
            outcomes.append(settle_order(session, order, toss=toss, notifier=notifier, clock=clock))
    expire_stale_orders(session, clock=clock)
    close_refunded_orders(session, clock=clock)
    return outcomes


def expire_stale_orders(session: Session, *, clock: Clock) -> int:
    """Mark pending orders past their 30 minutes, with no confirm sent, ``expired``. Commits; returns how many."""
    now = clock.now()
    order_pks = session.scalars(
        select(Order.id)
        .outerjoin(Attempt, Attempt.order_pk == Order.id)
        .where(Order.status == "pending", Order.expires_at <= now, Attempt.id.is_(None))
        .order_by(Order.id)
    ).all()
    session.commit()
    return sum(1 for pk in order_pks if expire(session, pk, now).state == "expired")


def close_refunded_orders(session: Session, *, clock: Clock) -> int:
    """Paid orders whose payment Toss has refunded in full (admin refunds, dashboard cancels) become
    ``canceled``. Commits; returns how many."""
    done = (
        select(Refund.attempt_id, func.sum(Refund.amount_won).label("won"))
        .where(Refund.status == "done")
        .group_by(Refund.attempt_id)
        .subquery()
    )
    orders = session.scalars(
        select(Order)
        .join(Attempt, Attempt.order_pk == Order.id)
        .join(done, done.c.attempt_id == Attempt.id)
        .where(Order.status == "paid", Attempt.status == "done", done.c.won >= Attempt.amount_won)
    ).all()
    for order in orders:
        order.status, order.closed_at = "canceled", clock.now()
    session.commit()
    return len(orders)
