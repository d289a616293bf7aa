"""What the shopper's browser sees: the SDK stub, the card window and receipts.

`/v2/standard` serves a stand-in for Toss's JS SDK v2 that sends the browser to
`/_sandbox/window/billing` or `/_sandbox/window/payment`. The window is a plain HTML form
(no script) that re-checks every parameter the SDK checked, so a hand-made URL gets the
same errors. On success the browser is redirected (303) to successUrl with Toss's query
parameters, keeping any query successUrl already had; on cancel or a refused card, to
failUrl with `code` and `message` (and `orderId` for payments, except on cancel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, redirect, render_template, request, send_from_directory, url_for
from werkzeug.wrappers import Response  # what redirect() returns; Flask's Response is a subclass

from . import payments
from .clock import KST
from .render import APPROVED_STATUSES, kst
from .cards import TEST_CARDS, behaviour_of, card_info, parse_birth, parse_expiry, parse_number
from .errors import ApiError, message_of
from .pipeline import runtime
from .store import parse_iso

bp = Blueprint("sandbox_window", __name__)

ANONYMOUS = "@@ANONYMOUS"
SDK_CUSTOMER_KEY_MAX = 50


class WindowError(Exception):
    """Parameters the real SDK would have refused; shown on the window's error page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class WindowRequest:
    kind: str  # "billing" | "payment"
    params: dict[str, str]
    customer_key: str | None
    success_url: str
    fail_url: str
    order_id: str | None = None
    order_name: str | None = None
    amount: int | None = None


