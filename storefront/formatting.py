"""How amounts, moments and billing intervals read to a shopper: the pages and the notices share these.

Plain functions with no request and no app: `storefront.web.filters` registers them as Jinja
filters for the pages, `storefront.notify.render` for the emails, and Python code (the admin's
flashes, the account pages) calls them directly. Every moment is shown in Asia/Seoul; a missing
value reads ``-``.
"""

from __future__ import annotations

from datetime import datetime

from storefront.clock import KST

INTERVAL_LABELS = {"month": "매월", "year": "매년", "once": "1회"}
INTERVAL_UNITS = {"month": "월", "year": "년", "once": "1회"}


def won(amount: int | None) -> str:
    """9900 -> '9,900원' (amounts are whole won, VAT included)."""
    if amount is None:
        return "-"
    return f"{int(amount):,}원"


def kst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "-"
    return value.astimezone(KST).strftime(fmt)


def kst_date(value: datetime | None) -> str:
    """The one date format of the pages: '2026년 12월 2일' (Asia/Seoul)."""
    if value is None:
        return "-"
    local = value.astimezone(KST)
    return f"{local.year}년 {local.month}월 {local.day}일"


def kst_time(value: datetime | None, seconds: bool = False) -> str:
    """'14:05' (24-hour, Asia/Seoul); with seconds '14:05:09'."""
    if value is None:
        return "-"
    return value.astimezone(KST).strftime("%H:%M:%S" if seconds else "%H:%M")


def kst_datetime(value: datetime | None, seconds: bool = False) -> str:
    """A moment on a page: '2026년 12월 2일 14:05' (Asia/Seoul; pages say 한국 시간 where it matters).

    `kst_date` and `kst_time` joined, with one conversion to Asia/Seoul and no strftime (a payment
    history shows one per row)."""
    if value is None:
        return "-"
    local = value.astimezone(KST)
    moment = f"{local.year}년 {local.month}월 {local.day}일 {local.hour:02d}:{local.minute:02d}"
    return f"{moment}:{local.second:02d}" if seconds else moment


def interval_label(interval: str) -> str:
    """'month' -> '매월' (how often a plan is charged); anything else as it is."""
    return INTERVAL_LABELS.get(interval, interval)


def interval_unit(interval: str) -> str:
    """'month' -> '월' (the unit after a price: 9,900원/월); anything else as it is."""
    return INTERVAL_UNITS.get(interval, interval)


def mobile(phone: str | None) -> str:
    """`01012345678` -> `010-1234-5678` (how a number is shown and typed back); anything else unchanged."""
    digits = phone or ""
    if digits.isdigit() and len(digits) in (10, 11):
        return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"
    return digits
