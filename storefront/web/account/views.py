"""내 구독 (/account): status, card, next charge and receipts; cancel, end now with a refund, 청약철회 (withdraw
within the window for a full refund), resume, change card, change plan; 회원탈퇴 (/account/delete).

Every change is a POST with CSRF that calls one function of `billing.recurring.subscriptions` (or
`billing.compliance.cooling_off`, or `billing.recurring.checkout` to open the card window); a refusal is shown as a
message and changes nothing. Cancelling or withdrawing takes one confirmation page, no more.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storefront.billing.recurring import checkout, statuses, subscriptions
from storefront.billing.compliance import consent, cooling_off, withdrawal
from storefront.billing.refunding import refund_notices
from storefront.billing.recurring.subscriptions import ActionRefused
from storefront.extensions import client_ip, db, services
from storefront.models import Subscription
from storefront.web.account import audit, queries
from storefront.web.account.forms import ChangePlanForm, DeleteAccountForm
from storefront.web.auth.signin import account_user, sign_out
from storefront.web.checkout.forms import ActionForm
from storefront.web.checkout.notices import enqueue_notices
from storefront.formatting import kst_date
from storefront.web.legal import TERMS_VERSION

bp = Blueprint("account", __name__, url_prefix="/account")


def _config():
    return current_app.config["STOREFRONT"]


def _own_or_404(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None or sub.user_id != current_user.id:
        abort(404)
    return sub


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.get("")
@login_required
def overview():
    now = services().clock.now()
    session = db.session()
    # The live subscriptions' current periods come with them, shared by the 청약철회 rule and the refund line.
    subs, change_waiting, current = queries.subscriptions_of(session, current_user.id, now=now)
    withdrawable = {
        sub_id: offer
        for sub_id, offer in cooling_off.for_subscriptions(session, subs, now=now, current=current).items()
        if offer.allowed
    }
    # 해지 예정 outside the 청약철회 window: 바로 해지하고 환불받기 only when ending now refunds (judged from the
    # current periods read above, with no statement of its own)
    refundable_now = {
        sub.id
        for sub in subs
        if sub.cancel_at_period_end
        and sub.id not in withdrawable
        and subscriptions.refund_offer_from(sub, current.get(sub.id), now=now) is not None
    }
    payments = queries.payments_of(session, current_user.id, limit=queries.PAYMENTS_ON_OVERVIEW + 1)
    return render_template(
        "account/overview.html",
        user=current_user,
        subscriptions=subs,
        withdrawable=withdrawable,
        refundable_now=refundable_now,
        period_refunds=refund_notices.period_refunds(session, subs, current),
        payments=payments[: queries.PAYMENTS_ON_OVERVIEW],
        more_payments=len(payments) > queries.PAYMENTS_ON_OVERVIEW,
        orders=queries.orders_of(session, current_user.id),
        order_label=queries.order_label,
        # Read only when a subscription has a change waiting (most views: none, and no statement).
        consent_changes=consent.open_changes_for_user(session, current_user.id, now=now) if change_waiting else [],
        status_label=queries.status_label,
        now=now,
    )


@bp.get("/payments")
@login_required
def payments():
    """The whole payment history, newest first, a page at a time (?page=2 ...)."""
    page = request.args.get("page", 1, type=int)
    if page < 1 or page > 10_000:
        abort(404)
    size = queries.PAYMENTS_PER_PAGE
    rows = queries.payments_of(db.session(), current_user.id, limit=size + 1, offset=(page - 1) * size)
    return render_template("account/payments.html", payments=rows[:size], page=page, has_next=len(rows) > size)


@bp.get("/subscriptions/<int:subscription_id>/cancel")
@login_required
def confirm_cancel(subscription_id: int):
    sub = _own_or_404(subscription_id)
    now = services().clock.now()
    offer = subscriptions.refund_offer(db.session(), sub, now=now)
    if sub.status in statuses.ENDED or (sub.cancel_at_period_end and offer is None):
        flash("이미 해지되었거나 해지 예정인 구독입니다.", "info")
        return redirect(url_for("account.overview"))
    ends_now = sub.status in ("incomplete", "past_due")
    access_until = sub.current_period_end or sub.trial_end_at or sub.next_charge_at
    return render_template(
        "account/cancel.html",
        sub=sub,
        ends_now=ends_now,
        access_until=access_until,
        offer=offer,
        cooling=cooling_off.for_subscription(db.session(), sub, now=now),
        form=ActionForm(),
    )


def _cancel(action, subscription_id: int, record):
    """Run a cancel action of `billing.recurring.subscriptions` for the signed-in shopper; None (flashed) if refused.

    `record` adds the action's AuditLog row, committed with the change (rolled back with a refusal).
    """
    _checked_form()
    record(subscription_id)
    found = services()
    try:
        result = action(
            db.session(),
            user=account_user(),
            subscription_id=subscription_id,
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
        return None
    enqueue_notices(result.notice_ids)
    return result


@bp.post("/subscriptions/<int:subscription_id>/cancel")
@login_required
def cancel_subscription(subscription_id: int):
    result = _cancel(subscriptions.cancel_subscription, subscription_id, audit.record_cancel)
    if result is None:
        return redirect(url_for("account.overview"))
    if result.ended_now:
        flash("구독이 해지되었습니다. 더 이상 결제되지 않으며, 등록한 카드 정보는 삭제되었습니다.", "success")
    else:
        flash(
            f"해지 신청이 완료되었습니다. {kst_date(result.access_until)}까지 이용할 수 있고, 이후 결제되지 않습니다.",
            "success",
        )
    return redirect(url_for("account.overview"))


@bp.post("/subscriptions/<int:subscription_id>/cancel-now")
@login_required
def cancel_now(subscription_id: int):
    """바로 해지하고 환불받기: the amount is recomputed by the domain, never read from the form."""
    result = _cancel(subscriptions.cancel_now_with_refund, subscription_id, audit.record_cancel_now)
    if result is None:
        return redirect(url_for("account.overview"))
    category, message = _cancel_now_message(result)
    flash(message, category)
    return redirect(url_for("account.overview"))


def _cancel_now_message(result: subscriptions.CancelResult) -> tuple[str, str]:
    ended = "구독을 바로 종료했습니다. 더 이상 결제되지 않으며, 등록한 카드 정보는 삭제되었습니다."
    won = result.refund_won or 0
    if result.refund_status is None:
        return "success", f"{ended} 남은 이용 기간이 없어 환불할 금액은 없습니다."
    if result.refund_status == "done":
        return "success", (
            f"{ended} 남은 기간의 요금 {won:,}원을 카드 결제 취소로 환불했습니다. "
            "카드사에 따라 반영까지 영업일 기준 3~7일이 걸릴 수 있습니다."
        )
    return "info", (
        f"{ended} 환불 금액 {won:,}원은 카드사 처리 결과를 확인하는 중입니다. "
        "확인되는 대로 3영업일 이내에 환불해 드리며, 두 번 환불되지 않습니다. "
        "궁금한 점은 고객센터로 문의해 주세요."
    )


@bp.get("/subscriptions/<int:subscription_id>/withdraw")
@login_required
def confirm_withdraw(subscription_id: int):
    """청약철회's one confirmation page: what is refunded and what ends; or why it cannot be done here."""
    sub = _own_or_404(subscription_id)
    cooling = cooling_off.for_subscription(db.session(), sub, now=services().clock.now())
    return render_template(
        "cooling_off/confirm.html",
        cooling=cooling,
        product=sub.plan.product,
        plan=sub.plan,
        subscription=sub,
        action=url_for("account.withdraw", subscription_id=sub.id),
        back=url_for("account.overview"),
        form=ActionForm(),
    )


