"""Test doubles for the code above the Toss client: FakeToss and RecordingNotifier.

FakeToss speaks the client's interface (``charge_billing_key``, ``get_payment_by_order_id``,
plus stubs of the rest) and keeps a ledger of approved payments keyed by order id, so a test
can count the money that moved. It honours Idempotency-Key the way Toss does: the same key
gets the same answer back and never a second payment. Outcomes are scripted per call
(`will`) or per customer (`will_for`): approve, decline, timeout after or before approval,
a 5xx, or a crash (a BaseException, like a killed worker) after approval.

RecordingNotifier stands in for the notifier: it checks the context keys each kind needs and
writes one outbox row (EmailMessage) per dedup key in the caller's transaction, so a notice
queued in a transaction that rolls back disappears, as the real one does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, UTC
from typing import Any
from collections.abc import Callable

from sqlalchemy import select

from storefront.models import EmailMessage
from storefront.toss.errors import Category, TossError
from storefront.toss.types import Billing, Cancel, CardSummary, Payment


class SimulatedCrash(BaseException):
    """The worker dies mid-call (SIGKILL, SystemExit): not an Exception, so no handler in the app catches it."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # approve | decline | timeout_after_approve | timeout_after_decline | timeout_before_approve |
    #            server_error | crash_after_approve | crash_before_send
    code: str | None = None
    message: str | None = None
    category: Category | None = None
    http_status: int | None = None


APPROVE = Outcome("approve")
TIMEOUT_AFTER_APPROVE = Outcome("timeout_after_approve")
TIMEOUT_BEFORE_APPROVE = Outcome("timeout_before_approve")
SERVER_ERROR = Outcome("server_error")
CRASH_AFTER_APPROVE = Outcome("crash_after_approve")
CRASH_BEFORE_SEND = Outcome("crash_before_send")


def decline(
    code: str = "REJECT_CARD_PAYMENT",
    category: Category = Category.SOFT_DECLINE,
    message: str = "카드 한도 초과 또는 잔액 부족",
    http_status: int = 403,
) -> Outcome:
    return Outcome("decline", code, message, category, http_status)


def timeout_after_decline(code: str = "REJECT_CARD_PAYMENT") -> Outcome:
    """Toss declines (and records an ABORTED payment) but the answer is lost on the way back."""
    return Outcome("timeout_after_decline", code, "카드 한도 초과 또는 잔액 부족", Category.SOFT_DECLINE, 403)


def hard_decline(code: str = "INVALID_CARD_EXPIRATION") -> Outcome:
    return decline(code, Category.HARD_DECLINE, "유효기간이 만료된 카드입니다.", 400)


def failure(code: str, category: Category, http_status: int = 500) -> Outcome:
    """A non-decline error (TRANSIENT or CONFIG) answered by Toss."""
    return Outcome("decline", code, f"{code} from the fake", category, http_status)


@dataclass(frozen=True)
class ChargeCall:
    billing_key: str = field(repr=False)
    customer_key: str
    amount: int
    order_id: str
    order_name: str
    idempotency_key: str
    customer_email: str | None
    customer_name: str | None
    customer_ip: str | None


