"""Checkout pages: the order summary with consents, the page that opens Toss's card window, Toss's redirects.

Views parse the request, call one function of `billing.recurring.checkout`, and render or redirect.
What is charged is decided server-side from the CheckoutIntent; query parameters such as
``amount`` or ``plan`` on the redirect are never read.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storefront.billing.recurring import checkout
from storefront.billing.wallet.cards import registration_failure_reason
from storefront.billing.recurring.subscriptions import ActionRefused
from storefront.extensions import client_ip, db, services
from storefront.models import Plan, Subscription
from storefront.web.auth.signin import account_user
from storefront.web.checkout.forms import ActionForm, CheckoutForm
from storefront.web.checkout.notices import enqueue_notices
from storefront.web.legal import TERMS_VERSION

bp = Blueprint("checkout", __name__)

REFUSAL_STATUS = {
    "not_signed_in": 401,
    "bad_request": 400,
    "customer_mismatch": 403,
    "unknown_intent": 404,
    "used": 409,
    "expired": 410,
    "replayed": 409,
    "already_subscribed": 409,
    "subscription_ended": 409,
    "card_failed": 422,
}


def _config():
    return current_app.config["STOREFRONT"]


def _plan_or_404(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if not checkout.subscribable(plan):
        abort(404)
    return plan


def _own_subscription_or_404(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None or sub.user_id != current_user.id:
        abort(404)
    return sub


def _absolute(endpoint: str, **values) -> str:
    base = _config().site_url or request.host_url
    return base.rstrip("/") + url_for(endpoint, **values)


def _render_order(plan: Plan, form: CheckoutForm, status: int = 200, error: str | None = None):
    summary = checkout.order_summary(plan, now=services().clock.now(), billing_hour_kst=_config().billing_hour_kst)
    existing = checkout.blocking_subscription(db.session(), current_user.id, plan.product_id)
    return render_template(
        "checkout/subscribe.html",
        plan=plan,
        summary=summary,
        form=form,
        existing=existing,
        error=error,
        billing_hour=_config().billing_hour_kst,
        ask_phone=needs_phone(plan),
        sdk_url=_config().toss_sdk_url,
    ), status


def needs_phone(plan: Plan) -> bool:
    """A free trial needs a mobile number on the account for the 7-day conversion notice by SMS."""
    return bool(plan.trial_days) and not current_user.phone


def _phone_for_trial(plan: Plan, form: CheckoutForm) -> bool:
    if not needs_phone(plan):
        return True
    if not form.phone.data:
        form.phone.errors = [
            *form.phone.errors,
            "무료 체험은 유료 전환 7일 전에 문자로 안내해 드려야 해서 휴대전화 번호가 필요합니다.",
        ]
        return False
    account_user().phone = form.phone.data.replace("-", "")
    return True


@bp.get("/subscribe/<int:plan_id>")
def subscribe(plan_id: int):
    plan = _plan_or_404(plan_id)
    if not current_user.is_authenticated:
        return redirect(url_for("auth.signup", next=request.path))
    return _render_order(plan, CheckoutForm())


@bp.post("/subscribe/<int:plan_id>")
@login_required
def start_checkout(plan_id: int):
    plan = _plan_or_404(plan_id)
    form = CheckoutForm()
    if not form.validate_on_submit() or not _phone_for_trial(plan, form):
        return _render_order(plan, form, 400)
    try:
        intent = checkout.begin_checkout(
            db.session(),
            user=account_user(),
            plan_id=plan.id,
            ip=client_ip(),
            now=services().clock.now(),
            terms_version=TERMS_VERSION,
            billing_hour_kst=_config().billing_hour_kst,
        )
    except ActionRefused as exc:
        db.session.rollback()
        return _render_order(plan, form, 409, error=exc.message)
    card_url = url_for("checkout.card", intent=intent.token)
    if _wants_json():
        # static/js/checkout.js opens Toss's window with these at once; /billing/card is the fallback
        return jsonify(card_url=card_url, toss=_toss_params(intent))
    return redirect(card_url)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _toss_params(intent) -> dict[str, str]:
    """What the SDK's requestBillingAuth needs for this intent (no secret: the client key is public)."""
    config = _config()
    return {
        "client_key": config.toss_client_key,
        "customer_key": current_user.customer_key,
        "customer_email": current_user.email,
        "customer_name": current_user.name,
        "success_url": _absolute("checkout.billing_success", intent=intent.token),
        "fail_url": _absolute("checkout.billing_fail", intent=intent.token),
    }


@bp.get("/billing/card")
@login_required
def card():
    token = request.args.get("intent", "")
    intent = checkout.usable_intent(db.session(), user=account_user(), token=token, now=services().clock.now())
    if intent is None:
        flash("카드 등록 요청이 만료되었거나 이미 사용되었습니다. 다시 시도해 주세요.", "error")
        return redirect(url_for("account.overview"))
    config = _config()
    plan = db.session.get(Plan, intent.plan_id) if intent.plan_id else None
    summary = (
        checkout.order_summary(plan, now=services().clock.now(), billing_hour_kst=config.billing_hour_kst)
        if plan is not None and intent.purpose == "subscribe"
        else None
    )
    subscription = db.session.get(Subscription, intent.subscription_id) if intent.subscription_id else None
    toss = {"sdk_url": config.toss_sdk_url, **_toss_params(intent)}
    return render_template(
        "checkout/card.html", intent=intent, plan=plan, summary=summary, subscription=subscription, toss=toss
    )


