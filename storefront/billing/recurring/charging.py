"""Charging one subscription period exactly once, and settling the calls whose outcome is unknown.

Owns the path from "this subscription is due" to "this period is paid (or in dunning)":
`due_subscription_ids` finds the work, `charge_period` does one period, `reconcile`
settles attempts left ``sending``/``unknown`` by a crash or a timeout by asking Toss,
and `retry_after_card_change` charges a past-due period at once on a new card.

Exactly once rests on three things, none of them Redis or job ids:

1. One Charge per period: the unique constraint ``(subscription_id, period_start)``.
2. One live Attempt per Charge: the subscription row is locked (``SELECT ... FOR UPDATE``
   on PostgreSQL; on SQLite an ``UPDATE`` of the row first, which takes the database's
   single write lock, so the reads after it are current and no other writer can
   interleave) and no new Attempt starts while one is ``sending`` or ``unknown``.
3. The Attempt (order id = Idempotency-Key) is committed *before* Toss is called, so
   after a crash at any line there is a row saying what may have happened, and only
   Toss saying "no such payment" (`reconcile`) lets a new order id be tried.

Commits: `charge_period`, `retry_after_card_change` and `reconcile` commit the session
(twice per call: the Attempt before calling Toss, the settlement after); anything the
caller added to the session is committed with the first. `open_charge` and
`lock_subscription` never commit.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, scoped_session

from storefront.billing.compliance import consent
from storefront.billing.recurring import cycle, periods, settlement, statuses
from storefront.billing.errors import NO_USABLE_CARD, VAULT_ERROR, SubscriptionNotFound
from storefront.billing.recurring.periods import (
    DUE_STATUSES,
    OPEN_ATTEMPT_STATUSES,
    due_subscription_ids,
    lock_subscription,
    open_charge,
)
from storefront.billing.recurring.settlement import ChargeResult, result
from storefront.billing.wallet.vault import Actor, Vault, VaultError
from storefront.config import Config
from storefront.models import Attempt, BillingKey, Charge, Subscription
from storefront.toss.errors import Category, TossError, categorize
from storefront.toss.types import Payment

__all__ = [
    "ChargeResult",
    "ReconcileResult",
    "charge_period",
    "due_subscription_ids",
    "lock_subscription",
    "open_charge",
    "reconcile",
    "retry_after_card_change",
]

log = logging.getLogger(__name__)

# `incomplete` (a first charge the subscribe flow is making) is charged only when asked to, never by the scan.
CHARGEABLE_STATUSES = ("incomplete", *DUE_STATUSES)
# Longer than the client's 60 s billing timeout with room to spare: a 'sending' attempt this old
# is no longer on the wire, so Toss's answer to a lookup is final.
RECONCILE_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class ReconcileResult:
    """What `reconcile` did with one attempt: paid, declined, retry (no payment or a hiccup), left."""

    attempt_id: int
    order_id: str
    outcome: str
    charge: ChargeResult | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class _Call:
    """Everything the Toss call needs, read before the commit so nothing lazy-loads afterwards."""

    attempt_id: int
    subscription_id: int
    billing_key: str = field(repr=False)
    customer_key: str = field(repr=False)
    amount_won: int
    order_id: str
    order_name: str
    customer_email: str | None
    customer_name: str | None
    # The rows `_settle` takes from the session instead of loading again: held here because the
    # session's identity map keeps only weak references.
    loaded: tuple[Any, ...] = field(default=(), repr=False, compare=False)


# -- charging --------------------------------------------------------------------------------------


def charge_period(
    session: Session,
    subscription_id: int,
    *,
    toss: Any,
    vault: Vault,
    notifier: Any,
    clock: Any,
    config: Config,
    actor: Actor = Actor.worker(),
    customer_ip: str | None = None,
) -> ChargeResult:
    """Charge the subscription's due period, at most once, and settle the answer.

    Works for renewals (cron jobs, ``actor`` the worker) and for the first period: the
    subscribe flow creates the Subscription with status ``incomplete`` and
    ``next_charge_at = now``, then calls this in the web request with ``actor`` the user
    and ``customer_ip`` their address (sent to Toss for fraud checks; never our own IP).

    Steps: lock the subscription and re-check it is chargeable and due; end it instead if
    a cancellation at period end is due, or if the new period would charge a raised amount
    or a trial's first paid one without the shopper's consent (`consent.enforce`; with
    consent the new amount is used); open the period's Charge; stop if an Attempt for
    it is still ``sending``/``unknown`` (``in_flight``/``unknown``: the reconciler settles
    it); open the billing key (audited) and COMMIT a new ``sending`` Attempt; call
    ``toss.charge_billing_key`` with Idempotency-Key = order id; settle the answer in one
    more transaction (see `settlement`). Idempotent: calling it again, concurrently or
    after a crash at any point, never makes a second payment for the period. Raises only
    what the database raises, and BaseExceptions (a killed worker), which leave the
    Attempt ``sending`` for `reconcile`.
    """
    now = clock.now()
    prepared = _prepare(session, subscription_id, vault=vault, notifier=notifier, config=config, now=now, actor=actor)
    if isinstance(prepared, ChargeResult):
        return prepared
    try:
        payment = toss.charge_billing_key(
            prepared.billing_key,
            customer_key=prepared.customer_key,
            amount=prepared.amount_won,
            order_id=prepared.order_id,
            order_name=prepared.order_name,
            idempotency_key=prepared.order_id,
            customer_email=prepared.customer_email,
            customer_name=prepared.customer_name,
            customer_ip=customer_ip,
        )
    except TossError as exc:
        return _settle(
            session,
            prepared.attempt_id,
            exc,
            notifier=notifier,
            config=config,
            now=clock.now(),
            subscription_id=prepared.subscription_id,
            related=False,
        )
    except Exception as exc:  # noqa: BLE001 - a client bug or an unwrapped network error: money may have moved
        # Only the type: a stray network exception's text can carry the request URL, i.e. the billing key.
        log.error(
            "attempt %s: unexpected %s from the Toss client; outcome unknown", prepared.attempt_id, type(exc).__name__
        )
        unknown = TossError("CLIENT_ERROR", type(exc).__name__, category=Category.UNKNOWN_OUTCOME)
        return _settle(
            session,
            prepared.attempt_id,
            unknown,
            notifier=notifier,
            config=config,
            now=clock.now(),
            subscription_id=prepared.subscription_id,
            related=False,
        )
    return _settle(
        session,
        prepared.attempt_id,
        payment,
        notifier=notifier,
        config=config,
        now=clock.now(),
        subscription_id=prepared.subscription_id,
        related=False,
    )


def _prepare(
    session: Session, subscription_id: int, *, vault: Vault, notifier: Any, config: Config, now: datetime, actor: Actor
) -> _Call | ChargeResult:
    """Phase one, under the lock: decide, and commit the Attempt (or the reason there is none)."""
    sub = lock_subscription(session, subscription_id, related=True)
    if sub is None:
        session.rollback()
        return ChargeResult("skipped", subscription_id, error_code="not_found")
    decided = _decide_without_call(session, sub, notifier=notifier, config=config, now=now)
    if isinstance(decided, ChargeResult):
        session.commit()
        return decided
    # `decided` is the pending Charge _decide_without_call found, or None: then it also found none for
    # the new period, and the lock held since keeps it so; looking again would only repeat its queries.
    if decided is not None:
        charge, fresh = decided, False
    else:
        # Not flushed on its own: `_new_attempt` inserts it with the Attempt.
        charge, fresh = periods.create_charge(
            session, sub, now=now, billing_hour_kst=config.billing_hour_kst, flush=False
        )
    card = _usable_card(sub)
    if card is None:
        session.flush()  # the Charge's id, for the result
        outcome = settlement.mark_declined(
            session,
            sub,
            charge,
            None,
            code=NO_USABLE_CARD,
            message="no usable card",
            category=Category.HARD_DECLINE,
            notifier=notifier,
            config=config,
            now=now,
        )
        session.commit()
        return outcome
    try:
        # Not flushed on its own: `_new_attempt` flushes the audit row with the Attempt, and both are
        # committed before Toss is called.
        billing_key = vault.open(
            session, card, actor=actor, reason=_reason(sub, actor), now=now, subscription_id=sub.id, flush=False
        )
    except VaultError as exc:
        session.flush()  # the Charge's id, for the result
        outcome = settlement.mark_retry(
            sub, charge, None, code=VAULT_ERROR, message=str(exc), category=Category.CONFIG, now=now
        )
        session.commit()
        return outcome
    call = _new_attempt(session, sub, charge, card, billing_key, now, first=fresh)
    # Committed without expiring what was loaded: the settlement locks the subscription row again
    # and re-reads it, its Charge and Attempt, and takes the plan, product, card and user it
    # already holds (`_settle`'s `related`) instead of loading all five again.
    _commit_keeping_loaded(session)
    return call


def _commit_keeping_loaded(session: Session | scoped_session[Session]) -> None:
    """Commit without expiring the session's objects (for this one commit)."""
    real = session() if isinstance(session, scoped_session) else session
    keep, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
    finally:
        real.expire_on_commit = keep