@bp.post("/subscriptions/<int:subscription_id>/withdraw")
@login_required
def withdraw(subscription_id: int):
    """청약철회: the refund is judged and computed by the domain on its clock, never read from the form."""
    _checked_form()
    audit.record_withdraw(subscription_id)
    found = services()
    try:
        result = cooling_off.withdraw_subscription(
            db.session(),
            user=account_user(),
            subscription_id=subscription_id,
            toss=found.toss,
            vault=found.vault,
            notifier=found.notifier,
            clock=found.clock,
            ip=client_ip(),
        )
    except ActionRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("account.overview"))
    enqueue_notices(result.notice_ids)
    flash(
        result.message("구독을 종료했습니다. 더 이상 결제되지 않으며, 등록한 카드 정보는 삭제되었습니다."),
        "success" if result.refund_status == "done" else "info",
    )
    return redirect(url_for("account.overview"))


@bp.post("/subscriptions/<int:subscription_id>/resume")
@login_required
def resume_subscription(subscription_id: int):
    _checked_form()
    audit.record_resume(subscription_id)
    found = services()
    try:
        sub = subscriptions.resume_subscription(
            db.session(),
            user=account_user(),
            subscription_id=subscription_id,
            notifier=found.notifier,
            clock=found.clock,
        )
    except ActionRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(
            f"해지 신청을 취소했습니다. 구독이 계속되며 다음 결제일은 {kst_date(sub.next_charge_at)}입니다.", "success"
        )
    return redirect(url_for("account.overview"))


