"""Sign-in that an attacker cannot lock: wrong passwords from anywhere slow unknown browsers, never the owner's own.

No `db_session` fixture here: an app context held open across requests would keep
Flask-Login's user in `g` between them (see test_sessions.py).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from storefront.accounts import throttle
from storefront.web.auth import devices
from tests.conftest import Auth, csrf_token

OWNER = "owner@example.com"
PASSWORD = "correct horse 1"


def _login(client, email: str, password: str, ip: str):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


@pytest.fixture
def owner_phone(app):
    """The owner's phone: signed up, signed in once (so it holds a device cookie), then signed out."""
    phone = app.test_client()
    auth = Auth(phone)
    auth.signup(email=OWNER)
    auth.logout()
    assert _login(phone, OWNER, PASSWORD, "203.0.113.10").status_code == 302
    assert phone.get_cookie(devices.COOKIE) is not None
    auth.logout()
    return phone


def _guess_from_many_addresses(app, clock, email: str, count: int) -> list[int]:
    """An attacker with `count` addresses (a botnet), each waiting out whatever delay it is told."""
    codes = []
    for i in range(count):
        attacker = app.test_client()
        response = _login(attacker, email, f"guess number {i}", f"198.51.100.{i + 1}")
        if response.status_code == 429:
            clock.advance(seconds=int(response.headers["Retry-After"]))
            response = _login(attacker, email, f"guess number {i}", f"198.51.100.{i + 1}")
        codes.append(response.status_code)
    return codes


def test_21_wrong_passwords_from_21_addresses_leave_the_owner_able_to_sign_in(app, clock, owner_phone):
    codes = _guess_from_many_addresses(app, clock, OWNER, 21)
    assert codes == [200] * 21  # each was a wrong password, checked and counted

    # The owner's phone, which signed in before, is let in at once.
    response = _login(owner_phone, OWNER, PASSWORD, "203.0.113.10")
    assert response.status_code == 302
    assert owner_phone.get("/account").status_code == 200

    # A new laptop must wait out the delay (the password is not even checked), then gets in.
    laptop = app.test_client()
    refused = _login(laptop, OWNER, PASSWORD, "203.0.113.20")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "15분 후에 다시 시도할 수 있습니다" in page
    assert int(refused.headers["Retry-After"]) == 15 * 60
    assert laptop.get("/account").status_code == 302
    clock.advance(minutes=15)
    assert _login(laptop, OWNER, PASSWORD, "203.0.113.20").status_code == 302
    assert laptop.get("/account").status_code == 200


def test_the_delay_grows_from_the_sixth_wrong_password(app, clock, owner_phone):
    stranger = app.test_client()
    codes = [_login(stranger, OWNER, "wrong password", "198.51.100.1").status_code for _ in range(5)]
    assert codes == [200] * 5
    sixth = _login(stranger, OWNER, "wrong password", "198.51.100.2")
    assert "30초 후에 다시 시도할 수 있습니다" in sixth.get_data(as_text=True)
    assert _login(stranger, OWNER, PASSWORD, "198.51.100.3").status_code == 429  # the right one, too early
    clock.advance(seconds=29)
    assert _login(stranger, OWNER, "wrong password", "198.51.100.4").status_code == 429  # not counted
    clock.advance(seconds=1)
    seventh = _login(stranger, OWNER, "wrong password", "198.51.100.5")
    assert seventh.status_code == 200 and "1분 후에 다시 시도할 수 있습니다" in seventh.get_data(as_text=True)


def test_an_unknown_address_is_slowed_exactly_like_a_registered_one(app, clock, owner_phone):
    """The delay says nothing about which emails have an account."""

    def transcript(email: str) -> list[tuple[int, str]]:
        out = []
        for i in range(8):
            response = _login(app.test_client(), email, "wrong password", f"198.51.100.{i + 1}")
            page = response.get_data(as_text=True)
            out.append(
                (response.status_code, page.split('<main class="wrap">')[1].split("</form>")[0].replace(email, "EMAIL"))
            )
        clock.advance(hours=25)
        return out

    known, unknown = transcript(OWNER), transcript("nobody@example.com")
    assert [code for code, _ in known] == [200] * 6 + [429, 429]
    assert [code for code, _ in known] == [code for code, _ in unknown]
    assert [re.sub(r'value="[^"]*"', "", page) for _, page in known] == [
        re.sub(r'value="[^"]*"', "", page) for _, page in unknown
    ]


