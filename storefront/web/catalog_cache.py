"""What the shop shows of the catalog, cached per web process and checked once per page view.

The shop's pages (home, category, product) show the same catalog to everyone. Each process
keeps one `Snapshot` of it (plain frozen objects, no ORM rows shared across requests) plus the
HTML of the pages' catalog part, both labelled with the catalog version they were built at.
A page view reads the version (one indexed single-row SELECT, `catalog_version.read`) and
rebuilds everything when it moved; every change to a category, product or plan bumps it in
its own transaction, so a price the admin changed shows on the next page view in every worker.

The version is read before the catalog, so a snapshot is never labelled newer than its data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app, request
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storefront import catalog_version
from storefront.extensions import db
from storefront.models import Category, Plan, Product


@dataclass(frozen=True)
class PlanView:
    id: int
    name: str
    interval: str
    amount_won: int
    trial_days: int


@dataclass(frozen=True)
class CategoryRef:
    id: int
    slug: str
    name: str
    description: str


@dataclass(frozen=True)
class ProductView:
    """An active product with its active plans (never empty), as the shop pages show it."""

    id: int
    slug: str
    name: str
    kind: str
    summary: str
    description: str
    provision: str
    getting_started: str
    cooling_off_days: int
    cooling_off_exclusion: str
    image: str
    category: CategoryRef
    active_plans: tuple[PlanView, ...]
    active: bool = True


@dataclass(frozen=True)
class Snapshot:
    version: int
    categories: tuple[tuple[CategoryRef, tuple[ProductView, ...]], ...]  # only non-empty ones, in order
    products: dict[str, ProductView]  # by slug
    fragments: dict[tuple, Markup] = field(default_factory=dict)  # rendered catalog HTML, same version


_ENVIRON_KEY = "storefront.catalog_snapshot"


def snapshot() -> Snapshot:
    """The catalog for this request: the process's snapshot if still current, else a fresh one."""
    # Kept in the request's environ, not `g`: an app context can outlive one request (tests, CLI).
    found: Snapshot | None = request.environ.get(_ENVIRON_KEY)
    if found is None:
        version = catalog_version.read(db.session())
        found = current_app.extensions.get("catalog_snapshot")
        if found is None or found.version != version:
            found = build(db.session(), version)
            current_app.extensions["catalog_snapshot"] = found  # one assignment: other threads see old or new
        request.environ[_ENVIRON_KEY] = found
    return found


def fragment(key: tuple, render: Callable[[], str]) -> Markup:
    """The HTML `render()` returns for `key`, rendered once per catalog version in this process.

    Only for HTML that depends on nothing but the catalog and the app's settings (no user,
    no CSRF token, no flashed message).
    """
    fragments = snapshot().fragments
    html = fragments.get(key)
    if html is None:
        html = fragments[key] = Markup(render())
    return html


def build(session: Session, version: int) -> Snapshot:
    categories = session.scalars(
        select(Category)
        .order_by(Category.position, Category.id)
        .options(selectinload(Category.products).selectinload(Product.plans))
        # Rows already in this session's identity map are read again, not reused: the snapshot is the database's.
        .execution_options(populate_existing=True)
    ).all()
    shown = []
    products: dict[str, ProductView] = {}
    for category in categories:
        ref = CategoryRef(id=category.id, slug=category.slug, name=category.name, description=category.description)
        views = tuple(_product_view(p, ref) for p in category.products if p.active and p.active_plans)
        if views:
            shown.append((ref, views))
            products.update((view.slug, view) for view in views)
    return Snapshot(version=version, categories=tuple(shown), products=products)


def _product_view(product: Product, category: CategoryRef) -> ProductView:
    return ProductView(
        id=product.id,
        slug=product.slug,
        name=product.name,
        kind=product.kind,
        summary=product.summary,
        description=product.description,
        provision=product.provision,
        getting_started=product.getting_started,
        cooling_off_days=product.cooling_off_days,
        cooling_off_exclusion=product.cooling_off_exclusion,
        image=product.image,
        category=category,
        active_plans=tuple(_plan_view(p) for p in product.active_plans),
    )


def _plan_view(plan: Plan) -> PlanView:
    return PlanView(
        id=plan.id, name=plan.name, interval=plan.interval, amount_won=plan.amount_won, trial_days=plan.trial_days
    )
