"""Refunds the store learns of from Toss: the shopper is told once, and 내 구독 and the admin show them.

A cancel made outside the store (the merchant's Toss dashboard) reaches our records through
`refunds.sync_payment`, whoever calls it first: the PAYMENT_STATUS_CHANGED webhook, the daily
reconciliation (대사), the refund settle job. It becomes a 'done' Refund keyed
``toss-cancel-<transactionKey>`` (`refunds.FROM_TOSS_PREFIX`), the Charge ``refunded`` or the
Order ``canceled`` when nothing is left. No flow of ours told the shopper about it, so
`announce` (run by the refund settle job, `jobs.settle_refunds_job`) queues one
``payment_refunded`` notice per such Refund. The outbox's dedup key (``payment-refunded:<refund
id>``) makes it one email, whichever path recorded the refund and however often a webhook is
redelivered or a day reconciled again.

Refunds the store itself made are not announced here: 바로 해지 and 청약철회 tell the shopper in
their own notice (`subscription_canceled` with the refund, `order_withdrawn`), and a refund of
ours that Toss reports back settles our pending row rather than creating a ``toss-cancel-`` one.

The rule for the subscription: a refund made outside the store never changes it. The store cannot
tell a merchant's goodwill refund from a cancellation agreed on the phone, and only the shopper's
own instruction (or the terms: dunning, a refused price rise) ends a subscription. So it renews
as before, and nothing happens silently: the notice says it goes on and when it is charged next,
with the way to cancel; 내 구독 and the admin's subscription page show what was refunded of the
current period (`period_refunds`).

No Flask in here: callers pass the session, the notifier and the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from collections.abc import Iterable, Mapping

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from storefront.billing.recurring import periods, statuses
from storefront.billing.refunding import refunds
from storefront.models import EmailMessage, Order, Refund, Subscription, User

__all__ = ["ANNOUNCE_WINDOW", "KIND", "PeriodRefund", "announce", "dedup_key", "period_refunds"]

log = logging.getLogger(__name__)

KIND = "payment_refunded"
# Refunds recorded (settled_at) this long ago or less are announced; older ones were before this rule.
ANNOUNCE_WINDOW = timedelta(days=7)
_DEDUP_PREFIX = "payment-refunded:"


@dataclass(frozen=True)
class PeriodRefund:
    """What was refunded of a live subscription's current paid period."""

    charge_id: int
    paid_won: int
    refunded_won: int
    from_toss_won: int  # of which Toss reported without a request of ours (the merchant's dashboard)
    last_refund_at: datetime

    @property
    def full(self) -> bool:
        return self.refunded_won >= self.paid_won


def dedup_key(refund_id: int) -> str:
    """The notice's outbox key for one Refund (the notifier adds ``:<channel>``)."""
    return f"{_DEDUP_PREFIX}{refund_id}"


def announce(session: Session, *, notifier: Any, clock: Any, window: timedelta = ANNOUNCE_WINDOW) -> list[int]:
    """Queue ``payment_refunded`` for every refund first learned from Toss and not yet announced. COMMITS.

    Looks at 'done' Refunds keyed `refunds.FROM_TOSS_PREFIX` recorded within `window` whose email
    row does not exist; each notice is queued in a SAVEPOINT, so one that cannot be written (logged)
    leaves the others. A member who withdrew gets nothing (the notifier's rule). Returns the new
    outbox ids, for the caller to enqueue delivery (the pending sweep sends them otherwise).
    """
    now = clock.now()
    email_key = literal(_DEDUP_PREFIX) + cast(Refund.id, String) + literal(":email")
    rows = session.scalars(
        select(Refund)
        .where(
            Refund.status == "done",
            Refund.idempotency_key.startswith(refunds.FROM_TOSS_PREFIX),
            Refund.settled_at >= now - window,
            ~exists().where(EmailMessage.dedup_key == email_key),
        )
        .order_by(Refund.id)
    ).all()
    added: list[int] = []
    for refund in rows:
        user, context = _notice(session, refund)
        if user is None:
            continue
        try:
            with session.begin_nested():
                queued = notifier.queue(
                    session, user=user, kind=KIND, dedup_key=dedup_key(refund.id), context=context, now=now
                )
        except Exception:  # the refund stands; the next run tries the notice again
            log.exception("could not queue the refund notice of refund %s", refund.id)
            continue
        added.extend(row.id for row in queued or ())
    session.commit()
    if added:
        log.info("refund notices: %s refund(s) made at Toss announced to the shopper", len(added))
    return added


def period_refunds(
    session: Session,
    subs: Iterable[periods.SubscriptionState],
    current: Mapping[int, periods.CurrentPeriod] | None = None,
) -> dict[int, PeriodRefund]:
    """For each live subscription whose current paid period has 'done' refunds: what they came to. Reads only.

    The current periods are read in one statement (`periods.current_periods`), or taken from
    `current` when the caller has read them already (내 구독 shares them with the 청약철회 rule).
    """
    live = [sub for sub in subs if sub.status in statuses.RUNNING and sub.current_period_start is not None]
    if current is None:
        current = periods.current_periods(session, live)
    found: dict[int, PeriodRefund] = {}
    for sub in live:
        period = current.get(sub.id)
        if period is None or period.status not in ("paid", "refunded"):
            continue
        done = [r for r in period.refunds if r.status == "done"]
        if done:
            found[sub.id] = PeriodRefund(
                charge_id=period.charge_id,
                paid_won=period.amount_won,
                refunded_won=sum(r.amount_won for r in done),
                from_toss_won=sum(r.amount_won for r in done if _from_toss(r.idempotency_key)),
                last_refund_at=max(r.created_at for r in done),
            )
    return found


def _from_toss(idempotency_key: str) -> bool:
    return idempotency_key.startswith(refunds.FROM_TOSS_PREFIX)


def _notice(session: Session, refund: Refund) -> tuple[User | None, dict[str, Any]]:
    """Whom to tell and what: the payment, the refund, and what happens next (subscription or order)."""
    attempt = refund.attempt
    refunded = sum(r.amount_won for r in attempt.refunds if r.status == "done")
    remaining = max(attempt.amount_won - refunded, 0)
    context: dict[str, Any] = {
        "refund_amount_won": refund.amount_won,
        "paid_amount_won": attempt.amount_won,
        "remaining_won": remaining,
        "full": remaining == 0,
        "refunded_at": refund.created_at,
        "card_label": attempt.card_summary or "",
    }
    if attempt.order_pk is not None:
        order = session.get(Order, attempt.order_pk)
        if order is None:
            return None, context
        context.update(
            product_name=order.plan.product.name,
            plan_name=order.plan.name,
            order_id=order.order_id,
            order_canceled=order.status == "canceled",
        )
        return order.user, context
    charge = attempt.charge
    if charge is None:
        return None, context
    sub = charge.subscription
    context.update(
        product_name=sub.plan.product.name,
        plan_name=sub.plan.name,
        period_start=charge.period_start,
        period_end=charge.period_end,
        **_what_happens_next(sub),
    )
    return sub.user, context


def _what_happens_next(sub: Subscription) -> dict[str, Any]:
    if sub.status in statuses.ENDED:
        return {"subscription_state": "ended"}
    if sub.cancel_at_period_end:
        return {"subscription_state": "ending", "access_until": sub.current_period_end or sub.trial_end_at}
    return {"subscription_state": "renews", "next_charge_at": sub.next_charge_at}
