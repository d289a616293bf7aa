"""The sandbox's own notion of time: a clock protocol, the wall clock and Korean time.

The sandbox shares no code with the store (it stands in for Toss, which shares none
either). Anything with a `now()` returning an aware datetime is a clock here, so tests
can hand it the store's `FixedClock` and move both processes together.
"""

from __future__ import annotations

from datetime import datetime, UTC
from typing import Protocol
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
