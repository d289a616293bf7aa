"""Typed results of Toss calls: what we store, plus the raw JSON.

Payment, Billing and Cancel come from the money calls; Transaction and Settlement from the
transaction and settlement look-ups (거래 조회, 정산 조회) the daily reconciliation reads.

Field names are ours (snake_case); `raw` keeps Toss's whole answer. Parsing is lenient, as
Toss ships new fields and enum values without a version bump: unknown fields are ignored,
both Billing shapes (API 2022-11-16 with top-level cardCompany/cardNumber, 2024-06-01
without) are accepted, amounts may be JSON int or float and become int won, and times become
aware UTC datetimes. Only the fields a result cannot mean anything without (billingKey and
customerKey; paymentKey, orderId, status and totalAmount) raise ValueError when missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, UTC
from typing import Any
from collections.abc import Mapping

# Toss answers in Korea time; a time without an offset is read as KST (no DST in Korea).
_KST = timezone(timedelta(hours=9))

# Toss's 2-character card issuer/acquirer codes (API 2022-11-16+) -> the Korean name shown to
# shoppers. Unknown codes fall back to CARD_FALLBACK_NAME.
CARD_COMPANIES: dict[str, str] = {
    "11": "KB국민",
    "15": "카카오뱅크",
    "21": "하나",
    "24": "토스뱅크",
    "30": "KDB산업",
    "31": "BC",
    "33": "우리",
    "34": "Sh수협",
    "35": "전북",
    "36": "씨티",
    "37": "우체국",
    "38": "새마을",
    "39": "저축은행",
    "3A": "케이뱅크",
    "3K": "기업비씨",
    "41": "신한",
    "42": "제주",
    "46": "광주",
    "51": "삼성",
    "61": "현대",
    "62": "신협",
    "71": "롯데",
    "91": "NH농협",
    "W1": "우리",
    "3C": "유니온페이",
    "4J": "JCB",
    "4M": "마스터",
    "4V": "VISA",
    "6D": "다이너스",
    "7A": "AMEX",
}
CARD_FALLBACK_NAME = "카드"


def card_company_name(issuer_code: str | None) -> str:
    """Korean name for a Toss card code, or "카드" when the code is missing or unknown."""
    return CARD_COMPANIES.get((issuer_code or "").upper(), CARD_FALLBACK_NAME)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string from Toss -> aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_KST)
    return parsed.astimezone(UTC)


def parse_won(value: Any) -> int | None:
    """A JSON amount (int, float or numeric string) -> int won; None when absent or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(round(value))
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _required(data: Mapping[str, Any], key: str, kind: str) -> str:
    value = _str(data.get(key))
    if value is None:
        raise ValueError(f"Toss {kind} without {key}")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class CardSummary:
    issuer_code: str | None
    acquirer_code: str | None
    number: str  # masked, e.g. 43301234****123*
    card_type: str | None  # 신용 | 체크 | 기프트
    owner_type: str | None  # 개인 | 법인
    company: str  # Korean issuer name, e.g. 현대 (from cardCompany or the issuer-code table)

    @classmethod
    def from_json(cls, card: Any, *, company: Any = None, number: Any = None) -> CardSummary | None:
        """A `card` object; `company`/`number` are Billing's top-level cardCompany/cardNumber
        (API ≤ 2022-11-16), used when the card object lacks them. None when there is no card."""
        data = _mapping(card)
        issuer = _str(data.get("issuerCode"))
        masked = _str(data.get("number")) or _str(number)
        if not data and masked is None:
            return None
        name = _str(company) or _str(data.get("company")) or card_company_name(issuer)
        return cls(
            issuer_code=issuer,
            acquirer_code=_str(data.get("acquirerCode")),
            number=masked or "",
            card_type=_str(data.get("cardType")),
            owner_type=_str(data.get("ownerType")),
            company=name,
        )


