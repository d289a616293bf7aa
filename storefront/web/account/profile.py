"""회원 정보 (/account/profile: name and mobile number) and 비밀번호 변경 (/account/password).

Changing the password asks for the current one (wrong guesses are throttled like sign-in),
keeps this browser signed in and ends every other sign-in of the account, and emails the
owner. The mobile number is where SMS notices go: while a free trial runs it cannot be
removed, because the paid conversion must be announced by text message.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from storefront import accounts
from storefront.accounts import reset, sessions, throttle
from storefront.extensions import db, services
from storefront.formatting import mobile
from storefront.models import Subscription
from storefront.web.account.profile_forms import ChangePasswordForm, ProfileForm
from storefront.web.account.views import bp
from storefront.web.auth.password import site_link
from storefront.web.auth.signin import account_user
from storefront.web.auth.views import in_words
from storefront.web.checkout.notices import enqueue_notices


def _has_trial(user_id: int) -> bool:
    return (
        db.session.scalar(
            select(Subscription.id).where(Subscription.user_id == user_id, Subscription.status == "trialing").limit(1)
        )
        is not None
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    if not form.is_submitted():
        form.phone.data = mobile(current_user.phone)
    if form.validate_on_submit():
        if not form.phone.data and current_user.phone and _has_trial(current_user.id):
            form.phone.errors = [
                *form.phone.errors,
                "무료 체험 중인 구독이 있어 휴대전화 번호를 지울 수 없습니다. "
                "유료 전환 7일 전에 문자로 안내해 드려야 합니다. 다른 번호로 바꾸는 것은 됩니다.",
            ]
        else:
            accounts.update_profile(account_user(), name=form.name.data, phone=form.phone.data)
            db.session.commit()
            flash("회원 정보를 저장했습니다.", "success")
            return redirect(url_for("account.profile"))
    status = 400 if form.is_submitted() else 200
    return render_template("account/profile.html", form=form, user=current_user), status


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    wait_words = None
    if form.validate_on_submit():
        user = account_user()
        found = services()
        now = found.clock.now()
        key = throttle.current_password_key(user.id)
        waiting = throttle.wait(db.session(), key, now=now)
        if waiting:
            wait_words = in_words(waiting)
            form.current_password.errors = [
                *form.current_password.errors,
                f"잘못 입력한 횟수가 많아 {wait_words} 후에 다시 시도할 수 있습니다.",
            ]
        elif not accounts.check_password(user, form.current_password.data):
            throttle.record_failure(db.session(), key, now=now)
            db.session.commit()
            form.current_password.errors = [*form.current_password.errors, "현재 비밀번호가 올바르지 않습니다."]
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors = [*form.new_password.errors, "현재 비밀번호와 다른 비밀번호를 정해 주세요."]
        else:
            throttle.clear(db.session(), key)
            accounts.set_password(
                user, form.new_password.data, cheap_hash=current_app.config["STOREFRONT"].password_hash_cheap
            )
            ended = sessions.end_all(db.session(), user.id, keep=user.session_token)
            ids = reset.password_changed_notice(
                db.session(),
                user,
                now=now,
                notifier=found.notifier,
                forgot_url=site_link("auth.forgot_password"),
                ended_elsewhere=True,
            )
            db.session.commit()
            enqueue_notices(ids)
            others = f" 다른 기기와 브라우저의 로그인 {ended}개를 끝냈습니다." if ended else ""
            flash("비밀번호를 바꿨습니다." + others, "success")
            return redirect(url_for("account.overview"))
    status = 429 if wait_words else (400 if form.is_submitted() else 200)
    return render_template("account/password.html", form=form), status
