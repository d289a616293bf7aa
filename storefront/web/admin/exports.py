"""Admin CSV exports and the 회계 자료 page (부가세 summary): files for the accountant.

Each ``*.csv`` URL applies the filters of the list page it is linked from (the same query
string), writes an AuditLog row (the files hold personal data) and streams the rows of a
`reports.exports.Export` as UTF-8 CSV with a BOM (Excel then reads the Korean headers), CRLF
line ends, a few hundred rows per chunk. Bad filter values are refused with a message on the
list page; nothing is half-written.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from collections.abc import Iterator

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for

from storefront.extensions import db, services
from storefront.reports import exports, vat
from storefront.reports.months import Month
from storefront.web.admin import queries
from storefront.web.admin.labels import LABELS
from storefront.web.admin.views import _log_access, admin_required, bp

CHUNK_ROWS = 500
BOM = "\ufeff"
MAX_QUERY = 254


class BadFilter(ValueError):
    """A filter value that cannot be used; the message is shown on the list page."""


def csv_response(export: exports.Export) -> Response:
    """Stream `export` as a CSV download (the generator runs while the response is sent)."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write(BOM)
        writer.writerow(export.header)
        for n, row in enumerate(export.rows, start=1):
            writer.writerow(row)
            if n % CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def _text(name: str) -> str:
    return (request.args.get(name) or "").strip()[:MAX_QUERY]


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise BadFilter(f"알 수 없는 조건입니다: {value[:40]}")
    return value


def _day(name: str) -> date | None:
    raw = _text(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter("날짜는 2026-03-01 형식으로 입력해 주세요.") from None


def date_range() -> exports.DateRange:
    period = exports.DateRange(_day("from"), _day("to"))
    if period.first and period.last and period.first > period.last:
        raise BadFilter("시작일이 종료일보다 늦습니다.")
    return period


def audit_filter() -> exports.AuditFilter:
    return exports.AuditFilter(
        actor_type=_choice("actor", LABELS["actor"]),
        actor_email=_text("who"),
        action=_choice("action", LABELS["audit_action"]),
        period=date_range(),
        customer_email=_text("customer"),
    )


def _refused(exc: BadFilter, endpoint: str):
    flash(f"내보내지 못했습니다. {exc}", "error")
    return redirect(url_for(endpoint))


# -- the files -------------------------------------------------------------------------------------


@bp.get("/payments.csv")
@admin_required
def export_payments():
    try:
        flt = exports.PaymentFilter(period=date_range(), kind=_choice("kind", exports.KINDS), email=_text("q"))
    except BadFilter as exc:
        return _refused(exc, ".accounting")
    _log_access(
        "admin_export_payments",
        f"결제·환불 내역 CSV 내보내기 (기간={flt.period.suffix()}, 구분={flt.kind or '전체'}, 검색={flt.email or '-'})",
    )
    return csv_response(exports.payments(db.session(), flt))


@bp.get("/subscriptions.csv")
@admin_required
def export_subscriptions():
    try:
        status = _choice("status", queries.SUBSCRIPTION_STATUSES)
    except BadFilter as exc:
        return _refused(exc, ".subscriptions")
    email = _text("q")
    _log_access("admin_export_subscriptions", f"구독 목록 CSV 내보내기 (상태={status or '전체'}, 검색={email or '-'})")
    return csv_response(exports.subscriptions(db.session(), status, email, LABELS))


@bp.get("/customers.csv")
@admin_required
def export_customers():
    email = _text("q")
    _log_access("admin_export_customers", f"회원 목록 CSV 내보내기 (검색={email or '-'})")
    return csv_response(exports.customers(db.session(), email))


@bp.get("/refunds.csv")
@admin_required
def export_refunds():
    try:
        status = _choice("status", queries.REFUND_STATUSES)
    except BadFilter as exc:
        return _refused(exc, ".refunds")
    _log_access("admin_export_refunds", f"환불 목록 CSV 내보내기 (상태={status or '전체'})")
    return csv_response(exports.refunds(db.session(), status, LABELS))


def describe_audit_filter(flt: exports.AuditFilter) -> str:
    """The filter in words, for the AuditLog row that records a look at (or an export of) the log."""
    parts = [
        f"주체={LABELS['actor'].get(flt.actor_type, '전체') if flt.actor_type else '전체'}",
        f"행위={flt.action or '전체'}",
        f"기간={flt.period.suffix()}",
    ]
    if flt.actor_email:
        parts.append(f"주체 이메일={flt.actor_email}")
    if flt.customer_email:
        parts.append(f"회원={flt.customer_email}")
    return ", ".join(parts)


# -- 회계 자료: the 부가세 summary --------------------------------------------------------------------


def _year(now) -> int:
    current = Month.of(now).year
    raw = request.args.get("year", "")
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= current else current


@bp.get("/accounting")
@admin_required
def accounting():
    now = services().clock.now()
    year = _year(now)
    return render_template(
        "admin/accounting.html",
        summary=vat.year_summary(db.session(), year, now=now),
        year=year,
        years=list(range(Month.of(now).year, Month.of(now).year - 6, -1)),
    )


VAT_HEADER = ("기간", "구분", "결제 건수", "취소 건수", "공급가액 (원)", "부가세 (원)", "합계 (원)")


@bp.get("/accounting/vat.csv")
@admin_required
def export_vat():
    now = services().clock.now()
    year = _year(now)
    summary = vat.year_summary(db.session(), year, now=now)
    lines = [("월", m) for m in summary.months] + [("분기", q) for q in summary.quarters] + [("연간", summary.total)]
    rows = (
        (line.label, kind, line.payments, line.cancels, line.supplied_won, line.vat_won, line.total_won)
        for kind, line in lines
    )
    return csv_response(exports.Export(f"vat_{year}.csv", VAT_HEADER, iter(rows)))
