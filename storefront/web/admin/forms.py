"""Admin forms: shape checks only (rules that need the database live in catalog/billing)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.i18n import get_translations
from wtforms.validators import UUID, DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from storefront.billing.compliance.cooling_off import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS

SLUG = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message="영문 소문자, 숫자, 하이픈(-)만 쓸 수 있습니다.")
KINDS = [("subscription", "정기구독"), ("one_time", "단건 구매")]
INTERVALS = [("month", "매월"), ("year", "매년"), ("once", "1회")]
MIN_PRICE_WON = 100  # card payments below 100원 are refused by Toss
MAX_PRICE_WON = 10_000_000


_KOREAN = get_translations(["ko"])  # WTForms' own messages ("Not a valid integer value.") in Korean


class AdminForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _KOREAN


class ActionForm(AdminForm):
    """A button that changes state (activate, deactivate, reprocess): CSRF only."""


class CategoryForm(AdminForm):
    name = StringField("카테고리 이름", validators=[DataRequired("이름을 입력해 주세요."), Length(max=100)])
    slug = StringField("주소용 이름 (slug)", validators=[DataRequired("slug를 입력해 주세요."), Length(max=64), SLUG])


class ProductForm(AdminForm):
    category_id = SelectField("카테고리", coerce=int, validators=[InputRequired("카테고리를 선택해 주세요.")])
    name = StringField("상품명", validators=[DataRequired("상품명을 입력해 주세요."), Length(max=100)])
    slug = StringField("주소용 이름 (slug)", validators=[DataRequired("slug를 입력해 주세요."), Length(max=64), SLUG])
    kind = SelectField("판매 방식", choices=KINDS)
    summary = StringField("한 줄 소개", validators=[Optional(), Length(max=255)])
    description = TextAreaField("상세 설명", validators=[Optional(), Length(max=20_000)])
    provision = TextAreaField("제공 방법 및 기간", validators=[Optional(), Length(max=5_000)])
    getting_started = TextAreaField("결제 후 이용 방법", validators=[Optional(), Length(max=5_000)])
    cooling_off_days = IntegerField(
        "청약철회 기간 (결제일 다음 날부터, 일)",
        default=DEFAULT_DAYS,
        validators=[
            Optional(),
            NumberRange(
                MIN_DAYS, MAX_DAYS, f"청약철회 기간은 {MIN_DAYS}일(법정 최소) 이상 {MAX_DAYS}일 이하여야 합니다."
            ),
        ],
    )
    cooling_off_exclusion = TextAreaField(
        "청약철회 제한: 디지털 콘텐츠 제공 개시 기준", validators=[Optional(), Length(max=500)]
    )
    # Checked and re-encoded by storefront.media (content, not name or type, decides); replaces `image` when given.
    image_file = FileField("상품 이미지 올리기 (JPEG·PNG·WebP, 5MB 이하)")
    image = StringField(
        "이미지 경로 (static/ 아래, 예: img/plan.png)",
        validators=[
            Optional(),
            Length(max=255),
            Regexp(r"^[A-Za-z0-9_./-]+$", message="경로에는 영문, 숫자, _ . / - 만 쓸 수 있습니다."),
        ],
    )
    position = IntegerField("정렬 순서", default=0, validators=[Optional(), NumberRange(0, 10_000, "0~10000")])
    active = BooleanField("판매 중", default=True)


class PlanForm(AdminForm):
    name = StringField("플랜 이름", validators=[DataRequired("플랜 이름을 입력해 주세요."), Length(max=100)])
    amount_won = IntegerField(
        "가격 (원, VAT 포함)",
        validators=[
            InputRequired("가격을 입력해 주세요."),
            NumberRange(
                MIN_PRICE_WON, MAX_PRICE_WON, f"가격은 {MIN_PRICE_WON:,}원 이상 {MAX_PRICE_WON:,}원 이하여야 합니다."
            ),
        ],
    )
    trial_days = IntegerField(
        "무료 체험 일수",
        default=0,
        validators=[
            Optional(),
            NumberRange(0, 365, "무료 체험은 0~365일이어야 합니다."),
        ],
    )
    position = IntegerField("정렬 순서", default=0, validators=[Optional(), NumberRange(0, 10_000, "0~10000")])


class NewPlanForm(PlanForm):
    interval = SelectField("결제 주기", choices=INTERVALS)


class RefundForm(AdminForm):
    amount_won = IntegerField(
        "환불 금액 (원)",
        validators=[
            InputRequired("환불 금액을 입력해 주세요."),
            NumberRange(min=1, message="환불 금액은 1원 이상이어야 합니다."),
        ],
    )
    reason = StringField(
        "환불 사유 (고객에게 표시될 수 있습니다)",
        validators=[
            DataRequired("환불 사유를 입력해 주세요."),
            Length(max=200, message="환불 사유는 200자 이내로 입력해 주세요."),
        ],
    )
    # A uuid4 made when the form is rendered: a double submit carries the same one (one refund).
    request_id = HiddenField(
        validators=[
            DataRequired("요청 번호가 없습니다. 페이지를 새로 고쳐 주세요."),
            UUID("요청 번호가 올바르지 않습니다. 페이지를 새로 고쳐 주세요."),
        ]
    )


class ApplyPriceForm(AdminForm):
    """Apply a plan's current price to its existing subscribers from a date at least 30 days ahead."""

    effective_on = DateField("적용 시작일", validators=[InputRequired("적용 시작일을 입력해 주세요.")])
    # The price the admin saw when the form was shown: a price edited meanwhile is not applied blindly.
    amount_won = HiddenField(validators=[DataRequired()])
