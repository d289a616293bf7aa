"""The shop's catalog cache: an admin edit shows on the next page view in every web process.

Each gunicorn worker is its own app with its own cache; here two apps on one database stand for
two workers. The shopper's pages come from `worker`, the admin edits through `admin_worker`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storefront import catalog_version, create_app
from storefront.extensions import db
from storefront.models import Category, Plan, Product
from tests.conftest import csrf_token
from tests.web.admin_support import login_admin, make_catalog


@pytest.fixture
def admin_worker(config, clock, toss):
    """A second web process on the same database (its own catalog cache)."""
    other = create_app(config, clock=clock, toss=toss)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def plan(db_session) -> Plan:
    plan = make_catalog(db_session)  # 클라우드 노트 (cloud-notes), 월간 9,900원, category software
    db_session.commit()
    return plan


@pytest.fixture
def admin(admin_worker, clock):
    """The admin's browser, signed in on the other worker."""
    from tests.conftest import Auth

    client = admin_worker.test_client()
    with admin_worker.app_context():
        login_admin(Auth(client), db.session, clock.now())
    return client


def pages(client) -> dict[str, str]:
    found = {}
    for path in ("/", "/categories/software", "/products/cloud-notes"):
        response = client.get(path)
        found[path] = response.get_data(as_text=True) if response.status_code == 200 else str(response.status_code)
    return found


def test_a_price_changed_in_the_admin_shows_on_the_next_view_in_every_worker(client, admin, plan):
    assert all("9,900원" in html for html in pages(client).values())  # cached now

    path = f"/admin/plans/{plan.id}/edit"
    edited = admin.post(
        path,
        data={
            "csrf_token": csrf_token(admin, path),
            "name": "월간 프로",
            "amount_won": "12900",
            "trial_days": "0",
            "position": "0",
        },
    )
    assert edited.status_code == 302

    for path, html in pages(client).items():
        assert "12,900원" in html and "9,900원" not in html, path
        assert "월간 프로" in html, path
    assert all("12,900원" in html for html in pages(admin).values())


def test_hiding_and_showing_a_product_in_the_admin_shows_at_once(client, admin, plan):
    assert pages(client)["/products/cloud-notes"] != "404"
    toggle = f"/admin/products/{plan.product_id}/toggle"
    token = csrf_token(admin, "/admin/products")

    assert admin.post(toggle, data={"csrf_token": token}).status_code == 302
    hidden = pages(client)
    assert hidden["/products/cloud-notes"] == "404" and hidden["/categories/software"] == "404"
    assert "클라우드 노트" not in hidden["/"]

    assert admin.post(toggle, data={"csrf_token": token}).status_code == 302
    assert "클라우드 노트" in pages(client)["/products/cloud-notes"]


def test_a_new_product_and_category_appear_on_the_next_view(client, admin, plan):
    pages(client)
    assert (
        admin.post(
            "/admin/categories",
            data={"csrf_token": csrf_token(admin, "/admin/products"), "name": "전자책", "slug": "ebooks"},
        ).status_code
        == 302
    )
    with admin.application.app_context():
        ebooks = db.session.scalar(select(Category).where(Category.slug == "ebooks"))
        ebooks.products.append(
            Product(
                slug="style-guide",
                name="문서 스타일 가이드",
                kind="one_time",
                summary="",
                description="",
                provision="",
                image="",
                plans=[Plan(name="단품", interval="once", amount_won=19_000)],
            )
        )
        db.session.commit()

    home = client.get("/").get_data(as_text=True)
    assert "전자책" in home and 'href="/products/style-guide"' in home
    assert "19,000원" in client.get("/products/style-guide").get_data(as_text=True)


def test_an_edit_rolled_back_leaves_the_cache_and_the_version_alone(app, client, plan):
    before = pages(client)
    with app.app_context():
        version = catalog_version.read(db.session)
        db.session.get(Plan, plan.id).amount_won = 1
        db.session.flush()
        db.session.rollback()
        assert catalog_version.read(db.session) == version
    assert pages(client) == before


def test_every_kind_of_catalog_write_bumps_the_version(app, plan):
    """Flushes from any session (a job, a command) and bulk UPDATEs; reading or writing other tables does not."""
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        seen = [catalog_version.read(session)]
        session.get(Product, plan.product_id).summary = "새 소개"
        session.commit()
        seen.append(catalog_version.read(session))
        session.execute(update(Plan).where(Plan.id == plan.id).values(amount_won=8_800))
        session.commit()
        seen.append(catalog_version.read(session))
        session.get(Category, plan.product.category_id).name = session.get(Category, plan.product.category_id).name
        session.commit()  # nothing changed: no bump
        seen.append(catalog_version.read(session))
        session.delete(session.get(Plan, plan.id))
        session.commit()
        seen.append(catalog_version.read(session))
    assert seen == [seen[0], seen[0] + 1, seen[0] + 2, seen[0] + 2, seen[0] + 3]


def test_repeat_views_read_only_the_version_from_the_catalog(app, client, plan):
    """The cache is really used: a second view of each page runs one catalog statement, the version."""
    from tests.web.test_query_counts import counted

    for path in ("/", "/categories/software", "/products/cloud-notes"):
        client.get(path)
        with counted(app) as statements:
            assert client.get(path).status_code == 200
        assert [s for s in statements if "categories" in s or "products" in s or "plans" in s] == [], path
        assert sum("catalog_versions" in s for s in statements) == 1, path
