"""Shared by the admin, refund and webhook tests: a small fake Toss and builders for paid subscriptions."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from storefront import accounts
from storefront.models import Attempt, BillingKey, Category, Charge, Plan, Product, Subscription, User
from storefront.toss.errors import Category as ErrorCategory
from storefront.toss.errors import TossError
from storefront.toss.types import Cancel, Payment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "toss"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin password 1"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def make_payment(**values: Any) -> Payment:
    """A Payment with the given fields; fields this test does not care about are None."""
    known = {f.name for f in dataclasses.fields(Payment)}
    return Payment(**{name: values.get(name) for name in known})


@dataclass
class _Held:
    payment_key: str
    order_id: str
    total: int
    cancels: list[Cancel] = field(default_factory=list)

    @property
    def balance(self) -> int:
        return self.total - sum(c.cancel_amount for c in self.cancels)


class FakeToss:
    """Just get_payment and cancel_payment, with Toss's Idempotency-Key rule: a key seen before
    gets its first answer back (success or error) and nothing moves a second time."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.held: dict[str, _Held] = {}
        self.answers: dict[str, Payment | TossError] = {}
        self.cancel_calls: list[dict] = []
        self.get_calls: list[str] = []
        self.decline_next: TossError | None = None  # answered (and remembered) without cancelling
        self.lose_next_answer = False  # cancel happens, but the caller gets a timeout
        self.drop_next = False  # the request never arrives; the caller gets a timeout
        self.get_error: TossError | None = None

    def add_payment(self, payment_key: str, order_id: str, amount: int) -> None:
        self.held[payment_key] = _Held(payment_key, order_id, amount)

    def ledger(self, payment_key: str) -> list[Cancel]:
        return list(self.held[payment_key].cancels)

    def get_payment(self, payment_key: str) -> Payment:
        self.get_calls.append(payment_key)
        if self.get_error is not None:
            raise self.get_error
        if payment_key not in self.held:
            raise TossError("NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.", 404, ErrorCategory.NOT_FOUND)
        return self._payment(self.held[payment_key])

    def cancel_payment(
        self, payment_key: str, *, reason: str, idempotency_key: str, amount: int | None = None
    ) -> Payment:
        self.cancel_calls.append(
            {"payment_key": payment_key, "reason": reason, "key": idempotency_key, "amount": amount}
        )
        if idempotency_key in self.answers:
            return self._replay(idempotency_key)
        if self.drop_next:
            self.drop_next = False
            raise TossError("TIMEOUT", "응답 시간이 초과되었습니다.", None, ErrorCategory.UNKNOWN_OUTCOME)
        if self.decline_next is not None:
            self.answers[idempotency_key], self.decline_next = self.decline_next, None
            return self._replay(idempotency_key)
        self.answers[idempotency_key] = self._cancel(payment_key, reason, amount)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise TossError("TIMEOUT", "응답 시간이 초과되었습니다.", None, ErrorCategory.UNKNOWN_OUTCOME)
        return self._replay(idempotency_key)

    def _cancel(self, payment_key: str, reason: str, amount: int | None) -> Payment | TossError:
        held = self.held[payment_key]
        amount = held.balance if amount is None else amount
        if amount > held.balance or amount <= 0:
            return TossError("NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.", 403, ErrorCategory.CONFIG)
        n = sum(len(h.cancels) for h in self.held.values()) + 1
        held.cancels.append(
            Cancel(
                transaction_key=f"tx-{n:04d}",
                cancel_amount=amount,
                cancel_reason=reason,
                canceled_at=self.clock.now(),
                cancel_status="DONE",
                refundable_amount=held.balance - amount,
            )
        )
        return self._payment(held)

    def _replay(self, key: str) -> Payment:
        answer = self.answers[key]
        if isinstance(answer, TossError):
            raise answer
        return answer

    def _payment(self, held: _Held) -> Payment:
        status = "DONE" if not held.cancels else ("CANCELED" if held.balance == 0 else "PARTIAL_CANCELED")
        return make_payment(
            payment_key=held.payment_key,
            order_id=held.order_id,
            status=status,
            type="BILLING",
            total_amount=held.total,
            balance_amount=held.balance,
            cancels=tuple(held.cancels),
            raw={},
        )


@dataclass
class Paid:
    user: User
    plan: Plan
    card: BillingKey
    subscription: Subscription
    charge: Charge
    attempt: Attempt


def make_admin(session, now: datetime) -> User:
    admin = accounts.create_user(
        session,
        accounts.NewUser(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, name="관리자", is_admin=True),
        now=now,
        cheap_hash=True,
    )
    session.commit()
    return admin


def login_admin(auth, session, now: datetime) -> User:
    admin = make_admin(session, now)
    assert auth.login(email=ADMIN_EMAIL, password=ADMIN_PASSWORD).status_code == 302
    return admin


def make_catalog(session, *, amount_won: int = 9900) -> Plan:
    category = Category(slug="software", name="소프트웨어", description="", position=0)
    product = Product(
        category=category,
        slug="cloud-notes",
        name="클라우드 노트",
        kind="subscription",
        summary="메모 동기화",
        description="",
        provision="결제 즉시 이용",
        image="",
        active=True,
        position=0,
    )
    plan = Plan(
        product=product, name="월간", interval="month", amount_won=amount_won, trial_days=0, active=True, position=0
    )
    session.add_all([category, product, plan])
    session.flush()
    return plan


def make_paid(
    session,
    now: datetime,
    *,
    toss: FakeToss | None = None,
    plan: Plan | None = None,
    email: str = "buyer@example.com",
    amount_won: int | None = None,
    status: str = "active",
    order_id: str | None = None,
    payment_key: str | None = None,
) -> Paid:
    """A subscriber with a card and one paid period (Charge paid, Attempt done); committed."""
    plan = plan or make_catalog(session)
    amount = amount_won if amount_won is not None else plan.amount_won
    user = User(email=email, password_hash="x", name="김구독", phone="010-1234-5678", created_at=now)
    session.add(user)
    session.flush()
    card = BillingKey(
        user_id=user.id,
        customer_key=user.customer_key,
        card_company="현대",
        card_number_masked="43301234****123*",
        card_type="신용",
        owner_type="개인",
        issued_at=now,
    )
    sub = Subscription(
        user=user,
        plan=plan,
        billing_key=card,
        status=status,
        amount_won=amount,
        anchor_day=10,
        current_period_start=now,
        current_period_end=now + timedelta(days=31),
        next_charge_at=now + timedelta(days=31),
        created_at=now,
    )
    charge = Charge(
        subscription=sub,
        period_start=now,
        period_end=now + timedelta(days=31),
        amount_won=amount,
        status="paid",
        paid_at=now,
        created_at=now,
    )
    n = user.id
    attempt = Attempt(
        charge=charge,
        billing_key_id=None,
        order_id=order_id or f"sub-{n}-order-0001",
        idempotency_key=f"charge-{n}",
        amount_won=amount,
        status="done",
        payment_key=payment_key or f"pay_{n:06d}",
        receipt_url="https://dashboard.tosspayments.com/receipt/x",
        approved_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add_all([card, sub, charge, attempt])
    session.commit()
    if toss is not None:
        toss.add_payment(attempt.payment_key, attempt.order_id, amount)
    return Paid(user, plan, card, sub, charge, attempt)
