"""web/csrf_tokens.py: a browser session's CSRF token is signed at most once a minute, and every token
handed out still passes Flask-WTF's own check (the forms work); other sessions get their own."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

from storefront.web.csrf_tokens import REUSE_FOR


class MovableClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_on(client: FlaskClient, path: str) -> set[str]:
    html = client.get(path).get_data(as_text=True)
    return set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html))


def test_a_session_gets_the_same_token_within_the_minute_and_a_new_one_after(app, client, auth, monkeypatch):
    from storefront.web import csrf_tokens

    clock = MovableClock()
    app.extensions["csrf_tokens"].clock = clock
    signed: list[str] = []

    def counted_generate_csrf() -> str:  # Flask-WTF's, counted
        signed.append(generate_csrf())
        return signed[-1]

    monkeypatch.setattr(csrf_tokens, "generate_csrf", counted_generate_csrf)
    auth.signup()
    signed.clear()
    first = tokens_on(client, "/account")
    assert len(first) == 1  # the nav's 로그아웃 form and every subscription form share the request's token
    assert len(signed) <= 1

    clock.now += REUSE_FOR - 1
    before = len(signed)
    assert tokens_on(client, "/account/profile") == first  # a FlaskForm page too
    assert len(signed) == before  # handed out again, not signed

    clock.now += 2
    later = tokens_on(client, "/account")
    assert len(later) == 1 and len(signed) == before + 1  # past the minute: signed afresh by Flask-WTF

    # Both still pass Flask-WTF's check: the older one is within WTF_CSRF_TIME_LIMIT.
    (old,) = first
    page = client.post("/account/profile", data={"csrf_token": old, "name": "김바뀜", "phone": ""})
    assert page.status_code in (200, 302) and "CSRF" not in page.get_data(as_text=True)
    (new,) = later
    assert client.post("/logout", data={"csrf_token": new}).status_code == 302
    assert client.get("/account").status_code == 302  # signed out: the logout form took the reused token


def test_sessions_never_share_a_token_and_a_forged_one_is_refused(app, client, auth):
    auth.signup()
    (mine,) = tokens_on(client, "/account")
    other = app.test_client()
    (theirs,) = tokens_on(other, "/login")
    assert mine != theirs
    # Another session's token does not work here, nor a tampered one.
    assert client.post("/logout", data={"csrf_token": theirs}).status_code == 400
    assert client.post("/logout", data={"csrf_token": mine[:-2] + "xx"}).status_code == 400
    assert client.get("/account").status_code == 200  # still signed in
