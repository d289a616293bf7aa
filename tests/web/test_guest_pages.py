"""Whole catalog pages kept for guests (storefront/web/guest_pages.py): a visitor without cookies gets
the stored page while the catalog has not changed; nobody else ever gets one, and no stored page
carries a shopper's name, sign-in nav, CSRF token or flashed message.

"Served from the store" is seen as: no template rendered for that request (Flask's
`template_rendered` signal), and the same bytes as the first view.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import template_rendered

from storefront import create_app
from storefront.extensions import db
from tests.conftest import Auth, csrf_token
from tests.web.admin_support import login_admin, make_catalog

PAGES = ("/", "/categories/software", "/products/cloud-notes")
SHOPPER = ("guest-pages@example.com", "correct horse 1", "김단골")


@pytest.fixture
def plan(app) -> tuple[int, int]:
    """(plan id, product id) of 클라우드 노트 (cloud-notes), 월간 9,900원, category software.

    Made in an app context of its own, so each request of the test runs in its own, as under gunicorn.
    """
    with app.app_context():
        plan = make_catalog(db.session)
        db.session.commit()
        return plan.id, plan.product_id


@pytest.fixture
def shopper(app, plan) -> Auth:
    """A signed-in shopper's browser."""
    auth = Auth(app.test_client())
    assert auth.signup(email=SHOPPER[0], password=SHOPPER[1], name=SHOPPER[2]).status_code == 302
    return auth


@contextmanager
def rendered(app) -> Iterator[list[str]]:
    names: list[str] = []

    def record(sender, template, context, **extra) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def view(app, client, path: str, **kwargs) -> tuple[str, list[str], dict]:
    """The page's HTML, the templates rendered for it, and its headers."""
    with rendered(app) as names:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return response.get_data(as_text=True), names, dict(response.headers)


def guest(app):
    return app.test_client(use_cookies=False)


def test_a_guest_gets_the_stored_page_with_its_own_request_id(app, plan):
    for path in PAGES:
        first, names, first_headers = view(app, guest(app), path)
        assert names, path  # rendered once
        again, names, headers = view(app, guest(app), path)
        assert names == [], path  # then answered from the store
        assert again == first
        assert "Set-Cookie" not in headers and "Set-Cookie" not in first_headers
        assert headers["Content-Security-Policy"] == first_headers["Content-Security-Policy"]
        assert headers["X-Request-ID"] != first_headers["X-Request-ID"]
    _, _, headers = view(app, guest(app), "/", headers={"X-Request-ID": "nginx-request-1234"})
    assert headers["X-Request-ID"] == "nginx-request-1234"


def test_a_signed_in_shopper_never_gets_a_guest_page_and_no_guest_gets_theirs(app, plan, shopper):
    for path in PAGES:
        view(app, guest(app), path)  # stored for guests
        html, names, _ = view(app, shopper.client, path)
        assert names, path  # rendered for the shopper
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert "로그아웃" in html and token, path

        for _ in range(2):  # the shopper's view stored nothing: a guest still gets the guest page
            seen, _, _ = view(app, guest(app), path)
            assert "로그아웃" not in seen and 'action="/logout"' not in seen and "csrf_token" not in seen, path
            assert token.group(1) not in seen and SHOPPER[2] not in seen, path
            assert "로그인" in seen, path


def test_a_signed_in_view_first_stores_nothing_for_guests(app, plan, shopper):
    for path in PAGES:
        view(app, shopper.client, path)
        html, names, _ = view(app, guest(app), path)
        assert names, path  # the guest's page is rendered, not the shopper's
        assert "로그아웃" not in html and "csrf_token" not in html, path


def test_a_flashed_message_reaches_only_its_browser(app, plan, shopper):
    view(app, guest(app), "/")  # stored
    assert shopper.logout().status_code == 302
    html, names, _ = view(app, shopper.client, "/")
    assert "로그아웃되었습니다." in html and names  # shown once, to this browser, rendered
    for client in (guest(app), shopper.client):
        assert "로그아웃되었습니다." not in view(app, client, "/")[0]


def test_a_guest_with_a_session_cookie_is_rendered(app, plan):
    browser = app.test_client()
    csrf_token(browser, "/login")  # the login form put a CSRF token in this browser's session
    for path in PAGES:
        view(app, guest(app), path)
        _, names, _ = view(app, browser, path)
        assert names, path


def test_only_the_catalog_pages_without_a_query_are_stored(app, plan):
    for path in ("/?utm_source=mail", "/terms"):
        view(app, guest(app), path)
        _, names, _ = view(app, guest(app), path)
        assert names, path


def test_an_admin_edit_shows_at_once_to_guests_of_every_worker(app, plan, config, clock, toss):
    """Each gunicorn worker keeps its own pages; the admin edits through another worker."""
    other = create_app(config, clock=clock, toss=toss)
    try:
        admin = other.test_client()
        with other.app_context():
            login_admin(Auth(admin), db.session, clock.now())
        for path in PAGES:
            view(app, guest(app), path)
            html, names, _ = view(app, guest(app), path)
            assert names == [] and "9,900원" in html, path  # stored

        path = f"/admin/plans/{plan[0]}/edit"
        data = {"name": "월간 프로", "amount_won": "12900", "trial_days": "0", "position": "0"}
        assert admin.post(path, data={"csrf_token": csrf_token(admin, path), **data}).status_code == 302

        for path in PAGES:
            html, names, _ = view(app, guest(app), path)
            assert names, path  # rendered again at the new version
            assert "12,900원" in html and "9,900원" not in html and "월간 프로" in html, path
            again, names, _ = view(app, guest(app), path)
            assert names == [] and again == html, path  # and stored again

        toggle = f"/admin/products/{plan[1]}/toggle"
        assert admin.post(toggle, data={"csrf_token": csrf_token(admin, "/admin/products")}).status_code == 302
        assert guest(app).get("/products/cloud-notes").status_code == 404
        assert "클라우드 노트" not in guest(app).get("/").get_data(as_text=True)
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_without_the_database_a_guest_gets_the_sites_error_page(app, plan):
    view(app, guest(app), "/")  # stored
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        config = app.config["STOREFRONT"]
    if not config.database_url.startswith("sqlite"):
        pytest.skip("the database is taken away by removing its SQLite file")
    os.remove(config.database_url.removeprefix("sqlite:///"))  # the file gone: every read fails
    response = guest(app).get("/")
    assert response.status_code == 500
    assert "<html" in response.get_data(as_text=True)  # the site's own page, not a bare WSGI error


def test_a_path_not_in_the_store_costs_no_version_read(app, plan):
    """Static files and health checks come without cookies too: they go to Flask untouched."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = guest(app).get("/static/favicon.svg")
        assert response.status_code == 200
        response.close()
        assert statements == []
        view(app, guest(app), "/")  # stored
        statements.clear()
        view(app, guest(app), "/")  # from the store: the version, and nothing else
        assert len(statements) == 1 and "catalog_versions" in statements[0]
    finally:
        event.remove(engine, "before_cursor_execute", record)
