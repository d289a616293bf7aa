from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from storefront.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, MOBILE_PATTERN

EMAIL = [DataRequired("이메일을 입력해 주세요."), Email("이메일 형식이 올바르지 않습니다."), Length(max=254)]
MOBILE = Regexp(MOBILE_PATTERN, message="휴대전화 번호 형식이 올바르지 않습니다. 예: 010-1234-5678")


def new_password_field(label: str = "비밀번호 (10자 이상)") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("비밀번호를 입력해 주세요."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"비밀번호는 {MIN_PASSWORD_LENGTH}자 이상 {MAX_PASSWORD_LENGTH}자 이하로 정해 주세요.",
            ),
        ],
    )


def confirm_field(label: str = "비밀번호 확인", of: str = "password") -> PasswordField:
    return PasswordField(label, validators=[EqualTo(of, message="비밀번호가 일치하지 않습니다.")])


class LoginForm(FlaskForm):
    email = EmailField(
        "이메일", validators=[DataRequired("이메일을 입력해 주세요."), Email("이메일 형식이 올바르지 않습니다.")]
    )
    password = PasswordField("비밀번호", validators=[DataRequired("비밀번호를 입력해 주세요.")])


class SignupForm(FlaskForm):
    name = StringField(
        "이름",
        validators=[DataRequired("이름을 입력해 주세요."), Length(max=50, message="이름은 50자까지 쓸 수 있습니다.")],
    )
    email = EmailField("이메일", validators=EMAIL)
    phone = TelField("휴대전화 (선택, 결제 안내 문자 수신용)", validators=[Optional(), MOBILE])
    password = new_password_field()
    password_confirm = confirm_field()
    # 전체 동의 ticks every item below (static/js/agree-all.js); without JavaScript the server does it.
    agree_all = BooleanField("전체 동의 (필수 항목과 선택 항목 모두)")
    agree_terms = BooleanField(
        "(필수) 이용약관에 동의합니다.", validators=[DataRequired("이용약관에 동의해야 가입할 수 있습니다.")]
    )
    agree_privacy = BooleanField(
        "(필수) 개인정보 수집·이용에 동의합니다.",
        validators=[DataRequired("개인정보 수집·이용에 동의해야 가입할 수 있습니다.")],
    )
    agree_age = BooleanField(
        "(필수) 만 14세 이상입니다.",
        validators=[
            DataRequired(
                "만 14세 이상만 가입할 수 있습니다. 만 14세 미만은 법정대리인의 동의가 필요해 가입을 받지 않습니다."
            )
        ],
    )
    marketing_opt_in = BooleanField("(선택) 이벤트·혜택 정보를 이메일로 받겠습니다.")

    ITEMS = ("agree_terms", "agree_privacy", "agree_age", "marketing_opt_in")

    def validate(self, extra_validators=None) -> bool:
        if self.agree_all.data:
            for name in self.ITEMS:
                self[name].data = True
        return super().validate(extra_validators)


class ConfirmSignupForm(FlaskForm):
    password = PasswordField("가입할 때 정한 비밀번호", validators=[DataRequired("비밀번호를 입력해 주세요.")])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("가입한 이메일", validators=EMAIL)


class ResetPasswordForm(FlaskForm):
    password = new_password_field("새 비밀번호 (10자 이상)")
    password_confirm = confirm_field("새 비밀번호 확인")