class FakeToss:
    """An in-memory Toss: a ledger of approved payments, scripted outcomes, Idempotency-Key replay."""

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.ledger: dict[str, Payment] = {}  # approved payments by order id
        self.aborted: dict[str, Payment] = {}  # declined payments by order id (visible to lookups)
        self.calls: list[ChargeCall] = []
        self.lookups: list[str] = []
        self.billing_keys: dict[str, str] = {}  # billing key -> customer key, for keys issued here
        self.lookup_errors: deque[TossError] = deque()
        self.before_charge: Callable[[ChargeCall], None] | None = None  # runs outside the lock
        self._replies: dict[str, Payment | TossError] = {}
        self._next: deque[Outcome] = deque()
        self._by_customer: dict[str, deque[Outcome]] = {}
        # card registration (issue_billing_key) and deletion
        self.issue_calls: list[tuple[str, str, str | None]] = []
        self.issue_errors: deque[TossError] = deque()
        self.next_cards: deque[CardSummary] = deque()
        self.deleted_keys: list[str] = []
        self._issued: dict[str, Billing] = {}
        self._used_auth_keys: set[str] = set()
        # refunds (cancel_payment)
        self.cancel_calls: list[tuple[str, int | None, str]] = []  # (payment key, amount, idempotency key)
        self.cancel_outcomes: deque[Outcome] = deque()
        self._cancel_replies: dict[str, Payment | TossError] = {}

    def __repr__(self) -> str:
        return f"<FakeToss approved={len(self.ledger)} calls={len(self.calls)}>"

    # -- scripting --
    def will(self, *outcomes: Outcome) -> None:
        """Script the next calls, in order (any customer); afterwards calls are approved."""
        self._next.extend(outcomes)

    def will_for(self, customer_key: str, *outcomes: Outcome) -> None:
        """Script the next calls for one customer."""
        self._by_customer.setdefault(customer_key, deque()).extend(outcomes)

    @property
    def approved(self) -> list[Payment]:
        return list(self.ledger.values())

    # -- the client's interface --
    def charge_billing_key(
        self,
        billing_key: str,
        *,
        customer_key: str,
        amount: int,
        order_id: str,
        order_name: str,
        idempotency_key: str,
        customer_email: str | None = None,
        customer_name: str | None = None,
        customer_ip: str | None = None,
    ) -> Payment:
        call = ChargeCall(
            billing_key,
            customer_key,
            amount,
            order_id,
            order_name,
            idempotency_key,
            customer_email,
            customer_name,
            customer_ip,
        )
        if self.before_charge is not None:
            self.before_charge(call)
        with self._lock:
            self.calls.append(call)
            replay = self._replies.get(idempotency_key)
            if replay is not None:
                return self._answer(replay)
            outcome = self._next_outcome(customer_key)
            if outcome.kind == "crash_before_send":
                raise SimulatedCrash("worker killed before the request left")
            if outcome.kind in ("timeout_before_approve", "server_error"):
                raise self._unknown(outcome)
            if order_id in self.ledger:
                raise TossError(
                    "DUPLICATED_ORDER_ID",
                    "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
                    400,
                    Category.UNKNOWN_OUTCOME,
                )
            mismatch = self.billing_keys.get(billing_key) not in (None, customer_key)
            if mismatch:
                outcome = decline("NOT_MATCHES_CUSTOMER_KEY", Category.HARD_DECLINE, "customerKey mismatch", 400)
            if billing_key in self.deleted_keys:
                outcome = decline("INVALID_BILL_KEY_REQUEST", Category.HARD_DECLINE, "deleted billing key", 400)
            reply = self._process(call, outcome)
            self._replies[idempotency_key] = reply
        if outcome.kind == "crash_after_approve":
            raise SimulatedCrash("worker killed after Toss approved")
        if outcome.kind in ("timeout_after_approve", "timeout_after_decline"):
            raise TossError("TIMEOUT", "read timed out", None, Category.UNKNOWN_OUTCOME)
        return self._answer(reply)

    def get_payment_by_order_id(self, order_id: str) -> Payment:
        with self._lock:
            self.lookups.append(order_id)
            if self.lookup_errors:
                raise self.lookup_errors.popleft()
            payment = self.ledger.get(order_id) or self.aborted.get(order_id)
        if payment is None:
            raise TossError("NOT_FOUND_PAYMENT", "존재하지 않는 결제 입니다.", 404, Category.NOT_FOUND)
        return payment

    def issue_billing_key(self, auth_key: str, customer_key: str, *, idempotency_key: str | None = None) -> Billing:
        """Toss's authKey exchange: one billing key per authKey; the same Idempotency-Key replays the answer.

        `issue_errors` (a deque of TossError) makes the next calls fail; `next_cards` (a deque of
        CardSummary) sets the card of the next keys issued. Every call is kept in `issue_calls`.
        """
        with self._lock:
            self.issue_calls.append((auth_key, customer_key, idempotency_key))
            if idempotency_key is not None and idempotency_key in self._issued:
                return self._issued[idempotency_key]
            if self.issue_errors:
                raise self.issue_errors.popleft()
            if auth_key in self._used_auth_keys:
                raise TossError("INVALID_BILLING_AUTH", "유효하지 않은 인증입니다.", 400, Category.HARD_DECLINE)
            self._used_auth_keys.add(auth_key)
            billing_key = f"bk_{uuid.uuid4().hex}"
            self.billing_keys[billing_key] = customer_key
            card = self.next_cards.popleft() if self.next_cards else _card()
            billing = Billing(
                billing_key=billing_key,
                customer_key=customer_key,
                authenticated_at=self._now(),
                method="카드",
                card=card,
                raw={"customerKey": customer_key, "method": "카드"},
            )
            if idempotency_key is not None:
                self._issued[idempotency_key] = billing
        return billing

    def cancel_payment(
        self, payment_key: str, *, reason: str, idempotency_key: str, amount: int | None = None
    ) -> Payment:
        """Toss's cancel: the balance (or `amount` of it) comes back; the same Idempotency-Key replays the answer.

        `cancel_outcomes` (a deque of Outcome: approve, decline, timeout_after_approve,
        timeout_before_approve) scripts the next cancels. Every call is kept in `cancel_calls`.
        """
        with self._lock:
            self.cancel_calls.append((payment_key, amount, idempotency_key))
            replay = self._cancel_replies.get(idempotency_key)
            if replay is not None:
                return self._answer(replay)
            outcome = self.cancel_outcomes.popleft() if self.cancel_outcomes else APPROVE
            if outcome.kind in ("timeout_before_approve", "server_error"):
                raise self._unknown(outcome)
            reply = self._cancel(payment_key, reason, amount, outcome)
            self._cancel_replies[idempotency_key] = reply
        if outcome.kind == "timeout_after_approve":
            raise TossError("TIMEOUT", "read timed out", None, Category.UNKNOWN_OUTCOME)
        return self._answer(reply)

    def get_payment(self, payment_key: str) -> Payment:
        with self._lock:
            self.lookups.append(payment_key)
            if self.lookup_errors:
                raise self.lookup_errors.popleft()
            payment = self._by_payment_key(payment_key)
        if payment is None:
            raise TossError("NOT_FOUND_PAYMENT", "존재하지 않는 결제 입니다.", 404, Category.NOT_FOUND)
        return payment

    def refunded(self, payment_key: str) -> list[int]:
        """The amounts cancelled on a payment, in order (the money that came back)."""
        payment = self._by_payment_key(payment_key)
        return [c.cancel_amount for c in payment.cancels] if payment is not None else []

    def _by_payment_key(self, payment_key: str) -> Payment | None:
        return next((p for p in self.ledger.values() if p.payment_key == payment_key), None)

    def _cancel(self, payment_key: str, reason: str, amount: int | None, outcome: Outcome) -> Payment | TossError:
        if outcome.kind == "decline":
            return TossError(
                outcome.code or "REJECT_CARD_COMPANY",
                outcome.message or "declined",
                outcome.http_status,
                outcome.category,
            )
        payment = self._by_payment_key(payment_key)
        if payment is None:
            return TossError("NOT_FOUND_PAYMENT", "존재하지 않는 결제 입니다.", 404, Category.NOT_FOUND)
        amount = payment.balance_amount if amount is None else amount
        if amount <= 0 or amount > payment.balance_amount:
            return TossError("NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.", 403, Category.CONFIG)
        balance = payment.balance_amount - amount
        cancel = Cancel(
            transaction_key=f"tx_{uuid.uuid4().hex[:20]}",
            cancel_amount=amount,
            cancel_reason=reason,
            canceled_at=self._now(),
            cancel_status="DONE",
            refundable_amount=balance,
        )
        updated = replace(
            payment,
            cancels=(*payment.cancels, cancel),
            balance_amount=balance,
            status="CANCELED" if balance == 0 else "PARTIAL_CANCELED",
        )
        self.ledger[payment.order_id] = updated
        return updated

    def delete_billing_key(self, billing_key: str) -> bool:
        with self._lock:
            self.deleted_keys.append(billing_key)
            self.billing_keys.pop(billing_key, None)
        return True

    # -- internals --
    def _next_outcome(self, customer_key: str) -> Outcome:
        if self._next:
            return self._next.popleft()
        queue = self._by_customer.get(customer_key)
        if queue:
            return queue.popleft()
        return APPROVE

    def _process(self, call: ChargeCall, outcome: Outcome) -> Payment | TossError:
        if outcome.kind in ("decline", "timeout_after_decline"):
            error = TossError(
                outcome.code or "REJECT_CARD_PAYMENT",
                outcome.message or "declined",
                outcome.http_status,
                outcome.category,
            )
            if outcome.category in (Category.HARD_DECLINE, Category.SOFT_DECLINE):
                self.aborted[call.order_id] = self._payment(call, "ABORTED", error)
            return error
        payment = self._payment(call, "DONE", None)
        self.ledger[call.order_id] = payment
        return payment

    def _payment(self, call: ChargeCall, status: str, error: TossError | None) -> Payment:
        now = self._now()
        payment_key = f"tpay_{uuid.uuid4().hex[:20]}"
        done = status == "DONE"
        return Payment(
            payment_key=payment_key,
            order_id=call.order_id,
            order_name=call.order_name,
            status=status,
            type="BILLING",
            method="카드",
            total_amount=call.amount,
            balance_amount=call.amount if done else 0,
            requested_at=now,
            approved_at=now if done else None,
            card=_card(),
            receipt_url=f"https://dashboard.tosspayments.com/sales-slip?transactionId={payment_key}" if done else None,
            cancels=(),
            failure_code=error.code if error else None,
            failure_message=error.message if error else None,
            raw={"paymentKey": payment_key, "orderId": call.order_id, "status": status, "totalAmount": call.amount},
        )

    @staticmethod
    def _answer(reply: Payment | TossError) -> Payment:
        if isinstance(reply, TossError):
            raise reply
        return reply

    @staticmethod
    def _unknown(outcome: Outcome) -> TossError:
        if outcome.kind == "server_error":
            return TossError(
                "FAILED_INTERNAL_SYSTEM_PROCESSING",
                "내부 시스템 처리 작업이 실패했습니다.",
                500,
                Category.UNKNOWN_OUTCOME,
            )
        return TossError("TIMEOUT", "read timed out", None, Category.UNKNOWN_OUTCOME)

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime(2026, 1, 1, tzinfo=UTC)


