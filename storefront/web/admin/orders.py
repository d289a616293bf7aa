"""Admin 1회 구매 pages: one-time orders, filtered and searched, and one order's money trail.

Routes on the admin `bp` (imported by `storefront.web.admin`). Both pages show personal data
and write an AuditLog row first. The payment key is shown masked (its last 6 characters);
refunds go through the existing refund form of the order's paid Attempt.
"""

from __future__ import annotations

from flask import abort, render_template, request

from storefront.billing.one_time import orders as order_service
from storefront.extensions import db
from storefront.web.admin import queries
from storefront.web.admin.views import _log_access, _page, admin_required, bp

MASK = "••••"
SHOWN_KEY_CHARS = 6


def masked_key(payment_key: str | None) -> str:
    """``••••a1b2c3``: only the last 6 characters of Toss's paymentKey; '-' when there is none."""
    if not payment_key:
        return "-"
    return MASK + (payment_key[-SHOWN_KEY_CHARS:] if len(payment_key) > SHOWN_KEY_CHARS * 2 else "")


@bp.app_template_filter("masked_key")
def _masked_key_filter(payment_key: str | None) -> str:
    return masked_key(payment_key)


@bp.get("/orders")
@admin_required
def orders():
    status = request.args.get("status") or None
    search = (request.args.get("q") or "").strip()[:254]
    page = queries.paginate(db.session(), queries.orders(status, search), _page())
    _log_access(
        "admin_list_orders", f"1회 구매 목록 조회 (상태={status or '전체'}, 검색={search or '-'}, {page.page}쪽)"
    )
    return render_template("admin/orders.html", page=page, status=status, q=search, statuses=queries.ORDER_STATUSES)


@bp.get("/orders/<order_id>")
@admin_required
def order(order_id: str):
    if not order_service.ORDER_ID_PATTERN.fullmatch(order_id):
        abort(404)
    row = queries.order_detail(db.session(), order_id)
    if row is None:
        abort(404)
    _log_access("admin_view_order", f"1회 구매 {row.order_id} 상세 조회 (회원 #{row.user_id})", user_id=row.user_id)
    return render_template(
        "admin/order.html",
        order=row,
        refunded=order_service.refunded_won(db.session(), row),
        checking=row.status == "pending" and any(a.status in queries.OPEN_ATTEMPT_STATUSES for a in row.attempts),
    )
