"""Admin 동의 현황: every price rise and trial conversion waiting for (or given) the shopper's answer.

Lists `PriceChange` rows (billing/compliance/consent.py) with their subscriber, old → new amount, the
renewal they take effect at, when the request and reminders went out, and the answer, so the
merchant sees who has not answered before a rise takes effect. Read-only; the page shows
emails, so it writes an AuditLog row first.
"""

from __future__ import annotations

from flask import render_template, request

from storefront.extensions import db, services
from storefront.web.admin import queries
from storefront.web.admin.views import _log_access, _page, admin_required, bp


@bp.get("/consents")
@admin_required
def consents():
    status, kind = request.args.get("status") or None, request.args.get("kind") or None
    page = queries.paginate(db.session(), queries.price_changes(status, kind), _page())
    _log_access(
        "admin_list_consents", f"동의 현황 조회 (상태={status or '전체'}, 종류={kind or '전체'}, {page.page}쪽)"
    )
    return render_template(
        "admin/consents.html",
        page=page,
        status=status,
        kind=kind,
        statuses=queries.PRICE_CHANGE_STATUSES,
        kinds=queries.PRICE_CHANGE_KINDS,
        counts=queries.price_change_counts(db.session()),
        now=services().clock.now(),
    )
