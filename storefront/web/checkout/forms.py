"""Checkout forms: shape only; the rules that touch money live in billing.checkout."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired


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


class ActionForm(FlaskForm):
    """A button that changes state: CSRF only."""
