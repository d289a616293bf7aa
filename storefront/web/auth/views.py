"""Log in and log out (sign-up is in signup.py, 비밀번호 찾기 in password.py).

Logging in checks the throttle first (storefront/accounts/throttle.py): a browser that must
still wait gets 429 and its password is not checked. A browser that signed in to the account
before (a device cookie, web/auth/devices.py) is throttled on its own and is exempt from the
per-address limit, so wrong passwords typed by someone else never keep the owner out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from storefront import accounts
from storefront.accounts import throttle
from storefront.extensions import db, limiter, services
from storefront.models import User
from storefront.web.auth import devices
from storefront.web.auth.forms import LoginForm
from storefront.web.auth.signin import sign_in, sign_out
from storefront.web.security import safe_next_url

bp = Blueprint("auth", __name__)

# Why a guest was sent to log in, by the page they came from (shown above the form).
GUEST_REASONS = {
    "checkout.subscribe": "구독하려면 로그인이 필요합니다.",
    "checkout.start_checkout": "구독하려면 로그인이 필요합니다.",
    "orders.buy": "구매하려면 로그인이 필요합니다.",
}


def _login_limit() -> str:
    return current_app.config["STOREFRONT"].login_rate_limit


def _only_posts() -> bool:
    return request.method != "POST"


def _address_limit_exempt() -> bool:
    """GETs, and logins from a browser that signed in to the account being tried before."""
    if request.method != "POST":
        return True
    email = request.form.get("email", "")
    return bool(email) and devices.known_nonce(accounts.find_by_email(db.session(), email)) is not None


def guest_reason(next_url: str) -> str | None:
    """'구독하려면 로그인이 필요합니다.' when `next_url` is an order page, else None."""
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(urlsplit(next_url).path, method="GET")
    except HTTPException:
        return None
    return GUEST_REASONS.get(endpoint)


@dataclass(frozen=True)
class Attempt:
    user: User | None = None
    refused_for: timedelta = timedelta(0)  # the throttle refused to check the password
    next_wait: timedelta = timedelta(0)  # a wrong password that makes the next attempt wait


def try_password(email: str, password: str) -> Attempt:
    """Check a password under the throttle; commits what it records."""
    now = services().clock.now()
    user = accounts.find_by_email(db.session(), email)
    nonce = devices.known_nonce(user)
    key = throttle.device_key(nonce) if nonce else throttle.account_key(accounts.normalize_email(email))
    waiting = throttle.wait(db.session(), key, now=now)
    if waiting:
        return Attempt(refused_for=waiting)
    found = accounts.authenticate(db.session(), email, password)  # the same work when there is no such account
    if found is not None:
        throttle.clear(db.session(), key)
        db.session.commit()
        return Attempt(user=found)
    failures = throttle.record_failure(db.session(), key, now=now)
    db.session.commit()
    return Attempt(next_wait=throttle.delay_after(failures))


def in_words(delay: timedelta) -> str:
    """30초, 2분: rounded up, so the shopper never tries a moment too early."""
    seconds = math.ceil(delay.total_seconds())
    return f"{seconds}초" if seconds < 60 else f"{math.ceil(seconds / 60)}분"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, exempt_when=_address_limit_exempt)  # per address, whichever account
def login():
    next_url = safe_next_url(request.values.get("next"), url_for("shop.home"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:254]
    status, waited = 200, None
    if form.validate_on_submit():
        attempt = try_password(form.email.data, form.password.data)
        if attempt.user is not None:
            sign_in(attempt.user)
            flash(f"{attempt.user.name}님, 반갑습니다.", "success")
            response = redirect(next_url)
            devices.issue(response, attempt.user)
            return response
        if attempt.refused_for:
            status, waited = 429, attempt.refused_for
        else:
            message = "이메일 또는 비밀번호가 올바르지 않습니다."
            if attempt.next_wait:
                message += f" 잘못 입력한 횟수가 많아 {in_words(attempt.next_wait)} 후에 다시 시도할 수 있습니다."
            form.password.errors = [*form.password.errors, message]
    response = make_response(
        render_template(
            "auth/login.html",
            form=form,
            next_url=next_url,
            waited=waited,
            wait_words=in_words(waited) if waited else None,
            reason=guest_reason(next_url),
        ),
        status,
    )
    if waited:
        response.headers["Retry-After"] = str(math.ceil(waited.total_seconds()))
    return response


@bp.post("/logout")
@login_required
def logout():
    sign_out()
    flash("로그아웃되었습니다.", "info")
    return redirect(url_for("shop.home"))
