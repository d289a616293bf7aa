"""Template filters and the context every page gets (the business-info footer)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app

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
    if value is None:
        return "-"
    local = value.astimezone(KST)
    return f"{local.year}년 {local.month}월 {local.day}일"


def register(app: Flask) -> None:
    app.add_template_filter(won, "won")
    app.add_template_filter(kst, "kst")
    app.add_template_filter(kst_date, "kst_date")
    app.add_template_filter(lambda v: INTERVAL_LABELS.get(v, v), "interval_label")
    app.add_template_filter(lambda v: INTERVAL_UNITS.get(v, v), "interval_unit")

    @app.context_processor
    def footer_context():
        config = current_app.config["STOREFRONT"]
        return {"business": config.business, "toss_env": config.toss_env}
