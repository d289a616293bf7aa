"""Billing dates: pure date math on an anchor day, in Asia/Seoul, at a configured hour.

A subscription renews on its *anchor day* (the KST day of month it started on). Months
without that day use their last day, and the next month goes back to the anchor:
Jan 31 → Feb 28 (29 in leap years) → Mar 31 → Apr 30 → May 31. Yearly plans keep the
month and the anchor day, so a Feb 29 anchor renews on Feb 28 in common years and on
Feb 29 again in leap years. Every billing moment is ``hour_kst``:00 on its KST date,
returned as an aware UTC datetime. Nothing here touches the database or reads a clock;
python-dateutil's ``relativedelta(months=n, day=anchor)`` does the month arithmetic
(it clamps ``day`` to the month's length).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, UTC

from dateutil.relativedelta import relativedelta

from storefront.clock import KST

INTERVALS = ("month", "year")


def anchor_day_for(start_utc: datetime) -> int:
    """The day of month (1–31) renewals fall on: the KST calendar day of `start_utc`."""
    return kst_date(start_utc).day


def kst_date(moment: datetime) -> date:
    """The Asia/Seoul calendar date of an aware datetime."""
    _require_aware(moment)
    return moment.astimezone(KST).date()


def billing_moment(day: date, hour_kst: int) -> datetime:
    """``hour_kst``:00 on the KST date `day`, as aware UTC."""
    _require_hour(hour_kst)
    return datetime.combine(day, time(hour_kst), tzinfo=KST).astimezone(UTC)


def add_intervals(day: date, interval: str, anchor_day: int, count: int = 1) -> date:
    """The KST date `count` intervals after `day`, on `anchor_day` (clamped to the month's length)."""
    _require_anchor(anchor_day)
    step = _step(interval)
    return day + relativedelta(months=step * count, day=anchor_day)


def period_end(start_utc: datetime, interval: str, anchor_day: int, hour_kst: int) -> datetime:
    """End of the period starting at `start_utc`: one interval later, on the anchor day, at ``hour_kst``.

    This is also when the next period is charged. A period that started off the billing
    hour (a first charge at 15:37) still ends at the billing hour.
    """
    return billing_moment(add_intervals(kst_date(start_utc), interval, anchor_day), hour_kst)


def next_charge_at(
    after_utc: datetime, interval: str, anchor_day: int, hour_kst: int, *, anchor_month: int | None = None
) -> datetime:
    """The first billing moment on the anchor schedule strictly after `after_utc`.

    Monthly schedules fall on `anchor_day` of every month; yearly ones on `anchor_day`
    of `anchor_month` (required for ``interval="year"``). Used to put a subscription
    back on its schedule (e.g. when it resumes); renewals use :func:`period_end`.
    """
    _require_anchor(anchor_day)
    _step(interval)
    if interval == "year" and anchor_month is None:
        raise ValueError("a yearly schedule needs anchor_month")
    local = kst_date(after_utc)
    if interval == "month":
        this_one, next_one = relativedelta(day=anchor_day), relativedelta(months=1, day=anchor_day)
    else:
        this_one = relativedelta(month=anchor_month, day=anchor_day)
        next_one = relativedelta(years=1, month=anchor_month, day=anchor_day)
    candidate = billing_moment(local + this_one, hour_kst)
    if candidate > after_utc:
        return candidate
    return billing_moment(local + next_one, hour_kst)


def schedule(start_utc: datetime, interval: str, anchor_day: int, hour_kst: int, periods: int) -> list[datetime]:
    """The next `periods` period ends (charge moments) after a period starting at `start_utc`."""
    moments: list[datetime] = []
    current = start_utc
    for _ in range(periods):
        current = period_end(current, interval, anchor_day, hour_kst)
        moments.append(current)
    return moments


def trial_end(start_utc: datetime, trial_days: int, hour_kst: int) -> datetime:
    """When a trial of `trial_days` started at `start_utc` converts: that many KST days later, at ``hour_kst``."""
    if trial_days < 0:
        raise ValueError("trial_days must not be negative")
    return billing_moment(kst_date(start_utc) + timedelta(days=trial_days), hour_kst)


def _step(interval: str) -> int:
    if interval == "month":
        return 1
    if interval == "year":
        return 12
    raise ValueError(f"unknown billing interval {interval!r}; expected one of {', '.join(INTERVALS)}")


def _require_anchor(anchor_day: int) -> None:
    if not 1 <= anchor_day <= 31:
        raise ValueError(f"anchor_day must be 1..31, got {anchor_day}")


def _require_hour(hour_kst: int) -> None:
    if not 0 <= hour_kst <= 23:
        raise ValueError(f"hour_kst must be 0..23, got {hour_kst}")


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("billing dates need timezone-aware datetimes (take them from a clock)")
