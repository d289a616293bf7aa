"""Sign-ins that can be ended: logout, account deletion and the admin end them on the server, not just in one browser.

These tests keep no app context open between requests (no `db_session` fixture): Flask
would reuse it for every request, and Flask-Login's user cached in `g` would outlive the
cookie that loaded it.
"""

from __future__ import annotations

from flask_login.utils import encode_cookie
from sqlalchemy import select

from storefront.extensions import db
from storefront.models import AuditLog, User, UserSession
from tests.conftest import Auth, csrf_token
from tests.web.admin_support import ADMIN_EMAIL, ADMIN_PASSWORD, make_admin


def _rows(app, stmt):
    with app.app_context():
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def _copy_of(app, client):
    """A second browser holding a copy of `client`'s session cookie (what a thief would take)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def _opens_account(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_cookie_copied_before_logout_no_longer_opens_the_account(app, client, auth):
    auth.signup()
    stolen = _copy_of(app, client)
    assert _opens_account(stolen)
    auth.logout()
    assert not _opens_account(stolen)
    assert stolen.get("/account").headers["Location"].startswith("/login")


def test_logout_ends_only_that_browser(app, client, auth):
    auth.signup()
    laptop = app.test_client()
    Auth(laptop).login()
    auth.logout()
    assert _opens_account(laptop)


def test_a_remember_cookie_dies_with_its_sign_in(app, client, auth):
    auth.signup()
    with client.session_transaction() as flask_session:
        identifier = flask_session["_user_id"]
    with app.test_request_context():
        remember = encode_cookie(identifier)
    other = app.test_client()
    other.set_cookie("remember_token", remember)
    assert _opens_account(other)
    auth.logout()
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)
    assert not _opens_account(fresh)


def test_a_cookie_without_a_sign_in_token_opens_nothing(app, client, auth):
    auth.signup()
    [user] = _rows(app, select(User))
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(user.id)  # what a session cookie held before sign-ins were recorded
    assert not _opens_account(client)


def test_a_sign_in_expires_after_31_days(client, auth, clock):
    auth.signup()
    clock.advance(days=30)
    assert _opens_account(client)
    clock.advance(days=1, seconds=1)
    assert not _opens_account(client)


def test_deleting_the_account_ends_every_sign_in(app, client, auth):
    auth.signup()
    stolen = _copy_of(app, client)
    response = client.post(
        "/account/delete",
        data={"csrf_token": csrf_token(client, "/account/delete"), "password": "correct horse 1", "confirm": "y"},
    )
    assert response.status_code == 302
    assert not _opens_account(stolen)
    assert _rows(app, select(UserSession)) == []


def _admin(app, clock):
    with app.app_context():
        make_admin(db.session, clock.now())
    admin = app.test_client()
    assert Auth(admin).login(email=ADMIN_EMAIL, password=ADMIN_PASSWORD).status_code == 302
    return admin


def test_the_admin_ends_a_customers_sessions_from_the_customer_list(app, client, auth, clock):
    auth.signup()
    [shopper] = _rows(app, select(User))
    phone = _copy_of(app, client)
    admin = _admin(app, clock)

    page = admin.get("/admin/customers").get_data(as_text=True)
    action = f"/admin/customers/{shopper.id}/end-sessions"
    assert f'action="{action}"' in page
    assert admin.post(action).status_code == 400  # no CSRF token: nothing happens
    assert _opens_account(phone)

    response = admin.post(action, data={"csrf_token": csrf_token(admin, "/admin/customers")})
    assert response.status_code == 302
    assert not _opens_account(phone) and not _opens_account(client)
    assert "로그인 세션 1개를 종료했습니다" in admin.get("/admin/customers").get_data(as_text=True)
    [row] = _rows(app, select(AuditLog).where(AuditLog.action == "admin_end_sessions"))
    assert (row.actor_type, row.reason) == ("admin", f"회원 #{shopper.id} 로그인 세션 1개 종료")
    assert admin.get("/admin/customers").status_code == 200  # the admin's own sign-in is untouched


def test_ending_sessions_of_a_missing_customer_is_a_404(app, clock):
    admin = _admin(app, clock)
    response = admin.post(
        "/admin/customers/999/end-sessions", data={"csrf_token": csrf_token(admin, "/admin/customers")}
    )
    assert response.status_code == 404


def test_with_an_app_context_held_open_a_sign_in_still_ends_at_the_next_request(app, client, auth, db_session, clock):
    """The suite's test client starts each request with an empty `g` (tests/conftest.py RequestClient):
    tests holding `db_session` see a sign-in end exactly when a browser would."""
    auth.signup()
    assert _opens_account(client)
    clock.advance(days=32)  # past the 31-day sign-in
    assert client.get("/account").headers["Location"].startswith("/login")


def test_a_signed_in_page_view_loads_no_account_row(app, client, auth):
    """Pages read who is signed in from `sessions.SignedIn` (the sign-in's columns, never the password
    hash); the ORM `User` is read only by what changes the account, such as the profile form."""
    from flask import template_rendered
    from sqlalchemy import event

    from storefront.accounts.sessions import SignedIn

    auth.signup(name="김세션")
    loaded: list[int] = []

    def count(target, _context):
        loaded.append(target.id)

    seen = {}

    def remember_principal(_app, template, context):
        seen["user"] = context["current_user"]

    event.listen(User, "load", count)
    template_rendered.connect(remember_principal, app)
    try:
        page = client.get("/account")
        assert page.status_code == 200 and "김세션" in page.get_data(as_text=True)
        assert loaded == []
        assert isinstance(seen["user"], SignedIn) and "password_hash" not in seen["user"]._fields
        # The profile form changes the account: it loads the row, and the change shows on the next page.
        token = csrf_token(client, "/account/profile")
        saved = client.post("/account/profile", data={"csrf_token": token, "name": "김바뀜", "phone": "010-1234-5678"})
        assert saved.status_code == 302 and len(loaded) == 1
    finally:
        event.remove(User, "load", count)
        template_rendered.disconnect(remember_principal, app)
    assert "김바뀜" in client.get("/account").get_data(as_text=True)
