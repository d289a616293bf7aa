"""비밀번호 찾기: one answer for every address, a single-use link valid 30 minutes, and every sign-in ends.

The email itself is captured over real SMTP in tests/e2e/test_password_reset_browser.py.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storefront.extensions import db
from storefront.models import EmailMessage, User
from tests.conftest import Auth, csrf_token

OWNER = "owner@example.com"
OLD = "correct horse 1"
NEW = "a brand new passphrase"


def _messages(app, kind: str | None = None) -> list[EmailMessage]:
    with app.app_context():
        stmt = select(EmailMessage).order_by(EmailMessage.id)
        if kind:
            stmt = stmt.where(EmailMessage.kind == kind)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def _forgot(client, email: str, ip: str = "203.0.113.1"):
    return client.post(
        "/password/forgot",
        data={"csrf_token": csrf_token(client, "/password/forgot"), "email": email},
        environ_base={"REMOTE_ADDR": ip},
    )


def _link(message: EmailMessage) -> str:
    return re.search(r"http://127\.0\.0\.1:5000(/password/reset/[\w-]+)", message.body_text).group(1)


def _set(client, path: str, password: str = NEW, confirm: str | None = None):
    return client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "password": password, "password_confirm": confirm or password},
    )


@pytest.fixture
def owner(app):
    browser = app.test_client()
    Auth(browser).signup(email=OWNER)
    return browser


def test_known_and_unknown_addresses_get_the_same_answer_and_only_the_owner_gets_mail(app, owner):
    answers = []
    for email in (OWNER, "nobody@example.com"):
        guest = app.test_client()
        response = _forgot(guest, email)
        page = guest.get(response.headers["Location"]).get_data(as_text=True)
        answers.append((response.status_code, response.headers["Location"], re.sub(r'value="[^"]*"', "", page)))
    assert answers[0] == answers[1]
    assert "가입된 계정이 있으면 비밀번호를 새로 정하는 링크를 보냈습니다" in answers[0][2]
    [mail] = _messages(app, "password_reset")
    assert mail.to == OWNER and "30분" in mail.body_text
    assert "/password/reset/" in mail.body_text


def test_the_link_sets_a_new_password_once_and_ends_every_sign_in(app, owner):
    laptop = app.test_client()
    Auth(laptop).login(email=OWNER)
    _forgot(app.test_client(), OWNER)
    path = _link(_messages(app, "password_reset")[0])

    browser = app.test_client()
    page = browser.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    mismatch = _set(browser, path, NEW, "something else!!")
    assert mismatch.status_code == 400 and "비밀번호가 일치하지 않습니다" in mismatch.get_data(as_text=True)

    done = _set(browser, path)
    assert done.status_code == 302 and done.headers["Location"].startswith("/login?email=")
    assert owner.get("/account").status_code == 302 and laptop.get("/account").status_code == 302
    assert Auth(app.test_client()).login(email=OWNER, password=OLD).status_code == 200
    assert Auth(browser).login(email=OWNER, password=NEW).status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 410 and "이미 사용되었습니다" in again.get_data(as_text=True)
    [notice] = _messages(app, "password_changed")
    assert notice.to == OWNER and "다른 기기와 브라우저의 로그인은 모두 끝냈습니다" in notice.body_text


def test_the_link_expires_after_30_minutes(app, owner, clock):
    _forgot(app.test_client(), OWNER)
    path = _link(_messages(app, "password_reset")[0])
    clock.advance(minutes=29, seconds=59)
    assert app.test_client().get(path).status_code == 200
    clock.advance(seconds=1)
    browser = app.test_client()
    assert browser.get(path).status_code == 410
    assert Auth(browser).login(email=OWNER, password=OLD).status_code == 302  # nothing changed


def test_using_one_link_spends_the_others(app, owner):
    guest = app.test_client()
    _forgot(guest, OWNER)
    _forgot(guest, OWNER)
    first, second = [_link(m) for m in _messages(app, "password_reset")]
    assert _set(app.test_client(), second).status_code == 302
    assert app.test_client().get(first).status_code == 410


def test_an_inbox_gets_at_most_three_links_an_hour_and_the_answer_does_not_change(app, owner, clock):
    for i in range(4):
        response = _forgot(app.test_client(), OWNER, ip=f"203.0.113.{i + 1}")
        assert response.status_code == 302
    assert len(_messages(app, "password_reset")) == 3
    clock.advance(hours=1, seconds=1)
    _forgot(app.test_client(), OWNER, ip="203.0.113.9")
    assert len(_messages(app, "password_reset")) == 4


def test_requests_are_rate_limited_per_address(app):
    guest = app.test_client()
    codes = [_forgot(guest, f"someone{i}@example.com").status_code for i in range(6)]
    assert codes == [302] * 5 + [429]


def test_an_unknown_token_is_refused_and_changes_nothing(app, owner):
    browser = app.test_client()
    assert browser.get("/password/reset/not-a-real-token").status_code == 410
    response = browser.post("/password/reset/not-a-real-token", data={"password": NEW, "password_confirm": NEW})
    assert response.status_code in (400, 410)
    assert Auth(browser).login(email=OWNER, password=OLD).status_code == 302


def test_after_a_reset_this_browser_is_known_and_skips_the_delay_of_later_guessing(app, owner, clock):
    browser = app.test_client()
    _forgot(browser, OWNER)
    _set(browser, _link(_messages(app, "password_reset")[-1]))
    for i in range(8):  # then a stranger guesses from many addresses: unknown browsers must wait
        client = app.test_client()
        client.post(
            "/login",
            data={"csrf_token": csrf_token(client, "/login"), "email": OWNER, "password": f"x{i}"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        )
        clock.advance(minutes=1)
    assert Auth(app.test_client()).login(email=OWNER, password=NEW).status_code == 429
    assert Auth(browser).login(email=OWNER, password=NEW).status_code == 302


def test_no_link_for_a_deleted_account(app, owner):
    owner.post(
        "/account/delete", data={"csrf_token": csrf_token(owner, "/account/delete"), "password": OLD, "confirm": "y"}
    )
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        deleted_email = user.email
    _forgot(app.test_client(), OWNER)
    _forgot(app.test_client(), deleted_email)
    assert _messages(app, "password_reset") == []
