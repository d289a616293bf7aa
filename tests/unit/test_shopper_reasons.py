"""The reasons billing hands the pages: a stored failure code read into plain Korean, no Toss code shown."""

from __future__ import annotations

from storefront.billing.errors import CARD_DECLINE_CODES, MESSAGES, charge_failure_reason
from storefront.billing.wallet.cards import registration_failure_reason


def test_a_declined_charge_reads_as_the_card_companys_answer():
    assert charge_failure_reason("REJECT_CARD_PAYMENT") == MESSAGES["REJECT_CARD_PAYMENT"]
    assert charge_failure_reason("INVALID_CARD_COMPANY_NEW_CODE").startswith("결제 결과를 확인하고 있습니다")
    assert "INVALID" not in charge_failure_reason("INVALID_CARD_COMPANY_NEW_CODE")


def test_only_the_cards_own_answers_count_as_declines_on_the_account_page():
    assert "INVALID_STOPPED_CARD" in CARD_DECLINE_CODES and "EXCEED_MAX_AMOUNT" in CARD_DECLINE_CODES
    assert "PROVIDER_ERROR" not in CARD_DECLINE_CODES  # our or Toss's hiccup: retried, not shown
    assert "NO_PAYMENT" not in CARD_DECLINE_CODES  # ours: Toss has no such payment


def test_the_card_window_fail_page_reason_follows_tosss_code():
    assert "취소하셨습니다" in registration_failure_reason("PAY_PROCESS_CANCELED")
    assert "일시적인 오류" in registration_failure_reason("PROVIDER_ERROR")
    assert registration_failure_reason("") == registration_failure_reason(None)
    assert registration_failure_reason("").startswith("카드 등록을 완료하지 못했습니다")
