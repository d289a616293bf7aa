"""Toss's core API as the store calls it: billing keys, billing charges, payments, cancels.

Each view parses, calls one function of `payments`, queues the webhooks Toss would send
and returns (status, body); `pipeline.toss_endpoint` adds auth, idempotency and faults.
Paths, field names, status codes and error bodies follow toss-api.md §2–§6. Flask has
already percent-decoded the billing key in the path (`%3D` → `=`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from . import payments, render
from .errors import ApiError
from .pipeline import json_body, runtime, toss_endpoint

bp = Blueprint("sandbox_api", __name__)


def _payment(row: Any) -> dict[str, Any]:
    rt = runtime()
    settings = rt.settings
    return render.payment_json(
        row, payments.cancels_of(rt.store, row["payment_key"]),
        mid=settings.mid, version=settings.api_version, base_url=request.host_url.rstrip("/"),
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
    row = payments.charge_billing_key(rt.store, rt.clock.now(), billing_key, req)
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
        row = payments.confirm_payment(rt.store, rt.clock.now(), body)
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
    row = payments.cancel_payment(rt.store, rt.clock.now(), payment_key, json_body())
    _status_changed(row)
    return 200, _payment(row)
