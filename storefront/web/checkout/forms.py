"""Checkout forms: shape only; the rules that touch money live in billing.recurring.checkout."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, TelField
from wtforms.validators import DataRequired, Optional, Regexp


class CheckoutForm(FlaskForm):
    """The two separate, unticked, required consents of the order page."""

    agree_terms = BooleanField(
        "(필수) 이용약관에 동의합니다.",
        validators=[DataRequired("이용약관에 동의해야 구독할 수 있습니다.")],
    )
    agree_renewal = BooleanField(
        "(필수) 위 정기결제(자동갱신) 조건에 동의합니다: 결제 금액, 결제 주기와 결제일, 해지 방법을 확인했습니다.",
        validators=[DataRequired("정기결제(자동갱신) 조건에 동의해야 구독할 수 있습니다.")],
    )
    # Asked only for a free trial when the account has no number: the paid conversion is
    # announced by text message at least 7 days ahead (여신전문금융업 감독규정), not by email alone.
    phone = TelField(
        "휴대전화 번호 (유료 전환 7일 전 안내 문자 수신용)",
        validators=[
            Optional(),
            Regexp(r"^01[016789]-?\d{3,4}-?\d{4}$", message="휴대전화 번호 형식이 올바르지 않습니다."),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes state: CSRF only."""
