"""The catalog: home (categories with active products) and product pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storefront.extensions import db
from storefront.models import Category, Plan, Product

bp = Blueprint("shop", __name__)


def visible_categories() -> list[tuple[Category, list[Product]]]:
    """Categories with their active products that have at least one active plan; empty ones never appear."""
    categories = db.session.scalars(
        select(Category)
        .order_by(Category.position, Category.id)
        .options(selectinload(Category.products).selectinload(Product.plans))
    ).all()
    shown = []
    for category in categories:
        products = [p for p in category.products if p.active and p.active_plans]
        if products:
            shown.append((category, products))
    return shown


@bp.get("/")
def home():
    return render_template("shop/home.html", categories=visible_categories())


@bp.get("/categories/<slug>")
def category(slug: str):
    for cat, products in visible_categories():
        if cat.slug == slug:
            return render_template("shop/category.html", category=cat, products=products)
    abort(404)


@bp.get("/products/<slug>")
def product_detail(slug: str):
    product = db.session.scalar(
        select(Product).where(Product.slug == slug, Product.active.is_(True)).options(selectinload(Product.plans))
    )
    if product is None or not product.active_plans:
        abort(404)
    return render_template("shop/product.html", product=product, plans=product.active_plans)


def active_plan_or_404(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None or not plan.active or not plan.product.active:
        abort(404)
    return plan
