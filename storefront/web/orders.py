"""One-time purchases: /buy/<plan_id>, the pay page, Toss's /payments/success and /payments/fail, order pages,
and 청약철회 of a paid order (/orders/<order_id>/withdraw: one confirmation, then a full refund once).

The views parse what the browser sent and call `storefront.billing.one_time.orders`; the money rules
(amount from the plan, one confirm per order, unknown outcomes settled by asking Toss) live
there. The pay page hands the order to static/js/payment.js through data-* attributes (no
inline script: the CSP stays strict), which calls the Toss SDK's ``requestPayment``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Mapping

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired

from storefront.billing.compliance import cooling_off
from storefront.billing.one_time import orders
from storefront.billing.recurring.subscriptions import ActionRefused
from storefront.extensions import client_ip, db, services
from storefront.models import Order, Plan
from storefront.web.auth.signin import account_user
from storefront.web.checkout.forms import ActionForm
from storefront.web.checkout.notices import enqueue_notices
from storefront.web.legal import REFUND_VERSION, TERMS_VERSION
from storefront.web.shop import active_plan_or_404

bp = Blueprint("orders", __name__)

# What an order's consent records as "the texts shown" (fits Consent.text_version, 40 characters).
CONSENT_VERSION = f"terms:{TERMS_VERSION};refund:{REFUND_VERSION}"
_CODE = re.compile(r"[A-Z0-9_]{1,64}")
_AMOUNT = re.compile(r"[0-9]{1,12}")
MAX_TOSS_MESSAGE = 200


class BuyForm(FlaskForm):
    agree = BooleanField(
        "(필수) 위 주문 내용(상품, 가격, 제공 방법 및 기간, "
        "청약철회 조건)을 확인했으며, 이용약관과 구매조건에 동의합니다.",
        validators=[DataRequired("주문 내용과 구매조건을 확인하고 동의해 주셔야 주문할 수 있습니다.")],
    )


@dataclass(frozen=True)
class SuccessParams:
    """Toss's success redirect: ?paymentType=NORMAL&orderId=...&paymentKey=...&amount=..."""

    order_id: str
    payment_key: str
    amount_won: int | None  # None when `amount` is not a whole number of won


def parse_success(args: Mapping[str, str]) -> SuccessParams | None:
    """The success URL's parameters, or None when orderId or paymentKey is missing or malformed."""
    order_id, payment_key = args.get("orderId", ""), args.get("paymentKey", "")
    if not orders.ORDER_ID_PATTERN.fullmatch(order_id):
        return None
    if not 1 <= len(payment_key) <= 200 or not payment_key.isprintable() or " " in payment_key:
        return None
    amount = args.get("amount", "")
    return SuccessParams(order_id, payment_key, int(amount) if _AMOUNT.fullmatch(amount) else None)


def _one_time_plan_or_404(plan_id: int) -> Plan:
    plan = active_plan_or_404(plan_id)
    if plan.interval != "once":
        abort(404)
    return plan


def _own_order_or_404(order_id: str) -> Order:
    order = orders.order_for_user(db.session(), order_id, current_user.id)
    if order is None:
        abort(404)  # someone else's order looks exactly like no order
    return order


@bp.route("/buy/<int:plan_id>", methods=["GET", "POST"])
def buy(plan_id: int):
    """Order summary and consent; POST creates the order at the plan's price and opens the pay page."""
    plan = _one_time_plan_or_404(plan_id)
    if not current_user.is_authenticated:
        return redirect(url_for("auth.signup", next=request.path))
    form = BuyForm()
    if form.validate_on_submit():
        order = orders.create_order(
            db.session(),
            user=account_user(),
            plan=plan,
            text_version=CONSENT_VERSION,
            ip=client_ip(),
            clock=services().clock,
        )
        pay_url = url_for(".pay", order_id=order.order_id)
        if request.accept_mimetypes.best == "application/json":
            # static/js/payment.js opens Toss's payment window with these at once; the pay page is the fallback
            return jsonify(pay_url=pay_url, toss=_payment_params(order))
        return redirect(pay_url)
    config = current_app.config["STOREFRONT"]
    return render_template("orders/buy.html", plan=plan, product=plan.product, form=form, sdk_url=config.toss_sdk_url)


@bp.get("/orders/<order_id>/pay")
@login_required
def pay(order_id: str):
    """The pay page: its button opens Toss's payment window for this order (static/js/payment.js)."""
    order = _own_order_or_404(order_id)
    if orders.current_state(db.session(), order, clock=services().clock).state != "pending":
        return redirect(url_for(".detail", order_id=order.order_id))
    config = current_app.config["STOREFRONT"]
    params = _payment_params(order)
    return render_template(
        "orders/pay.html",
        order=order,
        sdk_url=config.toss_sdk_url,
        client_key=params["client_key"],
        success_url=params["success_url"],
        fail_url=params["fail_url"],
    )


def _payment_params(order: Order) -> dict[str, str | int]:
    """What the SDK's requestPayment needs for this order (the server still confirms only its own amount)."""
    config = current_app.config["STOREFRONT"]
    return {
        "client_key": config.toss_client_key,
        "customer_key": current_user.customer_key,
        "amount": order.amount_won,
        "order_id": order.order_id,
        "order_name": order.order_name,
        "success_url": config.site_url + url_for(".payment_success"),
        "fail_url": config.site_url + url_for(".payment_fail", order=order.order_id),
        "customer_email": current_user.email,
        "customer_name": current_user.name,
    }


