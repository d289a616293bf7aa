import uuid

from sqlalchemy import select

from storefront.models import User
from tests.conftest import csrf_token


def test_signup_login_logout_through_the_forms(client, auth, db_session):
    response = auth.signup()
    assert response.status_code == 302
    user = db_session.scalars(select(User)).one()
    assert user.email == "shopper@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert 'action="/logout"' in client.get("/").get_data(as_text=True)

    auth.logout()
    page = client.get("/").get_data(as_text=True)
    assert "/login" in page and "/logout" not in page

    assert auth.login().status_code == 302
    assert 'action="/logout"' in client.get("/").get_data(as_text=True)


def test_customer_key_is_random_uuid_not_derived_from_user(auth, db_session, client):
    auth.signup(email="alice.kim@example.com")
    auth.logout()
    auth.signup(email="bob.lee@example.com")
    keys = [u.customer_key for u in db_session.scalars(select(User).order_by(User.id))]
    assert len(set(keys)) == 2
    for key, user in zip(keys, db_session.scalars(select(User).order_by(User.id)), strict=True):
        assert len(key) == 36 and key.count("-") == 4
        assert uuid.UUID(key).version == 4
        assert user.email.split("@")[0] not in key and str(user.id) != key


def test_wrong_password_rerenders_with_error_and_no_session(client, auth):
    auth.signup()
    auth.logout()
    response = auth.login(password="wrong password!!")
    assert response.status_code == 200
    assert "이메일 또는 비밀번호가 올바르지 않습니다." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_signup_form_errors_rerender_and_create_nothing(client, db_session):
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(client, "/signup"),
            "name": "김",
            "email": "not-an-email",
            "password": "short",
            "password_confirm": "other",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "이메일 형식이 올바르지 않습니다." in page
    assert "10자 이상" in page
    assert "이용약관에 동의해야" in page
    assert db_session.scalars(select(User)).all() == []


def test_post_without_csrf_token_is_refused(client, db_session):
    response = client.post(
        "/signup",
        data={
            "name": "김",
            "email": "x@example.com",
            "password": "correct horse 1",
            "password_confirm": "correct horse 1",
            "agree_terms": "y",
            "agree_privacy": "y",
        },
    )
    assert response.status_code == 400
    assert "사업자등록번호" in response.get_data(as_text=True)  # the site's own error page, with the footer
    assert db_session.scalars(select(User)).all() == []


def test_next_to_another_site_is_not_followed(auth):
    auth.signup()
    auth.logout()
    response = auth.login(next="https://evil.example/steal")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    auth.logout()
    response = auth.login(next="/\\evil.example")
    assert response.headers["Location"] == "/"


def test_next_inside_site_is_followed(auth):
    auth.signup()
    auth.logout()
    response = auth.login(next="/account")
    assert response.headers["Location"] == "/account"
