"""What happens to a one-time order once Toss has answered: paid, failed, expired, unknown.

The rows-side half of `storefront.billing.one_time.orders` (which owns the calls to Toss), as
`settlement` is for subscription charges. `settle` applies an answer under the order's lock
and commits; `expire` closes an unpaid order; `outcome` says where an order stands. An
Attempt already settled (by a parallel request or the periodic job) is never settled twice.
The receipt notice is queued inside a SAVEPOINT, so a notice that cannot be written is
logged and never undoes the bookkeeping of money that moved. Also home of the plain-Korean
reasons shoppers are shown (`failure_message`): never Toss's own text, which may be English
or technical.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storefront.billing.refunding import refunds
from storefront.billing.errors import MESSAGES, NO_PAYMENT
from storefront.billing.recurring.settlement import record_payment
from storefront.models import Attempt, Order
from storefront.toss.errors import Category, TossError
from storefront.toss.types import Payment

log = logging.getLogger(__name__)

OPEN = ("sending", "unknown")  # Attempt statuses whose outcome is not booked yet
ORDER_EXPIRED = "ORDER_EXPIRED"  # ours: 30 minutes passed without a confirm

# Outcome states: the order's status, plus 'checking' (pending with a confirm whose answer is not in).
STATES = ("pending", "checking", "paid", "failed", "expired", "canceled")

# One-time wording first (the billing table speaks of subscriptions and registered cards).
_MESSAGES: dict[str, str] = {
    "NOT_FOUND_PAYMENT_SESSION": "결제 승인 가능 시간(10분)이 지나 결제되지 않았습니다. 다시 구매해 주세요.",
    "EXPIRED": "결제 승인 가능 시간이 지나 결제되지 않았습니다. 다시 구매해 주세요.",
    ORDER_EXPIRED: "결제 가능 시간(30분)이 지나 주문이 만료되었습니다. 다시 구매해 주세요.",
    NO_PAYMENT: "토스페이먼츠에 결제 내역이 없어 결제되지 않은 것으로 확인했습니다. 다시 구매해 주세요.",
    "PAY_PROCESS_CANCELED": "결제를 취소하셨습니다. 결제된 금액은 없습니다.",
    "USER_CANCEL": "결제를 취소하셨습니다. 결제된 금액은 없습니다.",
    "PAY_PROCESS_ABORTED": "결제가 중간에 중단되었습니다. 결제된 금액은 없습니다.",
    "NOT_SUPPORTED_CARD_TYPE": "이 카드로는 결제할 수 없습니다. 다른 카드로 결제해 주세요.",
    "INVALID_CARD_NUMBER": "카드 번호가 올바르지 않습니다. 카드 번호를 확인해 주세요.",
    "REJECT_CARD_COMPANY": "카드사에서 결제를 거절했습니다. 다른 카드로 결제하시거나 카드사에 문의해 주세요.",
}
_BY_CATEGORY: dict[Category, str] = {
    Category.HARD_DECLINE: "카드 결제가 승인되지 않았습니다. 다른 카드로 결제해 주세요.",
    Category.SOFT_DECLINE: "카드 결제가 승인되지 않았습니다. 카드 잔액이나 한도를 확인해 주세요.",
    Category.TRANSIENT: "일시적인 오류로 결제하지 못했습니다. 잠시 후 다시 시도해 주세요.",
    Category.CONFIG: "결제 처리 중 오류가 발생했습니다. 고객센터로 문의해 주세요.",
    Category.UNKNOWN_OUTCOME: "결제 결과를 확인하고 있습니다.",
    Category.NOT_FOUND: "결제 내역을 찾을 수 없습니다. 다시 결제해 주세요.",
    Category.USER_ACTION: "결제를 취소하셨습니다. 결제된 금액은 없습니다.",
}


@dataclass(frozen=True)
class OrderOutcome:
    """Where an order stands after a call: one of STATES, and a plain-Korean reason when it failed."""

    state: str
    order_pk: int
    message: str | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown order state {self.state!r}")


def failure_message(code: str | None, category: Category | None = None) -> str:
    """The plain-Korean reason a one-time payment failed, by code, else by category; never Toss's text."""
    if code and code in _MESSAGES:
        return _MESSAGES[code]
    if code and code in MESSAGES:
        return MESSAGES[code]
    return _BY_CATEGORY.get(category or Category.SOFT_DECLINE, _BY_CATEGORY[Category.SOFT_DECLINE])


