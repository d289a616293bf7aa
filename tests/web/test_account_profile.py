"""회원 정보 and 비밀번호 변경, as the shopper uses them."""

from __future__ import annotations

from sqlalchemy import select

from storefront.extensions import db
from storefront.models import EmailMessage, Subscription, User
from tests.conftest import Auth, csrf_token

OLD = "correct horse 1"
NEW = "another good passphrase"


def _user(app) -> User:
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        db.session.expunge_all()
        return user


def _save_profile(client, **data):
    return client.post("/account/profile", data={"csrf_token": csrf_token(client, "/account/profile"), **data})


def _change(client, current: str, new: str, confirm: str | None = None):
    return client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "current_password": current,
            "new_password": new,
            "new_password_confirm": confirm or new,
        },
    )


def test_the_overview_links_to_both_pages(client, auth):
    auth.signup()
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/account/profile"' in page and 'href="/account/password"' in page


def test_the_profile_saves_name_and_a_mobile_number(app, client, auth):
    auth.signup(name="김구매")
    page = client.get("/account/profile").get_data(as_text=True)
    assert 'value="김구매"' in page and "shopper@example.com" in page
    response = _save_profile(client, name=" 김새이름 ", phone="010-9876-5432")
    assert response.status_code == 302
    user = _user(app)
    assert (user.name, user.phone) == ("김새이름", "01098765432")
    assert 'value="010-9876-5432"' in client.get("/account/profile").get_data(as_text=True)


def test_a_bad_number_or_an_empty_name_rerenders_and_changes_nothing(app, client, auth):
    auth.signup(name="김구매")
    for data, message in (
        ({"name": "김구매", "phone": "02-555-0100"}, "휴대전화 번호 형식이 올바르지 않습니다"),
        ({"name": "", "phone": ""}, "이름을 입력해 주세요"),
        ({"name": "가" * 51, "phone": ""}, "50자까지"),
    ):
        response = _save_profile(client, **data)
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    user = _user(app)
    assert (user.name, user.phone) == ("김구매", None)


def test_the_number_cannot_be_removed_during_a_free_trial(app, client, auth, clock):
    from tests.web.admin_support import make_catalog

    auth.signup()
    _save_profile(client, name="김구매", phone="010-1111-2222")
    with app.app_context():
        plan = make_catalog(db.session)
        user = db.session.scalars(select(User)).one()
        db.session.add(
            Subscription(
                user_id=user.id,
                plan_id=plan.id,
                status="trialing",
                amount_won=9900,
                anchor_day=10,
                created_at=clock.now(),
            )
        )
        db.session.commit()
    response = _save_profile(client, name="김구매", phone="")
    assert response.status_code == 400 and "무료 체험 중인 구독이 있어" in response.get_data(as_text=True)
    assert _save_profile(client, name="김구매", phone="010-3333-4444").status_code == 302
    assert _user(app).phone == "01033334444"


def test_changing_the_password_keeps_this_browser_and_ends_the_others(app, client, auth):
    auth.signup()
    laptop = app.test_client()
    Auth(laptop).login()
    response = _change(client, OLD, NEW)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "다른 기기와 브라우저의 로그인 1개를 끝냈습니다" in client.get("/account").get_data(as_text=True)
    assert client.get("/account").status_code == 200
    assert laptop.get("/account").status_code == 302
    assert Auth(app.test_client()).login(password=OLD).status_code == 200
    assert Auth(app.test_client()).login(password=NEW).status_code == 302
    with app.app_context():
        [notice] = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "password_changed")).all()
        assert notice.to == "shopper@example.com"


def test_a_wrong_current_password_changes_nothing_and_guessing_it_is_slowed(app, client, auth, clock):
    auth.signup()
    response = _change(client, "not my password", NEW)
    assert response.status_code == 400 and "현재 비밀번호가 올바르지 않습니다" in response.get_data(as_text=True)
    for _ in range(5):
        _change(client, "still guessing", NEW)
    refused = _change(client, OLD, NEW)  # right, but too soon after six wrong ones
    assert refused.status_code == 429 and "후에 다시 시도할 수 있습니다" in refused.get_data(as_text=True)
    clock.advance(seconds=30)
    assert _change(client, OLD, NEW).status_code == 302


def test_the_new_password_must_be_new_long_enough_and_confirmed(app, client, auth):
    auth.signup()
    for new, confirm, message in (
        (OLD, OLD, "현재 비밀번호와 다른 비밀번호"),
        ("short", "short", "10자 이상"),
        (NEW, "something else!", "비밀번호가 일치하지 않습니다"),
    ):
        response = _change(client, OLD, new, confirm)
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert Auth(app.test_client()).login(password=OLD).status_code == 302  # unchanged


def test_both_pages_need_a_sign_in(client):
    for path in ("/account/profile", "/account/password"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
