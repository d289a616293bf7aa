"""`/_sandbox/*`: what tests, benchmarks and demos use to look inside and steer the sandbox.

None of these exist at Toss. They are never slowed down or failed by the fault settings,
and need no key (the sandbox listens on 127.0.0.1 only). Errors use Toss's error shape
with code INVALID_REQUEST.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, render_template, request

from . import payments
from .render import kst
from .store import parse_iso
from .cards import TEST_CARDS
from .errors import ApiError, accepts_test_code
from .pipeline import error_response, json_response, runtime
from .settings import SettingsError

bp = Blueprint("sandbox_control", __name__)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST", "요청 본문은 JSON 객체여야 합니다.")
    return body


@bp.errorhandler(ApiError)
def api_error(error: ApiError) -> Response:
    return error_response(error)


@bp.get("/")
def index() -> str:
    return render_template("sandbox/index.html", cards=[(number, b.label) for number, b in TEST_CARDS.items()])


@bp.get("/_sandbox/ledger")
def ledger() -> Response:
    entries = []
    for row, cancels in payments.ledger(runtime().store):
        entries.append(
            {
                "orderId": row["order_id"],
                "paymentKey": row["payment_key"],
                "billingKey": row["billing_key"],
                "customerKey": row["customer_key"],
                "type": row["type"],
                "amount": row["total_amount"],
                "balanceAmount": row["balance_amount"],
                "status": row["status"],
                "approvedAt": kst(parse_iso(row["approved_at"])),
                "cancels": [
                    {
                        "transactionKey": c["transaction_key"],
                        "cancelAmount": c["cancel_amount"],
                        "cancelReason": c["cancel_reason"],
                        "canceledAt": kst(parse_iso(c["canceled_at"])),
                    }
                    for c in cancels
                ],
            }
        )
    return json_response(200, entries)


@bp.get("/_sandbox/settings")
def get_settings() -> Response:
    return json_response(200, runtime().settings.public())


@bp.post("/_sandbox/settings")
def change_settings() -> Response:
    try:
        settings = runtime().update_settings(_body())
    except SettingsError as exc:
        raise ApiError("INVALID_REQUEST", str(exc)) from None
    return json_response(200, settings.public())


@bp.post("/_sandbox/billing-keys/outcome")
def billing_key_outcome() -> Response:
    """{"customerKey" | "billingKey", "code": CODE | null, "useCard": bool}: steer later charges."""
    body = _body()
    customer_key, billing_key = body.get("customerKey"), body.get("billingKey")
    if not (isinstance(customer_key, str) or isinstance(billing_key, str)):
        raise ApiError("INVALID_REQUEST", "customerKey 또는 billingKey가 필요합니다.")
    code = body.get("code")
    if code is not None and (not isinstance(code, str) or not accepts_test_code("billing_charge", code)):
        raise ApiError("INVALID_REQUEST", f"자동결제 승인이 답할 수 없는 오류 코드입니다: {code}")
    changed = payments.set_outcome(
        runtime().store,
        code=code,
        customer_key=customer_key,
        billing_key=billing_key,
        use_card=bool(body.get("useCard")),
    )
    if not changed:
        raise ApiError("NOT_FOUND_BILLING")
    return json_response(200, {"updated": changed, "code": code, "useCard": bool(body.get("useCard"))})


@bp.get("/_sandbox/webhooks")
def webhooks() -> Response:
    return json_response(200, runtime().webhooks.listing())


@bp.post("/_sandbox/webhooks/flush")
def flush_webhooks() -> Response:
    """Deliver every webhook due now (or all pending with {"ignoreSchedule": true}); then list them."""
    rt = runtime()
    attempted = rt.webhooks.deliver_due(ignore_schedule=bool(_body().get("ignoreSchedule")))
    return json_response(200, {"attempted": attempted, "webhooks": rt.webhooks.listing()})


@bp.get("/_sandbox/clock")
def get_clock() -> Response:
    return json_response(200, {"now": runtime().clock.now().isoformat()})


@bp.post("/_sandbox/clock")
def move_clock() -> Response:
    """{"advanceSeconds": n} or {"now": ISO-8601 with offset}: move the sandbox's time."""
    body, clock = _body(), runtime().clock
    if "advanceSeconds" in body:
        seconds = body["advanceSeconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ApiError("INVALID_REQUEST", "advanceSeconds는 숫자여야 합니다.")
        now = clock.advance(seconds)
    elif isinstance(body.get("now"), str):
        try:
            target = datetime.fromisoformat(body["now"])
        except ValueError:
            raise ApiError("INVALID_REQUEST", "now는 ISO 8601 시각이어야 합니다.") from None
        if target.tzinfo is None:
            raise ApiError("INVALID_REQUEST", "now에는 시간대(+09:00 등)가 필요합니다.")
        now = clock.set(target)
    else:
        raise ApiError("INVALID_REQUEST", "advanceSeconds 또는 now가 필요합니다.")
    return json_response(200, {"now": now.isoformat()})
