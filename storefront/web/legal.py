"""이용약관, 개인정보처리방침, 환불 규정 and the support page: separate pages, linked from every footer."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("legal", __name__)

# Bump when the text changes; consents record the version the shopper saw.
TERMS_VERSION = "2026-11-23"
PRIVACY_VERSION = "2026-11-23"
REFUND_VERSION = "2026-11-23"


@bp.get("/terms")
def terms():
    return render_template("legal/terms.html", version=TERMS_VERSION)


@bp.get("/privacy")
def privacy():
    return render_template("legal/privacy.html", version=PRIVACY_VERSION)


@bp.get("/refund-policy")
def refund_policy():
    return render_template("legal/refund_policy.html", version=REFUND_VERSION)


@bp.get("/support")
def support():
    return render_template("legal/support.html")
