"""회원 정보 and 비밀번호 변경 forms: shape only (storefront.accounts decides what is stored)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TelField
from wtforms.validators import DataRequired, Length, Optional

from storefront.web.auth.forms import MOBILE, confirm_field, new_password_field


class ProfileForm(FlaskForm):
    name = StringField(
        "이름",
        validators=[DataRequired("이름을 입력해 주세요."), Length(max=50, message="이름은 50자까지 쓸 수 있습니다.")],
    )
    phone = TelField("휴대전화 (결제·체험 전환 안내 문자 수신용)", validators=[Optional(), MOBILE])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("현재 비밀번호", validators=[DataRequired("현재 비밀번호를 입력해 주세요.")])
    new_password = new_password_field("새 비밀번호 (10자 이상)")
    new_password_confirm = confirm_field("새 비밀번호 확인", of="new_password")