def confirm_attempt(order: Order) -> Attempt | None:
    """The order's Attempt (there is at most one: its order_id is the order's, and unique)."""
    return order.attempts[0] if order.attempts else None


def lock_order(session: Session, order_pk: int) -> Order:
    """Lock the order row until the transaction ends and return it fresh (SELECT ... FOR UPDATE on
    PostgreSQL; on SQLite an UPDATE first, which takes the database's single write lock). Never commits."""
    if session.get_bind(mapper=Order).dialect.name == "sqlite":
        session.execute(
            update(Order).where(Order.id == order_pk).values(id=Order.id).execution_options(synchronize_session=False)
        )
    query = select(Order).where(Order.id == order_pk).with_for_update()
    order = session.scalars(query.execution_options(populate_existing=True)).one()
    session.scalars(select(Attempt).where(Attempt.order_pk == order_pk).execution_options(populate_existing=True)).all()
    session.refresh(order, ["attempts"])
    return order


def settle(
    session: Session, order_pk: int, answer: Payment | TossError | None, *, notifier: Any, now: datetime
) -> OrderOutcome:
    """Under the order's lock, apply Toss's answer to a still-open Attempt. Commits.

    A Payment DONE → Attempt done (payment key, receipt, card, raw JSON), order paid, receipt
    queued; CANCELED/PARTIAL_CANCELED → the same, then its cancels become Refund rows (order
    canceled when nothing is left); ABORTED → failed; EXPIRED → expired; any other status →
    unknown. A TossError of category UNKNOWN_OUTCOME → unknown (order stays pending); any other
    TossError → failed with a plain-Korean reason. ``answer`` None means Toss has no payment for
    the order → failed ``NO_PAYMENT``. An Attempt already settled (by a parallel request or the
    periodic job) is left as it is.
    """
    order = lock_order(session, order_pk)
    attempt = confirm_attempt(order)
    if attempt is None or attempt.status not in OPEN:
        session.commit()
        return outcome(order)
    _apply(session, order, attempt, answer, notifier=notifier, now=now)
    session.commit()
    return outcome(order)


def _apply(
    session: Session,
    order: Order,
    attempt: Attempt,
    answer: Payment | TossError | None,
    *,
    notifier: Any,
    now: datetime,
) -> None:
    if answer is None:
        _mark_failed(order, attempt, NO_PAYMENT, "Toss has no payment for this order id", None, now)
    elif isinstance(answer, TossError):
        if answer.category is Category.UNKNOWN_OUTCOME:
            _mark_unknown(attempt, answer.code, answer.message, now)
        else:
            _mark_failed(order, attempt, answer.code, answer.message, answer.category, now)
    elif answer.order_id != order.order_id:
        log.error("order %s: Toss answered for order %s; left unknown", order.order_id, answer.order_id)
        _mark_unknown(attempt, "ORDER_MISMATCH", "Toss answered for another order", now)
    elif answer.status in ("DONE", "CANCELED", "PARTIAL_CANCELED"):
        _mark_paid(session, order, attempt, answer, notifier=notifier, now=now)
        if answer.cancels:
            refunds.sync_payment(session, attempt, answer, now=now)
        if answer.status == "CANCELED" and answer.balance_amount == 0:
            order.status, order.closed_at = "canceled", now
    elif answer.status == "ABORTED":
        code = answer.failure_code or "PAY_PROCESS_ABORTED"
        _mark_failed(order, attempt, code, answer.failure_message or answer.status, None, now)
    elif answer.status == "EXPIRED":
        _mark_failed(order, attempt, "EXPIRED", answer.failure_message or "expired at Toss", None, now)
        order.status = "expired"
    else:  # READY / IN_PROGRESS / WAITING_FOR_DEPOSIT: not an answer we can book
        _mark_unknown(attempt, answer.status, f"payment is {answer.status} at Toss", now)