def test_wrong_passwords_on_the_owners_phone_slow_only_that_phone(app, clock, owner_phone):
    codes = [_login(owner_phone, OWNER, "wrong password", "203.0.113.10").status_code for _ in range(7)]
    assert codes == [200] * 6 + [429]
    laptop = app.test_client()
    assert _login(laptop, OWNER, PASSWORD, "203.0.113.20").status_code == 302


def test_a_forged_or_foreign_device_cookie_counts_as_an_unknown_browser(app, clock, owner_phone):
    _guess_from_many_addresses(app, clock, OWNER, 8)  # unknown browsers now wait
    forged = app.test_client()
    forged.set_cookie(devices.COOKIE, owner_phone.get_cookie(devices.COOKIE).value[:-2] + "xx")
    assert _login(forged, OWNER, PASSWORD, "198.51.100.50").status_code == 429

    other = app.test_client()
    Auth(other).signup(email="other@example.com")  # signs in, so `other` holds a device cookie for its own account
    Auth(other).logout()
    assert _login(other, "other@example.com", PASSWORD, "198.51.100.51").status_code == 302
    Auth(other).logout()
    assert _login(other, OWNER, PASSWORD, "198.51.100.51").status_code == 429


def test_an_attacker_from_one_address_is_stopped_whatever_account_it_tries(app):
    attacker = app.test_client()
    codes = [
        _login(attacker, f"victim{i}@example.com", "wrong password", "198.51.100.77").status_code for i in range(6)
    ]
    assert codes == [200] * 5 + [429]  # LOGIN_RATE_LIMIT: 5 per minute per address


def test_the_owners_phone_is_not_held_by_the_address_limit(app, owner_phone):
    # Someone behind the same address (a shared Wi-Fi) uses up the address's limit.
    neighbour = app.test_client()
    for i in range(5):
        _login(neighbour, f"victim{i}@example.com", "wrong password", "203.0.113.10")
    assert _login(neighbour, OWNER, PASSWORD, "203.0.113.10").status_code == 429
    assert _login(owner_phone, OWNER, PASSWORD, "203.0.113.10").status_code == 302


def test_a_right_password_clears_the_count(app, clock, owner_phone):
    laptop = app.test_client()
    for i in range(5):
        _login(laptop, OWNER, "wrong password", f"203.0.113.{20 + i}")
    assert _login(laptop, OWNER, PASSWORD, "203.0.113.30").status_code == 302
    Auth(laptop).logout()
    other = app.test_client()
    response = _login(other, OWNER, "wrong password", "203.0.113.31")
    assert "후에 다시 시도할 수 있습니다" not in response.get_data(as_text=True)


def test_the_schedule():
    assert [throttle.delay_after(n) for n in (0, 5, 6, 7, 8, 9, 10, 11, 50, 10**6)] == [
        timedelta(0),
        timedelta(0),
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=15),
        timedelta(minutes=15),
        timedelta(minutes=15),
    ]


def test_counts_are_forgotten_after_a_day_without_a_wrong_password(app, db_session, clock):
    key = throttle.account_key("x@example.com")
    for _ in range(7):
        count = throttle.record_failure(db_session, key, now=clock.now())
    db_session.commit()
    assert count == 7 and throttle.wait(db_session, key, now=clock.now()) == timedelta(minutes=1)
    clock.advance(hours=24)
    assert throttle.wait(db_session, key, now=clock.now()) == timedelta(0)
    assert throttle.record_failure(db_session, key, now=clock.now()) == 1
    db_session.commit()
