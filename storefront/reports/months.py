"""Asia/Seoul calendar months as UTC ranges: what "this month" and "March" mean in every report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC

from storefront.clock import KST


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Asia/Seoul; `start`/`end` are the aware UTC instants bounding it [start, end)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 2999:
            raise ValueError(f"not a month: {self.year}-{self.month}")

    @classmethod
    def of(cls, moment: datetime) -> Month:
        local = moment.astimezone(KST)
        return cls(local.year, local.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-03' -> Month(2026, 3); ValueError for anything else."""
        year, sep, month = (text or "").partition("-")
        if not sep or not (year.isdigit() and month.isdigit()) or len(year) != 4 or len(month) not in (1, 2):
            raise ValueError(f"not a YYYY-MM month: {text!r}")
        return cls(int(year), int(month))

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=KST).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def label(self) -> str:
        return f"{self.year}년 {self.month}월"

    @property
    def short_label(self) -> str:
        return f"{self.year % 100:02d}.{self.month:02d}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def months_ending(last: Month, count: int) -> list[Month]:
    """`count` consecutive months, oldest first, ending with `last`."""
    months = [last]
    while len(months) < count:
        months.append(months[-1].previous())
    return months[::-1]


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter (1–4) in Asia/Seoul: the 부가세 신고 periods are built from these."""

    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"not a quarter: {self.quarter}")

    @property
    def months(self) -> list[Month]:
        first = 3 * (self.quarter - 1) + 1
        return [Month(self.year, first + i) for i in range(3)]

    @property
    def start(self) -> datetime:
        return self.months[0].start

    @property
    def end(self) -> datetime:
        return self.months[-1].end

    @property
    def label(self) -> str:
        return f"{self.year}년 {self.quarter}분기"