def _decide_without_call(
    session: Session, sub: Subscription, *, notifier: Any, config: Config, now: datetime
) -> ChargeResult | Charge | None:
    """The answer when no Toss call is to be made; else the period's pending Charge to call for, or None
    when there is none and no Charge exists for ``next_charge_at`` either (a new period to open)."""
    if sub.status not in CHARGEABLE_STATUSES:
        return result("ended" if sub.status in statuses.ENDED else "skipped", sub)
    if sub.next_charge_at is None or sub.next_charge_at > now:
        return result("skipped", sub)
    pending, existing = periods.pending_and_charge_for(session, sub.id, sub.next_charge_at)
    in_flight = periods.open_attempt(session, pending.id) if pending is not None else None
    if in_flight is not None:
        return result("in_flight" if in_flight.status == "sending" else "unknown", sub, pending, in_flight)
    if sub.cancel_at_period_end:
        return settlement.cancel_at_period_end(session, sub, pending, notifier=notifier, now=now)
    if pending is not None and settlement.awaiting_card_change(pending):
        return settlement.end_after_deadline(session, sub, pending, notifier=notifier, config=config, now=now)
    if pending is None:
        if existing is not None and existing.status == "paid":
            log.error("subscription %s: period %s is already paid but still due", sub.id, existing.period_start)
            return result("already_paid", sub, existing)
        if existing is not None:
            return result("skipped", sub, existing)
        # A new period: a raised amount or a trial's first paid one needs the shopper's consent.
        return consent.enforce(session, sub, notifier=notifier, now=now)
    return pending


