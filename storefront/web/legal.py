"""이용약관, 개인정보처리방침, 환불 규정 and the 고객센터 page: separate pages, linked from every footer.

The texts live in templates/legal/; the merchant's identity comes from the `business`
settings, the billing rules (charge hour, retry days, what happens after the last
retry) from the running configuration, and the privacy policy's retention table from
`storefront.retention.RULES` (which the retention job applies), so the pages say what the code does. Each
document has a version that consents record; bump it when its text changes.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from storefront import retention

bp = Blueprint("legal", __name__)

# Bump when the text changes; consents record the version the shopper saw.
TERMS_VERSION = "2026-11-24"
PRIVACY_VERSION = "2026-11-24"
REFUND_VERSION = "2026-11-24"


def effective_date(version: str) -> str:
    """'2026-11-23' -> '2026년 11월 23일' (versions are the dates the texts take effect)."""
    year, month, day = (int(part) for part in version.split("-")[:3])
    return f"{year}년 {month}월 {day}일"


def _billing_rules() -> dict:
    config = current_app.config["STOREFRONT"]
    return {
        "billing_hour": config.billing_hour_kst,
        "retry_days": list(config.dunning_days),
        "final_status": config.dunning_final_status,
        "notice_days": config.renewal_notice_days,
    }


@bp.get("/terms")
def terms():
    return render_template(
        "legal/terms.html", version=TERMS_VERSION, effective=effective_date(TERMS_VERSION), **_billing_rules()
    )


@bp.get("/privacy")
def privacy():
    return render_template(
        "legal/privacy.html",
        version=PRIVACY_VERSION,
        effective=effective_date(PRIVACY_VERSION),
        retention_rules=retention.RULES,
    )


@bp.get("/refund-policy")
def refund_policy():
    return render_template("legal/refund_policy.html", version=REFUND_VERSION, effective=effective_date(REFUND_VERSION))


@bp.get("/support")
def support():
    return render_template("legal/support.html")
