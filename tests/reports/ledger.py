"""A small shop's records written row by row, for the report tests: users, subscriptions, charges,
attempts, refunds and one-time orders at chosen KST moments. Answers are worked out by hand in the tests."""

from __future__ import annotations

from datetime import datetime, UTC
from itertools import count

from storefront.clock import KST
from storefront.models import Attempt, Category, Charge, Order, Plan, Product, Refund, Subscription, User

_ids = count(1)


def kst(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An aware UTC instant given as Asia/Seoul wall time (renewals are charged at 10:00 KST)."""
    return datetime(year, month, day, hour, minute, tzinfo=KST).astimezone(UTC)


class Ledger:
    def __init__(self, session) -> None:
        self.session = session
        category = Category(slug=f"cat-{next(_ids)}", name="소프트웨어", description="", position=0)
        self.product = Product(
            category=category,
            slug=f"notes-{next(_ids)}",
            name="클라우드 노트",
            kind="subscription",
            summary="",
            description="",
            provision="결제 즉시 이용",
            image="",
            active=True,
            position=0,
        )
        self.once_product = Product(
            category=category,
            slug=f"pack-{next(_ids)}",
            name="발표 템플릿",
            kind="one_time",
            summary="",
            description="",
            provision="즉시 다운로드",
            image="",
            active=True,
            position=1,
        )
        session.add_all([category, self.product, self.once_product])
        self.plans: dict[str, Plan] = {}

    def plan(self, name: str, amount_won: int, interval: str = "month", trial_days: int = 0) -> Plan:
        if name not in self.plans:
            product = self.once_product if interval == "once" else self.product
            self.plans[name] = Plan(
                product=product,
                name=name,
                interval=interval,
                amount_won=amount_won,
                trial_days=trial_days,
                active=True,
                position=len(self.plans),
            )
            self.session.add(self.plans[name])
        return self.plans[name]

    def user(self, email: str, created_at: datetime, name: str = "김고객") -> User:
        user = User(email=email, password_hash="x", name=name, phone="01012345678", created_at=created_at)
        self.session.add(user)
        self.session.flush()
        return user

    def subscription(
        self,
        user: User,
        plan: Plan,
        *,
        created_at: datetime,
        status: str = "active",
        amount_won: int | None = None,
        trial_end_at: datetime | None = None,
        ended_at: datetime | None = None,
        ended_reason: str | None = None,
    ) -> Subscription:
        sub = Subscription(
            user=user,
            plan=plan,
            status=status,
            amount_won=amount_won or plan.amount_won,
            anchor_day=created_at.astimezone(KST).day,
            created_at=created_at,
            trial_end_at=trial_end_at,
            ended_at=ended_at,
            ended_reason=ended_reason,
            canceled_at=ended_at if status == "canceled" else None,
        )
        self.session.add(sub)
        self.session.flush()
        return sub

    def paid(
        self,
        sub: Subscription,
        start: datetime,
        end: datetime,
        amount_won: int,
        *,
        paid_at: datetime | None = None,
        first_failed_at: datetime | None = None,
        status: str = "paid",
    ) -> tuple[Charge, Attempt]:
        """A paid period: its Charge and the approved Attempt (after a failed one if `first_failed_at`)."""
        paid_at = paid_at or start
        charge = Charge(
            subscription=sub,
            period_start=start,
            period_end=end,
            amount_won=amount_won,
            status=status,
            paid_at=paid_at,
            first_failed_at=first_failed_at,
            retry_count=1 if first_failed_at else 0,
            created_at=start,
        )
        self.session.add(charge)
        if first_failed_at:
            self._attempt(charge, amount_won, first_failed_at, status="failed")
        attempt = self._attempt(charge, amount_won, paid_at, status="done")
        sub.current_period_start, sub.current_period_end = start, end
        sub.next_charge_at = None if sub.ended_at else end
        self.session.flush()
        return charge, attempt

    def failed(
        self, sub: Subscription, start: datetime, end: datetime, amount_won: int, *, failed_at: datetime
    ) -> Charge:
        """A period still unpaid after its first attempt was declined (dunning)."""
        charge = Charge(
            subscription=sub,
            period_start=start,
            period_end=end,
            amount_won=amount_won,
            status="pending",
            first_failed_at=failed_at,
            retry_count=1,
            created_at=start,
            failure_code="REJECT_CARD_COMPANY",
        )
        self.session.add(charge)
        self._attempt(charge, amount_won, failed_at, status="failed")
        self.session.flush()
        return charge

    def _attempt(
        self, charge: Charge | None, amount_won: int, at: datetime, *, status: str, order: Order | None = None
    ) -> Attempt:
        n = next(_ids)
        attempt = Attempt(
            charge=charge,
            order=order,
            order_id=f"order-{n:06d}",
            idempotency_key=f"key-{n}",
            amount_won=amount_won,
            status=status,
            created_at=at,
            updated_at=at,
            payment_key=f"pay_{n:08d}" if status == "done" else None,
            approved_at=at if status == "done" else None,
            failure_code="REJECT_CARD_COMPANY" if status == "failed" else None,
            card_summary="현대 4330****" if status == "done" else None,
            receipt_url="https://receipt.example/r" if status == "done" else None,
        )
        self.session.add(attempt)
        return attempt

    def refund(
        self, attempt: Attempt, amount_won: int, at: datetime, *, status: str = "done", reason: str = "고객 요청"
    ) -> Refund:
        refund = Refund(
            attempt=attempt,
            amount_won=amount_won,
            reason=reason,
            idempotency_key=f"refund-{next(_ids)}",
            status=status,
            transaction_key=f"tx-{next(_ids)}" if status == "done" else None,
            created_at=at,
            settled_at=at if status in ("done", "failed") else None,
        )
        self.session.add(refund)
        self.session.flush()
        return refund

    def order(self, user: User, plan: Plan, at: datetime) -> tuple[Order, Attempt]:
        n = next(_ids)
        order = Order(
            order_id=f"once-{n:08d}",
            user=user,
            plan=plan,
            order_name=plan.product.name,
            amount_won=plan.amount_won,
            status="paid",
            created_at=at,
            expires_at=at,
            paid_at=at,
        )
        self.session.add(order)
        attempt = self._attempt(None, plan.amount_won, at, status="done", order=order)
        order.payment_key, order.receipt_url = attempt.payment_key, attempt.receipt_url
        self.session.flush()
        return order, attempt