@bp.get("/billing/success")
def billing_success():
    """Toss's successUrl answers at once: a progress page whose form (sent by itself) does the slow part.

    Nothing is claimed or charged here, so a reload or the back button is harmless. An intent
    already settled leads to its result; one still being worked on shows the waiting page.
    """
    if not current_user.is_authenticated:
        return _refused(checkout.CheckoutRefused("not_signed_in"))
    args = request.args
    try:
        intent = checkout.check_redirect(
            db.session(),
            user=account_user(),
            token=args.get("intent", ""),
            customer_key=args.get("customerKey", ""),
            auth_key=args.get("authKey", ""),
            now=services().clock.now(),
        )
    except checkout.CheckoutRefused as exc:
        return _after_used(exc) or _refused(exc)
    plan = db.session.get(Plan, intent.plan_id) if intent.plan_id else None
    return render_template("checkout/processing.html", intent=intent, plan=plan, waiting=False, form=ActionForm())


@bp.post("/billing/success")
def settle_billing_auth():
    """The progress page's follow-up: register the card, then start the subscription (first charge) or swap it.

    The intent is claimed once (`billing.recurring.checkout.claim_intent`), so a double click or a second
    tab never reaches Toss twice; the loser is sent back to the waiting page.
    """
    if not current_user.is_authenticated:
        return _refused(checkout.CheckoutRefused("not_signed_in"))
    found = services()
    args = request.args
    try:
        result = checkout.complete_billing_auth(
            db.session(),
            user=account_user(),
            token=args.get("intent", ""),
            customer_key=args.get("customerKey", ""),
            auth_key=args.get("authKey", ""),
            toss=found.toss,
            vault=found.vault,
            notifier=found.notifier,
            clock=found.clock,
            config=_config(),
            ip=client_ip(),
        )
    except checkout.CheckoutRefused as exc:
        db.session.rollback()
        if exc.reason == "used":
            return redirect(request.full_path, 303)
        return _refused(exc)
    enqueue_notices(result.notice_ids)
    if result.first_charge:
        return redirect(url_for("checkout.result", subscription_id=result.subscription_id))
    flash(*_card_changed_message(result))
    return redirect(url_for("account.overview"))


def _after_used(exc: checkout.CheckoutRefused):
    """Where a reload of the success URL goes once its intent was claimed (None: show the refusal)."""
    if exc.reason != "used":
        return None
    if exc.pending:
        return render_template("checkout/processing.html", intent=None, plan=None, waiting=True, form=ActionForm())
    if exc.subscription_id:
        return redirect(url_for("checkout.result", subscription_id=exc.subscription_id))
    return None


def _card_changed_message(result: checkout.AuthResult) -> tuple[str, str]:
    """The flash after a card change: (message, category)."""
    charge = result.charge
    if charge is None or charge.outcome == "skipped":
        return "결제 카드가 변경되었습니다. 다음 결제부터 새 카드로 결제됩니다.", "success"
    if charge.paid:
        return "결제 카드가 변경되었고, 밀린 결제가 새 카드로 완료되었습니다.", "success"
    if charge.outcome in ("unknown", "in_flight"):
        return "결제 카드가 변경되었습니다. 밀린 결제의 결과를 확인하고 있으니 잠시 후 다시 확인해 주세요.", "info"
    reason = charge.error_message or "결제가 승인되지 않았습니다."
    return f"결제 카드는 변경되었지만 밀린 결제는 승인되지 않았습니다: {reason}", "error"


def _refused(exc: checkout.CheckoutRefused):
    plan = db.session.get(Plan, exc.plan_id) if exc.plan_id else None
    return render_template("checkout/refused.html", refusal=exc, plan=plan), REFUSAL_STATUS.get(exc.reason, 400)


@bp.get("/billing/fail")
def billing_fail():
    code = request.args.get("code", "")[:64]
    message = request.args.get("message", "")[:300]
    intent = None
    if current_user.is_authenticated:
        intent = checkout.usable_intent(
            db.session(), user=account_user(), token=request.args.get("intent", ""), now=services().clock.now()
        )
    retry_url = url_for("checkout.card", intent=intent.token) if intent is not None else url_for("account.overview")
    canceled = code in ("PAY_PROCESS_CANCELED", "USER_CANCEL")
    return render_template(
        "checkout/fail.html",
        code=code,
        toss_message=message,
        canceled=canceled,
        explanation=registration_failure_reason(code),
        intent=intent,
        retry_url=retry_url,
    )


@bp.get("/billing/result/<int:subscription_id>")
@login_required
def result(subscription_id: int):
    sub = _own_subscription_or_404(subscription_id)
    outcome = checkout.checkout_outcome(db.session(), sub)
    return render_template("checkout/result.html", outcome=outcome, sub=sub, form=ActionForm())


@bp.post("/billing/retry/<int:subscription_id>")
@login_required
def retry(subscription_id: int):
    sub = _own_subscription_or_404(subscription_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    found = services()
    try:
        checkout.retry_first_charge(
            db.session(),
            user=account_user(),
            subscription_id=sub.id,
            toss=found.toss,
            vault=found.vault,
            notifier=found.notifier,
            clock=found.clock,
            config=_config(),
            ip=client_ip(),
        )
    except ActionRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("checkout.result", subscription_id=sub.id))
