"""비밀번호 찾기 (/password/forgot) and the emailed link that sets a new password (/password/reset/<token>).

The forgot page answers the same whether or not the address has an account. The reset page
sends no Referer (the token is in its path), spends the link once, ends every sign-in of the
account, and marks this browser as the owner's (a device cookie): the owner signs in again
at once even while wrong passwords elsewhere are delaying unknown browsers.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user, logout_user

from storefront.accounts import reset, throttle
from storefront.extensions import db, limiter, services
from storefront.web.auth import devices
from storefront.web.auth.forms import ForgotPasswordForm, ResetPasswordForm
from storefront.web.auth.views import _only_posts, bp
from storefront.web.checkout.notices import enqueue_notices


def site_link(endpoint: str, **values) -> str:
    """An absolute link for an email (SITE_URL, never the request's Host header)."""
    return current_app.config["STOREFRONT"].site_url + url_for(endpoint, **values)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per hour", exempt_when=_only_posts)
def forgot_password():
    form = ForgotPasswordForm()
    if current_user.is_authenticated and not form.is_submitted():
        form.email.data = current_user.email
    if form.validate_on_submit():
        ids = reset.request_reset(
            db.session(),
            form.email.data,
            now=services().clock.now(),
            notifier=services().notifier,
            link_for=lambda token: site_link("auth.reset_password", token=token),
        )
        db.session.commit()
        enqueue_notices(ids)
        flash(
            "입력한 이메일로 가입된 계정이 있으면 비밀번호를 새로 정하는 "
            "링크를 보냈습니다. 30분 안에 메일의 링크를 열어 주세요. "
            "메일이 오지 않으면 스팸함을 확인하거나 잠시 후 다시 요청해 주세요.",
            "info",
        )
        return redirect(url_for("auth.forgot_password"))
    return render_template("auth/forgot.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", exempt_when=_only_posts)
def reset_password(token: str):
    now = services().clock.now()
    try:
        reset.open_link(db.session(), token, now=now)
    except reset.LinkInvalid:
        return _no_referrer(render_template("auth/reset_invalid.html"), 410)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        config = current_app.config["STOREFRONT"]
        assert form.password.data is not None  # a required field
        try:
            user, ids = reset.reset_password(
                db.session(),
                token,
                form.password.data,
                now=now,
                notifier=services().notifier,
                forgot_url=site_link("auth.forgot_password"),
                cheap_hash=config.password_hash_cheap,
            )
        except reset.LinkInvalid:  # spent by another tab a moment ago
            db.session.rollback()
            return _no_referrer(render_template("auth/reset_invalid.html"), 410)
        throttle.clear(db.session(), throttle.account_key(user.email))
        db.session.commit()
        enqueue_notices(ids)
        if current_user.is_authenticated:
            logout_user()  # its sign-in has just ended with all the others
        flash(
            "비밀번호를 새로 정했습니다. 다른 기기의 로그인은 모두 끝냈으니, 새 비밀번호로 로그인해 주세요.", "success"
        )
        response = redirect(url_for("auth.login", email=user.email))
        devices.issue(response, user)
        return response
    return _no_referrer(render_template("auth/reset.html", form=form, token=token), 400 if form.is_submitted() else 200)


def _no_referrer(body: str, status: int):
    return body, status, {"Referrer-Policy": "no-referrer"}
