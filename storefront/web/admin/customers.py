"""Admin 회원: ending a customer's sign-ins (로그인 세션 종료), e.g. after a stolen phone or a leaked password.

A POST with CSRF from the customer list; every browser signed in to that account is signed
out at its next request (storefront/accounts/sessions.py). Audited like every admin action.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from storefront.accounts import sessions
from storefront.extensions import client_ip, db, services
from storefront.models import AuditLog, User
from storefront.web.admin.forms import ActionForm
from storefront.web.admin.views import _get_or_404, admin_required, bp


@bp.post("/customers/<int:user_id>/end-sessions")
@admin_required
def end_sessions(user_id: int):
    user = _get_or_404(User, user_id)
    if ActionForm().validate_on_submit():
        admin_id = current_user.id
        ended = sessions.end_all(db.session(), user.id)
        db.session.add(
            AuditLog(
                at=services().clock.now(),
                actor_type="admin",
                actor_id=admin_id,
                action="admin_end_sessions",
                reason=f"회원 #{user.id} 로그인 세션 {ended}개 종료",
                ip=client_ip()[:64],
                user_id=user.id,
            )
        )
        db.session.commit()
        flash(f"회원 #{user.id}의 로그인 세션 {ended}개를 종료했습니다. 그 기기들은 다시 로그인해야 합니다.", "success")
    return redirect(url_for("admin.customers", q=request.args.get("q") or None))
