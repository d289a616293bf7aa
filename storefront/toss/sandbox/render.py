"""Toss's JSON shapes for what the sandbox stores: Billing, Payment and Cancel objects.

Field names and formats follow the 2024-06-01 API version (toss-api.md §2.2, §2.6, §3.5):
timestamps in Korean time with the +09:00 offset, amounts in won, the card number masked.
`suppliedAmount` and `vat` describe what is left of the payment (`balanceAmount`), so they
shrink with every cancel (D-REF: "결제 취소 및 부분 취소가 되면 … 일부 취소되어 값이 바뀝니다";
a real partially cancelled payment shows supplied + vat = balance, techchat m/1237958998343417856).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from .cards import card_info
from .clock import KST
from .store import parse_iso

APPROVED_STATUSES = ("DONE", "CANCELED", "PARTIAL_CANCELED")


def billing_json(row: sqlite3.Row, mid: str) -> dict[str, Any]:
    card = card_info(row["card_number"])
    return {
        "mId": mid,
        "customerKey": row["customer_key"],
        "authenticatedAt": kst(parse_iso(row["authenticated_at"])),
        "method": "카드",
        "billingKey": row["billing_key"],
        "card": {
            "issuerCode": card.issuer_code,
            "acquirerCode": card.acquirer_code,
            "number": card.masked,
            "cardType": card.card_type,
            "ownerType": card.owner_type,
        },
    }


def kst(at: datetime | None) -> str | None:
    """Toss's timestamps: ISO 8601 in Korean time, seconds precision, e.g. 2026-03-10T10:00:00+09:00."""
    return at.astimezone(KST).replace(microsecond=0).isoformat() if at else None


def cancel_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "transactionKey": row["transaction_key"],
        "cancelReason": row["cancel_reason"],
        "taxExemptionAmount": row["tax_exemption_amount"],
        "canceledAt": kst(parse_iso(row["canceled_at"])),
        "transferDiscountAmount": 0,
        "easyPayDiscountAmount": 0,
        "receiptKey": None,
        "cancelAmount": row["cancel_amount"],
        "taxFreeAmount": row["tax_free_amount"],
        "refundableAmount": row["refundable_amount"],
        "cardDiscountAmount": 0,
        "cancelStatus": "DONE",
        "cancelRequestId": None,
    }


def payment_json(
    row: sqlite3.Row, cancels: list[sqlite3.Row], *, mid: str, version: str, base_url: str
) -> dict[str, Any]:
    card = card_info(row["card_number"])
    supplied, vat = supplied_and_vat(
        row["balance_amount"], row["tax_free_amount"] - sum(c["tax_free_amount"] for c in cancels)
    )
    approved = row["status"] in APPROVED_STATUSES
    failure = {"code": row["failure_code"], "message": row["failure_message"]} if row["failure_code"] else None
    return {
        "mId": mid,
        "version": version,
        "paymentKey": row["payment_key"],
        "status": row["status"],
        "lastTransactionKey": row["last_transaction_key"],
        "orderId": row["order_id"],
        "orderName": row["order_name"],
        "requestedAt": kst(parse_iso(row["requested_at"])),
        "approvedAt": kst(parse_iso(row["approved_at"])),
        "useEscrow": False,
        "cultureExpense": False,
        "card": {
            "issuerCode": card.issuer_code,
            "acquirerCode": card.acquirer_code,
            "number": card.masked,
            "installmentPlanMonths": row["installment_months"],
            "isInterestFree": False,
            "interestPayer": None,
            "approveNo": row["approve_no"] or "00000000",
            "useCardPoint": False,
            "cardType": card.card_type,
            "ownerType": card.owner_type,
            "acquireStatus": _acquire_status(row["status"]),
            "amount": row["total_amount"],
        },
        "virtualAccount": None,
        "transfer": None,
        "mobilePhone": None,
        "giftCertificate": None,
        "cashReceipt": None,
        "cashReceipts": None,
        "discount": None,
        "cancels": [cancel_json(c) for c in cancels] or None,
        "secret": None,
        "type": row["type"],
        "easyPay": None,
        "country": "KR",
        "failure": failure,
        "isPartialCancelable": not row["tax_exemption_amount"],
        "receipt": {"url": f"{base_url}/_sandbox/receipts/{row['payment_key']}"} if approved else None,
        "checkout": {"url": f"{base_url}/_sandbox/checkout/{row['payment_key']}"},
        "currency": "KRW",
        "totalAmount": row["total_amount"],
        "balanceAmount": row["balance_amount"],
        "suppliedAmount": supplied,
        "vat": vat,
        "taxFreeAmount": row["tax_free_amount"],
        "metadata": None,
        # Toss: the tax-exempt part (a cup deposit, ...); a cancel takes it back to 0.
        "taxExemptionAmount": row["tax_exemption_amount"] if row["status"] != "CANCELED" else 0,
        "method": "카드",
    }


def supplied_and_vat(amount: int, tax_free: int) -> tuple[int, int]:
    """(suppliedAmount, vat) of `amount` won of which `tax_free` is tax free: vat = taxable / 11, half up."""
    taxable = max(amount - max(tax_free, 0), 0)
    vat = (taxable + 5) // 11
    return taxable - vat, vat


def _acquire_status(status: str) -> str:
    return {"CANCELED": "CANCELED", "DONE": "READY", "PARTIAL_CANCELED": "READY"}.get(status, "READY")