def _usable_card(sub: Subscription) -> BillingKey | None:
    card = sub.billing_key
    if card is None or card.sealed is None or card.deactivated_at is not None or card.destroyed_at is not None:
        return None
    return card


def _reason(sub: Subscription, actor: Actor) -> str:
    if sub.status == "incomplete":
        return f"first charge of subscription {sub.id}"
    return f"renewal charge of subscription {sub.id}" if actor.type == "worker" else f"charge of subscription {sub.id}"


def _new_attempt(
    session: Session,
    sub: Subscription,
    charge: Charge,
    card: BillingKey,
    billing_key: str,
    now: datetime,
    *,
    first: bool = False,
) -> _Call:
    """The ``sending`` Attempt, flushed with whatever is pending (a new period's Charge, the key's audit
    row); `first` when `charge` was created in this transaction (no Attempt yet, maybe no id)."""
    number = 1 if first else len(session.scalars(select(Attempt.id).where(Attempt.charge_id == charge.id)).all()) + 1
    order_id = order_id_for(sub, charge, number)
    attempt = Attempt(
        charge=charge,
        billing_key_id=card.id,
        order_id=order_id,
        idempotency_key=order_id,
        amount_won=charge.amount_won,
        status="sending",
        created_at=now,
        updated_at=now,
    )
    session.add(attempt)
    session.flush()
    return _Call(
        attempt_id=attempt.id,
        subscription_id=sub.id,
        billing_key=billing_key,
        customer_key=card.customer_key,
        amount_won=charge.amount_won,
        order_id=order_id,
        order_name=_order_name(sub),
        customer_email=sub.user.email or None,
        customer_name=(sub.user.name or None),
        loaded=(sub, sub.plan, sub.plan.product, card, sub.user),
    )


def order_id_for(sub: Subscription, charge: Charge, number: int) -> str:
    """``S<sub>-<period KST yyyymmdd>-<n>-<10 hex>``: Toss's ``[A-Za-z0-9_-]{6,64}``, deterministic per period
    (one Charge each) and attempt number, and known before the Charge has a row id. The hex part mixes in the
    user's random customer key (hashed, never shown), so ids stay unique at Toss even when a database is
    recreated and row ids repeat. A database restored from a backup names a period's attempts as it did
    before, so Toss answers a repeat with the first payment (idempotency) or refuses it as a duplicate
    order id (settled by asking Toss), instead of taking a second payment."""
    seed = f"{sub.user.customer_key}:{sub.id}:{int(charge.period_start.timestamp())}"
    digest = hashlib.sha256(seed.encode()).hexdigest()[:10]
    return f"S{sub.id}-{cycle.kst_date(charge.period_start):%Y%m%d}-{number}-{digest}"


