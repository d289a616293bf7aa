"""Checkout: /subscribe/<plan_id>, /billing/success, /billing/fail (filled in by the subscribe issue)."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from storefront.web.shop import active_plan_or_404

bp = Blueprint("checkout", __name__)


@bp.get("/subscribe/<int:plan_id>")
def subscribe(plan_id: int):
    plan = active_plan_or_404(plan_id)
    if not current_user.is_authenticated:
        return redirect(url_for("auth.signup", next=request.path))
    return redirect(url_for("shop.product_detail", slug=plan.product.slug))
