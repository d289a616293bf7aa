"""Self-service forms: shape only; what may be changed is decided in billing.recurring.subscriptions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField
from wtforms.i18n import get_translations
from wtforms.validators import DataRequired, InputRequired

_KOREAN = get_translations(["ko"])  # WTForms' own messages ("Not a valid choice.") in Korean


class ChangePlanForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _KOREAN

    plan_id = RadioField("바꿀 요금제", coerce=int, validators=[InputRequired("바꿀 요금제를 선택해 주세요.")])
    agree = BooleanField(
        "(필수) 위 변경 내용(적용일, 변경 후 결제 금액과 결제 주기)을 확인했으며 요금제 변경에 동의합니다.",
        validators=[DataRequired("변경 내용을 확인하고 동의해 주세요.")],
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField("비밀번호 확인", validators=[DataRequired("비밀번호를 입력해 주세요.")])
    confirm = BooleanField(
        "(필수) 탈퇴하면 계정을 되살릴 수 없고, 법령에 따라 보관하는 "
        "거래 기록 외의 개인정보가 삭제된다는 것을 확인했습니다.",
        validators=[DataRequired("탈퇴 안내를 확인하고 동의해 주세요.")],
    )
