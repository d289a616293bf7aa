from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp


class LoginForm(FlaskForm):
    email = EmailField("이메일", validators=[DataRequired("이메일을 입력해 주세요."), Email("이메일 형식이 올바르지 않습니다.")])
    password = PasswordField("비밀번호", validators=[DataRequired("비밀번호를 입력해 주세요.")])


class SignupForm(FlaskForm):
    name = StringField("이름", validators=[DataRequired("이름을 입력해 주세요."), Length(max=50)])
    email = EmailField("이메일", validators=[DataRequired("이메일을 입력해 주세요."), Email("이메일 형식이 올바르지 않습니다."), Length(max=254)])
    phone = TelField(
        "휴대전화 (선택, 결제 안내 문자 수신용)",
        validators=[Optional(), Regexp(r"^0\d{1,2}-?\d{3,4}-?\d{4}$", message="전화번호 형식이 올바르지 않습니다.")],
    )
    password = PasswordField(
        "비밀번호 (10자 이상)",
        validators=[DataRequired("비밀번호를 입력해 주세요."), Length(min=10, max=128, message="비밀번호는 10자 이상이어야 합니다.")],
    )
    password_confirm = PasswordField("비밀번호 확인", validators=[EqualTo("password", message="비밀번호가 일치하지 않습니다.")])
    agree_terms = BooleanField("(필수) 이용약관에 동의합니다.", validators=[DataRequired("이용약관에 동의해야 가입할 수 있습니다.")])
    agree_privacy = BooleanField(
        "(필수) 개인정보 수집·이용에 동의합니다.", validators=[DataRequired("개인정보 수집·이용에 동의해야 가입할 수 있습니다.")]
    )
    marketing_opt_in = BooleanField("(선택) 이벤트·혜택 정보를 이메일로 받겠습니다.")
