"""회원가입: the same answer for a known address, an emailed link that creates the account, 전체 동의 and 만 14세.

No `db_session` fixture: requests would share its app context (see test_sessions.py).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storefront.extensions import db
from storefront.models import EmailMessage, SignupRequest, User
from storefront.web.auth import devices
from tests.conftest import Auth, csrf_token
from tests.web.checkout_support import make_catalog

PASSWORD = "correct horse 1"


def _rows(app, stmt):
    with app.app_context():
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def _users(app) -> list[str]:
    return [u.email for u in _rows(app, select(User).order_by(User.id))]


def _mail(app, kind: str) -> list[EmailMessage]:
    return _rows(app, select(EmailMessage).where(EmailMessage.kind == kind).order_by(EmailMessage.id))


def _form(client, email: str, **extra) -> dict:
    return {
        "csrf_token": csrf_token(client, "/signup"),
        "name": "김구매",
        "email": email,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "agree_terms": "y",
        "agree_privacy": "y",
        "agree_age": "y",
        **extra,
    }


def _apply(client, email: str, ip: str = "203.0.113.1", **extra):
    return client.post("/signup", data=_form(client, email, **extra), environ_base={"REMOTE_ADDR": ip})


def _link(app, email: str) -> str:
    body = _mail(app, "signup_confirm")[-1].body_text
    assert email in _mail(app, "signup_confirm")[-1].to
    return re.search(r"http://127\.0\.0\.1:5000(/signup/confirm/[\w-]+)", body).group(1)


def _answer(client, response) -> tuple:
    with client.session_transaction() as flask_session:
        keys = sorted(flask_session.keys())
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return response.status_code, response.headers["Location"], keys, page


def test_a_known_address_gets_the_same_answer_and_its_owner_is_told_by_email(app):
    Auth(app.test_client()).signup(email="taken@example.com")
    answers = {}
    for email in ("taken@example.com", "fresh@example.com"):
        browser = app.test_client()
        answers[email] = _answer(browser, _apply(browser, email))
    taken, fresh = answers["taken@example.com"], answers["fresh@example.com"]
    assert taken[:3] == fresh[:3]
    assert fresh[:2] == (302, "/signup/sent") and {"signup_browser", "signup_email"} <= set(fresh[2])
    assert taken[3].replace("taken@", "X@") == fresh[3].replace("fresh@", "X@")
    assert "메일을 확인해 주세요" in fresh[3]

    [told] = _mail(app, "signup_existing")
    assert told.to == "taken@example.com" and "이미 가입되어 있어 새 계정을 만들지 않았습니다" in told.body_text
    assert "/password/forgot" in told.body_text
    assert [m.to for m in _mail(app, "signup_confirm")] == ["taken@example.com", "fresh@example.com"]
    assert _users(app) == ["taken@example.com"]  # nothing is created before the link is opened
    assert Auth(app.test_client()).login(email="taken@example.com").status_code == 302  # its password is unchanged


def test_the_link_opened_in_the_same_browser_creates_the_account_and_continues_to_the_order(app):
    with app.app_context():
        catalog = make_catalog(db.session)
        db.session.commit()
        order = f"/subscribe/{catalog.monthly.id}"
    browser = app.test_client()
    response = _apply(browser, "new@example.com", next=order, phone="010-1234-5678", marketing_opt_in="y")
    assert response.headers["Location"] == "/signup/sent"
    done = browser.get(_link(app, "new@example.com"))
    assert done.status_code == 302 and done.headers["Location"] == order
    assert browser.get_cookie(devices.COOKIE) is not None
    assert "주문 확인" in browser.get(order).get_data(as_text=True)
    [user] = _rows(app, select(User))
    assert (user.email, user.name, user.phone, user.marketing_opt_in) == (
        "new@example.com",
        "김구매",
        "01012345678",
        True,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert _rows(app, select(SignupRequest)) == []  # no copy of the password hash stays behind
    assert browser.get(_link(app, "new@example.com")).status_code == 410


def test_the_link_opened_elsewhere_asks_for_the_password_and_a_scanner_creates_nothing(app):
    _apply(app.test_client(), "new@example.com")
    path = _link(app, "new@example.com")
    scanner = app.test_client()
    page = scanner.get(path)
    assert page.status_code == 200 and "비밀번호를 한 번 더 입력해 주세요" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _users(app) == []

    phone = app.test_client()
    wrong = phone.post(path, data={"csrf_token": csrf_token(phone, path), "password": "not the password"})
    assert wrong.status_code == 400 and "가입할 때 정한 비밀번호와 다릅니다" in wrong.get_data(as_text=True)
    assert _users(app) == []
    done = phone.post(path, data={"csrf_token": csrf_token(phone, path), "password": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert phone.get("/account").status_code == 200 and _users(app) == ["new@example.com"]


def test_the_link_lasts_a_day(app, clock):
    browser = app.test_client()
    _apply(browser, "late@example.com")
    path = _link(app, "late@example.com")
    clock.advance(hours=24)
    assert browser.get(path).status_code == 410
    assert _users(app) == []


def test_an_under_14_cannot_sign_up(app):
    browser = app.test_client()
    data = _form(browser, "kid@example.com")
    del data["agree_age"]
    response = browser.post("/signup", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "만 14세 이상만 가입할 수 있습니다" in page
    assert _mail(app, "signup_confirm") == [] and _rows(app, select(SignupRequest)) == []


def test_required_and_optional_items_are_listed_apart_with_a_box_for_all_of_them(client):
    page = client.get("/signup").get_data(as_text=True)
    required = page.split("<legend>필수 항목</legend>")[1].split("</fieldset>")[0]
    optional = page.split("<legend>선택 항목</legend>")[1].split("</fieldset>")[0]
    for name in ("agree_terms", "agree_privacy", "agree_age"):
        assert f'name="{name}"' in required and f'name="{name}"' not in optional
    assert 'name="marketing_opt_in"' in optional and 'name="marketing_opt_in"' not in required
    assert re.search(
        r'<input[^>]*data-agree-all[^>]*name="agree_all"|<input[^>]*name="agree_all"[^>]*data-agree-all', page
    )
    assert len(re.findall(r"data-agree-item", page)) == 4
    assert 'src="/static/js/agree-all.js"' in page
    for checkbox in re.findall(r'<input[^>]*type="checkbox"[^>]*>', page):
        assert "checked" not in checkbox  # nothing is ticked for the shopper


def test_without_javascript_ticking_agree_all_ticks_every_item(app):
    browser = app.test_client()
    data = _form(browser, "all@example.com", agree_all="y")
    for name in ("agree_terms", "agree_privacy", "agree_age"):
        del data[name]
    assert browser.post("/signup", data=data).headers["Location"] == "/signup/sent"
    browser.get(_link(app, "all@example.com"))
    [user] = _rows(app, select(User))
    assert user.marketing_opt_in is True


@pytest.mark.parametrize(
    "path,reason",
    [("/subscribe/{monthly}", "구독하려면 로그인이 필요합니다."), ("/buy/{once}", "구매하려면 로그인이 필요합니다.")],
)
def test_a_guest_sent_from_an_order_sees_why_on_sign_up_and_log_in(app, client, path, reason):
    from tests.web.checkout_support import make_catalog as subscription_catalog

    with app.app_context():
        monthly = subscription_catalog(db.session).monthly.id
        from storefront.models import Plan, Product

        product = db.session.get(Plan, monthly).product
        once = Plan(
            product=Product(category=product.category, slug="pack", name="팩", kind="one_time", active=True),
            name="단품",
            interval="once",
            amount_won=29000,
            active=True,
        )
        db.session.add(once)
        db.session.commit()
        order = path.format(monthly=monthly, once=once.id)
    to_signup = client.get(order)
    assert to_signup.status_code == 302
    signup_page = client.get(to_signup.headers["Location"]).get_data(as_text=True)
    assert reason in signup_page and "주문하던 화면으로 돌아갑니다" in signup_page
    login_page = client.get(f"/login?next={order}").get_data(as_text=True)
    assert reason in login_page
    assert "로그인이 필요합니다" not in client.get("/login").get_data(as_text=True)


def test_a_member_who_logs_in_from_the_order_comes_back_to_it(app, client):
    Auth(app.test_client()).signup()
    with app.app_context():
        order = f"/subscribe/{make_catalog(db.session).monthly.id}"
        db.session.commit()
    response = Auth(client).login(next=order)
    assert response.headers["Location"] == order


def test_one_inbox_gets_at_most_five_links_a_day_and_its_owner_one_notice_an_hour(app, clock):
    for i in range(7):
        browser = app.test_client()
        assert _apply(browser, "target@example.com", ip=f"198.51.100.{i}").headers["Location"] == "/signup/sent"
    assert len(_mail(app, "signup_confirm")) == 5
    Auth(app.test_client()).signup(email="member@example.com")
    for i in range(3):
        _apply(app.test_client(), "member@example.com", ip=f"198.51.100.{20 + i}")
    assert len(_mail(app, "signup_existing")) == 1
    clock.advance(hours=1)
    _apply(app.test_client(), "member@example.com", ip="198.51.100.30")
    assert len(_mail(app, "signup_existing")) == 2
