"""Admin 대사: each Korean day compared with Toss, what was recorded or flagged, a CSV, and payouts.

- `/admin/reconciliation`: the days, newest first: Toss's transactions against ours, how many
  matched, were recorded from Toss or need a look, and the settlement view (what Toss pays
  out for the day, its fees and payout date, against our revenue). A form runs a day now.
- `/admin/reconciliation/<YYYY-MM-DD>`: one day's figures and differences.
- `/admin/reconciliation/<YYYY-MM-DD>/items.csv`: those differences as CSV (UTF-8 with BOM, for Excel).

The work is `billing.toss_sync.reconciliation.reconcile_day`, the same function the timer's job calls;
running a day again is safe. The pages show order ids and amounts, no personal data.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from wtforms import DateField
from wtforms.validators import InputRequired

from storefront.billing.toss_sync import reconciliation as reconciliation_service
from storefront.clock import KST
from storefront.extensions import db, services
from storefront.models import Reconciliation, ReconciliationItem
from storefront.web.admin import queries
from storefront.web.admin.forms import AdminForm
from storefront.web.admin.views import _page, admin_required, bp

STATUS_LABELS = {"matched": "일치", "recorded": "토스 기록 반영", "differences": "확인 필요", "failed": "조회 실패"}
KIND_LABELS = {
    "refund_recorded": "환불 기록함",
    "approved_not_recorded": "토스 승인 · 우리 실패",
    "unsettled_here": "우리 결과 미확인",
    "unknown_at_us": "모르는 주문",
    "amount_differs": "결제 금액 다름",
    "refund_amount_differs": "환불 금액 다름",
    "cancel_not_recorded": "취소 미기록",
    "missing_at_toss": "토스에 결제 없음",
    "refund_missing_at_toss": "토스에 취소 없음",
}
RESOLUTION_LABELS = {"recorded": "반영함", "flagged": "확인 필요", "resolved": "해소됨"}
CSV_COLUMNS = (
    "날짜",
    "구분",
    "처리",
    "토스 거래키/주문번호",
    "주문번호",
    "토스 금액",
    "우리 금액",
    "내용",
    "발견 시각",
    "해소 시각",
)


class ReconcileDayForm(AdminForm):
    day = DateField("대사할 날짜 (한국 시간)", validators=[InputRequired("날짜를 입력해 주세요.")])


@bp.context_processor
def _reconciliation_labels() -> dict:
    return {
        "reconciliation_status": STATUS_LABELS,
        "reconciliation_kind": KIND_LABELS,
        "reconciliation_resolution": RESOLUTION_LABELS,
    }


@bp.get("/reconciliation")
@admin_required
def reconciliation_days():
    page = queries.paginate(db.session(), select(Reconciliation).order_by(Reconciliation.day.desc()), _page())
    form = ReconcileDayForm(data={"day": _yesterday()}, formdata=None)
    return render_template("admin/reconciliation.html", page=page, form=form, yesterday=_yesterday())


@bp.post("/reconciliation/run")
@admin_required
def reconciliation_run():
    form = ReconcileDayForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors) or "요청을 처리하지 못했습니다.", "error")
        return redirect(url_for(".reconciliation_days"))
    day = form.day.data
    if day > _today():
        flash(f"{day:%Y-%m-%d}은(는) 아직 오지 않은 날입니다. 오늘까지만 대사할 수 있습니다.", "error")
        return redirect(url_for(".reconciliation_days"))
    svc = services()
    row = reconciliation_service.reconcile_day(db.session(), day, toss=svc.toss, clock=svc.clock)
    flash(_run_message(row), "error" if row.status == "failed" else "info")
    return redirect(url_for(".reconciliation_day", day=row.day.isoformat()))


def _run_message(row: Reconciliation) -> str:
    if row.status == "failed":
        return f"{row.day:%Y-%m-%d} 대사를 마치지 못했습니다: {row.error}"
    return (
        f"{row.day:%Y-%m-%d} 대사를 마쳤습니다: 토스 거래 {row.toss_approved_count + row.toss_canceled_count}건 중 "
        f"{row.matched_count}건 일치, 토스 기록 반영 {row.recorded_count}건, 확인 필요 {row.flagged_count}건."
    )


@bp.get("/reconciliation/<day>")
@admin_required
def reconciliation_day(day: str):
    row = _day_or_404(day)
    items = sorted(row.items, key=_item_order)
    return render_template("admin/reconciliation_day.html", row=row, items=items, today=_today())


@bp.get("/reconciliation/<day>/items.csv")
@admin_required
def reconciliation_csv(day: str):
    row = _day_or_404(day)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for item in sorted(row.items, key=_item_order):
        writer.writerow(
            [
                row.day.isoformat(),
                KIND_LABELS.get(item.kind, item.kind),
                RESOLUTION_LABELS[_resolution(item)],
                item.ref,
                item.order_id or "",
                _blank(item.toss_amount_won),
                _blank(item.our_amount_won),
                item.note,
                item.found_at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
                item.resolved_at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S") if item.resolved_at else "",
            ]
        )
    filename = f"reconciliation-{row.day.isoformat()}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _day_or_404(value: str) -> Reconciliation:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(404)
    row = db.session.scalar(select(Reconciliation).where(Reconciliation.day == day))
    if row is None:
        abort(404)
    return row


def _resolution(item: ReconciliationItem) -> str:
    return "resolved" if item.resolved_at is not None else item.resolution


def _item_order(item: ReconciliationItem) -> tuple[int, int]:
    return ({"flagged": 0, "recorded": 1, "resolved": 2}[_resolution(item)], item.id)


def _blank(value: int | None) -> str | int:
    return "" if value is None else value


def _today() -> date:
    return services().clock.now().astimezone(KST).date()


def _yesterday() -> date:
    return reconciliation_service.previous_day(services().clock.now())


@bp.app_template_filter("reconciliation_link")
def _item_link(item: ReconciliationItem) -> str | None:
    """Where the merchant looks at what an item is about: the subscription or the one-time order."""
    attempt = item.attempt
    if attempt is None:
        return None
    if attempt.charge is not None:
        return url_for("admin.subscription", subscription_id=attempt.charge.subscription_id)
    if attempt.order is not None:
        return url_for("admin.order", order_id=attempt.order.order_id)
    return None