def _card() -> CardSummary:
    return CardSummary(
        issuer_code="61",
        acquirer_code="31",
        number="43301234****123*",
        card_type="신용",
        owner_type="개인",
        company="현대",
    )


# -- notices ---------------------------------------------------------------------------------------

REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "payment_receipt": (
        "product_name",
        "plan_name",
        "amount_won",
        "period_start",
        "period_end",
        "card_label",
        "receipt_url",
        "order_id",
        "next_charge_at",
        "first",
    ),
    "payment_failed": (
        "product_name",
        "amount_won",
        "failure_message",
        "retry_at",
        "final",
        "hard_decline",
        "change_card_url",
    ),
    "subscription_ended": ("product_name", "ended_reason", "ended_at"),
    "subscription_canceled": ("product_name", "access_until"),
    "consent_request": (
        "change_type",
        "product_name",
        "effective_at",
        "old_amount_won",
        "new_amount_won",
        "card_label",
        "consent_url",
    ),
    "consent_reminder": (
        "change_type",
        "product_name",
        "effective_at",
        "old_amount_won",
        "new_amount_won",
        "card_label",
        "consent_url",
    ),
    "trial_conversion_notice": ("product_name", "effective_at", "new_amount_won"),
    "renewal_notice": ("product_name", "plan_name", "amount_won", "next_charge_at"),
}
_SECRET_MARKERS = ("billing_key", "billingkey", "secret", "password", "auth_key", "customer_key")


