"""The 부가세 신고 summary: 공급가액, 부가세 and 합계 per KST month and quarter, from what Toss reports.

Toss reports for every card payment its ``totalAmount``, and, after each cancel, the
remaining ``balanceAmount`` with ``vat`` = balance ÷ 11 rounded half up (no tax-free part in
this shop) and ``suppliedAmount`` = balance − vat (docs/toss-api.md). The summary books each
payment where it happened and each cancel where it happened:

- an approval adds its total and ``vat(total)`` to the month it was approved in;
- a cancel (a Refund Toss carried out) adds −amount and ``vat(balance after) − vat(balance
  before)`` to the month it was made in (`Refund.created_at`).

So a payment and its cancels within one month sum to exactly what Toss shows for it after
the cancels, and a cancel in a later month reduces that later month, as 부가세 신고 asks.
공급가액 is always 합계 − 부가세. Quarters are sums of their months (1기 예정 = 1–3월, 1기 확정 =
4–6월, 2기 예정 = 7–9월, 2기 확정 = 10–12월).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront.models import Attempt, Refund
from storefront.reports.metrics import stop_at
from storefront.reports.months import Month, Quarter

QUARTER_NAMES = {1: "1기 예정", 2: "1기 확정", 3: "2기 예정", 4: "2기 확정"}


def vat_of(amount_won: int) -> int:
    """The VAT inside a VAT-included amount, as Toss computes it: amount ÷ 11, rounded half up."""
    if amount_won < 0:
        return -vat_of(-amount_won)
    return (amount_won + 5) // 11


@dataclass(frozen=True)
class VatLine:
    """One month or quarter: counts of approvals and cancels, 합계 and 부가세 (공급가액 derived)."""

    label: str
    period: str  # 2026-03 or 2026-Q1
    payments: int
    cancels: int
    total_won: int
    vat_won: int

    @property
    def supplied_won(self) -> int:
        return self.total_won - self.vat_won


@dataclass(frozen=True)
class VatYear:
    year: int
    months: tuple[VatLine, ...]
    quarters: tuple[VatLine, ...]
    total: VatLine


def year_summary(session: Session, year: int, *, now: datetime) -> VatYear:
    """Every month and quarter of `year` up to `now` (included); months after `now`'s month are left out."""
    start, end = Month(year, 1).start, stop_at(Month(year, 12), now)
    buckets = _book(session, start, end)
    months = tuple(
        _line(m.label, str(m), [buckets.get(m, _ZERO)]) for m in (Month(year, n) for n in range(1, 13)) if m.start < end
    )
    quarters = []
    for q in (Quarter(year, n) for n in range(1, 5)):
        if q.start < end:
            parts = [buckets.get(m, _ZERO) for m in q.months]
            quarters.append(_line(f"{q.label} ({QUARTER_NAMES[q.quarter]})", f"{year}-Q{q.quarter}", parts))
    return VatYear(year, months, tuple(quarters), _line(f"{year}년 합계", str(year), list(buckets.values())))


_ZERO = (0, 0, 0, 0)


def _line(label: str, period: str, parts: list[tuple[int, int, int, int]]) -> VatLine:
    payments, cancels, total, vat = (sum(p[i] for p in parts) for i in range(4))
    return VatLine(label, period, payments, cancels, total, vat)


def _book(session: Session, start: datetime, end: datetime) -> dict[Month, tuple[int, int, int, int]]:
    """(approvals, cancels, 합계, 부가세) per month for everything that happened in [start, end)."""
    book: dict[Month, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    paid_at = func.coalesce(Attempt.approved_at, Attempt.updated_at)
    for at, amount in session.execute(
        select(paid_at, Attempt.amount_won).where(Attempt.status == "done", paid_at >= start, paid_at < end)
    ):
        entry = book[Month.of(at)]
        entry[0] += 1
        entry[2] += amount
        entry[3] += vat_of(amount)
    for at, change_total, change_vat in _cancel_changes(session, start, end):
        entry = book[Month.of(at)]
        entry[1] += 1
        entry[2] += change_total
        entry[3] += change_vat
    return {month: (values[0], values[1], values[2], values[3]) for month, values in book.items()}


def _cancel_changes(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, int, int]]:
    """For each cancel made in [start, end): when, −amount, and the change in the payment's VAT."""
    touched = select(Refund.attempt_id).where(
        Refund.status == "done", Refund.created_at >= start, Refund.created_at < end
    )
    rows = session.execute(
        select(Refund.attempt_id, Attempt.amount_won, Refund.created_at, Refund.amount_won)
        .join(Attempt, Attempt.id == Refund.attempt_id)
        .where(Refund.status == "done", Refund.attempt_id.in_(touched), Refund.created_at < end)
        .order_by(Refund.attempt_id, Refund.created_at, Refund.id)
    ).all()
    changes = []
    balance: dict[int, int] = {}
    for attempt_id, paid, at, amount in rows:
        before = balance.get(attempt_id, paid)
        after = before - amount
        balance[attempt_id] = after
        if at >= start:  # earlier cancels only set the balance this one starts from
            changes.append((at, -amount, vat_of(after) - vat_of(before)))
    return changes
