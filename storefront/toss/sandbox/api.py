"""Toss's core API as the store calls it: billing keys, billing charges, payments, cancels, and
the transaction and settlement look-ups (`reports`).

Each view parses, calls one function of `payments`, queues the webhooks Toss would send
and returns (status, body); `pipeline.toss_endpoint` adds auth, idempotency and faults.
Paths, field names, status codes and error bodies follow toss-api.md §2–§6. Flask has
already percent-decoded the billing key in the path (`%3D` → `=`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, request

from . import payments, render, reports
from .clock import KST
from .errors import ApiError
from .pipeline import json_body, runtime, toss_endpoint

bp = Blueprint("sandbox_api", __name__)


def _payment(row: Any) -> dict[str, Any]:
    rt = runtime()
    settings = rt.settings
    return render.payment_json(
        row,
        payments.cancels_of(rt.store, row["payment_key"]),
        mid=settings.mid,
        version=settings.api_version,
        base_url=request.host_url.rstrip("/"),
    )


def _status_changed(row: Any) -> None:
    runtime().webhooks.enqueue("PAYMENT_STATUS_CHANGED", _payment(row))


@bp.post("/v1/billing/authorizations/issue")
@toss_endpoint("billing_issue")
def issue_billing_key() -> tuple[int, Any]:
    rt = runtime()
    row = payments.issue_billing_key(rt.store, rt.clock.now(), json_body())
    return 200, render.billing_json(row, rt.settings.mid)


@bp.post("/v1/billing/<billing_key>")
@toss_endpoint("billing_charge")
def charge_billing_key(billing_key: str) -> tuple[int, Any]:
    rt = runtime()
    req = payments.parse_charge(json_body())
    row = payments.charge_billing_key(rt.store, rt.clock.now(), billing_key, req, fee_rate=rt.settings.fee_rate)
    return 200, _payment(row)  # Toss sends no webhook for a completed billing charge


@bp.delete("/v1/billing/<billing_key>")
@toss_endpoint("billing_delete")
def delete_billing_key(billing_key: str) -> tuple[int, Any]:
    rt = runtime()
    payments.delete_billing_key(rt.store, rt.clock.now(), billing_key)
    rt.webhooks.enqueue("BILLING_DELETED", {"billingKey": billing_key, "reason": "삭제 API 요청"})
    return 200, None


@bp.post("/v1/payments/confirm")
@toss_endpoint("confirm")
def confirm_payment() -> tuple[int, Any]:
    rt = runtime()
    body = json_body()
    try:
        row = payments.confirm_payment(rt.store, rt.clock.now(), body, fee_rate=rt.settings.fee_rate)
    except ApiError as error:
        if error.code != "ALREADY_PROCESSED_PAYMENT":
            _notify_if_settled(body.get("paymentKey"))
        raise
    _status_changed(row)
    return 200, _payment(row)


def _notify_if_settled(payment_key: Any) -> None:
    """A confirm that failed by aborting or expiring the payment is a status change too."""
    if not isinstance(payment_key, str):
        return
    try:
        row = payments.get_payment(runtime().store, payment_key)
    except ApiError:
        return
    if row["status"] in ("ABORTED", "EXPIRED") and row["type"] == "NORMAL":
        _status_changed(row)


@bp.get("/v1/payments/<payment_key>")
@toss_endpoint("payment_lookup")
def get_payment(payment_key: str) -> tuple[int, Any]:
    return 200, _payment(payments.get_payment(runtime().store, payment_key))


@bp.get("/v1/payments/orders/<order_id>")
@toss_endpoint("payment_lookup")
def get_payment_by_order(order_id: str) -> tuple[int, Any]:
    return 200, _payment(payments.get_payment_by_order(runtime().store, order_id))


@bp.post("/v1/payments/<payment_key>/cancel")
@toss_endpoint("cancel")
def cancel_payment(payment_key: str) -> tuple[int, Any]:
    rt = runtime()
    row = payments.cancel_payment(rt.store, rt.clock.now(), payment_key, json_body(), fee_rate=rt.settings.fee_rate)
    _status_changed(row)
    return 200, _payment(row)


# ---------------------------------------------------------------- 거래 조회, 정산 조회


@bp.get("/v1/transactions")
@toss_endpoint("transactions")
def list_transactions() -> tuple[int, Any]:
    rt = runtime()
    start = _moment("startDate")
    end = _moment("endDate", end_of_second=True)
    if end < start:
        raise ApiError("INVALID_REQUEST", "endDate는 startDate보다 빠를 수 없습니다.", "endDate is before startDate.")
    limit = _count("limit", reports.DEFAULT_LIMIT, reports.MAX_LIMIT)
    items = reports.transactions_between(rt.store, start, end)
    page = reports.page_after(items, request.args.get("startingAfter") or None, limit)
    if page is None:
        raise ApiError("INVALID_TRANSACTION_KEY")
    base_url = request.host_url.rstrip("/")
    return 200, [reports.transaction_json(t, mid=rt.settings.mid, base_url=base_url) for t in page]


@bp.get("/v1/settlements")
@toss_endpoint("settlements")
def list_settlements() -> tuple[int, Any]:
    rt = runtime()
    first, last = _day("startDate"), _day("endDate")
    if last < first:
        raise ApiError("INVALID_REQUEST", "endDate는 startDate보다 빠를 수 없습니다.", "endDate is before startDate.")
    by = request.args.get("dateType") or "soldDate"
    if by not in ("soldDate", "paidOutDate"):
        raise ApiError(
            "INVALID_REQUEST",
            "dateType은 soldDate 또는 paidOutDate입니다.",
            "dateType must be soldDate or paidOutDate.",
        )
    page = _count("page", 1, 1_000_000)
    size = _count("size", reports.DEFAULT_LIMIT, reports.MAX_LIMIT)
    settings = rt.settings
    rows = reports.settlements_between(
        rt.store, first, last, by=by, fee_rate=settings.fee_rate, payout_days=settings.payout_days
    )
    chunk = rows[(page - 1) * size : page * size]
    return 200, [reports.settlement_json(s, mid=settings.mid) for s in chunk]


def _moment(name: str, *, end_of_second: bool = False) -> datetime:
    """A query date-time, Korean time unless it carries an offset (Toss: 2022-01-01T00:00:00[.000])."""
    raw = request.args.get(name) or ""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            "INVALID_REQUEST",
            f"{name}는 yyyy-MM-ddTHH:mm:ss 형식이어야 합니다.",
            f"{name} must look like yyyy-MM-ddTHH:mm:ss.",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    if end_of_second and moment.microsecond == 0:
        moment += timedelta(microseconds=999_999)  # 23:59:59 covers the whole last second
    return moment


def _day(name: str) -> date:
    raw = request.args.get(name) or ""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            "INVALID_REQUEST", f"{name}는 yyyy-MM-dd 형식이어야 합니다.", f"{name} must look like yyyy-MM-dd."
        ) from None


def _count(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(
            "INVALID_REQUEST",
            f"{name}는 1 이상 {maximum:,} 이하의 정수여야 합니다.",
            f"{name} must be a whole number from 1 to {maximum}.",
        )
    return int(raw)
