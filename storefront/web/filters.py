"""Template filters and the context every page gets (the business-info footer)."""

from __future__ import annotations

from datetime import datetime

from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

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
    """A moment on a page: '2026년 12월 2일 14:05' (Asia/Seoul; pages say 한국 시간 where it matters)."""
    if value is None:
        return "-"
    return f"{kst_date(value)} {kst_time(value, seconds)}"


def hidden_fields(form: Any) -> Markup:
    """A form's hidden inputs (the CSRF token) without ids: several forms on one page stay valid HTML.

    `form.hidden_tag()` gives every token `id="csrf_token"`, a duplicate id on pages with
    more than one form; nothing points at that id.
    """
    return Markup(
        "".join(str(field(id=False)) for field in form if getattr(field.widget, "input_type", None) == "hidden")
    )


def register(app: Flask) -> None:
    app.add_template_filter(won, "won")
    app.add_template_filter(kst, "kst")
    app.add_template_filter(kst_date, "kst_date")
    app.add_template_filter(kst_time, "kst_time")
    app.add_template_filter(kst_datetime, "kst_datetime")
    app.add_template_filter(lambda v: INTERVAL_LABELS.get(v, v), "interval_label")
    app.add_template_filter(lambda v: INTERVAL_UNITS.get(v, v), "interval_unit")
    app.add_template_global(hidden_fields, "hidden_fields")

    @app.context_processor
    def footer_context():
        config = current_app.config["STOREFRONT"]
        return {"business": config.business, "toss_env": config.toss_env}
