"""Admin 결제 운영: the dashboard's buttons that run a timer job now, and the 결제 시도 list.

Each button is a POST with CSRF that calls one domain function in this process, exactly what
the corresponding RQ job calls (`storefront.jobs`), and flashes what happened. All three are
safe to press at any time, twice, or while the job runs: they settle only what is still open
and every change re-checks under a lock.

- 결과 미확인 결제 확인 → `charging.reconcile` (renewal attempts untouched for 10 minutes)
- 1회 구매 정산 → `orders.settle_unknown_orders` (lost confirms, expiry, fully refunded orders)
- 대기 중인 알림 발송 → `Notifier.deliver_pending` (up to 100 queued outbox rows)
"""

from __future__ import annotations

import re
from collections import Counter

from flask import current_app, flash, redirect, render_template, request, url_for

from storefront.billing.recurring import charging
from storefront.billing.one_time import orders as order_service
from storefront.extensions import db, services
from storefront.web.admin import queries
from storefront.web.admin.forms import ActionForm
from storefront.web.admin.views import _log_access, _page, admin_required, bp


@bp.post("/operations/reconcile")
@admin_required
def reconcile_payments():
    if ActionForm().validate_on_submit():
        svc = services()
        results = charging.reconcile(
            db.session(),
            toss=svc.toss,
            vault=svc.vault,
            notifier=svc.notifier,
            clock=svc.clock,
            config=current_app.config["STOREFRONT"],
        )
        flash(reconcile_message([r.outcome for r in results]), "info")
    return _back()


def reconcile_message(outcomes: list[str]) -> str:
    if not outcomes:
        return (
            "확인할 결제가 없습니다. 응답 없이 10분이 지난 결제만 조회합니다 "
            "(그보다 최근 결제는 아직 진행 중일 수 있습니다)."
        )
    n = Counter(outcomes)
    text = (
        f"결과 미확인 결제 {len(outcomes)}건을 토스페이먼츠에 조회했습니다: 결제 확인 {n['paid']}건, "
        f"거절 {n['declined']}건, 결제 없음(다시 결제 예정) {n['retry']}건, "
        f"아직 미확인 {n['left'] + n['unknown']}건."
    )
    if n["paid"] or n["declined"]:
        text += " 영수증·실패 안내는 발송 대기열에 들어갔습니다."
    return text


@bp.post("/operations/settle-orders")
@admin_required
def settle_orders():
    if ActionForm().validate_on_submit():
        svc = services()
        outcomes = order_service.settle_unknown_orders(
            db.session(), toss=svc.toss, clock=svc.clock, notifier=svc.notifier
        )
        flash(settle_orders_message([o.state for o in outcomes]), "info")
    return _back()


def settle_orders_message(states: list[str]) -> str:
    n = Counter(states)
    head = (
        f"확인 중인 1회 구매 {len(states)}건을 토스페이먼츠에 조회했습니다: 결제 완료 {n['paid'] + n['canceled']}건, "
        f"결제 안 됨 {n['failed'] + n['expired']}건, 아직 확인 중 {n['checking'] + n['pending']}건."
        if states
        else "확인 중인 1회 구매가 없습니다."
    )
    return head + " 결제 기한(30분)이 지난 주문은 만료로, 전액 환불된 주문은 ‘환불 완료’로 정리했습니다."


@bp.post("/operations/deliver-notices")
@admin_required
def deliver_notices():
    if ActionForm().validate_on_submit():
        svc = services()
        delivered = svc.notifier.deliver_pending(db.session(), now=svc.clock.now())
        waiting = queries.queued_notices(db.session())
        message = f"대기 중인 알림 {delivered}건을 보냈습니다. 남은 발송 대기 {waiting}건."
        if waiting:
            message += " 보내지 못한 알림의 오류는 발송함에서 확인하세요."
        flash(message, "info")
    return _back()


def _back():
    """Back to the admin page the button was on (`?back=/admin/...`), else the dashboard; never elsewhere."""
    back = request.args.get("back") or ""
    if re.fullmatch(r"/admin/[A-Za-z0-9_/-]*", back) and "//" not in back:
        return redirect(back)
    return redirect(url_for(".dashboard"))


# -- 결제 시도 --------------------------------------------------------------------------------------


@bp.get("/attempts")
@admin_required
def attempts():
    status = request.args.get("status") or None
    page = queries.paginate(db.session(), queries.attempts(status), _page())
    _log_access("admin_list_attempts", f"결제 시도 목록 조회 (상태={status or '전체'}, {page.page}쪽)")
    return render_template("admin/attempts.html", page=page, status=status, statuses=queries.ATTEMPT_STATUSES)