@bp.get("/orders/<order_id>")
@login_required
def detail(order_id: str):
    """The order's page: complete, failed, expired, or 확인 중 (asking Toss again when an answer was lost)."""
    order = _own_order_or_404(order_id)
    svc = services()
    outcome = orders.settle_order(db.session(), order, toss=svc.toss, notifier=svc.notifier, clock=svc.clock)
    if outcome.state == "pending":
        return redirect(url_for(".pay", order_id=order_id))
    return _render_outcome(outcome)


@bp.get("/orders/<order_id>/withdraw")
@login_required
def confirm_withdraw(order_id: str):
    """청약철회's one confirmation page for a paid order, or why it cannot be done here."""
    order = _own_order_or_404(order_id)
    cooling = cooling_off.for_order(db.session(), order, now=services().clock.now())
    return render_template(
        "cooling_off/confirm.html",
        cooling=cooling,
        product=order.plan.product,
        plan=order.plan,
        order=order,
        action=url_for(".withdraw", order_id=order.order_id),
        back=url_for(".detail", order_id=order.order_id),
        form=ActionForm(),
    )


@bp.post("/orders/<order_id>/withdraw")
@login_required
def withdraw(order_id: str):
    """청약철회 of a paid order: judged and refunded in full by the domain, once (a double click refunds once)."""
    order = _own_order_or_404(order_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    svc = services()
    try:
        result = cooling_off.withdraw_order(
            db.session(), user=account_user(), order_pk=order.id, toss=svc.toss, notifier=svc.notifier, clock=svc.clock
        )
    except ActionRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".detail", order_id=order_id))
    enqueue_notices(result.notice_ids)
    flash(result.message("주문을 취소했습니다."), "success" if result.refund_status == "done" else "info")
    return redirect(url_for(".detail", order_id=order_id))


@bp.get("/payments/success")
@login_required
def payment_success():
    """Toss's successUrl answers at once: a progress page whose form (sent by itself) confirms the payment.

    Nothing is confirmed here, so a reload or the back button is harmless: a settled order shows
    its outcome, one whose confirm is on the wire shows 확인 중.
    """
    order, _, refusal = _checked_success()
    if refusal is not None:
        return refusal
    svc = services()
    if orders.current_state(db.session(), order, clock=svc.clock).state == "pending":
        return render_template("orders/processing.html", order=order, form=ConfirmForm())
    # a reload: the outcome (an answer Toss's confirm lost is asked for again, as on the order page)
    return _render_outcome(
        orders.settle_order(db.session(), order, toss=svc.toss, notifier=svc.notifier, clock=svc.clock)
    )


@bp.post("/payments/success")
@login_required
def confirm_payment():
    """The progress page's follow-up: check the order and amount, then confirm once.

    A repeat settles what the first one started; it never pays again.
    """
    order, params, refusal = _checked_success()
    if refusal is not None:
        return refusal
    svc = services()
    try:
        outcome = orders.confirm_order(
            db.session(),
            order,
            payment_key=params.payment_key,
            amount_won=params.amount_won,
            toss=svc.toss,
            notifier=svc.notifier,
            clock=svc.clock,
        )
    except orders.AmountMismatch:
        return render_template("orders/refused.html", reason="amount", order=order), 400
    # Rendered here, not redirected: a lost answer shows 확인 중 without asking Toss again at once; a
    # re-sent POST is answered from the rows (confirm_order never confirms twice).
    return _render_outcome(outcome)


def _checked_success() -> tuple[Order | None, SuccessParams | None, tuple[str, int] | None]:
    """(order, params, None) for a well-formed success URL of the shopper's own order at its amount;
    else (None, None, the refusal page). Someone else's order answers 404 like an unknown one."""
    params = parse_success(request.args)
    if params is None:
        return None, None, (render_template("orders/refused.html", reason="params"), 400)
    order = _own_order_or_404(params.order_id)
    if params.amount_won is None or params.amount_won != order.amount_won:
        return None, None, (render_template("orders/refused.html", reason="amount", order=order), 400)
    return order, params, None


class ConfirmForm(FlaskForm):
    """The progress page's form: CSRF only."""


@bp.get("/payments/fail")
def payment_fail():
    """Toss's failUrl (?code&message[&orderId]; ours adds ?order=): nothing was paid; say why and what next."""
    code = request.args.get("code", "")
    code = code if _CODE.fullmatch(code) else "UNKNOWN_ERROR"
    toss_message = " ".join(request.args.get("message", "").split())[:MAX_TOSS_MESSAGE]
    order = None
    if current_user.is_authenticated:
        order_id = request.args.get("orderId") or request.args.get("order")
        order = orders.order_for_user(db.session(), order_id, current_user.id)
    can_retry = (
        order is not None and orders.current_state(db.session(), order, clock=services().clock).state == "pending"
    )
    return render_template(
        "orders/payment_fail.html",
        code=code,
        toss_message=toss_message,
        explanation=orders.failure_message(code),
        order=order,
        can_retry=can_retry,
    )


def _render_outcome(outcome: orders.OrderOutcome):
    order = db.session.get_one(Order, outcome.order_pk)
    if outcome.state in ("paid", "canceled"):
        return render_template(
            "orders/complete.html",
            order=order,
            refunded_won=orders.refunded_won(db.session(), order),
            attempt=orders.confirm_attempt(order),
            cooling=cooling_off.for_order(db.session(), order, now=services().clock.now()),
        )
    if outcome.state in ("checking", "pending"):
        return render_template("orders/checking.html", order=order)
    return render_template("orders/failed.html", order=order, message=outcome.message)
