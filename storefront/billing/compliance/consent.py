"""Consent before a price rise or a trial's first paid charge (전자상거래법 제13조⑥, from 2025-02-14).

Owns `PriceChange` rows and the rule that a raised amount — a plan price applied to existing
subscribers, the end of a discount, or the first paid period after a free trial (0원 → the
plan price) — is charged only if the shopper agreed to it, separately and explicitly, within
the 30 days before it takes effect. Silence is never consent: with no answer by the date, or a
refusal ("해지"), nothing is charged and the subscription ends at the end of the period already
paid for (or of the trial), with a `subscription_ended` notice saying why in plain Korean.

The pieces: `schedule_price_change` / `apply_plan_price` (the merchant's side) and
`open_trial_conversion` (one change per trial, made by the sweep) live in price_changes.py
and are re-exported here, with its errors; then `send_due_requests`
(requests, reminders and the trial's 7-day advance notice, on a timer), `record_answer`
(the consent page), and `gate` / `enforce` (what `charging.charge_period` asks before it
opens a period's Charge). When a request, a reminder or a notice is sent is fixed here:

- the consent window opens 30 days before the change (for a trial never before one day after
  sign-up, so a consent bundled with the sign-up can never count);
- the request goes out 14 days before, or when the window opens if that is later;
- reminders 7 and 3 days before, each once, only while there is no answer;
- a trial's advance notice (email + SMS) 8 days before the conversion, so that it arrives at
  least 7 days ahead (trials shorter than that get it as soon as the sweep sees them).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session, joinedload

from storefront.billing.recurring import periods, settlement, statuses
from storefront.billing.errors import SubscriptionNotFound
from storefront.billing.compliance.price_changes import (
    MIN_LEAD_DAYS,
    REASONS,
    UNSETTLED,
    ConsentError,
    NotAnIncrease,
    Rollout,
    TooSoon,
    apply_plan_price,
    changes_for,
    earliest_effective_on,
    effective_renewal,
    open_change,
    open_trial_conversion,
    schedule_price_change,
)
from storefront.billing.recurring.settlement import ChargeResult
from storefront.config import Config
from storefront.models import Consent, Plan, PriceChange, Subscription

__all__ = [
    "AlreadyRefused",
    "Closed",
    "ConsentError",
    "Gate",
    "NotAnIncrease",
    "NotYetOpen",
    "Rollout",
    "TooSoon",
    "UnknownChange",
    "apply_plan_price",
    "changes_for",
    "earliest_effective_on",
    "effective_renewal",
    "enforce",
    "find",
    "gate",
    "has_waiting_change",
    "open_change",
    "open_changes_for_user",
    "open_trial_conversion",
    "record_answer",
    "schedule_price_change",
    "send_due_requests",
    "MIN_LEAD_DAYS",
    "REASONS",
]

log = logging.getLogger(__name__)

CONSENT_WINDOW = timedelta(days=30)
REQUEST_DAYS_BEFORE = 14
REMINDER_DAYS_BEFORE = (7, 3)  # descending: the order in which they fall due
TRIAL_NOTICE_DAYS_BEFORE = 8
MIN_AFTER_SIGNUP = timedelta(days=1)
TEXT_VERSION = "price-consent-2026-11-24"  # bump when the consent page's wording changes

KINDS = ("price_increase", "trial_conversion")
DECISIONS = ("agreed", "refused")


class UnknownChange(ConsentError):
    message = "요청하신 동의 페이지를 찾을 수 없습니다."


class NotYetOpen(ConsentError):
    def __init__(self, opens_at: datetime) -> None:
        self.opens_at = opens_at
        super().__init__("아직 동의를 받을 수 있는 기간이 아닙니다. 변경일 30일 전부터 동의하실 수 있습니다.")


class Closed(ConsentError):
    message = "이 변경에 대한 응답 기간이 끝났습니다."


class AlreadyRefused(ConsentError):
    message = "이미 해지를 선택하셨습니다. 이용 기간이 끝나면 구독이 종료됩니다."


@dataclass(frozen=True)
class Gate:
    """The gate's verdict for the period about to be charged.

    decision: ``none`` (no change applies: charge as usual), ``agreed`` (charge the new
    amount), ``refused`` or ``missing`` (charge nothing; end the subscription).
    """

    decision: str
    change: PriceChange | None = None


# -- the window ------------------------------------------------------------------------------------


def window_opens_at(change: PriceChange, sub: Subscription) -> datetime:
    """The earliest moment an answer counts: 30 days before; for a trial also one day after sign-up."""
    opens = change.effective_at - CONSENT_WINDOW
    if change.kind == "trial_conversion":
        opens = max(opens, sub.created_at + MIN_AFTER_SIGNUP)
    return opens


def request_due_at(change: PriceChange, sub: Subscription) -> datetime:
    """When the first request goes out: 14 days before, or when the window opens if later."""
    return max(change.effective_at - timedelta(days=REQUEST_DAYS_BEFORE), window_opens_at(change, sub))


def consent_counts(
    change: PriceChange, sub: Subscription, consent: Consent | None, *, charged_at: datetime | None = None
) -> bool:
    """True only for an ``agreed`` answer to this change, given inside its window and before the date.

    `charged_at` is when the new amount is really charged (a renewal moved later than the
    change's date moves the 30-day window with it).
    """
    charged_at = max(charged_at or change.effective_at, change.effective_at)
    opens = max(window_opens_at(change, sub), charged_at - CONSENT_WINDOW)
    return (
        consent is not None
        and consent.decision == "agreed"
        and consent.kind == change.kind
        and consent.subscription_id == sub.id
        and opens <= consent.at < change.effective_at
    )


def state(change: PriceChange, sub: Subscription, now: datetime) -> str:
    """What the consent page can offer: open, not_yet (window not open), agreed, refused, closed."""
    if change.status in ("lapsed", "applied") or sub.status not in statuses.RUNNING or now >= change.effective_at:
        return "closed"
    if change.kind == "trial_conversion" and sub.status != "trialing":
        return "closed"
    if change.status in ("agreed", "refused"):
        return change.status
    return "not_yet" if now < window_opens_at(change, sub) else "open"


# -- the gate --------------------------------------------------------------------------------------


# `gate` runs before every renewal: its two look-ups are built once (see `recurring.periods`).
_TRIAL_CONVERSION = select(PriceChange).where(
    PriceChange.subscription_id == bindparam("subscription_id"),
    PriceChange.kind == "trial_conversion",
    PriceChange.effective_at == bindparam("at"),
)
_DUE_PRICE_INCREASE = (
    select(PriceChange)
    .where(
        PriceChange.subscription_id == bindparam("subscription_id"),
        PriceChange.kind == "price_increase",
        PriceChange.status.in_(UNSETTLED),
        PriceChange.effective_at <= bindparam("at"),
    )
    .order_by(PriceChange.effective_at)
    .limit(1)
)


def gate(session: Session, sub: Subscription, *, now: datetime) -> Gate:
    """Decide whether the period starting at ``sub.next_charge_at`` may be charged, and at what amount.

    A trialing subscription converts only with a counted ``agreed`` answer to its
    trial_conversion change for this date (none at all is ``missing``). Any other subscription is
    gated by its earliest unsettled price_increase whose ``effective_at`` has come. Reads
    only; `enforce` acts on the verdict.
    """
    if sub.status == "trialing":
        # Only the change for this very conversion date: a trial moved later needs a new answer.
        change = session.scalars(_TRIAL_CONVERSION, {"subscription_id": sub.id, "at": sub.next_charge_at}).first()
        if change is None:
            return Gate("missing")
        if change.status == "applied":
            return Gate("agreed", change)
    else:
        change = session.scalars(_DUE_PRICE_INCREASE, {"subscription_id": sub.id, "at": sub.next_charge_at}).first()
        if change is None:
            return Gate("none")
    if change.status == "refused":
        return Gate("refused", change)
    if change.status == "agreed" and consent_counts(change, sub, change.consent, charged_at=sub.next_charge_at):
        return Gate("agreed", change)
    return Gate("missing", change)


def enforce(session: Session, sub: Subscription, *, notifier: Any, now: datetime) -> ChargeResult | None:
    """Apply the gate before a new period's Charge is opened; None means "go on and charge".

    With consent the subscription's amount becomes the new one (so the Charge is created at
    it) and the change is marked ``applied``. Without it the subscription ends (status
    ``canceled``, ``ended_at`` = the end of the period already paid for or of the trial),
    nothing is charged, and a ``subscription_ended`` notice says why. Call it with the
    subscription locked, before `periods.open_charge`; it never commits. A first charge
    (``incomplete``) is what the shopper agreed to at checkout and is not gated.
    """
    if sub.status not in statuses.RUNNING:
        return None
    verdict = gate(session, sub, now=now)
    if verdict.decision == "none":
        return None
    if verdict.decision == "agreed":
        change = verdict.change
        assert change is not None  # gate() names the change it agreed to
        sub.amount_won = change.new_amount_won
        if change.status != "applied":
            change.status, change.applied_at = "applied", now
        return None
    return _end_without_consent(session, sub, verdict, notifier=notifier, now=now)


def _end_without_consent(
    session: Session, sub: Subscription, verdict: Gate, *, notifier: Any, now: datetime
) -> ChargeResult:
    kind = "trial_conversion" if sub.status == "trialing" else "price_increase"
    reason = f"{kind}_{'refused' if verdict.decision == 'refused' else 'no_consent'}"
    if verdict.change is not None and verdict.change.status in ("pending", "agreed"):
        verdict.change.status = "lapsed"  # "agreed" here means an answer outside the window
    ended_at = min(sub.next_charge_at or now, now)
    settlement.end_subscription(sub, status="canceled", reason=reason, now=ended_at)
    settlement.notify_ended(session, notifier, sub, now)
    log.info("subscription %s ended without charging: %s", sub.id, reason)
    return settlement.result("ended", sub, error_code=reason, error_message=settlement.ended_reason_text(reason))


# -- answers ---------------------------------------------------------------------------------------


def find(session: Session, token: str, *, user_id: int) -> PriceChange:
    """The change behind a consent link, for its owner only; raises UnknownChange otherwise."""
    change = session.scalars(select(PriceChange).where(PriceChange.token == token)).first() if token else None
    if change is None or change.subscription.user_id != user_id:
        raise UnknownChange()
    return change


def record_answer(
    session: Session, token: str, decision: str, *, user_id: int, ip: str, now: datetime, notifier: Any
) -> PriceChange:
    """Record the shopper's "동의" (agreed) or "해지" (refused) for the change behind `token`.

    Writes a `Consent` row (kind = the change's kind, the amounts and dates shown in `detail`,
    `TEXT_VERSION`, time and IP) and points the change at it. "agreed" counts only inside the
    window (`NotYetOpen` before it) and is idempotent (a second click records nothing more).
    "refused" is a cancellation: accepted any time before the date (also after an
    agreement), it sets ``cancel_at_period_end`` and queues ``subscription_canceled``; it
    cannot be undone here (`AlreadyRefused`). After the date, or once the subscription has
    ended, `Closed`. Locks the subscription row (the gate reads under the same lock);
    flushes, never commits. Raises UnknownChange for a token that is not the user's.
    """
    if decision not in DECISIONS:
        raise ConsentError("동의 또는 해지 중 하나를 선택해 주세요.")
    change = find(session, token, user_id=user_id)
    sub = periods.lock_subscription(session, change.subscription_id)
    if sub is None:
        raise SubscriptionNotFound(change.subscription_id)
    session.refresh(change)
    current = state(change, sub, now)
    if current == "closed":
        raise Closed()
    if current == "refused":
        raise AlreadyRefused()
    if decision == "agreed" and current == "agreed":
        return change
    if decision == "agreed" and current == "not_yet":
        raise NotYetOpen(window_opens_at(change, sub))
    row = Consent(
        user_id=user_id,
        subscription_id=sub.id,
        kind=change.kind,
        decision=decision,
        text_version=TEXT_VERSION,
        detail=json.dumps(shown(change, sub), ensure_ascii=False),
        ip=(ip or "unknown")[:64],
        at=now,
    )
    session.add(row)
    session.flush()
    change.status, change.consent_id, change.decided_at = decision, row.id, now
    if decision == "refused":
        _cancel_at_period_end(session, sub, change, notifier=notifier, now=now)
    session.flush()
    return change


def _cancel_at_period_end(
    session: Session, sub: Subscription, change: PriceChange, *, notifier: Any, now: datetime
) -> None:
    already = sub.cancel_at_period_end
    sub.cancel_at_period_end = True
    sub.canceled_at = sub.canceled_at or now
    if not already:
        context = {
            "product_name": sub.plan.product.name,
            "access_until": access_until(sub),
            "reason": "price_change_refused",
        }
        settlement._notify(
            session, notifier, sub, "subscription_canceled", f"canceled:consent:{change.id}", context, now
        )


def access_until(sub: Subscription) -> datetime | None:
    """The end of what the shopper has already paid for (or of the trial): when a 해지 takes effect."""
    if sub.status == "trialing":
        return sub.trial_end_at or sub.next_charge_at
    return sub.current_period_end or sub.next_charge_at


def shown(change: PriceChange, sub: Subscription) -> dict[str, Any]:
    """What the consent page and the messages show about a change (also stored with each answer)."""
    return {
        "price_change_id": change.id,
        "change_type": change.kind,
        "reason": change.reason,
        "product_name": sub.plan.product.name,
        "plan_name": sub.plan.name,
        "old_amount_won": change.old_amount_won,
        "new_amount_won": change.new_amount_won,
        "effective_at": change.effective_at.isoformat(),
        "card_label": card_label(sub),
        "access_until": _iso(access_until(sub)),
    }


def card_label(sub: Subscription) -> str:
    card = sub.billing_key
    return (card.label if card is not None else "") or "등록된 카드"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# A change asked about and not yet answered or due, as of the bound parameter ``now`` (`open_changes_for_user`
# then applies `state`). 내 구독 reads it with the subscriptions (`has_waiting_change`).
_WAITING = and_(
    PriceChange.status == "pending",
    PriceChange.requested_at.is_not(None),
    PriceChange.effective_at > bindparam("now"),
)


def has_waiting_change(subscription_id: Any) -> Any:
    """An EXISTS for a select of subscriptions (bound ``now``): true when `open_changes_for_user` may find a
    change of that subscription. False means it finds none, so a page can skip that statement."""
    return exists().where(PriceChange.subscription_id == subscription_id, _WAITING)


# Built once with bound parameters: building the statement cost more than running it (내 구독 reads it per view).
# With the subscription, its plan and product (the prompt names the product): one statement however many.
_USER_PENDING_CHANGES = (
    select(PriceChange)
    .join(Subscription, Subscription.id == PriceChange.subscription_id)
    .where(Subscription.user_id == bindparam("user_id"), _WAITING)
    .options(joinedload(PriceChange.subscription).joinedload(Subscription.plan).joinedload(Plan.product))
    .order_by(PriceChange.effective_at)
)


def open_changes_for_user(session: Session, user_id: int, *, now: datetime) -> list[PriceChange]:
    """Changes still waiting for the user's answer (for an in-app prompt on the account page)."""
    rows = session.scalars(_USER_PENDING_CHANGES, {"user_id": user_id, "now": now}).all()
    return [change for change in rows if state(change, change.subscription, now) == "open"]


