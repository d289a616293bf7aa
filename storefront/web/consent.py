"""The consent page for a price rise or a trial's paid conversion: /consent/<token>.

Signed-in owner only (a guest is sent to log in and comes back through `next`; anyone else
gets 404, so a link reveals nothing). GET shows the change; POST (CSRF) records "동의" or
"해지" through `billing.compliance.consent.record_answer`, with the shopper's IP, then redirects back.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired

from storefront.billing.compliance import consent
from storefront.billing.recurring.settlement import ended_reason_text
from storefront.extensions import client_ip, db, services
from storefront.models import PriceChange, Subscription

bp = Blueprint("consent", __name__, url_prefix="/consent")

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class AnswerForm(FlaskForm):
    """The two buttons post `decision`; neither is chosen in advance."""

    decision = StringField(validators=[InputRequired(), AnyOf(consent.DECISIONS)])


def _change_or_404(token: str) -> PriceChange:
    if not _TOKEN.match(token):
        abort(404)
    try:
        return consent.find(db.session(), token, user_id=current_user.id)
    except consent.UnknownChange:
        abort(404)


@bp.get("/<token>")
@login_required
def page(token: str):
    """Show the change (date, old → new price, card) with 동의 and 해지 of equal weight."""
    change = _change_or_404(token)
    sub = change.subscription
    now = services().clock.now()
    return render_template(
        "consent/page.html",
        change=change,
        sub=sub,
        form=AnswerForm(),
        state=consent.state(change, sub, now),
        shown=consent.shown(change, sub),
        opens_at=consent.window_opens_at(change, sub),
        access_until=consent.access_until(sub),
        ended_reason=_ended_reason(sub),
    )


@bp.post("/<token>")
@login_required
def answer(token: str):
    """Record the shopper's choice, then show the page again with what it means."""
    change = _change_or_404(token)
    form = AnswerForm()
    if not form.validate_on_submit():
        flash("동의 또는 해지 중 하나를 선택해 주세요.", "error")
        return redirect(url_for(".page", token=change.token))
    svc = services()
    decision = form.decision.data
    assert decision is not None  # InputRequired
    try:
        consent.record_answer(
            db.session(),
            change.token,
            decision,
            user_id=current_user.id,
            ip=client_ip(),
            now=svc.clock.now(),
            notifier=svc.notifier,
        )
    except consent.ConsentError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".page", token=change.token))
    db.session.commit()
    flash(_answered_message(decision), "success")
    return redirect(url_for(".page", token=change.token))


def _answered_message(decision: str) -> str:
    if decision == "agreed":
        return "동의가 기록되었습니다."
    return "해지 신청이 접수되었습니다. 해지 안내를 이메일로도 보내 드렸습니다."


def _ended_reason(sub: Subscription) -> str | None:
    return ended_reason_text(sub.ended_reason) if sub.ended_at is not None else None