@dataclass(frozen=True)
class Billing:
    billing_key: str = field(repr=False)
    customer_key: str
    authenticated_at: datetime | None
    method: str | None
    card: CardSummary | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Billing:
        """A Billing object of either API shape. Raises ValueError without billingKey/customerKey
        (the message never contains the billing key)."""
        return cls(
            billing_key=_required(data, "billingKey", "Billing"),
            customer_key=_required(data, "customerKey", "Billing"),
            authenticated_at=parse_time(data.get("authenticatedAt")),
            method=_str(data.get("method")),
            card=CardSummary.from_json(
                data.get("card"), company=data.get("cardCompany"), number=data.get("cardNumber")
            ),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Cancel:
    transaction_key: str | None
    cancel_amount: int
    cancel_reason: str | None
    canceled_at: datetime | None
    cancel_status: str | None
    refundable_amount: int | None

    @classmethod
    def from_json(cls, data: Any) -> Cancel:
        item = _mapping(data)
        return cls(
            transaction_key=_str(item.get("transactionKey")),
            cancel_amount=parse_won(item.get("cancelAmount")) or 0,
            cancel_reason=_str(item.get("cancelReason")),
            canceled_at=parse_time(item.get("canceledAt")),
            cancel_status=_str(item.get("cancelStatus")),
            refundable_amount=parse_won(item.get("refundableAmount")),
        )


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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Payment:
        """A Payment object. Raises ValueError without paymentKey, orderId, status or totalAmount;
        balanceAmount defaults to totalAmount, `cancels: null` to ()."""
        total = parse_won(data.get("totalAmount"))
        if total is None:
            raise ValueError("Toss Payment without totalAmount")
        balance = parse_won(data.get("balanceAmount"))
        failure = _mapping(data.get("failure"))
        cancels = data.get("cancels")
        return cls(
            payment_key=_required(data, "paymentKey", "Payment"),
            order_id=_required(data, "orderId", "Payment"),
            order_name=_str(data.get("orderName")),
            status=_required(data, "status", "Payment"),
            type=_str(data.get("type")),
            method=_str(data.get("method")),
            total_amount=total,
            balance_amount=total if balance is None else balance,
            requested_at=parse_time(data.get("requestedAt")),
            approved_at=parse_time(data.get("approvedAt")),
            card=CardSummary.from_json(data.get("card")),
            receipt_url=_str(_mapping(data.get("receipt")).get("url")),
            cancels=tuple(Cancel.from_json(c) for c in cancels) if isinstance(cancels, list) else (),
            failure_code=_str(failure.get("code")),
            failure_message=_str(failure.get("message")),
            raw=dict(data),
        )

    @property
    def canceled_amount(self) -> int:
        """Won given back so far (sum of cancels whose status is DONE or not stated)."""
        return sum(c.cancel_amount for c in self.cancels if c.cancel_status in (None, "DONE"))


def parse_day(value: Any) -> date | None:
    """A `yyyy-MM-dd` string from Toss -> date; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


CANCEL_STATUSES = ("CANCELED", "PARTIAL_CANCELED")


@dataclass(frozen=True)
class Transaction:
    """One approval or one cancel of a payment (`GET /v1/transactions`).

    `amount` is what that transaction moved, as Toss reports it (the approved total, or the
    cancelled part); `status` is DONE for an approval and the payment's status after a cancel.
    """

    transaction_key: str
    payment_key: str
    order_id: str
    status: str
    amount: int
    transaction_at: datetime | None
    method: str | None
    receipt_url: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_cancel(self) -> bool:
        return self.status in CANCEL_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transaction:
        """Raises ValueError without transactionKey, paymentKey, orderId, status or amount."""
        amount = parse_won(data.get("amount"))
        if amount is None:
            raise ValueError("Toss Transaction without amount")
        return cls(
            transaction_key=_required(data, "transactionKey", "Transaction"),
            payment_key=_required(data, "paymentKey", "Transaction"),
            order_id=_required(data, "orderId", "Transaction"),
            status=_required(data, "status", "Transaction"),
            amount=amount,
            transaction_at=parse_time(data.get("transactionAt")),
            method=_str(data.get("method")),
            receipt_url=_str(data.get("receiptUrl")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Settlement:
    """One settled transaction (`GET /v1/settlements`): negative amounts for a cancel.

    `fee` is what Toss keeps (VAT included): the top-level `fee` when present, else the sum of
    `fees[].fee` (Toss's examples show the list, sometimes with string values, and answers have
    come with either). `pay_out_amount` is what reaches the merchant's account on `paid_out_date`.
    """

    payment_key: str
    transaction_key: str | None
    order_id: str
    method: str | None
    amount: int
    fee: int
    interest_fee: int
    supply_amount: int
    vat: int
    pay_out_amount: int
    approved_at: datetime | None
    sold_date: date | None
    paid_out_date: date | None
    is_cancel: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settlement:
        """Raises ValueError without paymentKey, orderId or amount."""
        amount = parse_won(data.get("amount"))
        if amount is None:
            raise ValueError("Toss Settlement without amount")
        fees = data.get("fees")
        fee = parse_won(data.get("fee"))
        if fee is None:
            fee = sum(parse_won(_mapping(item).get("fee")) or 0 for item in fees) if isinstance(fees, list) else 0
        interest_fee = parse_won(data.get("interestFee")) or 0
        pay_out = parse_won(data.get("payOutAmount"))
        return cls(
            payment_key=_required(data, "paymentKey", "Settlement"),
            transaction_key=_str(data.get("transactionKey")),
            order_id=_required(data, "orderId", "Settlement"),
            method=_str(data.get("method")),
            amount=amount,
            fee=fee,
            interest_fee=interest_fee,
            supply_amount=parse_won(data.get("supplyAmount")) or 0,
            vat=parse_won(data.get("vat")) or 0,
            pay_out_amount=amount - fee - interest_fee if pay_out is None else pay_out,
            approved_at=parse_time(data.get("approvedAt")),
            sold_date=parse_day(data.get("soldDate")),
            paid_out_date=parse_day(data.get("paidOutDate")),
            is_cancel=isinstance(data.get("cancel"), Mapping) or amount < 0,
            raw=dict(data),
        )
