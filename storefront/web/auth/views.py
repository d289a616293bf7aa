"""Sign up, log in, log out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storefront import accounts
from storefront.extensions import db, limiter, services
from storefront.web.auth.forms import LoginForm, SignupForm
from storefront.web.auth.signin import sign_in, sign_out
from storefront.web.security import safe_next_url

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["STOREFRONT"].login_rate_limit


def _account_key() -> str:
    return "login-account:" + accounts.normalize_email(request.form.get("email", ""))


def _only_posts() -> bool:
    return request.method != "POST"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, exempt_when=_only_posts)  # per IP
@limiter.limit(_login_limit, key_func=_account_key, exempt_when=_only_posts)  # per account
def login():
    next_url = safe_next_url(request.values.get("next"), url_for("shop.home"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            sign_in(user)
            flash(f"{user.name}님, 반갑습니다.", "success")
            return redirect(next_url)
        form.password.errors.append("이메일 또는 비밀번호가 올바르지 않습니다.")
    return render_template("auth/login.html", form=form, next_url=next_url)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("10 per hour", exempt_when=_only_posts)
def signup():
    next_url = safe_next_url(request.values.get("next"), url_for("shop.home"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = SignupForm()
    if form.validate_on_submit():
        info = accounts.NewUser(
            email=form.email.data,
            password=form.password.data,
            name=form.name.data,
            phone=form.phone.data,
            marketing_opt_in=form.marketing_opt_in.data,
        )
        try:
            user = accounts.create_user(
                db.session, info, now=services().clock.now(), cheap_hash=current_app.config["STOREFRONT"].password_hash_cheap
            )
        except accounts.EmailTaken:
            form.email.errors.append("이미 가입된 이메일입니다. 로그인해 주세요.")
        else:
            db.session.commit()
            sign_in(user)
            flash("회원가입이 완료되었습니다.", "success")
            return redirect(next_url)
    return render_template("auth/signup.html", form=form, next_url=next_url)


@bp.post("/logout")
@login_required
def logout():
    sign_out()
    flash("로그아웃되었습니다.", "info")
    return redirect(url_for("shop.home"))