# -- requests, reminders, the trial notice ---------------------------------------------------------


def send_due_requests(session: Session, *, notifier: Any, clock: Any, config: Config) -> int:
    """Send every consent request, reminder and trial advance notice that is due; return how many.

    First makes the conversion change of every trial ending within 30 days, then looks only
    at changes with something due (indexed on ``(status, effective_at)``). Each message has
    a dedup key (``consent:<change id>:request|reminder:<days>|notice``) and the change
    records what was sent, so running it twice, or two at once, sends each message once.
    Subscriptions that ended or are set to end are left alone. Commits once per change; a
    notice that cannot be written is logged and retried by the next run.
    """
    now = clock.now()
    for sub_id in _trials_without_change(session, now):
        open_trial_conversion(session, session.get_one(Subscription, sub_id), now=now)
    session.commit()
    sent = 0
    for change_id in _changes_with_something_due(session, now):
        try:
            sent += _send_for(
                session, session.get_one(PriceChange, change_id), notifier=notifier, config=config, now=now
            )
            session.commit()
        except Exception:
            session.rollback()
            log.exception("consent messages for price change %s not queued; the next run tries again", change_id)
    return sent


def _trials_without_change(session: Session, now: datetime) -> list[int]:
    has_change = select(PriceChange.id).where(
        PriceChange.subscription_id == Subscription.id,
        PriceChange.kind == "trial_conversion",
        PriceChange.effective_at == Subscription.next_charge_at,
    )
    return list(
        session.scalars(
            select(Subscription.id)
            .where(
                Subscription.status == "trialing",
                Subscription.next_charge_at > now,
                Subscription.next_charge_at <= now + CONSENT_WINDOW,
                ~has_change.exists(),
            )
            .order_by(Subscription.next_charge_at)
        )
    )


