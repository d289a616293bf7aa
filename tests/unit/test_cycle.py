from datetime import date, datetime, timedelta, UTC

import pytest

from storefront.billing.recurring import cycle
from storefront.clock import KST

UTC = UTC


def kst(*args: int) -> datetime:
    """A KST wall-clock moment, as aware UTC (what the database stores)."""
    return datetime(*args, tzinfo=KST).astimezone(UTC)


def kst_days(moments: list[datetime]) -> list[date]:
    return [m.astimezone(KST).date() for m in moments]


def test_month_end_anchor_keeps_its_day_for_a_whole_year():
    ends = cycle.schedule(kst(2026, 1, 31, 10), "month", 31, 10, 12)
    assert kst_days(ends) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
        date(2026, 7, 31),
        date(2026, 8, 31),
        date(2026, 9, 30),
        date(2026, 10, 31),
        date(2026, 11, 30),
        date(2026, 12, 31),
        date(2027, 1, 31),
    ]
    assert all(m.astimezone(KST).hour == 10 and m.tzinfo == UTC for m in ends)


def test_leap_year_february_gets_the_29th():
    assert kst_days(cycle.schedule(kst(2028, 1, 31, 10), "month", 31, 10, 2)) == [date(2028, 2, 29), date(2028, 3, 31)]


@pytest.mark.parametrize(
    "anchor, expected",
    [
        (29, [date(2026, 2, 28), date(2026, 3, 29), date(2026, 4, 29)]),
        (30, [date(2026, 2, 28), date(2026, 3, 30), date(2026, 4, 30)]),
        (15, [date(2026, 2, 15), date(2026, 3, 15), date(2026, 4, 15)]),
    ],
)
def test_anchor_days_29_30_and_mid_month(anchor, expected):
    assert kst_days(cycle.schedule(kst(2026, 1, anchor, 10), "month", anchor, 10, 3)) == expected


def test_yearly_feb_29_anchor_falls_back_to_feb_28_then_returns_in_leap_years():
    ends = cycle.schedule(kst(2028, 2, 29, 10), "year", 29, 10, 4)
    assert kst_days(ends) == [date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)]


def test_yearly_keeps_month_and_day():
    assert kst_days(cycle.schedule(kst(2026, 1, 31, 10), "year", 31, 10, 2)) == [date(2027, 1, 31), date(2028, 1, 31)]


def test_dates_are_kst_days_not_utc_days():
    # 00:30 KST on Mar 1 is still Feb 28 in UTC: the anchor is the 1st, not the 28th.
    start = kst(2026, 3, 1, 0, 30)
    assert start.day == 28
    assert cycle.anchor_day_for(start) == 1
    end = cycle.period_end(start, "month", 1, 0)
    assert end == kst(2026, 4, 1, 0)
    assert end == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)


def test_a_period_started_off_the_hour_ends_at_the_billing_hour():
    assert cycle.period_end(kst(2026, 1, 31, 15, 37), "month", 31, 10) == kst(2026, 2, 28, 10)


def test_billing_hour_is_configurable():
    assert cycle.period_end(kst(2026, 5, 10, 9), "month", 10, 23) == kst(2026, 6, 10, 23)


def test_trial_end_is_that_many_kst_days_later_at_the_billing_hour():
    assert cycle.trial_end(kst(2026, 1, 25, 22), 14, 10) == kst(2026, 2, 8, 10)
    assert cycle.trial_end(kst(2026, 1, 25, 22), 0, 10) == kst(2026, 1, 25, 10)


@pytest.mark.parametrize(
    "after, expected",
    [
        (kst(2026, 2, 10, 12), kst(2026, 2, 28, 10)),  # later this month, clamped
        (kst(2026, 2, 28, 10), kst(2026, 3, 31, 10)),  # strictly after: the moment itself is not next
        (kst(2026, 2, 28, 9, 59), kst(2026, 2, 28, 10)),
        (kst(2026, 4, 30, 11), kst(2026, 5, 31, 10)),
    ],
)
def test_next_charge_at_on_a_monthly_schedule(after, expected):
    assert cycle.next_charge_at(after, "month", 31, 10) == expected


def test_next_charge_at_on_a_yearly_schedule():
    assert cycle.next_charge_at(kst(2029, 3, 1), "year", 29, 10, anchor_month=2) == kst(2030, 2, 28, 10)
    assert cycle.next_charge_at(kst(2031, 3, 1), "year", 29, 10, anchor_month=2) == kst(2032, 2, 29, 10)
    assert cycle.next_charge_at(kst(2032, 1, 5), "year", 29, 10, anchor_month=2) == kst(2032, 2, 29, 10)
    with pytest.raises(ValueError):
        cycle.next_charge_at(kst(2031, 3, 1), "year", 29, 10)


def test_next_charge_at_agrees_with_period_end_all_year():
    start = kst(2026, 1, 31, 10)
    for end in cycle.schedule(start, "month", 31, 10, 24):
        assert cycle.next_charge_at(start, "month", 31, 10) == end
        start = end


def test_every_start_day_of_a_leap_year_gets_a_period_of_28_to_31_days():
    day = kst(2028, 1, 1, 10)
    while day < kst(2029, 1, 1, 10):
        end = cycle.period_end(day, "month", cycle.anchor_day_for(day), 10)
        assert timedelta(days=28) <= end - day <= timedelta(days=31)
        day += timedelta(days=1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: cycle.period_end(kst(2026, 1, 1), "week", 1, 10),
        lambda: cycle.period_end(kst(2026, 1, 1), "month", 32, 10),
        lambda: cycle.period_end(kst(2026, 1, 1), "month", 1, 24),
        lambda: cycle.period_end(datetime(2026, 1, 1), "month", 1, 10),
        lambda: cycle.trial_end(kst(2026, 1, 1), -1, 10),
    ],
)
def test_bad_input_is_refused(call):
    with pytest.raises(ValueError):
        call()
