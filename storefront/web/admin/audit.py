"""Admin 접속·감사 기록: the AuditLog with Korean labels, filters (who, what, when, which customer) and its CSV.

The page and the export share one filter (`exports.audit_filter`, read from the query
string) and one statement (`reports.exports.audit_statement`). Looking at or exporting the
log is itself recorded: the rows show admins' addresses and which customers were looked at.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from storefront.extensions import db
from storefront.reports import exports as report_exports
from storefront.web.admin import queries
from storefront.web.admin.exports import BadFilter, audit_filter, csv_response, describe_audit_filter
from storefront.web.admin.audit_text import audit_detail
from storefront.web.admin.labels import LABELS
from storefront.web.admin.views import _log_access, _page, admin_required, bp


@bp.get("/audit")
@admin_required
def audit():
    try:
        flt = audit_filter()
    except BadFilter as exc:
        flash(f"조건을 확인해 주세요. {exc}", "error")
        flt = report_exports.AuditFilter()
    page = queries.paginate(db.session(), report_exports.audit_statement(flt), _page())
    _log_access("admin_view_audit", f"감사 기록 조회 ({describe_audit_filter(flt)}, {page.page}쪽)")
    return render_template(
        "admin/audit.html",
        page=page,
        flt=flt,
        args=request.args.to_dict(),
        actions=sorted(LABELS["audit_action"].items(), key=lambda item: item[1]),
        actors=queries.actor_emails(db.session(), [row.actor_id for row in page.items]),
    )


@bp.get("/audit.csv")
@admin_required
def export_audit():
    try:
        flt = audit_filter()
    except BadFilter as exc:
        flash(f"내보내지 못했습니다. {exc}", "error")
        return redirect(url_for(".audit"))
    _log_access("admin_export_audit", f"감사 기록 CSV 내보내기 ({describe_audit_filter(flt)})")
    return csv_response(report_exports.audit_log(db.session(), flt, LABELS, describe=audit_detail))
