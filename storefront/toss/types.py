"""Typed results of Toss calls: what we store, plus the raw JSON.

(Skeleton: the Toss client issue fills in parsing.) Field names are ours (snake_case);
`raw` keeps Toss's whole answer. Parsing is lenient: unknown fields are ignored and
both Billing shapes (API 2022-11-16 with cardCompany/cardNumber, 2024-06-01 without)
are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CardSummary:
    issuer_code: str | None
    acquirer_code: str | None
    number: str  # masked, e.g. 43301234****123*
    card_type: str | None  # 신용 | 체크 | 기프트
    owner_type: str | None  # 개인 | 법인
    company: str  # Korean issuer name, e.g. 현대 (from cardCompany or the issuer-code table)


@dataclass(frozen=True)
class Billing:
    billing_key: str = field(repr=False)
    customer_key: str
    authenticated_at: datetime | None
    method: str | None
    card: CardSummary | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Cancel:
    transaction_key: str | None
    cancel_amount: int
    cancel_reason: str | None
    canceled_at: datetime | None
    cancel_status: str | None
    refundable_amount: int | None


@dataclass(frozen=True)
class Payment:
    payment_key: str
    order_id: str
    order_name: str | None
    status: str  # READY | IN_PROGRESS | DONE | CANCELED | PARTIAL_CANCELED | ABORTED | EXPIRED | ...
    type: str | None  # NORMAL | BILLING | BRANDPAY
    method: str | None
    total_amount: int
    balance_amount: int
    requested_at: datetime | None
    approved_at: datetime | None
    card: CardSummary | None
    receipt_url: str | None
    cancels: tuple[Cancel, ...]
    failure_code: str | None
    failure_message: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