def _mark_paid(
    session: Session, order: Order, attempt: Attempt, payment: Payment, *, notifier: Any, now: datetime
) -> None:
    if payment.total_amount != order.amount_won:
        log.error("order %s: Toss approved %s won, expected %s", order.order_id, payment.total_amount, order.amount_won)
    record_payment(attempt, payment, now)
    order.status, order.paid_at = "paid", attempt.approved_at
    order.payment_key, order.receipt_url = payment.payment_key, payment.receipt_url
    order.failure_code = order.failure_message = None
    _queue_receipt(session, notifier, order, attempt, now)


def _mark_failed(
    order: Order, attempt: Attempt, code: str, message: str | None, category: Category | None, now: datetime
) -> None:
    attempt.status = "failed"
    attempt.failure_code, attempt.failure_message = code[:64], (message or "")[:512]  # Toss's text, for the admin
    attempt.updated_at = now
    order.status, order.closed_at = "failed", now
    order.failure_code, order.failure_message = code[:64], failure_message(code, category)


def _mark_unknown(attempt: Attempt, code: str, message: str | None, now: datetime) -> None:
    attempt.status = "unknown"
    attempt.failure_code, attempt.failure_message = code[:64], (message or "")[:512]
    attempt.updated_at = now
    log.warning(
        "order attempt %s (order %s): outcome unknown (%s); settle by lookup", attempt.id, attempt.order_id, code
    )


def expire(session: Session, order_pk: int, now: datetime) -> OrderOutcome:
    """Expire a pending order with no confirm, re-checked under its lock. Commits."""
    order = lock_order(session, order_pk)
    if order.status == "pending" and confirm_attempt(order) is None and now >= order.expires_at:
        order.status, order.closed_at = "expired", now
        order.failure_code, order.failure_message = ORDER_EXPIRED, failure_message(ORDER_EXPIRED)
    session.commit()
    return outcome(order)


def checking(order_pk: int) -> OrderOutcome:
    """A pending order whose confirm answer is not in yet (확인 중)."""
    return OrderOutcome("checking", order_pk, failure_message(None, Category.UNKNOWN_OUTCOME))


def outcome(order: Order) -> OrderOutcome:
    """Where the order stands, read from its rows (no lock, no commit)."""
    if order.status == "pending":
        attempt = confirm_attempt(order)
        if attempt is not None and attempt.status in OPEN:
            return checking(order.id)
        return OrderOutcome("pending", order.id)
    message = order.failure_message if order.status in ("failed", "expired") else None
    return OrderOutcome(order.status, order.id, message)


def _queue_receipt(session: Session, notifier: Any, order: Order, attempt: Attempt, now: datetime) -> None:
    if notifier is None:
        log.warning("order %s paid; no notifier given, receipt not queued", order.order_id)
        return
    from storefront.billing.compliance.cooling_off import receipt_facts  # imports this module: bound at call time

    product = order.plan.product
    context = {
        "product_name": product.name,
        "plan_name": order.plan.name,
        "amount_won": order.amount_won,
        "order_id": order.order_id,
        "paid_at": order.paid_at,
        "card_label": attempt.card_summary or "",
        "receipt_url": order.receipt_url or "",
        "provision": product.provision,
        **receipt_facts(product, order.paid_at),
    }
    try:
        with session.begin_nested():
            notifier.queue(
                session,
                user=order.user,
                kind="order_receipt",
                dedup_key=f"receipt:order:{order.id}",
                context=context,
                now=now,
            )
    except Exception:
        # The money trail must not depend on a notice; the outbox can be repaired, a lost payment cannot.
        log.exception("could not queue the receipt of order %s", order.order_id)
