"""The catalog: home (categories with active products), category pages and product pages.

A category is shown only while it holds an active product with an active plan; an empty
one never appears (home, category nav, its own URL is a 404). Prices are whole won,
VAT included, exactly what the shopper will be charged.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from storefront.extensions import db
from storefront.models import Plan
from storefront.web import catalog_cache, guest_pages
from storefront.web.catalog_cache import CategoryRef, PlanView, ProductView

bp = Blueprint("shop", __name__)


@dataclass(frozen=True)
class YearlySaving:
    """How a yearly plan compares with twelve months of the same product's monthly plan."""

    per_month_won: int  # the yearly price spread over 12 months, rounded down
    percent: int  # discount against 12 x monthly, rounded down


def visible_categories() -> tuple[tuple[CategoryRef, tuple[ProductView, ...]], ...]:
    """Categories with their active products that have at least one active plan; empty ones never appear.

    From the process's catalog snapshot (storefront/web/catalog_cache.py), checked once per request.
    """
    return catalog_cache.snapshot().categories


def yearly_savings(plans: list[Plan] | list[PlanView]) -> dict[int, YearlySaving]:
    """Plan id -> saving, for each yearly plan cheaper than 12 x the cheapest monthly plan of the same list."""
    monthly = [p.amount_won for p in plans if p.interval == "month"]
    if not monthly:
        return {}
    twelve_months = min(monthly) * 12
    savings = {}
    for plan in plans:
        if plan.interval == "year" and 0 < plan.amount_won < twelve_months:
            percent = (twelve_months - plan.amount_won) * 100 // twelve_months
            savings[plan.id] = YearlySaving(per_month_won=plan.amount_won // 12, percent=percent)
    return savings


@bp.context_processor
def category_nav() -> dict:
    # A function, so only templates that draw the nav query for it (not the error page).
    return {"nav_categories": lambda: [category for category, _ in visible_categories()]}


@bp.get("/")
def home():
    body = catalog_cache.fragment(
        ("home",), lambda: render_template("shop/_home.html", categories=visible_categories())
    )
    return _guest_page(render_template("shop/home.html", body=body))


@bp.get("/categories/<slug>")
def category(slug: str):
    found = next(((cat, products) for cat, products in visible_categories() if cat.slug == slug), None)
    if found is None:
        abort(404)
    cat, products = found
    body = catalog_cache.fragment(
        ("category", slug), lambda: render_template("shop/_category.html", category=cat, products=products)
    )
    return _guest_page(render_template("shop/category.html", category=cat, body=body))


@bp.get("/products/<slug>")
def product_detail(slug: str):
    product = catalog_cache.snapshot().products.get(slug)
    if product is None:
        abort(404)
    body = catalog_cache.fragment(
        ("product", slug),
        lambda: render_template(
            "shop/_product.html",
            product=product,
            plans=product.active_plans,
            savings=yearly_savings(list(product.active_plans)),
            billing_hour=current_app.config["STOREFRONT"].billing_hour_kst,
        ),
    )
    return _guest_page(render_template("shop/product.html", product=product, body=body))


def _guest_page(html: str) -> str:
    """Offer the page to the guest page cache (web/guest_pages.py): for a visitor not signed in it
    shows only the catalog and the settings."""
    if not current_user.is_authenticated:
        guest_pages.offer()
    return html


def active_plan_or_404(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None or not plan.active or not plan.product.active:
        abort(404)
    return plan
