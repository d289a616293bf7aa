"""회원가입 (/signup), the check-your-mailbox page (/signup/sent), and the emailed link (/signup/confirm/<token>).

The answer to a sign-up is the same whether or not the address is registered (see
storefront/accounts/signup.py): the same redirect, the same page, the same session keys.
This browser keeps a random nonce in its session; when the link is opened here, the account
is created and signed in at once and the shopper goes on to the page they came from (`next`,
e.g. the order). Opened anywhere else, the link asks for the password chosen in the form.
"""

from __future__ import annotations

import secrets

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from storefront.accounts import signup as signups
from storefront.accounts import throttle
from storefront.extensions import db, limiter, services
from storefront.web.auth import devices
from storefront.web.auth.forms import ConfirmSignupForm, SignupForm
from storefront.web.auth.password import site_link
from storefront.web.auth.signin import sign_in
from storefront.web.auth.views import _only_posts, bp, guest_reason
from storefront.web.checkout.notices import enqueue_notices
from storefront.web.security import safe_next_url

BROWSER_KEY = "signup_browser"
EMAIL_KEY = "signup_email"


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("10 per hour", exempt_when=_only_posts)
def signup():
    next_url = safe_next_url(request.values.get("next"), url_for("shop.home"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = SignupForm()
    if form.validate_on_submit():
        nonce = session.get(BROWSER_KEY) or secrets.token_urlsafe(16)
        application = signups.Application(
            email=form.email.data,
            password=form.password.data,
            name=form.name.data,
            phone=form.phone.data,
            marketing_opt_in=form.marketing_opt_in.data,
            next_url=next_url,
        )
        found = services()
        ids = signups.apply(
            db.session(),
            application,
            browser_nonce=nonce,
            now=found.clock.now(),
            notifier=found.notifier,
            links=_links(),
            cheap_hash=current_app.config["STOREFRONT"].password_hash_cheap,
        )
        db.session.commit()
        enqueue_notices(ids)
        session[BROWSER_KEY], session[EMAIL_KEY] = nonce, form.email.data.strip().lower()
        return redirect(url_for("auth.signup_sent"))
    return render_template("auth/signup.html", form=form, next_url=next_url, reason=guest_reason(next_url))


def _links() -> signups.Links:
    return signups.Links(
        confirm_for=lambda token: site_link("auth.confirm_signup", token=token),
        login=site_link("auth.login"),
        forgot=site_link("auth.forgot_password"),
    )


@bp.get("/signup/sent")
def signup_sent():
    email = session.get(EMAIL_KEY)
    if not email:
        return redirect(url_for("auth.signup"))
    return render_template(
        "auth/signup_sent.html", email=email, valid_hours=int(signups.VALID_FOR.total_seconds() // 3600)
    )


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", exempt_when=_only_posts)
def confirm_signup(token: str):
    now = services().clock.now()
    try:
        pending = signups.open_request(db.session(), token, now=now)
    except signups.LinkInvalid:
        return _no_referrer(render_template("auth/signup_invalid.html"), 410)
    form = ConfirmSignupForm()
    here = signups.from_this_browser(pending, session.get(BROWSER_KEY))
    if request.method == "GET" and here:
        return _finish(pending, now)
    if form.validate_on_submit():
        assert form.password.data is not None  # DataRequired
        key = throttle.account_key(pending.email)
        waiting = throttle.wait(db.session(), key, now=now)
        if waiting:
            form.password.errors = [*form.password.errors, "잘못 입력한 횟수가 많아 잠시 후에 다시 시도할 수 있습니다."]
        elif signups.password_matches(pending, form.password.data):
            return _finish(pending, now)
        else:
            throttle.record_failure(db.session(), key, now=now)
            db.session.commit()
            form.password.errors = [*form.password.errors, "가입할 때 정한 비밀번호와 다릅니다."]
    status = 400 if form.is_submitted() else 200
    return _no_referrer(
        render_template("auth/signup_confirm.html", form=form, token=token, email=pending.email), status
    )


def _finish(pending, now):
    """Create the account, sign this browser in, and go on to where the shopper was headed."""
    next_url = safe_next_url(pending.next_url, url_for("shop.home"))
    email = pending.email
    try:
        user = signups.confirm(db.session(), pending, now=now)
    except signups.LinkInvalid:
        db.session.rollback()
        return _no_referrer(render_template("auth/signup_invalid.html"), 410)
    except signups.AlreadyRegistered:
        db.session.rollback()
        flash("이미 가입이 끝난 이메일입니다. 로그인해 주세요.", "info")
        return redirect(url_for("auth.login", email=email, next=next_url))
    db.session.commit()
    session.pop(EMAIL_KEY, None)
    sign_in(user)
    flash("회원가입이 완료되었습니다. 환영합니다!", "success")
    response = redirect(next_url)
    devices.issue(response, user)
    return response


def _no_referrer(body: str, status: int):
    return body, status, {"Referrer-Policy": "no-referrer"}
