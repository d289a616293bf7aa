"""Catalog changes made from the admin: categories, products and plans.

Plain functions over a session (no request, no template); they flush and never commit.
Changing a plan's price changes what new subscribers pay; existing subscriptions keep
their own `Subscription.amount_won` until the shopper consents to a new price (that flow
belongs to billing/subscriptions).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront.billing.recurring import statuses
from storefront.models import Category, Plan, Product, Subscription


class SlugTaken(ValueError):
    """Another category or product already uses this slug."""


@dataclass(frozen=True)
class ProductData:
    category_id: int
    name: str
    slug: str
    kind: str
    summary: str
    description: str
    provision: str
    getting_started: str
    cooling_off_days: int
    cooling_off_exclusion: str
    image: str
    position: int
    active: bool


@dataclass(frozen=True)
class PlanData:
    name: str
    amount_won: int
    trial_days: int
    position: int


def create_category(session: Session, *, name: str, slug: str) -> Category:
    if session.scalar(select(Category.id).where(Category.slug == slug)) is not None:
        raise SlugTaken(slug)
    category = Category(name=name.strip(), slug=slug, description="", position=0)
    session.add(category)
    session.flush()
    return category


def save_product(session: Session, data: ProductData, product: Product | None = None) -> Product:
    """Create a product (product None) or update one; raise SlugTaken."""
    clash = session.scalar(select(Product.id).where(Product.slug == data.slug))
    if clash is not None and (product is None or clash != product.id):
        raise SlugTaken(data.slug)
    if product is None:
        product = Product()
        session.add(product)
    for field, value in vars(data).items():
        setattr(product, field, value.strip() if isinstance(value, str) else value)
    session.flush()
    return product


def create_plan(session: Session, product: Product, data: PlanData, *, interval: str) -> Plan:
    plan = Plan(product=product, interval=interval, active=True, **vars(data))
    session.add(plan)
    session.flush()
    return plan


def update_plan(session: Session, plan: Plan, data: PlanData) -> None:
    """Rename or re-price a plan; never touches existing subscriptions' amounts."""
    for field, value in vars(data).items():
        setattr(plan, field, value.strip() if isinstance(value, str) else value)
    session.flush()


def set_active(session: Session, item: Product | Plan, active: bool) -> None:
    item.active = active
    session.flush()


def subscribers_on_other_price(session: Session, plan: Plan) -> int:
    """Live subscriptions of `plan` whose agreed price differs from the plan's current price."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.plan_id == plan.id,
                Subscription.status.in_(statuses.RUNNING),
                Subscription.amount_won != plan.amount_won,
            )
        )
        or 0
    )


def live_subscribers(session: Session, plan: Plan) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.plan_id == plan.id, Subscription.status.in_(statuses.RUNNING))
        )
        or 0
    )
