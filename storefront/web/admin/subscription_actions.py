"""Admin actions on one subscription, each behind a confirmation page.

``GET /admin/subscriptions/<id>/actions/<name>`` says what the action will do (amounts,
dates, what the shopper is told); its button POSTs (CSRF) to the same URL, which records the
admin and IP (`admin_actions.record`, committed with the change) and calls the same domain
function the shopper's button calls (see `billing.recurring.admin_actions`). A refusal (the state
changed meanwhile) is flashed and changes nothing.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from storefront.billing.recurring import admin_actions, charging, checkout, subscriptions
from storefront.billing.compliance import consent
from storefront.billing.recurring.settlement import ChargeResult
from storefront.billing.recurring.subscriptions import ActionRefused
from storefront.billing.wallet.vault import Actor
from storefront.extensions import client_ip, db, services
from storefront.models import Subscription
from storefront.web.admin.forms import ActionForm
from storefront.web.admin.views import admin_required, bp
from storefront.web.checkout.notices import enqueue_notices
from storefront.formatting import kst_date, won


def _subscription_or_404(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        abort(404)
    return sub


def _back(sub: Subscription):
    return redirect(url_for(".subscription", subscription_id=sub.id, _anchor="actions"))


@bp.route("/subscriptions/<int:subscription_id>/actions/<name>", methods=["GET", "POST"])
@admin_required
def subscription_action(subscription_id: int, name: str):
    if name not in admin_actions.ACTIONS:
        abort(404)
    sub = _subscription_or_404(subscription_id)
    svc = services()
    if name not in admin_actions.available_actions(db.session(), sub, now=svc.clock.now()):
        flash("지금 이 구독에는 할 수 없는 조치입니다. 구독 상태를 다시 확인해 주세요.", "error")
        return _back(sub)
    form = ActionForm()
    if not form.validate_on_submit():
        return render_template(
            "admin/subscription_action.html",
            sub=sub,
            name=name,
            label=admin_actions.ACTIONS[name][1],
            form=form,
            offer=subscriptions.refund_offer(db.session(), sub, now=svc.clock.now()),
            access_until=consent.access_until(sub),
        ), 400 if form.is_submitted() else 200
    actor = Actor("admin", current_user.id, client_ip())
    admin_actions.record(db.session(), name, sub, actor=actor, now=svc.clock.now())
    try:
        category, message = PERFORM[name](sub, actor)
    except ActionRefused as exc:
        db.session.rollback()
        category, message = "error", exc.message
    flash(message, category)
    return redirect(url_for(".subscription", subscription_id=subscription_id, _anchor="actions"))


def _deps() -> dict:
    svc = services()
    return dict(
        toss=svc.toss, vault=svc.vault, notifier=svc.notifier, clock=svc.clock, config=current_app.config["STOREFRONT"]
    )


def _retry(sub: Subscription, actor: Actor) -> tuple[str, str]:
    if sub.status == "incomplete":
        result = checkout.retry_first_charge(
            db.session(), user=sub.user, subscription_id=sub.id, ip=actor.ip, actor=actor, **_deps()
        )
    else:  # past due: charge the unpaid period now, as after a card change; the dunning schedule goes on
        result = charging.retry_after_card_change(db.session(), sub.id, actor=actor, customer_ip=None, **_deps())
    return charge_message(result)


def charge_message(result: ChargeResult) -> tuple[str, str]:
    if result.paid:
        return "success", "결제가 완료되었습니다. 구독이 이용 중으로 바뀌고 영수증이 발송됩니다."
    if result.outcome == "declined":
        return "error", f"카드사가 결제를 거절했습니다: {result.error_message or result.error_code}"
    if result.outcome == "retry":
        when = f" {kst_date(result.retry_at)}에 자동으로 다시 시도합니다." if result.retry_at else ""
        return "error", f"토스페이먼츠 쪽 일시적인 문제로 결제하지 못했습니다.{when}"
    if result.outcome in ("unknown", "in_flight"):
        return "info", "결제 결과를 확인하는 중입니다. 다시 시도하지 말고 잠시 뒤 결제 시도 화면에서 확인해 주세요."
    if result.outcome == "ended":
        return "info", "결제 대신 구독이 종료되었습니다 (해지 예정이었거나 가격 변경에 동의하지 않은 구독)."
    return "info", "재시도할 미결제 기간이 없습니다."


def _resend(sub: Subscription, actor: Actor) -> tuple[str, str]:
    deps = _deps()
    sent = admin_actions.resend_card_change_notice(
        db.session(), subscription_id=sub.id, notifier=deps["notifier"], clock=deps["clock"], config=deps["config"]
    )
    enqueue_notices(sent.notice_ids)
    return "success", f"{sub.user.email}에게 결제 실패·카드 변경 안내를 다시 보냈습니다."


def _cancel_at_period_end(sub: Subscription, actor: Actor) -> tuple[str, str]:
    result = subscriptions.cancel_subscription(
        db.session(), user=sub.user, subscription_id=sub.id, ip=actor.ip, actor=actor, **_deps()
    )
    enqueue_notices(result.notice_ids)
    if result.already:
        return "info", "이미 기간 만료 시 해지로 설정된 구독입니다."
    if result.ended_now:
        return "success", "결제되지 않은 구독이라 바로 종료했습니다."
    return (
        "success",
        f"기간 만료 시 해지로 설정했습니다. {kst_date(result.access_until)}까지 이용하고 더 결제되지 않습니다.",
    )


def _resume(sub: Subscription, actor: Actor) -> tuple[str, str]:
    deps = _deps()
    resumed = subscriptions.resume_subscription(
        db.session(), user=sub.user, subscription_id=sub.id, notifier=deps["notifier"], clock=deps["clock"]
    )
    return "success", f"해지를 취소했습니다. 다음 결제일은 {kst_date(resumed.next_charge_at)}입니다."


def _cancel_now_refund(sub: Subscription, actor: Actor) -> tuple[str, str]:
    result = subscriptions.cancel_now_with_refund(
        db.session(), user=sub.user, subscription_id=sub.id, ip=actor.ip, actor=actor, **_deps()
    )
    enqueue_notices(result.notice_ids)
    if result.refund_status is None:
        return "success", "구독을 바로 종료했습니다. 남은 이용 기간이 없어 환불할 금액은 없습니다."
    if result.refund_status == "done":
        return "success", f"구독을 바로 종료하고 남은 기간의 요금 {won(result.refund_won)}을 환불했습니다."
    return "error", (
        f"구독은 종료했지만 환불 {won(result.refund_won)}의 결과를 아직 확인하지 못했습니다 "
        f"({result.refund_status}). 환불 화면에서 확인해 주세요."
    )


def _cancel_now(sub: Subscription, actor: Actor) -> tuple[str, str]:
    deps = _deps()
    result = admin_actions.end_now(
        db.session(),
        subscription_id=sub.id,
        actor=actor,
        toss=deps["toss"],
        vault=deps["vault"],
        notifier=deps["notifier"],
        clock=deps["clock"],
    )
    enqueue_notices(result.notice_ids)
    return "success", "구독을 바로 종료했습니다 (환불 없음). 더 이상 결제되지 않습니다."


PERFORM = {
    "retry": _retry,
    "resend_card_notice": _resend,
    "cancel_at_period_end": _cancel_at_period_end,
    "resume": _resume,
    "cancel_now_refund": _cancel_now_refund,
    "cancel_now": _cancel_now,
}
