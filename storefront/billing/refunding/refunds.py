"""Refunds: cancelling all or part of a paid Attempt at Toss, exactly once per request.

This module owns the life of a Refund row: ``sending`` (committed before Toss is called)
→ ``done`` (with Toss's transaction key) | ``failed`` (Toss declined; the message is kept)
| ``unknown`` (no answer: timeout, reset, 5xx). Unknown refunds are settled later by
looking the payment up (`settle_unknown_refunds`). It also folds what Toss reports about a
payment's cancels into our rows (`sync_payment`), which the webhook handler and the daily
reconciliation use for cancels made in the Toss dashboard; such a Refund is keyed
``toss-cancel-<transactionKey>`` (`FROM_TOSS_PREFIX`), and `billing.refunding.refund_notices` tells the
shopper about it.

Invariants:
- A refund request is named by its idempotency key, sent to Toss as ``Idempotency-Key``;
  the same key never makes a second Refund row nor a second call to Toss.
- The sum of refunds that are sending, done or unknown never exceeds what the attempt paid.
- A Charge becomes ``refunded`` only when Toss reports the payment's balance as 0.
- Whoever folds Toss's cancels into our rows (`sync_payment`: a refund's answer, the
  settlement job, two webhooks for the same payment at once) holds the Attempt's row lock
  (`lock_attempt`), taken before any Refund row is written, so the second one sees the
  first one's rows and adds none twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.models import Attempt, Order, Refund
from storefront.toss.errors import Category, TossError

# Statuses that hold part of an attempt's balance (an unknown refund may have happened).
RESERVING = ("sending", "done", "unknown")
# A 'sending' row older than this belongs to a request that died; an 'unknown' row older than
# this that Toss does not show was never carried out.
SETTLE_GRACE = timedelta(minutes=10)
KEY_PREFIX = "refund-"
# The key of a Refund first learned from Toss (a cancel made in Toss's dashboard): no request of ours made it.
FROM_TOSS_PREFIX = "toss-cancel-"
_REQUEST_ID = re.compile(r"^[0-9a-fA-F-]{32,36}$")
MAX_REASON = 200
NOT_AT_TOSS = "NOT_CANCELED_AT_TOSS"


class Clock(Protocol):
    def now(self) -> datetime: ...


class RefundError(Exception):
    """A refund request refused before anything was written or sent."""


class NotRefundable(RefundError):
    """The attempt does not exist, was not paid, or has no Toss payment key."""


class InvalidRefund(RefundError):
    """Amount not positive, reason empty or too long, or a malformed request id."""


class ExceedsRefundable(RefundError):
    """The amount is more than what is left to refund on the attempt."""

    def __init__(self, refundable_won: int) -> None:
        super().__init__(f"at most {refundable_won} won can be refunded")
        self.refundable_won = refundable_won


@dataclass(frozen=True)
class SyncResult:
    """What `sync_payment` changed: refunds settled, refunds created, whether the charge became refunded."""

    settled: int
    created: int
    charge_refunded: bool


def idempotency_key_for(request_id: str) -> str:
    """The Idempotency-Key of a refund request whose form carried `request_id` (a uuid4)."""
    if not _REQUEST_ID.match(request_id or ""):
        raise InvalidRefund("malformed refund request id")
    return KEY_PREFIX + request_id.lower()


def refundable_won(session: Session, attempt: Attempt) -> int:
    """What can still be refunded on `attempt`: paid amount minus refunds sending, done or unknown."""
    if attempt.status != "done":
        return 0
    reserved = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_won), 0)).where(
            Refund.attempt_id == attempt.id, Refund.status.in_(RESERVING)
        )
    )
    return max(attempt.amount_won - int(reserved or 0), 0)


def refunded_done_won(attempt: Attempt) -> int:
    """Won Toss has refunded on `attempt` (its loaded `refunds` that are done)."""
    return sum(r.amount_won for r in attempt.refunds if r.status == "done")


def refund_state(attempt: Attempt) -> str | None:
    """``partial`` (부분 환불) or ``full`` (환불 완료) for a paid attempt with refunds done; None otherwise."""
    if attempt.status != "done":
        return None
    refunded = refunded_done_won(attempt)
    if refunded <= 0:
        return None
    return "full" if refunded >= attempt.amount_won else "partial"


def refund(
    session: Session,
    attempt_id: int,
    *,
    amount_won: int,
    reason: str,
    requested_by: int | None,
    idempotency_key: str,
    toss: Any,
    clock: Clock,
) -> Refund:
    """Refund `amount_won` of a paid attempt through Toss, once per `idempotency_key`.

    Commits the Refund row as 'sending' before calling Toss, then commits its outcome:
    'done' (transaction key set; the Charge becomes 'refunded' once Toss's balance is 0),
    'failed' (Toss declined; code and message kept) or 'unknown' (no answer; settle later).
    A second call with the same key returns the first request's row without calling Toss.
    Raises NotRefundable, InvalidRefund or ExceedsRefundable before writing anything.
    """
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return existing
    try:
        row = _reserve(
            session,
            attempt_id,
            amount_won=amount_won,
            reason=reason,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            now=clock.now(),
        )
        session.commit()
    except IntegrityError:  # the same request, submitted twice at once: the other one sends it
        session.rollback()
        existing = _by_key(session, idempotency_key)
        if existing is None:
            raise
        return existing
    return _send(session, row, toss=toss, clock=clock)


def lock_attempt(session: Session, attempt_id: int) -> Attempt | None:
    """Lock the Attempt row until the session's transaction ends, and return it fresh. Never commits.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks: an ``UPDATE`` of the row
    first takes the database's one write lock (as `periods.lock_subscription` does), so the
    reads after it see what the previous holder committed.
    """
    if session.get_bind(mapper=Attempt).dialect.name == "sqlite":
        session.execute(
            update(Attempt)
            .where(Attempt.id == attempt_id)
            .values(id=Attempt.id)
            .execution_options(synchronize_session=False)
        )
    query = select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def sync_payment(session: Session, attempt: Attempt, payment: Any, *, now: datetime) -> SyncResult:
    """Fold Toss's view of a payment's cancels into our Refund rows; flushes, does not commit.

    Each completed Toss cancel we do not yet hold settles the oldest pending refund (sending or
    unknown) of the same amount, or, when none is pending, becomes a new 'done' Refund (a cancel
    made in the Toss dashboard). Running it twice with the same payment changes nothing, also
    when two processes run it at once: it holds the Attempt's lock (`lock_attempt`) while it
    reads what we hold and writes what is missing.
    """
    lock_attempt(session, attempt.id)
    settled = created = 0
    known = _known_transaction_keys(session, attempt.id)
    for cancel in _completed_cancels(payment):
        if cancel.transaction_key in known:
            continue
        pending = _pending_of_amount(session, attempt.id, cancel.cancel_amount)
        if pending is not None:
            _mark_done(pending, cancel.transaction_key, now)
            settled += 1
        elif not _has_sending(session, attempt.id):
            session.add(_refund_from_toss(attempt, cancel, now))
            created += 1
        else:
            continue  # a request in flight may own this cancel; the next sync decides
        known.add(cancel.transaction_key)
    session.flush()
    return SyncResult(settled=settled, created=created, charge_refunded=_update_charge(session, attempt, payment, now))


def settle_unknown_refunds(session: Session, *, toss: Any, clock: Clock) -> list[Refund]:
    """Ask Toss about every unknown (or stale 'sending') refund and settle it; commits per attempt.

    A refund found among the payment's cancels becomes 'done'. One that Toss does not show
    SETTLE_GRACE after it was sent was never carried out and becomes 'failed', so the admin may
    ask again. If the look-up itself fails the refund stays 'unknown' for the next run.
    Returns the refunds that were looked at.
    """
    now = clock.now()
    stale_before = now - SETTLE_GRACE
    rows = session.scalars(
        select(Refund)
        .where((Refund.status == "unknown") | ((Refund.status == "sending") & (Refund.created_at < stale_before)))
        .order_by(Refund.id)
    ).all()
    for attempt_id in sorted({row.attempt_id for row in rows}):
        _settle_attempt(session, attempt_id, toss=toss, now=now, stale_before=stale_before)
    return list(rows)


def _settle_attempt(session: Session, attempt_id: int, *, toss: Any, now: datetime, stale_before: datetime) -> None:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or not attempt.payment_key:
        return
    try:
        payment = toss.get_payment(attempt.payment_key)
    except TossError:
        session.rollback()
        return
    lock_attempt(session, attempt_id)  # before any Refund row is written: the same order as every other writer
    for row in _rows(session, attempt_id, ("sending",)):
        if row.created_at < stale_before:
            row.status = "unknown"
    sync_payment(session, attempt, payment, now=now)
    for row in _rows(session, attempt_id, ("unknown",)):
        if row.created_at < stale_before:
            _mark_failed(row, NOT_AT_TOSS, "토스페이먼츠에 취소 내역이 없어 환불되지 않은 것으로 확인했습니다.", now)
    session.commit()


def _reserve(
    session: Session,
    attempt_id: int,
    *,
    amount_won: int,
    reason: str,
    requested_by: int | None,
    idempotency_key: str,
    now: datetime,
) -> Refund:
    attempt = session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is None or attempt.status != "done" or not attempt.payment_key:
        raise NotRefundable("only a paid attempt with a Toss payment key can be refunded")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidRefund(f"a reason of 1 to {MAX_REASON} characters is required")
    if not isinstance(amount_won, int) or amount_won <= 0:
        raise InvalidRefund("the amount must be a positive number of won")
    if not idempotency_key or len(idempotency_key) > 300:
        raise InvalidRefund("an idempotency key of at most 300 characters is required")
    available = refundable_won(session, attempt)
    if amount_won > available:
        raise ExceedsRefundable(available)
    row = Refund(
        attempt=attempt,
        amount_won=amount_won,
        reason=reason,
        idempotency_key=idempotency_key,
        status="sending",
        requested_by_id=requested_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _send(session: Session, row: Refund, *, toss: Any, clock: Clock) -> Refund:
    attempt = row.attempt
    full = row.amount_won == attempt.amount_won
    try:
        payment = toss.cancel_payment(
            attempt.payment_key,
            reason=row.reason,
            idempotency_key=row.idempotency_key,
            amount=None if full else row.amount_won,
        )
    except TossError as exc:
        if exc.category is Category.UNKNOWN_OUTCOME:
            row.status = "unknown"
            row.failure_code, row.failure_message = exc.code[:64], (exc.message or "")[:512]
        else:
            _mark_failed(row, exc.code, exc.message, clock.now())
        session.commit()
        return row
    now = clock.now()
    lock_attempt(session, attempt.id)  # before this Refund row is written: the same order as every other writer
    cancel = _cancel_for(session, row, payment)
    if cancel is not None:
        _mark_done(row, cancel.transaction_key, now)
    else:  # Toss answered but shows no matching cancel: do not guess, settle by look-up
        row.status = "unknown"
    session.flush()
    sync_payment(session, attempt, payment, now=now)
    session.commit()
    return row


def _cancel_for(session: Session, row: Refund, payment: Any) -> Any:
    """The cancel in Toss's answer that is this refund: unclaimed, same amount, the latest."""
    if row.transaction_key:
        return None
    claimed = _known_transaction_keys(session, row.attempt_id)
    matches = [
        c for c in _completed_cancels(payment) if c.transaction_key not in claimed and c.cancel_amount == row.amount_won
    ]
    return matches[-1] if matches else None


def _completed_cancels(payment: Any) -> list[Any]:
    return [c for c in (payment.cancels or ()) if c.transaction_key and (c.cancel_status in (None, "DONE"))]


def _update_charge(session: Session, attempt: Attempt, payment: Any, now: datetime) -> bool:
    """Mark what the payment paid for as refunded once Toss reports it cancelled in full."""
    if not (payment.balance_amount == 0 and payment.total_amount > 0 and payment.status == "CANCELED"):
        return False
    if attempt.order_pk is not None:  # a one-time order (billing/one_time/orders.py): canceled at once
        order = session.get(Order, attempt.order_pk)
        if order is not None and order.status == "paid":
            order.status, order.closed_at = "canceled", now
    charge = attempt.charge
    if charge is None or charge.status != "paid":
        return False
    charge.status = "refunded"
    return True


def _refund_from_toss(attempt: Attempt, cancel: Any, now: datetime) -> Refund:
    return Refund(
        attempt=attempt,
        amount_won=int(cancel.cancel_amount),
        reason=((cancel.cancel_reason or "").strip() or "토스페이먼츠에서 취소됨")[:MAX_REASON],
        idempotency_key=f"{FROM_TOSS_PREFIX}{cancel.transaction_key}",
        status="done",
        transaction_key=cancel.transaction_key,
        requested_by_id=None,
        created_at=cancel.canceled_at or now,
        settled_at=now,
    )


def _mark_done(row: Refund, transaction_key: str, now: datetime) -> None:
    row.status = "done"
    row.transaction_key = transaction_key
    row.failure_code = row.failure_message = None
    row.settled_at = now


def _mark_failed(row: Refund, code: str, message: str | None, now: datetime) -> None:
    row.status = "failed"
    row.failure_code = (code or "")[:64]
    row.failure_message = (message or "")[:512]
    row.settled_at = now


def _by_key(session: Session, idempotency_key: str) -> Refund | None:
    return session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))


def _rows(session: Session, attempt_id: int, statuses: tuple[str, ...]) -> list[Refund]:
    return list(
        session.scalars(
            select(Refund).where(Refund.attempt_id == attempt_id, Refund.status.in_(statuses)).order_by(Refund.id)
        )
    )


def _known_transaction_keys(session: Session, attempt_id: int) -> set[str]:
    keys = session.scalars(
        select(Refund.transaction_key).where(Refund.attempt_id == attempt_id, Refund.transaction_key.is_not(None))
    )
    return {key for key in keys if key is not None}


def _pending_of_amount(session: Session, attempt_id: int, amount_won: int) -> Refund | None:
    return session.scalar(
        select(Refund)
        .where(
            Refund.attempt_id == attempt_id, Refund.status.in_(("sending", "unknown")), Refund.amount_won == amount_won
        )
        .order_by(Refund.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _has_sending(session: Session, attempt_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count()).select_from(Refund).where(Refund.attempt_id == attempt_id, Refund.status == "sending")
        )
    )
