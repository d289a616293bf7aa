"""Checkout: from the shopper's consent to a subscription with its first period paid (or its trial begun).

The path: `begin_checkout` records the consents (이용약관, 자동갱신) and a CheckoutIntent
(user, plan, amount shown) before Toss's card window opens; Toss sends the shopper back to
``/billing/success`` with ``customerKey`` and a one-time ``authKey``, where a progress page
answers at once after `check_redirect` (which writes nothing); its follow-up request calls
`complete_billing_auth`, which checks both against the signed-in user and a fresh, unused
intent and claims it once (`claim_intent`),
exchanges the authKey for a billing key (sealed at once, `cards`), creates the Subscription
and charges the first period through `charging.charge_period`. What is charged is the
intent's amount, recorded server-side; nothing from a URL or a form decides it.

A declined first charge leaves the subscription ``incomplete`` (never charged by the scan)
with its card kept sealed, so the shopper can try again with the same card
(`retry_first_charge`) or another one (a ``change_card`` intent). `checkout_outcome` reads
what happened, for a result page that survives a reload.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.billing.wallet import cards
from storefront.billing.recurring import charging, cycle, periods, settlement, statuses
from storefront.billing.errors import BillingError, failure_message
from storefront.billing.recurring.subscriptions import ActionRefused, Deps, complete_card_change, notify, owned
from storefront.billing.wallet.vault import Actor
from storefront.dml import execute_dml
from storefront.models import Attempt, Charge, CheckoutIntent, Consent, Plan, Subscription, User
from storefront.toss.errors import Category, categorize

INTENT_TTL = timedelta(minutes=30)
SUBSCRIBABLE_INTERVALS = cycle.INTERVALS

REFUSALS: dict[str, str] = {
    "not_signed_in": "로그인이 필요합니다. 로그인한 뒤 처음부터 다시 시도해 주세요. 결제는 이루어지지 않았습니다.",
    "bad_request": "결제 요청 정보가 올바르지 않습니다. 처음부터 다시 시도해 주세요. 결제는 이루어지지 않았습니다.",
    "customer_mismatch": "지금 로그인한 계정과 카드 등록을 요청한 계정이 다릅니다. "
    "본인 계정으로 로그인한 뒤 다시 시도해 주세요. "
    "아무것도 변경되지 않았습니다.",
    "unknown_intent": "결제 요청을 찾을 수 없습니다. 처음부터 다시 시도해 주세요. 결제는 이루어지지 않았습니다.",
    "used": "이미 처리된 결제 요청입니다. 결과는 내 구독에서 확인해 주세요.",
    "expired": "결제 요청의 유효 시간(30분)이 지났습니다. 처음부터 다시 시도해 주세요. 결제는 이루어지지 않았습니다.",
    "replayed": "이미 사용된 카드 인증입니다. 카드 등록을 처음부터 다시 진행해 주세요. 결제는 이루어지지 않았습니다.",
    "already_subscribed": "이미 구독 중인 상품입니다. 요금제 변경은 내 구독에서 할 수 있습니다.",
    "subscription_ended": "구독이 이미 종료되어 카드를 바꿀 수 없습니다. 결제는 이루어지지 않았습니다.",
    "card_failed": "카드 등록을 완료하지 못했습니다. 결제는 이루어지지 않았습니다.",
}


class CheckoutRefused(BillingError):
    """The success redirect cannot be acted on; nothing was charged. `message` is plain Korean.

    `reason` is one of REFUSALS; `subscription_id` points at the result of an intent that was
    already completed (a reload of the success URL), when there is one; `pending` says a
    ``used`` intent is still being worked on by another request (wait, do not start again).
    """

    def __init__(
        self,
        reason: str,
        message: str | None = None,
        *,
        subscription_id: int | None = None,
        plan_id: int | None = None,
        code: str | None = None,
        pending: bool = False,
    ) -> None:
        self.reason = reason
        self.pending = pending  # ``used`` by a request still at work: the answer is coming
        self.message = message or REFUSALS[reason]
        self.subscription_id = subscription_id
        self.plan_id = plan_id
        self.code = code
        super().__init__(f"checkout refused: {reason}")


@dataclass(frozen=True)
class OrderSummary:
    """What the checkout page shows and the auto-renewal consent records."""

    plan_id: int
    product_name: str
    plan_name: str
    amount_won: int  # VAT included
    interval: str
    trial_days: int
    first_charge_at: datetime  # now, or when the trial ends
    next_billing_at: datetime  # the renewal after the first charge
    trial_end_at: datetime | None

    @property
    def charge_now(self) -> bool:
        return self.trial_end_at is None

    def detail(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "product_name": self.product_name,
            "plan_name": self.plan_name,
            "amount_won": self.amount_won,
            "interval": self.interval,
            "trial_days": self.trial_days,
            "first_charge_at": self.first_charge_at.isoformat(),
            "next_billing_at": self.next_billing_at.isoformat(),
            "trial_end_at": self.trial_end_at.isoformat() if self.trial_end_at else None,
            "cancel": "내 구독에서 언제든 해지 (확인 한 번), 이미 결제한 기간이 끝날 때까지 이용",
        }


@dataclass(frozen=True)
class AuthResult:
    """What `complete_billing_auth` did; `charge` is the first charge (or the retry on a new card)."""

    purpose: str  # subscribe | change_card
    subscription_id: int
    charge: charging.ChargeResult | None
    first_charge: bool  # the subscription had never been paid for: show the checkout result page
    notice_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckoutOutcome:
    """The first charge of a subscription as its result page shows it (read from the database)."""

    state: str  # paid | trial | declined | retry | checking | unpaid | ended | other
    subscription: Subscription
    charge: Charge | None
    attempt: Attempt | None  # the approved attempt (receipt), or the last failed one
    message: str | None  # plain-Korean reason when it did not go through
    retry_same_card: bool  # offer "같은 카드로 다시 시도"


# -- before the window -----------------------------------------------------------------------------


def order_summary(plan: Plan, *, now: datetime, billing_hour_kst: int) -> OrderSummary:
    """The order as the shopper will be charged: today (or at the trial's end), then every interval."""
    trial_end = cycle.trial_end(now, plan.trial_days, billing_hour_kst) if plan.trial_days else None
    first = trial_end or now
    following = cycle.period_end(first, plan.interval, cycle.anchor_day_for(first), billing_hour_kst)
    return OrderSummary(
        plan.id,
        plan.product.name,
        plan.name,
        plan.amount_won,
        plan.interval,
        plan.trial_days or 0,
        first,
        following,
        trial_end,
    )


def subscribable(plan: Plan | None) -> TypeGuard[Plan]:
    """Whether `plan` exists and can be subscribed to now (active, a subscription product, a paid interval)."""
    return (
        plan is not None
        and plan.active
        and plan.product.active
        and plan.product.kind == "subscription"
        and plan.interval in SUBSCRIBABLE_INTERVALS
        and plan.amount_won > 0
    )


def blocking_subscription(session: Session, user_id: int, product_id: int) -> Subscription | None:
    """A subscription that stops a new checkout for the product: a live one, or a first charge in flight."""
    query = (
        select(Subscription)
        .join(Plan, Subscription.plan_id == Plan.id)
        .where(
            Subscription.user_id == user_id, Plan.product_id == product_id, Subscription.status.in_(statuses.NOT_ENDED)
        )
        .order_by(Subscription.id)
    )
    for sub in session.scalars(query):
        if sub.status != "incomplete" or _in_flight(session, sub.id):
            return sub
    return None


def begin_checkout(
    session: Session, *, user: User, plan_id: int, ip: str, now: datetime, terms_version: str, billing_hour_kst: int
) -> CheckoutIntent:
    """Record the shopper's consents and the order, before the card window opens. COMMITS.

    Two Consent rows (``terms`` and ``auto_renewal``, agreed, with time, IP and the terms
    version; the renewal one holds the order summary shown) and a CheckoutIntent good for
    `INTENT_TTL`, whose random token travels in successUrl/failUrl. Raises `ActionRefused`
    (nothing written) for a plan that cannot be subscribed to, or when the shopper already
    has a live subscription to the product.
    """
    plan = session.get(Plan, plan_id)
    if not subscribable(plan):
        raise ActionRefused("구독할 수 없는 요금제입니다.")
    if blocking_subscription(session, user.id, plan.product_id) is not None:
        raise ActionRefused(REFUSALS["already_subscribed"])
    summary = order_summary(plan, now=now, billing_hour_kst=billing_hour_kst)
    terms = Consent(
        user_id=user.id,
        kind="terms",
        decision="agreed",
        text_version=terms_version,
        detail=json.dumps({"plan_id": plan.id}),
        ip=ip[:64],
        at=now,
    )
    session.add(terms)
    session.flush()
    renewal = Consent(
        user_id=user.id,
        kind="auto_renewal",
        decision="agreed",
        text_version=terms_version,
        detail=json.dumps({**summary.detail(), "terms_consent_id": terms.id}, ensure_ascii=False),
        ip=ip[:64],
        at=now,
    )
    session.add(renewal)
    session.flush()
    intent = CheckoutIntent(
        token=secrets.token_urlsafe(32),
        user_id=user.id,
        purpose="subscribe",
        plan_id=plan.id,
        amount_won=plan.amount_won,
        consent_id=renewal.id,
        created_at=now,
        expires_at=now + INTENT_TTL,
    )
    session.add(intent)
    session.commit()
    return intent


def begin_card_change(session: Session, *, user: User, subscription_id: int, now: datetime) -> CheckoutIntent:
    """A ``change_card`` intent for one of the user's live subscriptions. COMMITS; raises `ActionRefused`."""
    sub = owned(session, user, subscription_id)
    if sub.status not in statuses.NOT_ENDED:
        raise ActionRefused("종료된 구독의 카드는 바꿀 수 없습니다.")
    intent = CheckoutIntent(
        token=secrets.token_urlsafe(32),
        user_id=user.id,
        purpose="change_card",
        plan_id=sub.plan_id,
        subscription_id=sub.id,
        amount_won=0,
        created_at=now,
        expires_at=now + INTENT_TTL,
    )
    session.add(intent)
    session.commit()
    return intent


def usable_intent(session: Session, *, user: User, token: str, now: datetime) -> CheckoutIntent | None:
    """The user's intent with this token while it is fresh and unused; else None."""
    if not token or len(token) > 64:
        return None
    intent = session.scalar(
        select(CheckoutIntent).where(CheckoutIntent.token == token, CheckoutIntent.user_id == user.id)
    )
    if intent is None or intent.used_at is not None or intent.expires_at <= now:
        return None
    return intent


# -- back from the window --------------------------------------------------------------------------


def complete_billing_auth(
    session: Session,
    *,
    user: User,
    token: str,
    customer_key: str,
    auth_key: str,
    toss: Any,
    vault: Any,
    notifier: Any,
    clock: Any,
    config: Any,
    ip: str,
) -> AuthResult:
    """Act on Toss's billing success redirect: register the card, then start the subscription or swap its card.

    Refuses (`CheckoutRefused`, nothing charged) unless `customer_key` is the user's and
    `token` names a fresh, unused intent of the user, and when the authKey was seen before.
    The intent is claimed (used, authKey hash stored under a unique index) and COMMITTED
    before Toss is called, so a replay or a second tab is refused even mid-flight. Then
    ``subscribe``: billing key issued (Idempotency-Key from the intent token), sealed and
    audited; Subscription created (trial: ``trialing`` until the trial ends, nothing
    charged; otherwise ``incomplete`` and due now) and COMMITTED with the card; the first
    period charged by `charging.charge_period` (which commits; Idempotency-Key = orderId)
    at the intent's amount. ``change_card``: see `subscriptions.complete_card_change`.
    """
    deps = Deps(toss=toss, vault=vault, notifier=notifier, clock=clock, config=config)
    intent = claim_intent(
        session, user=user, token=token, customer_key=customer_key, auth_key=auth_key, now=clock.now()
    )
    actor = Actor("user", user.id, ip)
    idempotency_key = "billing-auth-" + hashlib.sha256(intent.token.encode()).hexdigest()[:48]
    if intent.purpose == "change_card":
        try:
            changed = complete_card_change(
                session,
                user=user,
                subscription_id=intent.subscription_id,
                auth_key=auth_key,
                idempotency_key=idempotency_key,
                deps=deps,
                actor=actor,
                ip=ip,
            )
        except ActionRefused as exc:
            raise CheckoutRefused("subscription_ended", exc.message, subscription_id=intent.subscription_id) from None
        except cards.CardRegistrationFailed as exc:
            raise CheckoutRefused("card_failed", exc.message, code=exc.code) from None
        return AuthResult(
            "change_card", changed.subscription_id, changed.charge, changed.first_charge, changed.notice_ids
        )
    return _start(session, intent, user, auth_key, idempotency_key, deps, actor, ip)


def check_redirect(
    session: Session, *, user: User, token: str, customer_key: str, auth_key: str, now: datetime
) -> CheckoutIntent:
    """Check Toss's redirect against the user and their intent, writing nothing (the page that answers at once).

    Raises `CheckoutRefused` with reason ``bad_request`` (missing or over-long values),
    ``customer_mismatch``, ``unknown_intent`` (not this user's), ``used`` (this intent was
    already claimed, e.g. a reload; `pending` when its subscription is not created yet),
    ``replayed`` (the authKey was used with another intent), or ``expired``. The authKey
    itself is never stored, only its SHA-256.
    """
    if not token or not customer_key or not auth_key or len(auth_key) > 300 or len(token) > 64:
        raise CheckoutRefused("bad_request")
    if customer_key != user.customer_key:
        raise CheckoutRefused("customer_mismatch")
    intent = session.scalar(
        select(CheckoutIntent).where(CheckoutIntent.token == token, CheckoutIntent.user_id == user.id)
    )
    if intent is None:
        raise CheckoutRefused("unknown_intent")
    subscribing = intent.purpose == "subscribe"
    plan_id = intent.plan_id if subscribing else None  # where "start again" leads
    if intent.used_at is not None:
        raise CheckoutRefused(
            "used",
            subscription_id=intent.subscription_id if subscribing else None,
            plan_id=plan_id,
            pending=subscribing and intent.subscription_id is None,
        )
    digest = hashlib.sha256(auth_key.encode()).hexdigest()
    if session.scalar(select(CheckoutIntent.id).where(CheckoutIntent.auth_key_hash == digest)) is not None:
        raise CheckoutRefused("replayed", plan_id=plan_id)
    if intent.expires_at <= now:
        raise CheckoutRefused("expired", plan_id=plan_id)
    return intent


def claim_intent(
    session: Session, *, user: User, token: str, customer_key: str, auth_key: str, now: datetime
) -> CheckoutIntent:
    """`check_redirect`, then mark the intent used. COMMITS the claim; raises as `check_redirect` does.

    The claim is one conditional UPDATE (used_at IS NULL) under the unique authKey hash, so
    of two requests at once (a double click, a second tab) exactly one goes on to Toss.
    """
    intent = check_redirect(session, user=user, token=token, customer_key=customer_key, auth_key=auth_key, now=now)
    plan_id = intent.plan_id if intent.purpose == "subscribe" else None
    digest = hashlib.sha256(auth_key.encode()).hexdigest()
    try:
        claimed = execute_dml(
            session,
            update(CheckoutIntent)
            .where(CheckoutIntent.id == intent.id, CheckoutIntent.used_at.is_(None))
            .values(used_at=now, auth_key_hash=digest)
            .execution_options(synchronize_session=False),
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CheckoutRefused("replayed", plan_id=plan_id) from None
    if claimed.rowcount != 1:
        session.rollback()
        raise CheckoutRefused("used", plan_id=plan_id, pending=intent.purpose == "subscribe")
    session.refresh(intent)
    return intent


def _start(
    session: Session,
    intent: CheckoutIntent,
    user: User,
    auth_key: str,
    idempotency_key: str,
    deps: Deps,
    actor: Actor,
    ip: str,
) -> AuthResult:
    plan = session.get(Plan, intent.plan_id)
    if plan is None:
        raise CheckoutRefused("unknown_intent")
    if blocking_subscription(session, user.id, plan.product_id) is not None:
        raise CheckoutRefused("already_subscribed")
    try:
        billing = cards.exchange_auth_key(
            deps.toss, auth_key=auth_key, customer_key=user.customer_key, idempotency_key=idempotency_key
        )
    except cards.CardRegistrationFailed as exc:
        raise CheckoutRefused("card_failed", exc.message, plan_id=plan.id, code=exc.code) from None
    now = deps.clock.now()
    card = cards.store_card(session, user=user, billing=billing, vault=deps.vault, actor=actor, now=now)
    sub = _new_subscription(session, intent, plan, card.id, now=now, hour=deps.config.billing_hour_kst)
    superseded = _supersede_incomplete(session, user.id, plan.product_id, keep=sub.id, now=now)
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
    for key_id in superseded:
        cards.release_card_if_unused(
            session,
            key_id,
            toss=deps.toss,
            vault=deps.vault,
            clock=deps.clock,
            actor=actor,
            reason="an unpaid checkout was replaced by a new one",
        )
    if sub.status == "trialing":
        return AuthResult("subscribe", sub.id, None, True, notices)
    result = charging.charge_period(
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
    return AuthResult("subscribe", sub.id, result, True, notices)


def _new_subscription(
    session: Session, intent: CheckoutIntent, plan: Plan, card_id: int, *, now: datetime, hour: int
) -> Subscription:
    """The Subscription of a completed checkout (flushed), linked to its intent and consents."""
    fields: dict[str, Any] = dict(
        user_id=intent.user_id, plan_id=plan.id, billing_key_id=card_id, amount_won=intent.amount_won, created_at=now
    )
    if plan.trial_days:
        trial_end = cycle.trial_end(now, plan.trial_days, hour)
        sub = Subscription(
            status="trialing",
            anchor_day=cycle.anchor_day_for(trial_end),
            next_charge_at=trial_end,
            trial_end_at=trial_end,
            current_period_start=now,
            current_period_end=trial_end,
            **fields,
        )
    else:
        sub = Subscription(status="incomplete", anchor_day=cycle.anchor_day_for(now), next_charge_at=now, **fields)
    session.add(sub)
    session.flush()
    intent.subscription_id = sub.id
    renewal = session.get(Consent, intent.consent_id) if intent.consent_id else None
    if renewal is not None:
        renewal.subscription_id = sub.id
        terms_id = json.loads(renewal.detail or "{}").get("terms_consent_id")
        terms = session.get(Consent, terms_id) if terms_id else None
        if terms is not None and terms.user_id == intent.user_id:
            terms.subscription_id = sub.id
    return sub


def _supersede_incomplete(session: Session, user_id: int, product_id: int, *, keep: int, now: datetime) -> list[int]:
    """End the user's earlier unpaid checkouts of the product (a new one replaces them); their card ids."""
    query = (
        select(Subscription)
        .join(Plan, Subscription.plan_id == Plan.id)
        .where(
            Subscription.user_id == user_id,
            Plan.product_id == product_id,
            Subscription.status == "incomplete",
            Subscription.id != keep,
        )
    )
    released = []
    for old in session.scalars(query).all():
        if _in_flight(session, old.id):
            continue
        pending = periods.pending_charge(session, old.id)
        if pending is not None:
            pending.status, pending.next_retry_at = "canceled", None
        settlement.end_subscription(old, status="canceled", reason="superseded", now=now)
        if old.billing_key_id is not None:
            released.append(old.billing_key_id)
    return released


def _in_flight(session: Session, subscription_id: int) -> bool:
    pending = periods.pending_charge(session, subscription_id)
    return pending is not None and periods.open_attempt(session, pending.id) is not None


# -- after the first charge ------------------------------------------------------------------------


def retry_first_charge(
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
) -> charging.ChargeResult:
    """Charge an unpaid checkout again on the card it already has ("같은 카드로 다시 시도").

    Only for the user's ``incomplete`` subscription whose card is still usable; raises
    `ActionRefused` otherwise. Goes through `charging.retry_after_card_change` (which
    commits, and starts the subscription afresh from now), so it never pays twice. An
    admin retrying for the shopper passes `actor`; the shopper's IP is then not known and
    none is sent to Toss.
    """
    sub = owned(session, user, subscription_id)
    if sub.status != "incomplete":
        raise ActionRefused("다시 결제할 항목이 없습니다. 내 구독에서 상태를 확인해 주세요.")
    card = sub.billing_key
    if card is None or card.sealed is None or card.deactivated_at is not None:
        raise ActionRefused("등록된 카드를 사용할 수 없습니다. 다른 카드로 다시 시도해 주세요.")
    session.commit()
    return charging.retry_after_card_change(
        session,
        sub.id,
        toss=toss,
        vault=vault,
        notifier=notifier,
        clock=clock,
        config=config,
        actor=actor or Actor("user", user.id, ip),
        customer_ip=ip if actor is None else None,
    )


def checkout_outcome(session: Session, sub: Subscription) -> CheckoutOutcome:
    """How the subscription's first charge stands, for the result page (reload-safe: reads rows only)."""
    charges = list(
        session.scalars(
            select(Charge)
            .where(Charge.subscription_id == sub.id)
            .order_by(Charge.period_start.desc(), Charge.id.desc())
        )
    )
    latest = charges[0] if charges else None
    if sub.status == "trialing" and not any(c.status == "paid" for c in charges):
        return CheckoutOutcome("trial", sub, None, None, None, False)
    paid = next((c for c in charges if c.status in ("paid", "refunded")), None)
    if paid is not None and sub.status != "incomplete":
        return CheckoutOutcome("paid", sub, paid, _attempt(paid, "done"), None, False)
    if sub.status in statuses.ENDED:
        return CheckoutOutcome("ended", sub, latest, None, None, False)
    if sub.status != "incomplete":
        return CheckoutOutcome("other", sub, latest, None, None, False)
    if latest is None:
        return CheckoutOutcome("unpaid", sub, None, None, "결제가 아직 완료되지 않았습니다.", True)
    last_try = _attempt(latest, None)
    if latest.status == "failed":
        code = latest.failure_code or (last_try.failure_code if last_try else None)
        category = categorize(code) if code else Category.SOFT_DECLINE
        return CheckoutOutcome(
            "declined", sub, latest, last_try, failure_message(code, category), category is not Category.HARD_DECLINE
        )
    if last_try is not None and last_try.status in ("sending", "unknown"):
        return CheckoutOutcome(
            "checking", sub, latest, last_try, failure_message(None, Category.UNKNOWN_OUTCOME), False
        )
    code = last_try.failure_code if last_try else None
    message = failure_message(code, categorize(code)) if code else "결제가 아직 완료되지 않았습니다."
    return CheckoutOutcome("retry", sub, latest, last_try, message, True)


def _attempt(charge: Charge, status: str | None) -> Attempt | None:
    attempts = [a for a in charge.attempts if status is None or a.status == status]
    return attempts[-1] if attempts else None
