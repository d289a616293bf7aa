"""Every notice renders (text + HTML, and SMS where it has one) with the facts a customer needs."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from storefront.notify import KINDS, NoticeError, Renderer, default_environment
from tests.conftest import make_config

# 2026-04-09 15:30 UTC is already 2026-04-10 00:30 in Seoul: dates must follow Seoul.
NEXT = "2026-04-09T15:30:00+00:00"
CARD = "신한카드 4321-****-****-123*"
SITE = "http://127.0.0.1:5000"

SAMPLES: dict[str, tuple[dict, list[str]]] = {
    "card_registered": ({"card_label": CARD}, [CARD, "결제수단이 등록되었습니다"]),
    "signup_confirm": (
        {"confirm_url": f"{SITE}/signup/confirm/tok", "expires_at": NEXT},
        [f"{SITE}/signup/confirm/tok", "2026-04-10 00:30", "가입 완료하기", "무시해 주세요"],
    ),
    "signup_existing": (
        {"login_url": f"{SITE}/login", "reset_url": f"{SITE}/password/forgot"},
        [f"{SITE}/login", f"{SITE}/password/forgot", "이미 가입되어 있어 새 계정을 만들지 않았습니다"],
    ),
    "password_reset": (
        {"reset_url": f"{SITE}/password/reset/tok", "expires_at": NEXT},
        [f"{SITE}/password/reset/tok", "2026-04-10 00:30", "30분", "한 번만"],
    ),
    "password_changed": (
        {"changed_at": NEXT, "reset_url": f"{SITE}/password/forgot", "ended_elsewhere": True},
        [
            "2026-04-10 00:30",
            "비밀번호가 바뀌었습니다",
            f"{SITE}/password/forgot",
            "다른 기기와 브라우저의 로그인은 모두 끝냈습니다",
        ],
    ),
    "payment_receipt": (
        {
            "product_name": "프리미엄 뉴스레터",
            "plan_name": "월간",
            "amount_won": 9900,
            "period_start": "2026-03-09T15:30:00+00:00",
            "period_end": NEXT,
            "card_label": CARD,
            "receipt_url": "https://dashboard.tosspayments.com/receipt/abc",
            "order_id": "sub-7-202603",
            "next_charge_at": NEXT,
            "first": True,
            "paid_at": "2026-03-10T01:00:00+00:00",
            "getting_started": "가입하신 이메일로 강의실 초대 메일을 보내 드립니다.",
            "cooling_off_until": "2026년 3월 17일",
            "cooling_off_exclusion": "",
        },
        [
            "9,900원",
            "2026년 3월 10일 ~ 2026년 4월 10일",
            CARD,
            "sub-7-202603",
            "https://dashboard.tosspayments.com/receipt/abc",
            "다음 결제 예정일",
            "2026-03-10 10:00",
            "해지",
            "이용 방법",
            "가입하신 이메일로 강의실 초대 메일을 보내 드립니다.",
            "2026년 3월 17일까지",
            "마이페이지(내 구독)",
            "전액",
        ],
    ),
    "order_receipt": (
        {
            "product_name": "프레젠테이션 템플릿 팩",
            "plan_name": "단품 구매",
            "amount_won": 29000,
            "order_id": "O20260310-0123456789abcdef",
            "paid_at": "2026-03-10T01:00:00+00:00",
            "card_label": CARD,
            "receipt_url": "https://dashboard.tosspayments.com/receipt/xyz",
            "provision": "1영업일 이내 이메일로 발송",
            "getting_started": "다운로드 링크를 이메일로 보내 드립니다.",
            "cooling_off_until": "2026년 3월 17일",
            "cooling_off_exclusion": "",
        },
        [
            "29,000원",
            "O20260310-0123456789abcdef",
            "2026-03-10 10:00",
            CARD,
            "1영업일 이내 이메일로 발송",
            "https://dashboard.tosspayments.com/receipt/xyz",
            f"{SITE}/orders/O20260310-0123456789abcdef",
            "자동으로 다시 결제되지 않습니다",
            "이용 방법",
            "다운로드 링크를 이메일로 보내 드립니다.",
            "2026년 3월 17일까지 주문 내역 화면에서 직접 청약철회",
            f"{SITE}/refund-policy",
        ],
    ),
    "order_withdrawn": (
        {
            "product_name": "프레젠테이션 템플릿 팩",
            "plan_name": "단품 구매",
            "order_id": "O20260310-0123456789abcdef",
            "refund_amount_won": 29000,
            "withdrawn_at": "2026-03-12T01:00:00+00:00",
        },
        [
            "청약철회",
            "29,000원",
            "전액",
            "O20260310-0123456789abcdef",
            "2026-03-12 10:00",
            f"{SITE}/orders/O20260310-0123456789abcdef",
            "두 번 환불되지는 않습니다",
        ],
    ),
    "payment_refunded": (
        {
            "product_name": "프리미엄 뉴스레터",
            "plan_name": "월간",
            "refund_amount_won": 3900,
            "paid_amount_won": 9900,
            "remaining_won": 6000,
            "full": False,
            "refunded_at": "2026-03-11T01:00:00+00:00",
            "card_label": CARD,
            "period_start": "2026-03-09T15:30:00+00:00",
            "period_end": NEXT,
            "subscription_state": "renews",
            "next_charge_at": NEXT,
        },
        [
            "결제 중 3,900원이 카드 결제 취소로 환불되었습니다",
            "9,900원",
            "6,000원",
            "2026-03-11 10:00",
            CARD,
            "2026년 3월 10일 ~ 2026년 4월 10일",
            "구독은 그대로 유지됩니다",
            "다음 결제일(2026년 4월 10일)",
            "고객센터",
        ],
    ),
    "payment_failed": (
        {
            "product_name": "프리미엄 뉴스레터",
            "amount_won": 9900,
            "failure_message": "카드 한도가 초과되었습니다.",
            "retry_at": "2026-03-11T01:00:00+00:00",
            "final": False,
            "hard_decline": False,
            "change_card_url": f"{SITE}/account/card",
        },
        [
            "9,900원",
            "카드 한도가 초과되었습니다.",
            "2026-03-11 10:00",
            f"{SITE}/account/card",
            "다시 결제를 시도합니다",
        ],
    ),
    "renewal_notice": (
        {
            "product_name": "프리미엄 뉴스레터",
            "plan_name": "연간",
            "amount_won": 99000,
            "next_charge_at": NEXT,
            "card_label": CARD,
            "cancel_url": f"{SITE}/account/cancel/7",
        },
        ["99,000원", "2026년 4월 10일", CARD, f"{SITE}/account/cancel/7"],
    ),
    "subscription_canceled": (
        {"product_name": "프리미엄 뉴스레터", "access_until": NEXT, "resume_url": f"{SITE}/account/resume/7"},
        ["2026년 4월 10일까지", f"{SITE}/account/resume/7", "자동으로 결제되지 않습니다"],
    ),
    "subscription_resumed": (
        {"product_name": "프리미엄 뉴스레터", "next_charge_at": NEXT, "amount_won": 9900},
        ["2026년 4월 10일", "9,900원", "구독이 계속됩니다"],
    ),
    "subscription_ended": (
        {
            "product_name": "프리미엄 뉴스레터",
            "ended_reason": "결제 실패가 계속되어 구독이 종료되었습니다.",
            "ended_at": NEXT,
        },
        ["2026년 4월 10일", "결제 실패가 계속되어 구독이 종료되었습니다.", "구독이 종료되었습니다"],
    ),
    "plan_changed": (
        {
            "product_name": "프리미엄 뉴스레터",
            "old_plan_name": "월간",
            "new_plan_name": "연간",
            "new_amount_won": 99000,
            "effective_at": NEXT,
        },
        ["월간", "연간", "99,000원", "2026년 4월 10일"],
    ),
    "consent_request": (
        {
            "change_type": "price_increase",
            "product_name": "프리미엄 뉴스레터",
            "effective_at": NEXT,
            "old_amount_won": 9900,
            "new_amount_won": 12900,
            "card_label": CARD,
            "consent_url": f"{SITE}/consent/tok123",
            "cancel_url": f"{SITE}/account/cancel/7",
            "deadline": "2026-04-08T14:59:00+00:00",
        },
        [
            "2026년 4월 10일",
            "9,900원",
            "12,900원",
            CARD,
            "2026년 4월 8일까지",
            "아무것도 결제되지 않으며, 구독은 2026년 4월 10일에 종료됩니다",
            f"{SITE}/consent/tok123",
            f"{SITE}/account/cancel/7",
        ],
    ),
    "consent_reminder": (
        {
            "change_type": "trial_conversion",
            "product_name": "프리미엄 뉴스레터",
            "effective_at": NEXT,
            "old_amount_won": 0,
            "new_amount_won": 9900,
            "card_label": CARD,
            "consent_url": f"{SITE}/consent/tok123",
            "cancel_url": f"{SITE}/account/cancel/7",
        },
        ["다시 안내", "무료 체험", "0원", "9,900원", CARD, "아무것도 결제되지 않으며", f"{SITE}/consent/tok123"],
    ),
    "trial_conversion_notice": (
        {
            "product_name": "프리미엄 뉴스레터",
            "effective_at": NEXT,
            "new_amount_won": 9900,
            "cancel_url": f"{SITE}/account/cancel/7",
        },
        ["2026년 4월 10일", "9,900원", f"{SITE}/account/cancel/7", "동의하지 않으신 경우 아무것도 결제되지 않고"],
    ),
}

FOOTER = [
    "주식회사 테스트상점",
    "홍길동",
    "220-81-12345",
    "제2026-서울마포-0042호",
    "서울특별시 마포구 월드컵북로 1, 3층",
    "02-555-0100",
    "help@test-shop.example",
    "광고성 정보 수신 동의 여부와 관계없이 발송되는 정보성",
]


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return Renderer(default_environment(), make_config(tmp_path))


def test_every_kind_has_a_sample():
    assert set(SAMPLES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_notice_shows_its_facts_and_the_business_footer_in_text_and_html(renderer: Renderer, kind: str):
    context, facts = SAMPLES[kind]
    out = renderer.render(kind, context, user_name="김구매", sms=KINDS[kind].sms)

    assert out.subject.startswith("[주식회사 테스트상점] ")
    for body in (out.text, out.html):
        for fact in facts + FOOTER + ["김구매님", f"{SITE}/account"]:
            assert fact in body, f"{kind}: {fact!r} missing"
        assert "None" not in body and "Undefined" not in body
    assert "<" not in out.text
    assert out.html.lstrip().startswith("<!doctype html>")
    assert f"<title>{out.subject}</title>" in out.html


@pytest.mark.parametrize(
    "kind,subject",
    [
        ("payment_receipt", "[주식회사 테스트상점] 구독 시작 및 결제 완료 안내"),
        ("payment_failed", "[주식회사 테스트상점] 결제 실패 안내"),
        ("renewal_notice", "[주식회사 테스트상점] 정기결제 예정 안내"),
        ("consent_request", "[주식회사 테스트상점] 구독 요금 변경 동의 요청"),
        ("consent_reminder", "[주식회사 테스트상점] (재안내) 유료 전환 동의 요청"),
        ("subscription_canceled", "[주식회사 테스트상점] 구독 해지 완료 안내"),
    ],
)
def test_subjects_are_korean_and_name_the_seller(renderer: Renderer, kind: str, subject: str):
    assert renderer.render(kind, SAMPLES[kind][0], user_name="김구매").subject == subject


def test_dates_follow_seoul_not_utc(renderer: Renderer):
    out = renderer.render("renewal_notice", SAMPLES["renewal_notice"][0], user_name="김구매")
    assert "2026년 4월 10일" in out.text
    assert "4월 9일" not in out.text


def test_a_renewal_receipt_drops_the_first_charge_explanations_and_missing_optional_facts(renderer: Renderer):
    context = {
        k: v
        for k, v in SAMPLES["payment_receipt"][0].items()
        if k not in ("receipt_url", "order_id", "next_charge_at", "paid_at", "first")
    }
    out = renderer.render("payment_receipt", context, user_name="김구매")
    assert out.subject == "[주식회사 테스트상점] 결제 완료 안내"
    for body in (out.text, out.html):
        assert "9,900원" in body
        for absent in ("주문번호", "매출전표", "다음 결제 예정일", "청약철회", "None"):
            assert absent not in body


@pytest.mark.parametrize(
    "change,expected,unexpected",
    [
        ({"final": True}, "더 이상 결제를 시도하지 않습니다", "2026-03-11 10:00"),
        ({"hard_decline": True, "retry_at": None}, "같은 카드로 다시 시도하지 않습니다", "2026-03-11 10:00"),
    ],
)
def test_a_failure_without_retry_says_so_and_asks_for_another_card(renderer: Renderer, change, expected, unexpected):
    out = renderer.render("payment_failed", SAMPLES["payment_failed"][0] | change, user_name="김구매", sms=True)
    assert out.subject == "[주식회사 테스트상점] 결제 실패 안내 (결제수단 변경 필요)"
    for body in (out.text, out.html, out.sms):
        assert unexpected not in body
    assert expected in out.text and expected in out.html


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.anchors: dict[str, tuple[dict, str]] = {}
        self._open: dict | None = None
        self._parent: str = ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open, self._parent = dict(attrs), self.stack[-1][0] if self.stack else ""
        self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None and data.strip():
            self.anchors[data.strip()] = (self._open, self._parent)


@pytest.mark.parametrize("kind", ["consent_request", "consent_reminder"])
def test_consent_email_offers_agree_and_cancel_with_equal_weight(renderer: Renderer, kind: str):
    out = renderer.render(kind, SAMPLES[kind][0], user_name="김구매")
    parser = _Anchors()
    parser.feed(out.html)
    agree_attrs, agree_parent = parser.anchors["동의"]
    cancel_attrs, cancel_parent = parser.anchors["해지"]
    assert agree_attrs["href"] == f"{SITE}/consent/tok123"
    assert cancel_attrs["href"] == f"{SITE}/account/cancel/7"
    # Same element, same class, same container: neither choice is dressed up over the other.
    assert {k: v for k, v in agree_attrs.items() if k != "href"} == {
        k: v for k, v in cancel_attrs.items() if k != "href"
    }
    assert agree_parent == cancel_parent == "td"
    assert f"동의: {SITE}/consent/tok123\n해지: {SITE}/account/cancel/7\n" in out.text


def test_consent_for_a_trial_shows_the_free_price_and_what_silence_means(renderer: Renderer):
    out = renderer.render("consent_request", SAMPLES["consent_reminder"][0], user_name="김구매", sms=True)
    assert "- 변경 전 금액: 0원 (무료 체험)" in out.text
    assert "동의하지 않거나 응답하지 않으시면 아무것도 결제되지 않으며" in out.text
    assert "0원 → 9,900원" in out.sms and CARD in out.sms


@pytest.mark.parametrize("kind", sorted(k for k, spec in KINDS.items() if spec.sms))
def test_sms_texts_are_one_line_with_seller_amount_and_link(renderer: Renderer, kind: str):
    context = SAMPLES[kind][0]
    out = renderer.render(kind, context, user_name="김구매", sms=True)
    assert out.sms is not None and "\n" not in out.sms
    assert out.sms.startswith("[주식회사 테스트상점] ")
    amount = next(v for k, v in context.items() if k.endswith("amount_won") and k != "old_amount_won")
    assert f"{amount:,}원" in out.sms
    assert "http" in out.sms  # a link to act on (cancel, change card, receipt)


def test_trial_conversion_sms_has_date_amount_and_cancel_link(renderer: Renderer):
    out = renderer.render(
        "trial_conversion_notice", SAMPLES["trial_conversion_notice"][0], user_name="김구매", sms=True
    )
    assert "2026년 4월 10일" in out.sms and "9,900원" in out.sms and f"{SITE}/account/cancel/7" in out.sms


def test_values_are_escaped_in_html(renderer: Renderer):
    out = renderer.render("card_registered", {"card_label": "<b>카드</b>"}, user_name="<script>x</script>")
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "&lt;b&gt;카드&lt;/b&gt;" in out.html


def test_a_missing_required_fact_is_refused_by_name(renderer: Renderer):
    context = dict(SAMPLES["payment_receipt"][0])
    del context["amount_won"]
    with pytest.raises(NoticeError, match="amount_won"):
        renderer.render("payment_receipt", context, user_name="김구매")


@pytest.mark.parametrize("key", ["billing_key", "toss_secret_key", "authKey", "customer_key"])
def test_secret_looking_context_is_refused(renderer: Renderer, key: str):
    with pytest.raises(NoticeError, match="secret"):
        renderer.render("card_registered", {"card_label": CARD, key: "bk_live_123"}, user_name="김구매")


def test_bad_change_type_and_bad_dates_are_refused(renderer: Renderer):
    base = SAMPLES["consent_request"][0]
    with pytest.raises(NoticeError, match="change_type"):
        renderer.render("consent_request", base | {"change_type": "whatever"}, user_name="김구매")
    with pytest.raises(NoticeError, match="effective_at"):
        renderer.render("consent_request", base | {"effective_at": "next tuesday"}, user_name="김구매")


def test_the_apps_jinja_environment_renders_the_same(app, renderer: Renderer):
    context = SAMPLES["payment_receipt"][0]
    ours = renderer.render("payment_receipt", context, user_name="김구매")
    apps = Renderer(app.jinja_env, renderer.config).render("payment_receipt", context, user_name="김구매")
    assert apps == ours


@pytest.mark.parametrize(
    "url,shown,port",
    [
        ("smtp://user:hunter2@mail.example.com:587", "smtp://mail.example.com:587", 587),
        ("smtps://user:hunter2@mail.example.com", "smtps://mail.example.com:465", 465),
    ],
)
def test_smtp_url_is_read_without_ever_showing_the_password(url: str, shown: str, port: int):
    from storefront.notify import SmtpEmailBackend

    backend = SmtpEmailBackend(url)
    assert repr(backend) == f"SmtpEmailBackend({shown})" and backend.port == port
    assert "hunter2" not in repr(backend) and "hunter2" not in str(vars(backend).get("host"))


def test_the_footer_cannot_be_replaced_by_the_callers_context(renderer: Renderer):
    out = renderer.render(
        "card_registered", {"card_label": CARD, "business": None, "site_url": "http://evil.example"}, user_name="김구매"
    )
    assert "220-81-12345" in out.text and "evil.example" not in out.text + out.html
