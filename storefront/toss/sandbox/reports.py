"""What Toss reports about the past: transactions (거래 조회) and settlements (정산 조회).

Both are read from the payments and cancels the sandbox holds; nothing is stored for them.

- A transaction is one approval or one cancel (Toss's guide "결제와 거래": every payment and
  every cancel is a transaction, told apart by `transactionKey`). The approval keeps status
  DONE and the payment's total; a cancel has the payment's status after it (PARTIAL_CANCELED
  or CANCELED) and the cancelled amount. `GET /v1/transactions` lists those whose
  `transactionAt` falls in [startDate, endDate] (Korean time), oldest first, `limit` per page
  (default 100, at most 5,000), the next page starting after the transaction named by
  `startingAfter` (INVALID_TRANSACTION_KEY when it names none in the range).
- A settlement is the same transaction seen by accounting: the amount (negative for a
  cancel), the merchant's fee (the rate fixed on the payment when it was approved, VAT
  included, refunded pro rata on a cancel, as a real cancel row shows: TECHCHAT
  m/1255352982157922435), the fee's supply amount and VAT, and `payOutAmount` = amount −
  fee. `soldDate` is the Korean day of the transaction (daily settlement) and `paidOutDate`
  `payout_days` later. `GET /v1/settlements` selects by soldDate (default) or paidOutDate
  (`dateType`), `page` from 1, `size` per page (default 100, at most 5,000).

Unlike Toss, the sandbox settles test payments (Toss pays nothing for them), so the store's
settlement view has something to show.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .cards import card_info
from .clock import KST
from .render import kst
from .store import Store, parse_iso

DEFAULT_LIMIT = 100
MAX_LIMIT = 5_000


@dataclass(frozen=True)
class Transaction:
    transaction_key: str
    at: datetime
    status: str  # DONE | PARTIAL_CANCELED | CANCELED
    amount: int  # positive: what was approved or cancelled
    payment: sqlite3.Row
    cancel: sqlite3.Row | None = None

    @property
    def fee_rate(self) -> float | None:
        row = self.cancel if self.cancel is not None else self.payment
        return row["fee_rate"]


def all_transactions(store: Store) -> list[Transaction]:
    """Every approval and cancel, oldest first (ties: approval before its cancels, then insertion)."""
    with store.read() as conn:
        payments = conn.execute(
            "SELECT * FROM payments WHERE approved_at IS NOT NULL AND status IN ('DONE', 'CANCELED', "
            "'PARTIAL_CANCELED') ORDER BY seq"
        ).fetchall()
        cancels = conn.execute("SELECT * FROM cancels ORDER BY id").fetchall()
    by_key = {row["payment_key"]: row for row in payments}
    items: list[tuple[tuple[Any, ...], Transaction]] = []
    for row in payments:
        key = row["approval_transaction_key"] or f"{row['payment_key']}-approval"
        items.append(
            (
                (parse_iso(row["approved_at"]), 0, row["seq"]),
                Transaction(key, datetime.fromisoformat(row["approved_at"]), "DONE", row["total_amount"], row),
            )
        )
    for cancel in cancels:
        payment = by_key.get(cancel["payment_key"])
        if payment is None:
            continue
        status = "CANCELED" if cancel["refundable_amount"] == 0 else "PARTIAL_CANCELED"
        items.append(
            (
                (parse_iso(cancel["canceled_at"]), 1, cancel["id"]),
                Transaction(
                    cancel["transaction_key"],
                    datetime.fromisoformat(cancel["canceled_at"]),
                    status,
                    cancel["cancel_amount"],
                    payment,
                    cancel,
                ),
            )
        )
    items.sort(key=lambda item: item[0])
    return [transaction for _, transaction in items]


def transactions_between(store: Store, start: datetime, end: datetime) -> list[Transaction]:
    return [t for t in all_transactions(store) if start <= t.at <= end]


def page_after(items: list[Transaction], starting_after: str | None, limit: int) -> list[Transaction] | None:
    """The page after `starting_after` (None: the first page); None when no item has that key."""
    if starting_after is None:
        return items[:limit]
    for index, item in enumerate(items):
        if item.transaction_key == starting_after:
            return items[index + 1 : index + 1 + limit]
    return None


def transaction_json(t: Transaction, *, mid: str, base_url: str) -> dict[str, Any]:
    return {
        "mId": mid,
        "transactionKey": t.transaction_key,
        "paymentKey": t.payment["payment_key"],
        "orderId": t.payment["order_id"],
        "method": "카드",
        "customerKey": t.payment["customer_key"],
        "useEscrow": False,
        "receiptUrl": f"{base_url}/_sandbox/receipts/{t.payment['payment_key']}",
        "status": t.status,
        "transactionAt": kst(t.at),
        "currency": "KRW",
        "amount": t.amount,
    }


# ---------------------------------------------------------------- settlements


@dataclass(frozen=True)
class Settlement:
    transaction: Transaction
    amount: int  # negative for a cancel
    fee: int  # VAT included; negative (given back) for a cancel
    sold_date: date
    paid_out_date: date

    @property
    def fee_vat(self) -> int:
        return _half_up_div(self.fee, 11)

    @property
    def pay_out_amount(self) -> int:
        return self.amount - self.fee


def settlement_of(t: Transaction, *, fee_rate: float, payout_days: int) -> Settlement:
    rate = t.fee_rate if t.fee_rate is not None else fee_rate
    sign = 1 if t.cancel is None else -1
    sold = t.at.astimezone(KST).date()
    fee = int((Decimal(t.amount) * Decimal(str(rate))).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Settlement(t, sign * t.amount, sign * fee, sold, sold + timedelta(days=payout_days))


def settlements_between(
    store: Store, first: date, last: date, *, by: str, fee_rate: float, payout_days: int
) -> list[Settlement]:
    """Settlements whose soldDate (by="soldDate") or paidOutDate falls in [first, last]."""
    rows = [settlement_of(t, fee_rate=fee_rate, payout_days=payout_days) for t in all_transactions(store)]
    pick = (lambda s: s.sold_date) if by == "soldDate" else (lambda s: s.paid_out_date)
    return [s for s in rows if first <= pick(s) <= last]


def settlement_json(s: Settlement, *, mid: str) -> dict[str, Any]:
    t = s.transaction
    card = card_info(t.payment["card_number"])
    cancel = t.cancel
    return {
        "mId": mid,
        "paymentKey": t.payment["payment_key"],
        "transactionKey": t.transaction_key,
        "orderId": t.payment["order_id"],
        "currency": "KRW",
        "method": "카드",
        "amount": s.amount,
        "interestFee": 0,
        "fees": [{"type": "BASE", "fee": s.fee}],
        "fee": s.fee,
        "supplyAmount": s.fee - s.fee_vat,
        "vat": s.fee_vat,
        "payOutAmount": s.pay_out_amount,
        "approvedAt": kst(parse_iso(t.payment["approved_at"])),
        "soldDate": s.sold_date.isoformat(),
        "paidOutDate": s.paid_out_date.isoformat(),
        "card": {
            "issuerCode": card.issuer_code,
            "acquirerCode": card.acquirer_code,
            "number": card.masked,
            "installmentPlanMonths": t.payment["installment_months"],
            "isInterestFree": False,
            "interestPayer": None,
            "approveNo": t.payment["approve_no"] or "00000000",
            "useCardPoint": False,
            "cardType": card.card_type,
            "ownerType": card.owner_type,
            "acquireStatus": "COMPLETED" if cancel is None else "CANCELED",
            "amount": t.payment["total_amount"],
        },
        "virtualAccount": None,
        "transfer": None,
        "mobilePhone": None,
        "giftCertificate": None,
        "easyPay": None,
        "cancel": None
        if cancel is None
        else {
            "transactionKey": cancel["transaction_key"],
            "cancelReason": cancel["cancel_reason"],
            "taxExemptionAmount": cancel["tax_exemption_amount"],
            "canceledAt": kst(parse_iso(cancel["canceled_at"])),
            "easyPayDiscountAmount": 0,
            "receiptKey": None,
            "cancelAmount": cancel["cancel_amount"],
            "taxFreeAmount": cancel["tax_free_amount"],
            "refundableAmount": cancel["refundable_amount"],
            "cancelStatus": "DONE",
            "cancelRequestId": None,
        },
    }


def _half_up_div(value: int, divisor: int) -> int:
    sign = -1 if value < 0 else 1
    return sign * ((abs(value) * 2 + divisor) // (2 * divisor))
