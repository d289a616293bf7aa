"""Toss's JSON shapes for what the sandbox stores: Billing, Payment and Cancel objects.

Field names and formats follow the 2024-06-01 API version (toss-api.md §2.2, §2.6, §3.5):
timestamps in Korean time with the +09:00 offset, amounts in won, the card number masked.
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
        "taxExemptionAmount": 0,
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


def payment_json(row: sqlite3.Row, cancels: list[sqlite3.Row], *, mid: str, version: str,
                 base_url: str) -> dict[str, Any]:
    card = card_info(row["card_number"])
    taxable = row["total_amount"] - row["tax_free_amount"]
    vat = (taxable + 5) // 11  # (amount - taxFree) / 11, rounded half up
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
            "installmentPlanMonths": 0,
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
        "isPartialCancelable": True,
        "receipt": {"url": f"{base_url}/_sandbox/receipts/{row['payment_key']}"} if approved else None,
        "checkout": {"url": f"{base_url}/_sandbox/checkout/{row['payment_key']}"},
        "currency": "KRW",
        "totalAmount": row["total_amount"],
        "balanceAmount": row["balance_amount"],
        "suppliedAmount": taxable - vat,
        "vat": vat,
        "taxFreeAmount": row["tax_free_amount"],
        "metadata": None,
        "taxExemptionAmount": 0,
        "method": "카드",
    }


def _acquire_status(status: str) -> str:
    return {"CANCELED": "CANCELED", "DONE": "READY", "PARTIAL_CANCELED": "READY"}.get(status, "READY")