def _order_name(sub: Subscription) -> str:
    return f"{sub.plan.product.name} {sub.plan.name}".strip()[:100]


# -- settling --------------------------------------------------------------------------------------


def _settle(
    session: Session,
    attempt_id: int,
    answer: Payment | TossError | None,
    *,
    notifier: Any,
    config: Config,
    now: datetime,
    subscription_id: int | None = None,
    related: bool = True,
) -> ChargeResult:
    """Phase two, under the lock: apply Toss's answer to a still-open attempt, then commit.

    ``answer`` None means Toss has no payment for the order. Idempotent: an attempt
    already settled (by the worker or the reconciler, whichever came first) is left as is.
    `subscription_id`: the attempt's subscription when the caller knows it (`charge_period`
    made the attempt), which saves looking it up before the lock. `related=False` when the session
    still holds the subscription's plan, product, card and user unexpired (`charge_period`): only
    the subscription row is locked and re-read, and those come from the session (a card or plan
    switched meanwhile is loaded as the row now names it).
    """
    sub_id = subscription_id
    if sub_id is None:
        sub_id = session.scalars(
            select(Charge.subscription_id).join(Attempt, Attempt.charge_id == Charge.id).where(Attempt.id == attempt_id)
        ).one()
    sub = lock_subscription(session, sub_id, related=related)
    if sub is None:
        raise SubscriptionNotFound(sub_id)
    attempt, charge = session.execute(_ATTEMPT_AND_CHARGE, {"attempt_id": attempt_id, "subscription_id": sub_id}).one()
    if attempt.status not in OPEN_ATTEMPT_STATUSES:
        session.commit()
        return result("already_paid" if attempt.status == "done" else "skipped", sub, charge, attempt)
    outcome = _apply(session, sub, charge, attempt, answer, notifier=notifier, config=config, now=now)
    session.commit()
    return outcome


# Built once (see `periods`): the attempt being settled and its Charge, of the locked subscription.
_ATTEMPT_AND_CHARGE = (
    select(Attempt, Charge)
    .join(Charge, Charge.id == Attempt.charge_id)
    .where(Attempt.id == bindparam("attempt_id"), Charge.subscription_id == bindparam("subscription_id"))
    .execution_options(populate_existing=True)
)


def _apply(
    session: Session,
    sub: Subscription,
    charge: Charge,
    attempt: Attempt,
    answer: Payment | TossError | None,
    *,
    notifier: Any,
    config: Config,
    now: datetime,
) -> ChargeResult:
    if answer is None:
        return settlement.mark_no_payment(sub, charge, attempt, now=now)
    if isinstance(answer, Payment):
        if answer.status == "DONE":
            return settlement.mark_paid(
                session, sub, charge, attempt, answer, notifier=notifier, config=config, now=now
            )
        code = answer.failure_code or answer.status
        answer = TossError(code, answer.failure_message or answer.status, category=_decline_category(code))
    if answer.category in settlement.DECLINES:
        return settlement.mark_declined(
            session,
            sub,
            charge,
            attempt,
            notifier=notifier,
            config=config,
            code=answer.code,
            message=answer.message,
            category=answer.category,
            now=now,
        )
    if answer.category in (Category.TRANSIENT, Category.CONFIG):
        return settlement.mark_retry(
            sub, charge, attempt, code=answer.code, message=answer.message, category=answer.category, now=now
        )
    if answer.category is not Category.UNKNOWN_OUTCOME:
        log.error(
            "attempt %s: unexpected error category %s (%s); treated as unknown",
            attempt.id,
            answer.category,
            answer.code,
        )
    return settlement.mark_unknown(sub, charge, attempt, code=answer.code, message=answer.message, now=now)


def _decline_category(code: str) -> Category:
    """How to treat a payment Toss reports as failed (ABORTED/EXPIRED): by its code, else a soft decline."""
    category = categorize(code)
    if category in (*settlement.DECLINES, Category.TRANSIENT, Category.CONFIG):
        return category
    return Category.SOFT_DECLINE


# -- after a card change ---------------------------------------------------------------------------


