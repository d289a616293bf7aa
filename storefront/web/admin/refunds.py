"""Admin 환불: the refund form with a confirmation step, the refunds list, and settling unknown outcomes.

The form starts with an empty amount (a pro-rata suggestion is shown beside it, labelled,
when the payment is a subscription's current period) and shows paid / already refunded /
refundable. Submitting it only checks and shows a confirmation page that repeats the amount,
what is left afterwards and the reason; nothing goes to Toss until that page's button is
pressed (``step=confirm``). The request id (a uuid4 put in the form when it was first shown)
names the refund's Idempotency-Key, so a double submit or a reload refunds once.
"""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from storefront.billing.refunding import refunds as refund_service
from storefront.billing.recurring import subscriptions as subscription_service
from storefront.extensions import db, services
from storefront.models import Attempt, Refund
from storefront.web.admin import queries
from storefront.web.admin.forms import ActionForm, RefundForm
from storefront.web.admin.views import _log_access, _page, admin_required, audit_row, bp

STEPS = ("review", "edit", "confirm")


def _attempt_or_404(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        abort(404)
    return attempt


def _owner_ids(attempt: Attempt) -> tuple[int | None, int | None]:
    """(subscription id, user id) the payment belongs to."""
    if attempt.charge is not None:
        return attempt.charge.subscription_id, attempt.charge.subscription.user_id
    if attempt.order is not None:
        return None, attempt.order.user_id
    return None, None


def _suggestion(attempt: Attempt) -> subscription_service.RefundOffer | None:
    """The terms' pro-rata refund of this payment if the subscription ended today, when that applies."""
    if attempt.charge is None:
        return None
    offer = subscription_service.refund_offer(db.session(), attempt.charge.subscription, now=services().clock.now())
    return offer if offer is not None and offer.attempt_id == attempt.id and offer.refund_won > 0 else None


def _page_for(attempt: Attempt, form: RefundForm, template: str = "admin/refund.html", status: int = 200):
    pending = sum(r.amount_won for r in attempt.refunds if r.status in ("sending", "unknown"))
    return render_template(
        template,
        attempt=attempt,
        form=form,
        suggestion=_suggestion(attempt),
        refundable=refund_service.refundable_won(db.session(), attempt),
        refunded=refund_service.refunded_done_won(attempt),
        pending=pending,
    ), status


@bp.route("/attempts/<int:attempt_id>/refund", methods=["GET", "POST"])
@admin_required
def refund(attempt_id: int):
    attempt = _attempt_or_404(attempt_id)
    form = RefundForm()
    if request.method == "GET":
        form.request_id.data = str(uuid.uuid4())
        sub_id, user_id = _owner_ids(attempt)
        _log_access(
            "admin_view_payment", f"결제 시도 #{attempt.id} 환불 화면 조회", subscription_id=sub_id, user_id=user_id
        )
        return _page_for(attempt, form)
    step = request.form.get("step")
    if step not in STEPS or not form.validate_on_submit():
        return _page_for(attempt, form, status=400)
    if step == "edit":
        return _page_for(attempt, form)
    refundable = refund_service.refundable_won(db.session(), attempt)
    assert form.amount_won.data is not None  # InputRequired
    if form.amount_won.data > refundable:
        form.amount_won.errors = [*form.amount_won.errors, f"환불 가능 금액({refundable:,}원)을 넘을 수 없습니다."]
        return _page_for(attempt, form, status=400)
    if step == "review":
        return _page_for(attempt, form, "admin/refund_confirm.html")
    row = _request_refund(attempt, form)
    if row is None:
        return _page_for(attempt, form, status=400)
    flash(*_refund_message(row))
    return redirect(url_for(".refund", attempt_id=attempt.id))


def _request_refund(attempt: Attempt, form: RefundForm) -> Refund | None:
    svc = services()
    sub_id, user_id = _owner_ids(attempt)
    amount_won, reason, request_id = form.amount_won.data, form.reason.data, form.request_id.data
    assert amount_won is not None and reason is not None and request_id is not None  # the form's validators
    try:
        key = refund_service.idempotency_key_for(request_id)
        if db.session.scalar(db.select(Refund.id).where(Refund.idempotency_key == key)) is None:
            audit_row(
                "admin_refund",
                f"결제 시도 #{attempt.id} ({attempt.order_id}) {amount_won:,}원 환불 요청: {reason.strip()}",
                subscription_id=sub_id,
                user_id=user_id,
            )
        return refund_service.refund(
            db.session(),
            attempt.id,
            amount_won=amount_won,
            reason=reason,
            requested_by=current_user.id,
            idempotency_key=key,
            toss=svc.toss,
            clock=svc.clock,
        )
    except refund_service.ExceedsRefundable as exc:
        form.amount_won.errors = [
            *form.amount_won.errors,
            f"환불 가능 금액({exc.refundable_won:,}원)을 넘을 수 없습니다.",
        ]
    except refund_service.NotRefundable:
        form.amount_won.errors = [*form.amount_won.errors, "승인된 결제만 환불할 수 있습니다."]
    except refund_service.InvalidRefund:
        form.reason.errors = [*form.reason.errors, "환불 금액과 사유(200자 이내)를 확인해 주세요."]
    db.session.rollback()
    return None


def _refund_message(row: Refund) -> tuple[str, str]:
    if row.status == "done":
        return f"{row.amount_won:,}원 환불(결제 취소)이 완료되었습니다.", "success"
    if row.status == "failed":
        return f"토스페이먼츠가 환불을 거절했습니다: {row.failure_message or row.failure_code}", "error"
    if row.status == "unknown":
        return (
            "토스페이먼츠의 응답을 받지 못해 환불 결과를 아직 알 수 없습니다. 다시 요청하지 말고 "
            "‘환불 결과 확인’으로 확인해 주세요."
        ), "error"
    return "이 환불 요청은 이미 처리 중입니다.", "info"


@bp.get("/refunds")
@admin_required
def refunds():
    status = request.args.get("status") or None
    page = queries.paginate(db.session(), queries.refunds(status), _page())
    return render_template("admin/refunds.html", page=page, status=status, statuses=queries.REFUND_STATUSES)


@bp.post("/refunds/settle")
@admin_required
def settle_refunds():
    if ActionForm().validate_on_submit():
        svc = services()
        looked = refund_service.settle_unknown_refunds(db.session(), toss=svc.toss, clock=svc.clock)
        still = sum(1 for row in looked if row.status in ("unknown", "sending"))
        flash(f"결과 미확인 환불 {len(looked)}건을 토스페이먼츠에 조회했습니다 (아직 미확인 {still}건).", "info")
    return redirect(url_for(".refunds"))
