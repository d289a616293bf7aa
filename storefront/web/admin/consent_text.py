"""What a stored consent said, in one Korean line for the admin's subscription page.

Consent rows keep what the shopper was shown as JSON (`Consent.detail`); the page reads the
few fields a merchant asks about (plan, amount, date) and skips the rest. A row whose detail
is missing or unreadable shows nothing rather than failing the page.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storefront.formatting import kst_date, won
from storefront.models import Consent
from storefront.web.admin.labels import LABELS


def _date(value: Any) -> str:
    try:
        return kst_date(datetime.fromisoformat(value)) if value else ""
    except (TypeError, ValueError):
        return ""


def _amount(value: Any) -> str:
    return won(value) if isinstance(value, int) else "-"


def consent_summary(consent: Consent) -> str:
    """'월간 베이직 (9,900원) → 월간 프리미엄 (19,900원), 2026년 4월 10일 결제부터' and the like; '' if unknown."""
    try:
        detail = json.loads(consent.detail or "{}")
    except ValueError:
        return ""
    if not isinstance(detail, dict):
        return ""
    if consent.kind == "plan_change":
        return (
            f"{detail.get('from_plan_name', '')} ({_amount(detail.get('old_amount_won'))}) → "
            f"{detail.get('to_plan_name', '')} ({_amount(detail.get('new_amount_won'))}), "
            f"{_date(detail.get('effective_at'))} 결제부터"
        )
    if consent.kind == "auto_renewal":
        interval = LABELS["interval"].get(detail.get("interval", ""), "")
        first = _date(detail.get("first_charge_at"))
        return f"{detail.get('plan_name', '')} {_amount(detail.get('amount_won'))} {interval} 자동결제" + (
            f", 첫 결제 {first}" if first else ""
        )
    if consent.kind in ("price_increase", "trial_conversion"):
        return (
            f"{_amount(detail.get('old_amount_won'))} → {_amount(detail.get('new_amount_won'))}, "
            f"{_date(detail.get('effective_at'))} 결제부터"
        )
    return ""