def _changes_with_something_due(session: Session, now: datetime) -> list[int]:
    days = lambda n: now + timedelta(days=n)  # noqa: E731
    reminder_due = [
        and_(
            PriceChange.requested_at.is_not(None), PriceChange.reminders_sent == i, PriceChange.effective_at <= days(d)
        )
        for i, d in enumerate(REMINDER_DAYS_BEFORE)
    ]
    pending_due = and_(
        PriceChange.status == "pending",
        or_(
            and_(PriceChange.requested_at.is_(None), PriceChange.effective_at <= days(REQUEST_DAYS_BEFORE)),
            *reminder_due,
        ),
    )
    notice_due = and_(
        PriceChange.kind == "trial_conversion",
        PriceChange.status.in_(("pending", "agreed")),
        PriceChange.notice_sent_at.is_(None),
        PriceChange.effective_at <= days(TRIAL_NOTICE_DAYS_BEFORE),
    )
    return list(
        session.scalars(
            select(PriceChange.id)
            .where(
                PriceChange.status.in_(("pending", "agreed")),
                PriceChange.effective_at > now,
                or_(pending_due, notice_due),
            )
            .order_by(PriceChange.effective_at, PriceChange.id)
        )
    )


def _send_for(session: Session, change: PriceChange, *, notifier: Any, config: Config, now: datetime) -> int:
    sub = change.subscription
    if state(change, sub, now) == "closed" or sub.cancel_at_period_end:
        return 0
    sent = 0
    if (
        change.kind == "trial_conversion"
        and change.notice_sent_at is None
        and now >= change.effective_at - timedelta(days=TRIAL_NOTICE_DAYS_BEFORE)
    ):
        _queue(session, notifier, sub, change, "trial_conversion_notice", "notice", config, now)
        change.notice_sent_at = now
        sent += 1
    if change.status != "pending" or now < request_due_at(change, sub):
        return sent
    passed = sum(1 for d in REMINDER_DAYS_BEFORE if now >= change.effective_at - timedelta(days=d))
    if change.requested_at is None:
        _queue(session, notifier, sub, change, "consent_request", "request", config, now)
        # Reminder dates already behind us are skipped, not sent late in a burst.
        change.requested_at, change.reminders_sent = now, passed
        return sent + 1
    if passed > change.reminders_sent:
        days = REMINDER_DAYS_BEFORE[passed - 1]
        _queue(session, notifier, sub, change, "consent_reminder", f"reminder:{days}", config, now)
        change.reminders_sent = passed
        sent += 1
    return sent


def _queue(
    session: Session,
    notifier: Any,
    sub: Subscription,
    change: PriceChange,
    kind: str,
    step: str,
    config: Config,
    now: datetime,
) -> None:
    url = consent_url(change, config)
    context = {
        "change_type": change.kind,
        "product_name": sub.plan.product.name,
        "plan_name": sub.plan.name,
        "effective_at": change.effective_at,
        "old_amount_won": change.old_amount_won,
        "new_amount_won": change.new_amount_won,
        "card_label": card_label(sub),
        "consent_url": url,
        "cancel_url": url,
        "deadline": change.effective_at - timedelta(days=1),
    }
    sms = change.kind == "trial_conversion" or bool(sub.user.phone)
    notifier.queue(
        session,
        user=sub.user,
        kind=kind,
        dedup_key=f"consent:{change.id}:{step}",
        context=context,
        now=now,
        channels=("email", "sms") if sms else ("email",),
    )


def consent_url(change: PriceChange, config: Config) -> str:
    """The consent page's absolute address (the owner signs in first if needed)."""
    return f"{config.site_url}/consent/{change.token}"
