"""The terms' pro-rata refund (약관 제16조, 환불 규정 3): pure arithmetic on Asia/Seoul calendar days.

refund = paid amount × (remaining days ÷ total days of the period), floored to the won.
Days are whole Asia/Seoul calendar days: the period's total is the number of days from the
day it was paid for (its start) to the day it ends (exclusive: the next period starts that
day), and the days used count both the payment day and the day of the request. Nothing
here reads the clock or the database; callers pass the moments in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storefront.billing.recurring.cycle import kst_date


@dataclass(frozen=True)
class Proration:
    """What a refund on ending a paid period now would be, and the days behind it."""

    paid_won: int
    total_days: int
    used_days: int
    refund_won: int

    @property
    def remaining_days(self) -> int:
        return self.total_days - self.used_days


def prorata_won(paid_won: int, *, total_days: int, used_days: int) -> int:
    """`paid_won` × (total − used) ÷ total, floored; 0 once every day is used. Integer arithmetic only.

    Raises ValueError for a negative amount, a period of no days or negative days used.
    """
    if paid_won < 0 or total_days <= 0 or used_days < 0:
        raise ValueError("a non-negative amount, a period of at least one day and days used ≥ 0 are needed")
    remaining = max(total_days - used_days, 0)
    return paid_won * remaining // total_days


def prorate(
    paid_won: int, *, period_start: datetime, period_end: datetime, paid_at: datetime | None, now: datetime
) -> Proration:
    """The refund for ending, at `now`, the period [`period_start`, `period_end`) paid `paid_won`.

    The payment day is the later of the period's first day and the day it was paid (a
    period collected late is counted from its payment, in the shopper's favour). All
    moments must be aware; days are Asia/Seoul calendar days.
    """
    first_day = kst_date(period_start)
    if paid_at is not None:
        first_day = max(first_day, kst_date(paid_at))
    total_days = (kst_date(period_end) - kst_date(period_start)).days
    used_days = min(max((kst_date(now) - first_day).days + 1, 1), total_days)
    return Proration(paid_won, total_days, used_days, prorata_won(paid_won, total_days=total_days, used_days=used_days))
