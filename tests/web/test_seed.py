"""`flask seed demo`: the demo catalog a Toss reviewer accepts, an admin, and the reviewer account."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from storefront.config import ROOT
from storefront.models import Category, Plan, Product, User
from tests.conftest import Auth

REVIEWER_HEADING = "Toss reviewer account"
ADMIN_HEADING = "admin account"
# Words that make a card company reject a product (test items, sold-out items).
FORBIDDEN_WORDS = ("test", "테스트", "품절", "sold out", "soldout", "샘플 상품", "준비중", "준비 중")


def seed(app: Flask, *args: str, env: dict | None = None, ok: bool = True):
    result = app.test_cli_runner().invoke(args=["seed", "demo", *args], env=env)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def printed_credentials(output: str, heading: str) -> tuple[str, str]:
    block = output.split(heading, 1)[1]
    email = re.search(r"email:\s+(\S+)", block).group(1)
    password = re.search(r"password: +(.+)", block).group(1).strip()
    return email, password


def logs_in(client: FlaskClient, email: str, password: str) -> bool:
    auth = Auth(client)
    response = auth.login(email=email, password=password)
    ok = response.status_code == 302
    if ok:
        auth.logout()
    return ok


def snapshot(app: Flask) -> dict:
    from storefront.extensions import db

    with app.app_context():
        return {
            "users": sorted((u.email, u.password_hash, u.is_admin) for u in db.session.scalars(select(User))),
            "categories": sorted((c.slug, c.name) for c in db.session.scalars(select(Category))),
            "products": sorted((p.slug, p.name, p.active, p.description) for p in db.session.scalars(select(Product))),
            "plans": sorted((p.product_id, p.name, p.amount_won, p.interval) for p in db.session.scalars(select(Plan))),
        }


def test_seed_prints_reviewer_credentials_that_log_in_and_reach_checkout(app, client):
    output = seed(app).output

    assert "Toss 계약 담당자" in output
    reviewer_email, reviewer_password = printed_credentials(output, REVIEWER_HEADING)
    assert reviewer_email == "toss-review@test-shop.example"  # the domain of BUSINESS_EMAIL
    assert len(reviewer_password) >= 16

    auth = Auth(client)
    assert auth.login(email=reviewer_email, password=reviewer_password).status_code == 302
    account = client.get("/account")
    assert account.status_code == 200 and reviewer_email in account.get_data(as_text=True)
    assert client.get("/admin/").status_code == 403  # the reviewer is an ordinary shopper
    # A subscribe button no longer sends the reviewer to the login wall.
    product = client.get("/products/template-library").get_data(as_text=True)
    subscribe_url = re.search(r'href="(/subscribe/\d+)"', product).group(1)
    response = client.get(subscribe_url, follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path not in ("/login", "/signup")


def test_seed_creates_an_admin_whose_printed_password_opens_the_admin(app, client):
    output = seed(app).output
    admin_email, admin_password = printed_credentials(output, ADMIN_HEADING)
    assert admin_email == "admin@test-shop.example"
    assert admin_password != printed_credentials(output, REVIEWER_HEADING)[1]

    assert Auth(client).login(email=admin_email, password=admin_password).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_second_run_changes_nothing_and_prints_no_password(app, client):
    first = seed(app).output
    reviewer = printed_credentials(first, REVIEWER_HEADING)
    before = snapshot(app)

    second = seed(app).output

    assert snapshot(app) == before
    assert "already exists" in second and "nothing changed" in second
    assert "password:" not in second and reviewer[1] not in second
    assert "--reset-reviewer-password" in second  # tells the merchant how to get a new one
    assert logs_in(client, *reviewer)


def test_reset_reviewer_password_prints_a_new_one_and_only_that_changes(app, client):
    first = seed(app).output
    old_email, old_password = printed_credentials(first, REVIEWER_HEADING)
    admin = printed_credentials(first, ADMIN_HEADING)
    before = snapshot(app)

    output = seed(app, "--reset-reviewer-password").output

    email, password = printed_credentials(output, REVIEWER_HEADING)
    assert email == old_email and password != old_password
    assert "Toss 계약 담당자" in output
    assert not logs_in(client, old_email, old_password)
    assert logs_in(client, email, password)
    assert logs_in(client, *admin)
    after = snapshot(app)
    assert after["products"] == before["products"] and after["plans"] == before["plans"]


def test_reset_reviewer_password_signs_out_whoever_used_the_old_one(app, client):
    email, password = printed_credentials(seed(app).output, REVIEWER_HEADING)
    assert Auth(client).login(email=email, password=password).status_code == 302
    assert client.get("/account").status_code == 200

    output = seed(app, "--reset-reviewer-password").output

    assert "1 sign-in(s) ended" in output
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_passwords_and_emails_can_come_from_the_environment(app, client):
    env = {
        "SEED_REVIEWER_EMAIL": "review@shop.example",
        "SEED_REVIEWER_PASSWORD": "given reviewer pw",
        "SEED_ADMIN_PASSWORD": "given admin password",
    }
    output = seed(app, env=env).output

    assert printed_credentials(output, REVIEWER_HEADING) == ("review@shop.example", "given reviewer pw")
    assert logs_in(client, "review@shop.example", "given reviewer pw")
    assert logs_in(client, "admin@test-shop.example", "given admin password")


def test_bad_arguments_are_refused_and_write_nothing(app):
    result = seed(app, env={"SEED_REVIEWER_PASSWORD": "short"}, ok=False)
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    result = seed(app, "--reviewer-email", "admin@test-shop.example", ok=False)
    assert result.exit_code != 0 and "different email" in result.output
    assert snapshot(app) == {"users": [], "categories": [], "products": [], "plans": []}


def test_reviewer_email_of_an_existing_admin_is_refused(app):
    seed(app)
    result = seed(
        app, "--admin-email", "boss@test-shop.example", "--reviewer-email", "admin@test-shop.example", ok=False
    )
    assert result.exit_code != 0 and "admin account" in result.output


def test_no_catalog_creates_accounts_only(app):
    output = seed(app, "--no-catalog").output
    printed_credentials(output, REVIEWER_HEADING)
    state = snapshot(app)
    assert state["products"] == [] and len(state["users"]) == 2


def test_seeded_catalog_follows_the_card_companies_rules(app, db_session):
    seed(app)
    db_session.rollback()
    products = db_session.scalars(select(Product)).all()
    active = [p for p in products if p.active and p.active_plans]

    for product in products:
        text = " ".join([product.name, product.summary, product.description, product.slug]).lower()
        assert not any(word in text for word in FORBIDDEN_WORDS), product.name
        assert product.provision.strip(), product.name  # 제공 방법 및 기간
        assert all(plan.amount_won >= 1000 for plan in product.plans), product.name

    categories_shown = {p.category_id for p in active}
    assert len(categories_shown) >= 2

    subscriptions = [p for p in active if p.kind == "subscription"]
    assert len(subscriptions) >= 2
    for product in subscriptions:
        monthly = [p for p in product.active_plans if p.interval == "month"]
        yearly = [p for p in product.active_plans if p.interval == "year"]
        assert monthly and yearly, product.name
        assert max(p.amount_won for p in yearly) < 12 * min(p.amount_won for p in monthly), product.name
    assert any(plan.trial_days == 14 for product in subscriptions for plan in product.active_plans)

    one_time = [p for p in active if p.kind == "one_time"]
    assert one_time and all(plan.interval == "once" for p in one_time for plan in p.active_plans)

    # A category whose only product is inactive, so the pages can prove it never shows.
    hidden = [c for c in db_session.scalars(select(Category)) if c.id not in categories_shown]
    assert hidden and hidden[0].products and not any(p.active for p in hidden[0].products)


def test_every_product_image_is_a_local_file_without_external_references(app, db_session):
    seed(app)
    db_session.rollback()
    images = db_session.scalars(select(Product.image)).all()
    assert images and all(images)
    for image in images:
        path = ROOT / "static" / image
        assert path.is_file(), image
        body = path.read_text(encoding="utf-8")
        # Only the SVG namespace URI may mention http; no hot-linked images, fonts or stylesheets.
        assert re.findall(r"https?://[^\s\"')]+", body) == ["http://www.w3.org/2000/svg"], image
        assert "@import" not in body and "@font-face" not in body


def test_seed_counts_match_what_it_reports(app, db_session):
    output = seed(app).output
    db_session.rollback()
    counts = re.search(r"created (\d+) categories, (\d+) products, (\d+) plans", output).groups()
    actual = (
        db_session.scalar(select(func.count(Category.id))),
        db_session.scalar(select(func.count(Product.id))),
        db_session.scalar(select(func.count(Plan.id))),
    )
    assert tuple(int(n) for n in counts) == actual


def test_seeded_products_say_how_to_start_and_state_their_withdrawal_terms(app, db_session, client):
    seed(app)
    db_session.rollback()
    products = {p.slug: p for p in db_session.scalars(select(Product)) if p.active}
    assert all(p.getting_started.strip() and p.cooling_off_days == 7 for p in products.values())
    limited = {slug: p.cooling_off_exclusion for slug, p in products.items() if p.cooling_off_exclusion}
    assert limited == {"template-library": "템플릿 파일을 하나라도 내려받은 때"}
    assert "샘플 템플릿 5종을 무료로" in products["template-library"].description  # 제17조⑥: a sample is offered
    page = client.get("/products/template-library").get_data(as_text=True)
    assert "디지털 콘텐츠의 제공이 개시된 경우 청약철회가 제한됩니다" in page
    page = client.get("/products/presentation-pack").get_data(as_text=True)
    assert "주문 내역에서 직접 청약철회" in page and "청약철회가 제한됩니다" not in page
