"""이용약관, 개인정보처리방침, 환불 규정 and 고객센터: what reviewers and the law look for."""

from __future__ import annotations

import re

import pytest

from storefront.web.legal import PRIVACY_VERSION, REFUND_VERSION, TERMS_VERSION, effective_date


def text(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.get_data(as_text=True)
    assert " style=" not in html and "<script>" not in html  # strict CSP
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize(
    "path, title, version",
    [
        ("/terms", "이용약관", TERMS_VERSION),
        ("/privacy", "개인정보처리방침", PRIVACY_VERSION),
        ("/refund-policy", "청약철회·해지·환불 규정", REFUND_VERSION),
    ],
)
def test_each_legal_page_shows_its_version_and_effective_date(client, path, title, version):
    page = text(client, path)
    assert title in page
    assert f"버전 {version}" in page
    assert f"시행일 {effective_date(version)}" in page


def test_effective_date_is_written_the_korean_way():
    assert effective_date("2026-03-05") == "2026년 3월 5일"


def test_terms_cover_the_subscription_clauses(client):
    page = text(client, "/terms")
    for clause in (
        "자동 갱신",
        "그 달의 마지막 날에 결제",  # anchor day + month-end rule
        "1월 31일에 시작한 월간 구독은 2월 28일(윤년은 29일), 3월 31일, 4월 30일",
        "변경 전 30일 이내",  # price rise consent window
        "유료 전환일 전 30일 이내",  # trial conversion consent window
        "침묵은 동의가 아닙니다",
        "아무 응답을 하지 않은 경우에는 동의한 것으로 보지 않습니다",
        "24시간 언제든지 온라인으로 구독을 해지",
        "확인 단계는 한 번뿐",
        "일할 계산",
        "위약금",
        "7일 이내에 청약을 철회",
        "3영업일 이내",
    ):
        assert clause in page, clause


def test_terms_say_what_the_configured_billing_does(client):
    page = text(client, "/terms")
    assert "1일, 3일, 5일 뒤에 같은 금액으로 다시 결제" in page  # DUNNING_RETRY_DAYS default
    assert "결제일 10시 무렵" in page  # BILLING_HOUR_KST default
    assert "결제일 7일 전까지" in page  # RENEWAL_NOTICE_DAYS default
    assert "미납" in page


@pytest.mark.settings(dunning_days=(2, 4), billing_hour_kst=9, dunning_final_status="canceled", renewal_notice_days=10)
def test_terms_follow_changed_billing_settings(client):
    page = text(client, "/terms")
    assert "2일, 4일 뒤에 같은 금액으로 다시 결제" in page
    assert "결제일 9시 무렵" in page
    assert "결제일 10일 전까지" in page
    assert "마지막 재시도까지 결제되지 않으면 구독은 해지되며" in page
    assert "미납" not in page


def test_terms_name_the_merchant_from_settings(client):
    page = text(client, "/terms")
    assert "주식회사 테스트상점" in page and "제2026-서울마포-0042호" in page and "02-555-0100" in page


def test_privacy_policy_has_every_required_item(client):
    page = text(client, "/privacy")
    for item in (
        "처리 목적",
        "처리하는 개인정보 항목",
        "동의 없이 처리하는 항목",
        "동의를 받아 처리하는 항목",
        "계약 또는 청약철회 등에 관한 기록",
        "대금 결제 및 재화 등의 공급에 관한 기록",
        "소비자의 불만 또는 분쟁 처리에 관한 기록",
        "표시·광고에 관한 기록",
        "지체 없이(늦어도 5일 이내)",
        "접속기록",
        "2년",
        "AES-256-GCM",
        "customerKey",
        "무작위",
        "빌링키",
        "토스페이먼츠(주)",
        "결제 취소·환불",
        "제3자 제공",
        "국외 이전",
        "파기 절차",
        "복구·재생할 수 없도록",
        "열람, 정정·삭제, 처리정지",
        "쿠키",
        "거부",
        "개인정보 보호책임자",
        "개인정보분쟁조정위원회",
        "1833-6972",
        "118",
        "1301",
        "182",
    ):
        assert item in page, item
    # from settings: the hosting vendor and the officer
    assert "테스트호스팅(주)" in page and "이보안 (privacy@test-shop.example)" in page


def test_privacy_policy_lists_mail_and_sms_vendors_only_when_configured(client):
    page = text(client, "/privacy")
    assert "이메일 발송(계약" not in page and "문자메시지·알림톡 발송" not in page


@pytest.mark.settings(BUSINESS_MAIL_VENDOR="메일발송(주)", BUSINESS_SMS_VENDOR="문자발송(주)")
def test_privacy_policy_lists_configured_mail_and_sms_vendors(client):
    page = text(client, "/privacy")
    assert "메일발송(주) 이메일 발송" in page
    assert "문자발송(주) 문자메시지·알림톡 발송" in page


def test_refund_policy_states_the_rules(client):
    page = text(client, "/refund-policy")
    for rule in (
        "7일 이내",
        "전액",
        "제17조 제2항 제5호",
        "무료 체험이나 샘플",
        "일할 계산",
        "위약금이나 수수료는 받지 않습니다",
        "9,900원 × 20 ÷ 30 = 6,600원",
        "3영업일 이내",
        "결제 취소",
        "적립금이나 포인트로만 지급하지 않습니다",
        "결제 예정 안내 없이 자동 결제된 경우",
    ):
        assert rule in page, rule
    assert "02-555-0100" in page and "help@test-shop.example" in page and "내 구독" in page


@pytest.mark.settings(BUSINESS_SUPPORT_HOURS="평일 09:00–17:00")
def test_support_page_gives_phone_email_hours_and_online_cancellation(client):
    response = client.get("/support")
    html = response.get_data(as_text=True)
    page = text(client, "/support")
    assert 'href="tel:025550100"' in html and 'href="mailto:help@test-shop.example"' in html
    assert "평일 09:00–17:00" in page
    assert "온라인 해지 (24시간)" in page and 'href="/account"' in html
