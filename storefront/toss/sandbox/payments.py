"""What the sandbox does with money: billing keys, charges, one-time payments, cancels.

Each public function runs in one `Store.write()` transaction and raises `ApiError` with
the code Toss would answer; nothing is written when it raises. A billing charge either
inserts one DONE payment or nothing (a declined charge leaves no payment to look up, and
its orderId stays free). `render` turns the rows into Toss's JSON objects.
"""

from __future__ import annotations

import base64
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .cards import behaviour_of, card_info
from .errors import INSTALLMENT_MIN_AMOUNT, MAX_CARD_AMOUNT, MAX_INSTALLMENT_MONTHS, MIN_CARD_AMOUNT, ApiError
from .store import Store, iso

ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
CUSTOMER_KEY = re.compile(r"^[A-Za-z0-9\-_=.@]{2,300}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DIGITS = re.compile(r"^[0-9]{1,15}$")
CONFIRM_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class ChargeRequest:
    customer_key: str
    amount: int
    order_id: str
    order_name: str
    customer_email: str | None
    customer_name: str | None
    tax_free_amount: int
    tax_exemption_amount: int = 0
    installment_months: int = 0


# ---------------------------------------------------------------- validation


def require_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError("INVALID_REQUEST", f"{name} 값이 필요합니다.")
    return value


def check_customer_key(value: Any) -> str:
    if not isinstance(value, str) or not CUSTOMER_KEY.match(value):
        raise ApiError("INVALID_CUSTOMER_KEY")
    return value


def check_order_id(value: Any) -> str:
    if not isinstance(value, str) or not ORDER_ID.match(value):
        raise ApiError("INVALID_ORDER_ID")
    return value


def check_order_name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise ApiError("INVALID_ORDER_NAME")
    return value


def won(value: Any, name: str) -> int:
    """A whole number of won: JSON 4900, 4900.0 or "4900" (what Toss's samples send; errors.py)."""
    if isinstance(value, str) and DIGITS.match(value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiError("INVALID_REQUEST", f"{name} 값은 숫자여야 합니다.", f"{name} must be a number.")
    if isinstance(value, float) and not value.is_integer():
        raise ApiError(
            "INVALID_REQUEST", f"{name} 값은 원 단위 정수여야 합니다.", f"{name} must be a whole number of won."
        )
    return int(value)


def check_amount(value: Any, name: str = "amount") -> int:
    """A payment amount: whole won (`won`), at least 100 for a card."""
    amount = won(value, name)
    if amount < MIN_CARD_AMOUNT:
        raise ApiError("BELOW_MINIMUM_AMOUNT")
    return amount


def check_card_limit(amount: int) -> None:
    """Above the sandbox's card limit (errors.MAX_CARD_AMOUNT) the card company refuses."""
    if amount > MAX_CARD_AMOUNT:
        raise ApiError("EXCEED_MAX_AMOUNT")


def _part_of(body: dict[str, Any], name: str, limit: int) -> int:
    """An optional amount inside the payment (taxFreeAmount, taxExemptionAmount): 0..limit."""
    value = body.get(name)
    if value in (None, ""):
        return 0
    amount = won(value, name)
    if not 0 <= amount <= limit:
        raise ApiError("INVALID_REQUEST", f"{name} 값이 올바르지 않습니다.", f"{name} is out of range.")
    return amount


def _installment(body: dict[str, Any], amount: int, card_number: str | None = None) -> int:
    """`cardInstallmentPlan`: 0 (lump sum) or 2–12 months, only from 50,000 won (toss-api.md §2.4)."""
    value = body.get("cardInstallmentPlan")
    if value is None or value == "":
        return 0
    try:
        months = won(value, "cardInstallmentPlan")
    except ApiError:
        raise ApiError("INVALID_CARD_INSTALLMENT_PLAN") from None
    if months == 0:
        return 0
    if months < 0 or months == 1:
        raise ApiError("INVALID_CARD_INSTALLMENT_PLAN")
    if months > MAX_INSTALLMENT_MONTHS:
        raise ApiError("EXCEED_MAX_CARD_INSTALLMENT_PLAN")
    if amount < INSTALLMENT_MIN_AMOUNT:
        raise ApiError(
            "INVALID_CARD_INSTALLMENT_PLAN",
            "할부는 50,000원 이상 결제에만 적용할 수 있습니다.",
            "Installments are only available from 50,000 KRW.",
        )
    if card_number is not None and card_info(card_number).card_type != "신용":
        raise ApiError("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN")
    return months


def _optional_text(body: dict[str, Any], name: str, code: str = "INVALID_REQUEST") -> str | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 100:
        raise ApiError(code, f"{name} 값은 100자 이하의 문자열이어야 합니다.")
    return value


def parse_charge(body: dict[str, Any]) -> ChargeRequest:
    customer_key = check_customer_key(body.get("customerKey"))
    amount = check_amount(body.get("amount"))
    order_id = check_order_id(body.get("orderId"))
    order_name = check_order_name(body.get("orderName"))
    email = _optional_text(body, "customerEmail", "INVALID_EMAIL")
    if email is not None and not EMAIL.match(email):
        raise ApiError("INVALID_EMAIL")
    tax_free = _part_of(body, "taxFreeAmount", amount)
    exemption = _part_of(body, "taxExemptionAmount", amount - tax_free)
    # Shape and amount rules here; whether the card takes installments is checked with the key.
    return ChargeRequest(
        customer_key,
        amount,
        order_id,
        order_name,
        email,
        _optional_text(body, "customerName"),
        tax_free,
        exemption,
        _installment(body, amount),
    )


# ---------------------------------------------------------------- keys


def new_billing_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()  # 44 chars, ends with '='


def new_payment_key() -> str:
    return "tsbx" + secrets.token_hex(14)


def new_transaction_key() -> str:
    return secrets.token_hex(16).upper()


def new_auth_key() -> str:
    return "bln_" + secrets.token_urlsafe(24)


# ---------------------------------------------------------------- billing keys


def create_auth_key(store: Store, now: datetime, customer_key: str, card_number: str) -> str:
    auth_key = new_auth_key()
    with store.write() as conn:
        conn.execute(
            "INSERT INTO auth_keys (auth_key, customer_key, card_number, created_at) VALUES (?, ?, ?, ?)",
            (auth_key, customer_key, card_number, iso(now)),
        )
    return auth_key


def issue_billing_key(store: Store, now: datetime, body: dict[str, Any]) -> sqlite3.Row:
    """Exchange a one-time authKey for a billing key bound to its customerKey."""
    auth_key = require_str(body, "authKey")
    if len(auth_key) > 300:
        raise ApiError("INVALID_BILLING_AUTH")
    customer_key = check_customer_key(body.get("customerKey"))
    with store.write() as conn:
        row = conn.execute("SELECT * FROM auth_keys WHERE auth_key = ?", (auth_key,)).fetchone()
        if row is None or row["used_at"] is not None:
            raise ApiError("INVALID_BILLING_AUTH")
        if row["customer_key"] != customer_key:
            raise ApiError("NOT_MATCHES_CUSTOMER_KEY")
        conn.execute("UPDATE auth_keys SET used_at = ? WHERE auth_key = ?", (iso(now), auth_key))
        billing_key = new_billing_key()
        conn.execute(
            "INSERT INTO billing_keys (billing_key, customer_key, card_number, authenticated_at) VALUES (?, ?, ?, ?)",
            (billing_key, customer_key, row["card_number"], iso(now)),
        )
        return conn.execute("SELECT * FROM billing_keys WHERE billing_key = ?", (billing_key,)).fetchone()


def delete_billing_key(store: Store, now: datetime, billing_key: str) -> None:
    with store.write() as conn:
        row = conn.execute("SELECT deleted_at FROM billing_keys WHERE billing_key = ?", (billing_key,)).fetchone()
        if row is None:
            raise ApiError("NOT_FOUND_BILLING")
        if row["deleted_at"] is not None:
            raise ApiError("ALREADY_REMOVED_BILLING_KEY")
        conn.execute("UPDATE billing_keys SET deleted_at = ? WHERE billing_key = ?", (iso(now), billing_key))


def set_outcome(
    store: Store,
    *,
    code: str | None,
    customer_key: str | None = None,
    billing_key: str | None = None,
    use_card: bool = False,
) -> int:
    """Override what charges on a customer's (or one) billing key do; returns keys changed.

    `code=None` approves every later charge; `use_card=True` goes back to the card's own
    behaviour from the test-card table.
    """
    where, arg = ("billing_key = ?", billing_key) if billing_key else ("customer_key = ?", customer_key)
    with store.write() as conn:
        cursor = conn.execute(
            f"UPDATE billing_keys SET override_set = ?, override_code = ? WHERE {where} AND deleted_at IS NULL",
            (0 if use_card else 1, None if use_card else code, arg),
        )
        return cursor.rowcount


def _charge_error(key: sqlite3.Row) -> str | None:
    if key["override_set"]:
        return key["override_code"]
    behaviour = behaviour_of(key["card_number"])
    if behaviour.charge_error and key["approved_count"] >= behaviour.approve_first:
        return behaviour.charge_error
    return None


def charge_billing_key(
    store: Store, now: datetime, billing_key: str, req: ChargeRequest, *, fee_rate: float = 0.0
) -> sqlite3.Row:
    """Approve one charge on a billing key, or raise the card's decline; one DONE row at most."""
    with store.write() as conn:
        key = conn.execute("SELECT * FROM billing_keys WHERE billing_key = ?", (billing_key,)).fetchone()
        if key is None or key["deleted_at"] is not None:
            raise ApiError("INVALID_BILL_KEY_REQUEST")
        if key["customer_key"] != req.customer_key:
            raise ApiError("NOT_MATCHES_CUSTOMER_KEY")
        _refuse_duplicate_order(conn, req.order_id)
        if req.installment_months:
            _installment({"cardInstallmentPlan": req.installment_months}, req.amount, key["card_number"])
        check_card_limit(req.amount)
        error = _charge_error(key)
        if error:
            raise ApiError(error)
        payment_key = new_payment_key()
        transaction_key = new_transaction_key()
        conn.execute(
            """INSERT INTO payments (payment_key, order_id, order_name, type, status, total_amount, balance_amount,
                   tax_free_amount, tax_exemption_amount, installment_months, billing_key, customer_key,
                   card_number, approve_no, customer_email, customer_name, requested_at, approved_at,
                   last_transaction_key, approval_transaction_key, fee_rate)
               VALUES (?, ?, ?, 'BILLING', 'DONE', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                payment_key,
                req.order_id,
                req.order_name,
                req.amount,
                req.amount,
                req.tax_free_amount,
                req.tax_exemption_amount,
                req.installment_months,
                billing_key,
                req.customer_key,
                key["card_number"],
                _approve_no(),
                req.customer_email,
                req.customer_name,
                iso(now),
                iso(now),
                transaction_key,
                transaction_key,
                fee_rate,
            ),
        )
        conn.execute(
            "UPDATE billing_keys SET approved_count = approved_count + 1 WHERE billing_key = ?", (billing_key,)
        )
        return _written_payment_row(conn, payment_key)


def _refuse_duplicate_order(conn: sqlite3.Connection, order_id: str) -> None:
    taken = conn.execute(
        "SELECT 1 FROM payments WHERE order_id = ? AND status IN ('DONE', 'CANCELED', 'PARTIAL_CANCELED')",
        (order_id,),
    ).fetchone()
    if taken:
        raise ApiError("DUPLICATED_ORDER_ID")


def _approve_no() -> str:
    return f"{secrets.randbelow(10**8):08d}"


# ---------------------------------------------------------------- one-time payments


def open_payment(
    store: Store,
    now: datetime,
    *,
    order_id: str,
    order_name: str,
    amount: int,
    card_number: str,
    customer_key: str | None,
    customer_email: str | None,
    customer_name: str | None,
) -> str:
    """The card window authenticated the shopper: an IN_PROGRESS payment waiting for confirm."""
    payment_key = new_payment_key()
    with store.write() as conn:
        _refuse_duplicate_order(conn, order_id)
        conn.execute(
            """INSERT INTO payments (payment_key, order_id, order_name, type, status, total_amount, balance_amount,
                   customer_key, card_number, customer_email, customer_name, requested_at)
               VALUES (?, ?, ?, 'NORMAL', 'IN_PROGRESS', ?, ?, ?, ?, ?, ?, ?)""",
            (
                payment_key,
                order_id,
                order_name,
                amount,
                amount,
                customer_key,
                card_number,
                customer_email,
                customer_name,
                iso(now),
            ),
        )
    return payment_key


def confirm_payment(store: Store, now: datetime, body: dict[str, Any], *, fee_rate: float = 0.0) -> sqlite3.Row:
    """Approve a payment the window authenticated; amount and orderId must match the window's.

    A session older than 10 minutes becomes EXPIRED and a declining card leaves the payment
    ABORTED with `failure`; both states are committed before the error is raised.
    """
    payment_key = require_str(body, "paymentKey")
    order_id = check_order_id(body.get("orderId"))
    amount = won(body.get("amount"), "amount")
    with store.write() as conn:
        row = _payment_row(conn, payment_key)
        if row is None or row["type"] != "NORMAL":
            raise ApiError("NOT_FOUND_PAYMENT_SESSION")
        if row["status"] != "IN_PROGRESS":
            raise ApiError("ALREADY_PROCESSED_PAYMENT")
        if row["order_id"] != order_id:
            raise ApiError("INVALID_REQUEST", "주문번호가 결제창에서 요청한 주문번호와 일치하지 않습니다.")
        if amount != row["total_amount"]:
            raise ApiError(
                "INVALID_REQUEST",
                "결제 금액이 결제창에서 요청한 금액과 일치하지 않습니다.",
                "The amount does not match the amount the payment window was opened with.",
            )
        _refuse_duplicate_order(conn, order_id)
        error = _settle_session(conn, now, row, fee_rate)
        row = _written_payment_row(conn, payment_key)
    if error is not None:
        raise error
    return row


def _settle_session(conn: sqlite3.Connection, now: datetime, row: sqlite3.Row, fee_rate: float) -> ApiError | None:
    payment_key = row["payment_key"]
    if datetime.fromisoformat(row["requested_at"]) + CONFIRM_WINDOW < now:
        conn.execute("UPDATE payments SET status = 'EXPIRED' WHERE payment_key = ?", (payment_key,))
        return ApiError("NOT_FOUND_PAYMENT_SESSION")
    behaviour = behaviour_of(row["card_number"])
    code = behaviour.charge_error if behaviour.charge_error and not behaviour.approve_first else None
    if row["total_amount"] > MAX_CARD_AMOUNT:
        code = "EXCEED_MAX_AMOUNT"
    if code:
        error = ApiError(code)
        conn.execute(
            "UPDATE payments SET status = 'ABORTED', failure_code = ?, failure_message = ? WHERE payment_key = ?",
            (error.code, error.message, payment_key),
        )
        return error
    transaction_key = new_transaction_key()
    conn.execute(
        """UPDATE payments SET status = 'DONE', approved_at = ?, approve_no = ?, last_transaction_key = ?,
               approval_transaction_key = ?, fee_rate = ?
           WHERE payment_key = ?""",
        (iso(now), _approve_no(), transaction_key, transaction_key, fee_rate, payment_key),
    )
    return None


# ---------------------------------------------------------------- lookups and cancels


def _payment_row(conn: sqlite3.Connection, payment_key: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM payments WHERE payment_key = ?", (payment_key,)).fetchone()


def _written_payment_row(conn: sqlite3.Connection, payment_key: str) -> sqlite3.Row:
    """The payment row this transaction has just inserted or updated."""
    row = _payment_row(conn, payment_key)
    assert row is not None
    return row


def get_payment(store: Store, payment_key: str) -> sqlite3.Row:
    with store.read() as conn:
        row = _payment_row(conn, payment_key)
    if row is None:
        raise ApiError("NOT_FOUND_PAYMENT")
    return row


def get_payment_by_order(store: Store, order_id: str) -> sqlite3.Row:
    """The approved payment for the orderId, else the latest attempt at it."""
    with store.read() as conn:
        row = conn.execute(
            """SELECT * FROM payments WHERE order_id = ?
               ORDER BY status IN ('DONE', 'CANCELED', 'PARTIAL_CANCELED') DESC, seq DESC LIMIT 1""",
            (order_id,),
        ).fetchone()
    if row is None:
        raise ApiError("NOT_FOUND_PAYMENT")
    return row


def cancel_payment(
    store: Store, now: datetime, payment_key: str, body: dict[str, Any], *, fee_rate: float = 0.0
) -> sqlite3.Row:
    """Cancel all (no cancelAmount) or part of the remaining balance; one cancels[] entry each."""
    reason = body.get("cancelReason")
    if not isinstance(reason, str) or not 1 <= len(reason) <= 200:
        raise ApiError(
            "INVALID_REQUEST",
            "cancelReason 값은 1자 이상 200자 이하여야 합니다.",
            "cancelReason must be 1 to 200 characters.",
        )
    with store.write() as conn:
        row = _payment_row(conn, payment_key)
        if row is None:
            raise ApiError("NOT_FOUND_PAYMENT")
        if row["status"] == "CANCELED":
            raise ApiError("ALREADY_CANCELED_PAYMENT")
        if row["status"] not in ("DONE", "PARTIAL_CANCELED"):
            raise ApiError("NOT_CANCELABLE_PAYMENT")
        balance = row["balance_amount"]
        amount = _cancel_amount(body, balance)
        refundable = body.get("refundableAmount")
        if refundable is not None and won(refundable, "refundableAmount") != balance:
            raise ApiError(
                "NOT_CANCELABLE_AMOUNT",
                "환불 가능 금액이 일치하지 않습니다.",
                "refundableAmount does not match the cancelable balance.",
            )
        remaining = balance - amount
        if remaining and row["tax_exemption_amount"]:
            # D-REF taxExemptionAmount: a card payment with one cannot be cancelled in part.
            raise ApiError("NOT_ALLOWED_PARTIAL_REFUND")
        tax_free = _part_of(body, "taxFreeAmount", min(amount, _tax_free_left(conn, row)))
        transaction_key = new_transaction_key()
        conn.execute(
            """INSERT INTO cancels (payment_key, transaction_key, cancel_amount, cancel_reason, tax_free_amount,
                   tax_exemption_amount, refundable_amount, canceled_at, fee_rate)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                payment_key,
                transaction_key,
                amount,
                reason,
                tax_free,
                row["tax_exemption_amount"] if not remaining else 0,
                remaining,
                iso(now),
                row["fee_rate"] if row["fee_rate"] is not None else fee_rate,
            ),
        )
        conn.execute(
            "UPDATE payments SET status = ?, balance_amount = ?, last_transaction_key = ? WHERE payment_key = ?",
            ("CANCELED" if remaining == 0 else "PARTIAL_CANCELED", remaining, transaction_key, payment_key),
        )
        return _written_payment_row(conn, payment_key)


def _cancel_amount(body: dict[str, Any], balance: int) -> int:
    value = body.get("cancelAmount")
    if value is None:
        return balance
    amount = won(value, "cancelAmount")
    if not 0 < amount <= balance:
        raise ApiError("NOT_CANCELABLE_AMOUNT")
    return amount


def _tax_free_left(conn: sqlite3.Connection, row: sqlite3.Row) -> int:
    cancelled = conn.execute(
        "SELECT COALESCE(SUM(tax_free_amount), 0) FROM cancels WHERE payment_key = ?", (row["payment_key"],)
    ).fetchone()[0]
    return row["tax_free_amount"] - cancelled


def cancels_of(store: Store, payment_key: str) -> list[sqlite3.Row]:
    with store.read() as conn:
        return conn.execute("SELECT * FROM cancels WHERE payment_key = ? ORDER BY id", (payment_key,)).fetchall()


def ledger(store: Store) -> list[tuple[sqlite3.Row, list[sqlite3.Row]]]:
    with store.read() as conn:
        rows = conn.execute(
            "SELECT * FROM payments WHERE status IN ('DONE', 'CANCELED', 'PARTIAL_CANCELED') ORDER BY seq"
        ).fetchall()
        cancels = conn.execute("SELECT * FROM cancels ORDER BY id").fetchall()
    by_payment: dict[str, list[sqlite3.Row]] = {}
    for cancel in cancels:
        by_payment.setdefault(cancel["payment_key"], []).append(cancel)
    return [(row, by_payment.get(row["payment_key"], [])) for row in rows]