@bp.post("/subscriptions/<int:subscription_id>/card")
@login_required
def change_card(subscription_id: int):
    _checked_form()
    try:
        intent = checkout.begin_card_change(
            db.session(), user=account_user(), subscription_id=subscription_id, now=services().clock.now()
        )
    except ActionRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("account.overview"))
    return redirect(url_for("checkout.card", intent=intent.token))


@bp.route("/subscriptions/<int:subscription_id>/plan", methods=["GET", "POST"])
@login_required
def change_plan(subscription_id: int):
    sub = _own_or_404(subscription_id)
    if sub.status not in subscriptions.PLAN_CHANGEABLE:
        flash("지금은 요금제를 바꿀 수 없는 구독입니다.", "error")
        return redirect(url_for("account.overview"))
    options = subscriptions.plan_options(db.session(), sub, billing_hour_kst=_config().billing_hour_kst)
    form = ChangePlanForm()
    form.plan_id.choices = [(o.plan_id, o.name) for o in options]
    error = None
    if form.validate_on_submit():
        audit.record_plan_change(sub, form.plan_id.data)
        found = services()
        try:
            change = subscriptions.change_plan(
                db.session(),
                user=account_user(),
                subscription_id=sub.id,
                plan_id=form.plan_id.data,
                ip=client_ip(),
                notifier=found.notifier,
                clock=found.clock,
                config=_config(),
                terms_version=TERMS_VERSION,
            )
        except ActionRefused as exc:
            db.session.rollback()
            error = exc.message
        else:
            enqueue_notices(change.notice_ids)
            flash(_plan_changed_message(change), "success")
            return redirect(url_for("account.overview"))
    status = 200 if not form.is_submitted() else 400
    return render_template("account/plan.html", sub=sub, options=options, form=form, error=error), status


def _plan_changed_message(change: subscriptions.PlanChange) -> str:
    option = change.option
    if change.reverted:
        return f"요금제 변경 예약을 취소했습니다. 지금 요금제({option.name})가 유지됩니다."
    return (
        f"요금제 변경을 예약했습니다. {kst_date(option.effective_at)}부터 {option.name} "
        f"({option.amount_won:,}원)으로 결제됩니다."
    )


# -- 회원탈퇴 ----------------------------------------------------------------------------------------


@bp.route("/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    """회원탈퇴: refused while a subscription is live; the password is asked again."""
    form = DeleteAccountForm()
    error = None
    if form.validate_on_submit():
        found = services()
        try:
            withdrawal.delete_account(
                db.session(),
                user=account_user(),
                password=form.password.data,
                toss=found.toss,
                vault=found.vault,
                clock=found.clock,
                ip=client_ip(),
            )
        except ActionRefused as exc:
            db.session.rollback()
            error = exc.message
        else:
            sign_out(everywhere=True)
            flash(
                "회원 탈퇴가 완료되었습니다. 개인정보와 등록한 카드 정보를 "
                "삭제했으며, 법령에 따라 보관해야 하는 거래 기록만 "
                "보관 기간 동안 남겨 둡니다. 그동안 이용해 주셔서 감사합니다.",
                "success",
            )
            return redirect(url_for("shop.home"))
    blocking = withdrawal.blocking_subscriptions(db.session(), current_user.id)
    status = 200 if not form.is_submitted() else 400
    return render_template(
        "account/delete.html", form=form, error=error, blocking=blocking, status_label=queries.status_label
    ), status