def retry_after_card_change(
    session: Session,
    subscription_id: int,
    *,
    toss: Any,
    vault: Vault,
    notifier: Any,
    clock: Any,
    config: Config,
    actor: Actor = Actor.worker(),
    customer_ip: str | None = None,
) -> ChargeResult:
    """Charge the unpaid period at once on the subscription's (new) card.

    For the subscribe flow after the shopper changed card while ``past_due``: makes the
    open Charge due now, commits, and calls `charge_period`; its period stays the one
    that was due, and a decline continues the dunning schedule from the first failure
    (it does not restart it). After a declined first charge (status ``incomplete``) the
    subscription starts afresh: due now, anchored on today, with a new Charge whose
    period starts now (the failed one stays failed). Returns ``skipped`` when there is
    nothing unpaid.
    """
    now = clock.now()
    sub = lock_subscription(session, subscription_id)
    if sub is None or sub.status not in ("past_due", "incomplete"):
        session.commit()
        return ChargeResult("skipped", subscription_id)
    charge = periods.pending_charge(session, sub.id)
    if charge is None and sub.status == "past_due":
        session.commit()
        return result("skipped", sub)
    if charge is not None:
        charge.next_retry_at = now
    else:
        sub.anchor_day = cycle.anchor_day_for(now)
    sub.next_charge_at = now
    session.commit()
    return charge_period(
        session,
        subscription_id,
        toss=toss,
        vault=vault,
        notifier=notifier,
        clock=clock,
        config=config,
        actor=actor,
        customer_ip=customer_ip,
    )


# -- reconciling -----------------------------------------------------------------------------------


def reconcile(
    session: Session,
    *,
    toss: Any,
    vault: Vault | None,
    notifier: Any,
    clock: Any,
    config: Config,
    older_than: timedelta = RECONCILE_GRACE,
    limit: int | None = None,
) -> list[ReconcileResult]:
    """Settle charge attempts left ``sending`` (a crash) or ``unknown`` (a timeout) by asking Toss.

    Only attempts untouched for `older_than` are looked at, so none is still on the wire.
    ``GET /v1/payments/orders/{orderId}``: DONE → paid (the same code as a normal
    success); ABORTED/EXPIRED → declined by its code (dunning); NOT_FOUND → the attempt
    never happened: failed ``NO_PAYMENT``, and the next run may start a new attempt with a
    new order id (the only way one can start); any other answer or a lookup error → left
    for the next run. One transaction per attempt. `vault` is unused (no key is opened
    to look a payment up); it is accepted so callers can pass the same services.
    """
    now = clock.now()
    query = (
        select(Attempt.id, Attempt.order_id)
        .where(
            Attempt.status.in_(OPEN_ATTEMPT_STATUSES),
            Attempt.updated_at <= now - older_than,
            Attempt.charge_id.is_not(None),
        )
        .order_by(Attempt.id)
    )
    rows = session.execute(query.limit(limit) if limit is not None else query).all()
    session.commit()
    return [
        _reconcile_one(session, attempt_id, order_id, toss=toss, notifier=notifier, config=config, clock=clock)
        for attempt_id, order_id in rows
    ]


def _reconcile_one(
    session: Session, attempt_id: int, order_id: str, *, toss: Any, notifier: Any, config: Config, clock: Any
) -> ReconcileResult:
    try:
        payment = toss.get_payment_by_order_id(order_id)
    except TossError as exc:
        if exc.category is not Category.NOT_FOUND:
            log.warning("reconcile: lookup of order %s failed (%s); left for the next run", order_id, exc.code)
            return ReconcileResult(attempt_id, order_id, "left", error_code=exc.code)
        payment = None
    except Exception as exc:  # noqa: BLE001 - leave it; the next run asks again
        log.error("reconcile: lookup of order %s raised %s", order_id, type(exc).__name__)
        return ReconcileResult(attempt_id, order_id, "left", error_code="CLIENT_ERROR")
    if payment is not None and (payment.order_id != order_id or payment.status not in ("DONE", "ABORTED", "EXPIRED")):
        log.warning("reconcile: order %s is %s at Toss; left for the next run", order_id, payment.status)
        return ReconcileResult(attempt_id, order_id, "left", error_code=payment.status)
    outcome = _settle(session, attempt_id, payment, notifier=notifier, config=config, now=clock.now())
    return ReconcileResult(attempt_id, order_id, _reconcile_outcome(outcome), outcome, outcome.error_code)


def _reconcile_outcome(outcome: ChargeResult) -> str:
    if outcome.outcome in ("paid", "already_paid"):
        return "paid"
    if outcome.outcome in ("declined", "retry", "unknown"):
        return outcome.outcome
    return "left"