@dataclass(frozen=True)
class Notice:
    kind: str
    dedup_key: str
    user_id: int | None
    to: str
    context: dict[str, Any]


class RecordingNotifier:
    """The notifier's interface, recording to the outbox table inside the caller's transaction."""

    def queue(
        self,
        session: Any,
        *,
        user: Any,
        kind: str,
        dedup_key: str,
        context: dict[str, Any],
        now: datetime,
        channels: tuple[str, ...] = ("email",),
    ) -> None:
        required = REQUIRED_CONTEXT.get(kind)
        if required is None:
            raise ValueError(f"unknown notice kind {kind!r}")
        missing = [key for key in required if key not in context]
        if missing:
            raise ValueError(f"{kind}: missing context keys {missing}")
        if any(marker in key.lower() for key in context for marker in _SECRET_MARKERS):
            raise ValueError(f"{kind}: a context key looks like a secret")
        if session.scalar(select(EmailMessage.id).where(EmailMessage.dedup_key == dedup_key)) is not None:
            return
        for channel in channels:
            key = dedup_key if channel == "email" else f"{dedup_key}:{channel}"
            session.add(
                EmailMessage(
                    channel=channel,
                    dedup_key=key,
                    user_id=user.id,
                    to=user.email,
                    kind=kind,
                    subject=kind,
                    body_text=json.dumps(context, ensure_ascii=False, default=_iso),
                    status="logged",
                    created_at=now,
                )
            )
        session.flush()

    @staticmethod
    def sent(session: Any, kind: str | None = None) -> list[Notice]:
        query = select(EmailMessage).where(EmailMessage.channel == "email").order_by(EmailMessage.id)
        if kind is not None:
            query = query.where(EmailMessage.kind == kind)
        return [
            Notice(row.kind, row.dedup_key, row.user_id, row.to, json.loads(row.body_text))
            for row in session.scalars(query)
        ]


class BrokenNotifier(RecordingNotifier):
    """A notifier whose every notice fails, as a template bug would."""

    def queue(self, session: Any, **kwargs: Any) -> None:
        raise RuntimeError("template exploded")


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a notice context")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
