"""The catalogue of notices: which kinds exist, what each needs, and how its context is read.

A notice's context is plain data from the caller (strings, ints, bools, ISO-8601 strings or
aware datetimes). `prepare_context` checks the required keys of the kind, refuses keys that
look like secrets, and turns date strings into aware datetimes so the templates can format
every date in Asia/Seoul with the same filters as the web pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any
from collections.abc import Mapping

CHANNELS = ("email", "sms")
CHANGE_TYPES = ("price_increase", "trial_conversion")

# Keys holding a moment in time besides every `*_at` key.
_DATE_KEYS = frozenset({"period_start", "period_end", "deadline", "access_until"})
# Nothing that could open a card or an account may ever reach a message body.
_SECRET_MARKERS = ("billing_key", "billingkey", "secret", "password", "auth_key", "authkey", "customer_key")


@dataclass(frozen=True)
class Kind:
    """One notice: the context keys it cannot do without, and whether it has an SMS text."""

    required: tuple[str, ...]
    sms: bool = False


_CONSENT = Kind(
    ("change_type", "product_name", "effective_at", "old_amount_won", "new_amount_won", "card_label", "consent_url"),
    sms=True,
)

KINDS: dict[str, Kind] = {
    "card_registered": Kind(("card_label",)),
    "payment_receipt": Kind(
        ("product_name", "plan_name", "amount_won", "period_start", "period_end", "card_label"), sms=True
    ),
    "payment_failed": Kind(("product_name", "amount_won", "failure_message"), sms=True),
    # A one-time order paid through the payment window (no period, no renewal).
    "order_receipt": Kind(("product_name", "plan_name", "amount_won", "order_id", "paid_at")),
    # A one-time order withdrawn (청약철회, billing/compliance/cooling_off.py): refunded in full.
    "order_withdrawn": Kind(("product_name", "order_id", "refund_amount_won")),
    # A refund no flow of ours announced: made in Toss's dashboard, learned from Toss
    # (billing/refunding/refund_notices.py).
    "payment_refunded": Kind(("product_name", "refund_amount_won", "paid_amount_won")),
    "renewal_notice": Kind(("product_name", "plan_name", "amount_won", "next_charge_at"), sms=True),
    "subscription_canceled": Kind(("product_name", "access_until")),
    "subscription_resumed": Kind(("product_name",)),
    "subscription_ended": Kind(("product_name",)),
    "plan_changed": Kind(("product_name", "new_plan_name", "new_amount_won", "effective_at")),
    "consent_request": _CONSENT,
    "consent_reminder": _CONSENT,
    "trial_conversion_notice": Kind(("product_name", "effective_at", "new_amount_won"), sms=True),
    # Accounts (storefront/accounts/): links that prove the address, and what changed on the account.
    "signup_confirm": Kind(("confirm_url", "expires_at")),
    "signup_existing": Kind(("login_url", "reset_url")),
    "password_reset": Kind(("reset_url", "expires_at")),
    "password_changed": Kind(("changed_at", "reset_url")),
}


class NoticeError(ValueError):
    """A notice was asked for with an unknown kind or channel, or an incomplete context."""


def check_request(kind: str, channels: tuple[str, ...]) -> Kind:
    spec = KINDS.get(kind)
    if spec is None:
        raise NoticeError(f"unknown notice kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    if not channels:
        raise NoticeError("at least one channel is needed")
    for channel in channels:
        if channel not in CHANNELS:
            raise NoticeError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        if channel == "sms" and not spec.sms:
            raise NoticeError(f"{kind} has no SMS text (templates/emails/sms/{kind}.txt)")
    return spec


def prepare_context(kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Check `context` against the kind and return a copy with dates parsed to aware UTC."""
    spec = KINDS[kind]
    for key in context:
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            raise NoticeError(f"{kind}: context key {key!r} looks like a secret; messages never carry one")
    missing = [key for key in spec.required if context.get(key) in (None, "")]
    if missing:
        raise NoticeError(f"{kind}: missing context key(s): {', '.join(missing)}")
    if "change_type" in spec.required and context["change_type"] not in CHANGE_TYPES:
        raise NoticeError(f"{kind}: change_type must be one of {', '.join(CHANGE_TYPES)}")
    prepared = {key: _read_date(key, value) if _is_date_key(key) else value for key, value in context.items()}
    if "change_type" in prepared:
        prepared["trial"] = prepared["change_type"] == "trial_conversion"
    return prepared


def _is_date_key(key: str) -> bool:
    return key.endswith("_at") or key in _DATE_KEYS


def _read_date(key: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise NoticeError(f"context key {key!r}: not an ISO-8601 date: {value!r}") from None
    if not isinstance(value, datetime):
        raise NoticeError(f"context key {key!r}: expected a datetime or ISO-8601 string")
    # Times are UTC throughout the app; a naive value can only mean UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
