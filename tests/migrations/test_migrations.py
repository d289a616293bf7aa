"""Migrations build the schema from nothing, and match the models, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect

from storefront import create_app
from storefront.extensions import db
from tests.conftest import make_config
from datetime import UTC


def _upgrade_and_diff(config):
    app = create_app(config)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
            tables = set(inspect(conn).get_table_names())
        db.engine.dispose()
    return diff, tables


def test_sqlite_upgrade_from_empty_matches_models(tmp_path):
    diff, tables = _upgrade_and_diff(make_config(tmp_path))
    assert diff == []
    assert {"users", "subscriptions", "charges", "attempts", "billing_keys", "audit_logs"} <= tables


@pytest.mark.postgres
def test_postgres_upgrade_from_empty_matches_models(tmp_path, postgres_url):
    diff, tables = _upgrade_and_diff(make_config(tmp_path, DATABASE_URL=postgres_url))
    assert diff == []
    assert {"users", "subscriptions", "charges", "attempts", "billing_keys", "audit_logs"} <= tables


@pytest.mark.postgres
def test_postgres_enforces_one_charge_per_period(tmp_path, postgres_url):
    from datetime import datetime

    from sqlalchemy.exc import IntegrityError

    from storefront.models import Category, Charge, Plan, Product, Subscription, User

    now = datetime(2026, 1, 31, tzinfo=UTC)
    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url))
    with app.app_context():
        upgrade()
        user = User(email="a@example.com", password_hash="x", name="a", created_at=now)
        cat = Category(slug="c", name="c")
        product = Product(category=cat, slug="p", name="p", kind="subscription")
        plan = Plan(product=product, name="월간", interval="month", amount_won=9900)
        sub = Subscription(user=user, plan=plan, status="active", amount_won=9900, anchor_day=31, created_at=now)
        db.session.add_all([user, cat, product, plan, sub])
        db.session.flush()
        db.session.add(
            Charge(
                subscription_id=sub.id,
                period_start=now,
                period_end=now,
                amount_won=9900,
                status="pending",
                created_at=now,
            )
        )
        db.session.commit()
        db.session.add(
            Charge(
                subscription_id=sub.id,
                period_start=now,
                period_end=now,
                amount_won=9900,
                status="pending",
                created_at=now,
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.engine.dispose()