@bp.get("/v2/standard")
def sdk() -> Response:
    response = send_from_directory(bp.root_path + "/static", "sdk.js", mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/_sandbox/window/<kind>")
def window(kind: str) -> Response | str | tuple[str, int]:
    _kind_or_404(kind)
    try:
        req = parse_window(kind, request.args)
    except WindowError as error:
        return _error_page(error)
    return render_template("sandbox/window.html", req=req, errors={}, values={}, cards=_card_help())


@bp.post("/_sandbox/window/<kind>")
def submit(kind: str) -> Response | str | tuple[str, int]:
    _kind_or_404(kind)
    try:
        req = parse_window(kind, request.form)
    except WindowError as error:
        return _error_page(error)
    if request.form.get("action") == "cancel":
        return _fail(req, "PAY_PROCESS_CANCELED", with_order=False)
    number, errors = _read_card(request.form)
    if errors:
        values = {k: request.form.get(k, "") for k in ("cardNumber", "expiry", "birth")}
        return render_template("sandbox/window.html", req=req, errors=errors, values=values, cards=_card_help()), 400
    refusal = behaviour_of(number).registration_error
    if refusal:
        return _fail(req, refusal)
    return _approve_billing(req, number) if kind == "billing" else _authenticate_payment(req, number)


def _kind_or_404(kind: str) -> None:
    if kind not in ("billing", "payment"):
        abort(404)


def _approve_billing(req: WindowRequest, number: str) -> Response:
    rt = runtime()
    auth_key = payments.create_auth_key(rt.store, rt.clock.now(), req.customer_key or "", number)
    return _redirect(req.success_url, {"customerKey": req.customer_key or "", "authKey": auth_key})


def _authenticate_payment(req: WindowRequest, number: str) -> Response:
    rt = runtime()
    try:
        payment_key = payments.open_payment(
            rt.store,
            rt.clock.now(),
            order_id=req.order_id or "",
            order_name=req.order_name or "",
            amount=req.amount or 0,
            card_number=number,
            customer_key=None if req.customer_key in (None, ANONYMOUS) else req.customer_key,
            customer_email=req.params.get("customerEmail") or None,
            customer_name=req.params.get("customerName") or None,
        )
    except ApiError as error:
        return _fail(req, error.code)
    return _redirect(
        req.success_url,
        {"paymentType": "NORMAL", "orderId": req.order_id or "", "paymentKey": payment_key, "amount": str(req.amount)},
    )


def _fail(req: WindowRequest, code: str, *, with_order: bool = True) -> Response:
    params = {"code": code, "message": message_of(code)}
    if with_order and req.order_id:
        params["orderId"] = req.order_id
    return _redirect(req.fail_url, params)


def _redirect(url: str, params: dict[str, str]) -> Response:
    """`url` with `params` appended to whatever query it already carries."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return redirect(urlunsplit(parts._replace(query=urlencode(query))), code=303)


def _read_card(form: Any) -> tuple[str, dict[str, str]]:
    errors: dict[str, str] = {}
    number = parse_number(form.get("cardNumber", ""))
    if number is None:
        errors["cardNumber"] = "카드번호 15~16자리를 입력해 주세요."
    expiry = parse_expiry(form.get("expiry", ""), runtime().clock.now().astimezone(KST).date())
    if isinstance(expiry, str):
        errors["expiry"] = expiry
    if parse_birth(form.get("birth", "")) is None:
        errors["birth"] = "생년월일 6자리(YYMMDD) 또는 사업자등록번호 10자리를 입력해 주세요."
    return number or "", errors


def _error_page(error: WindowError) -> tuple[str, int]:
    return render_template("sandbox/error.html", error=error), 400


def _card_help() -> list[tuple[str, str]]:
    return [(number, behaviour.label) for number, behaviour in TEST_CARDS.items()]


# ---------------------------------------------------------------- parameter checks (as the SDK)


def parse_window(kind: str, args: Any) -> WindowRequest:
    settings = runtime().settings
    params = {k: v for k, v in args.items() if k != "action" and k not in ("cardNumber", "expiry", "birth")}
    if args.get("clientKey") != settings.client_key:
        raise WindowError("UNAUTHORIZED_KEY", message_of("UNAUTHORIZED_KEY"))
    customer_key = _sdk_customer_key(args.get("customerKey"), required=kind == "billing")
    success_url = _absolute(args.get("successUrl"), "INCORRECT_SUCCESS_URL_FORMAT", "successUrl")
    fail_url = _absolute(args.get("failUrl"), "INCORRECT_FAIL_URL_FORMAT", "failUrl")
    if kind == "billing":
        if args.get("method", "CARD") != "CARD":
            raise WindowError("NOT_SUPPORTED_METHOD", message_of("NOT_SUPPORTED_METHOD"))
        return WindowRequest(kind, params, customer_key, success_url, fail_url)
    if args.get("method") != "CARD":
        raise WindowError("NOT_SUPPORTED_METHOD", "샌드박스는 카드(CARD) 결제만 지원합니다.")
    if args.get("currency", "KRW") != "KRW":
        raise WindowError("INVALID_AMOUNT_CURRENCY", "통화는 KRW만 사용할 수 있습니다.")
    try:
        amount = payments.check_amount(args.get("amount"))
        order_id = payments.check_order_id(args.get("orderId"))
        order_name = payments.check_order_name(args.get("orderName"))
    except ApiError as error:
        raise WindowError(error.code, error.message) from None
    return WindowRequest(kind, params, customer_key, success_url, fail_url, order_id, order_name, amount)


def _sdk_customer_key(value: str | None, *, required: bool) -> str | None:
    if value in (None, "") and not required:
        return None
    if value == ANONYMOUS and not required:
        return value
    if not value or len(value) > SDK_CUSTOMER_KEY_MAX or not payments.CUSTOMER_KEY.match(value):
        raise WindowError(
            "INVALID_CUSTOMER_KEY", "customerKey는 2자 이상 50자 이하의 영문, 숫자, -, _, =, ., @ 만 쓸 수 있습니다."
        )
    return value


def _absolute(value: str | None, code: str, name: str) -> str:
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WindowError(code, f"{name}는 http:// 또는 https:// 로 시작하는 전체 주소여야 합니다.")
    return value or ""


# ---------------------------------------------------------------- receipts


@bp.get("/_sandbox/receipts/<payment_key>")
def receipt(payment_key: str) -> str:
    store = runtime().store
    try:
        row = payments.get_payment(store, payment_key)
    except ApiError:
        abort(404)
    if row["status"] not in APPROVED_STATUSES:
        abort(404)
    cancels = payments.cancels_of(store, payment_key)
    return render_template(
        "sandbox/receipt.html",
        payment=row,
        card=card_info(row["card_number"]),
        cancels=cancels,
        approved_at=kst(parse_iso(row["approved_at"])),
        mid=runtime().settings.mid,
        kst=kst,
        parse_iso=parse_iso,
        vat=(row["total_amount"] - row["tax_free_amount"] + 5) // 11,
    )


@bp.get("/_sandbox/checkout/<payment_key>")
def checkout(payment_key: str) -> Response:
    return redirect(url_for("sandbox_window.receipt", payment_key=payment_key))
