"""The terms' pro-rata refund (약관 제16조, 환불 규정 3): the worked examples and the KST day counting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, UTC

import pytest

from storefront.billing.recurring.proration import prorata_won, prorate

KST = timezone(timedelta(hours=9))


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST).astimezone(UTC)


def test_the_monthly_example_of_the_refund_policy():
    assert prorata_won(9900, total_days=30, used_days=10) == 6600


def test_the_yearly_example_of_the_terms_floors_to_the_won():
    assert prorata_won(99000, total_days=365, used_days=100) == 71876  # 71,876.71…


def test_the_monthly_example_on_real_dates_counts_the_payment_day_and_the_request_day():
    # Paid 2026-04-10 10:00 KST for 4/10–5/10 (30 days); asked on 4/19 at 23:59 KST: 10 days used.
    result = prorate(
        9900,
        period_start=kst(2026, 4, 10, 10),
        period_end=kst(2026, 5, 10, 10),
        paid_at=kst(2026, 4, 10, 10),
        now=kst(2026, 4, 19, 23, 59),
    )
    assert (result.total_days, result.used_days, result.remaining_days, result.refund_won) == (30, 10, 20, 6600)


def test_the_yearly_example_on_real_dates():
    start = kst(2026, 4, 10, 10)
    result = prorate(
        99000, period_start=start, period_end=kst(2027, 4, 10, 10), paid_at=start, now=start + timedelta(days=99)
    )
    assert (result.total_days, result.used_days, result.refund_won) == (365, 100, 71876)


def test_days_are_seoul_days_not_utc_days():
    start = kst(2026, 4, 10, 10)
    end = kst(2026, 5, 10, 10)
    # 4/19 23:59 KST and 4/20 00:00 KST are one minute apart but two Seoul days (both are 4/19 in UTC).
    before = prorate(9900, period_start=start, period_end=end, paid_at=start, now=kst(2026, 4, 19, 23, 59))
    after = prorate(9900, period_start=start, period_end=end, paid_at=start, now=kst(2026, 4, 20, 0, 0))
    assert (before.used_days, after.used_days) == (10, 11)
    assert (before.refund_won, after.refund_won) == (6600, 6270)
    # 08:59 KST on 4/20 is still 4/19 in UTC: the Seoul date decides.
    assert prorate(9900, period_start=start, period_end=end, paid_at=start, now=kst(2026, 4, 20, 8, 59)).used_days == 11


def test_month_end_periods_use_their_own_length():
    # Jan 31 → Feb 28 (anchor day 31 clamps): a 28-day period; February 28 is the end, not a day used.
    start, end = kst(2026, 1, 31, 10), kst(2026, 2, 28, 10)
    last_day = prorate(12900, period_start=start, period_end=end, paid_at=start, now=kst(2026, 2, 27, 23, 0))
    assert (last_day.total_days, last_day.used_days, last_day.refund_won) == (28, 28, 0)
    # March 10 → April 10 has 31 days; asking on the payment day itself uses one.
    march = prorate(
        9900,
        period_start=kst(2026, 3, 10, 10),
        period_end=kst(2026, 4, 10, 10),
        paid_at=kst(2026, 3, 10, 10),
        now=kst(2026, 3, 10, 12),
    )
    assert (march.total_days, march.used_days, march.refund_won) == (31, 1, 9900 * 30 // 31)


def test_a_period_paid_late_counts_from_its_payment_day():
    start, end = kst(2026, 4, 10, 10), kst(2026, 5, 10, 10)
    result = prorate(9900, period_start=start, period_end=end, paid_at=kst(2026, 4, 13, 9), now=kst(2026, 4, 13, 9))
    assert (result.used_days, result.refund_won) == (1, 9570)


def test_nothing_is_refunded_once_every_day_is_used_and_bad_input_is_refused():
    assert prorata_won(9900, total_days=30, used_days=31) == 0
    for bad in ({"total_days": 0, "used_days": 0}, {"total_days": 30, "used_days": -1}):
        with pytest.raises(ValueError):
            prorata_won(9900, **bad)
    with pytest.raises(ValueError):
        prorata_won(-1, total_days=30, used_days=1)
