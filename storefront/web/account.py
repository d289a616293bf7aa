"""The shopper's own page: subscriptions, cards, payments (filled in by the subscribe issue)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("")
@login_required
def overview():
    return render_template("account/overview.html", user=current_user)
