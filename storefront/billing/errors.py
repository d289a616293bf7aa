"""Errors the billing domain raises, and the plain-Korean reasons shoppers are shown.

Charging itself reports outcomes as values (`charging.ChargeResult`), not exceptions:
a decline is an expected result, not a bug. The exceptions here are for callers that
ask for something that cannot be done (an unknown subscription). `failure_message`
turns a Toss error code (or one of ours) into the sentence a payment-failed notice
and a checkout page show; it never echoes Toss's own text, which may be English or
technical, and never contains a key. `charge_failure_reason` and `CARD_DECLINE_CODES` read a stored
failure code for the pages, so views never interpret Toss's codes themselves.
"""

from __future__ import annotations

from storefront.toss.errors import CATEGORIES, Category, categorize


class BillingError(Exception):
    """Base class of the billing domain's errors."""


class SubscriptionNotFound(BillingError):
    """No subscription has the given id."""

    def __init__(self, subscription_id: int) -> None:
        self.subscription_id = subscription_id
        super().__init__(f"subscription {subscription_id} does not exist")


# Our own failure codes (never sent by Toss).
NO_USABLE_CARD = "NO_USABLE_CARD"  # no billing key, or it was removed/destroyed
VAULT_ERROR = "VAULT_ERROR"  # the sealed key does not open (missing ENCRYPTION_KEYS_OLD entry?)
NO_PAYMENT = "NO_PAYMENT"  # reconcile: Toss has no payment for the order, so none happened

_CARD_GONE = "등록된 카드 정보를 더 이상 사용할 수 없습니다. 카드를 다시 등록해 주세요."

MESSAGES: dict[str, str] = {
    "REJECT_CARD_PAYMENT": "잔액 부족 또는 한도 초과로 결제가 승인되지 않았습니다.",
    "REJECT_ACCOUNT_PAYMENT": "계좌 잔액이 부족합니다.",
    "EXCEED_MAX_AMOUNT": "카드 한도를 초과했습니다.",
    "EXCEED_MAX_PAYMENT_AMOUNT": "하루 결제 한도를 초과했습니다.",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": "하루 결제 횟수를 초과했습니다.",
    "INVALID_CARD_EXPIRATION": "카드 유효기간이 만료되었습니다.",
    "INVALID_STOPPED_CARD": "정지된 카드입니다.",
    "INVALID_CARD_LOST_OR_STOLEN": "분실 또는 도난 신고된 카드입니다.",
    "INVALID_REJECT_CARD": "카드사에서 결제를 거절했습니다. 카드사에 문의해 주세요.",
    "REJECT_CARD_COMPANY": "카드사에서 결제를 거절했습니다. 카드사에 문의해 주세요.",
    "INVALID_CARD_NUMBER": "카드 번호가 올바르지 않습니다.",
    "NOT_SUPPORTED_CARD_TYPE": "자동결제를 지원하지 않는 카드입니다.",
    "EXCEED_MAX_AUTH_COUNT": "카드 인증 시도 횟수를 초과했습니다.",
    "ALREADY_REMOVED_BILLING_KEY": _CARD_GONE,
    "NOT_FOUND_BILLING": _CARD_GONE,
    "INVALID_BILL_KEY_REQUEST": _CARD_GONE,
    "NOT_MATCHES_CUSTOMER_KEY": _CARD_GONE,
    NO_USABLE_CARD: "등록된 결제 카드가 없습니다. 카드를 등록해 주세요.",
}

_BY_CATEGORY: dict[Category, str] = {
    Category.HARD_DECLINE: "카드 결제가 승인되지 않았습니다. 다른 카드로 변경해 주세요.",
    Category.SOFT_DECLINE: "카드 결제가 승인되지 않았습니다. 카드 잔액이나 한도를 확인해 주세요.",
    Category.TRANSIENT: "일시적인 오류로 결제하지 못했습니다. 잠시 후 다시 시도합니다.",
    Category.CONFIG: "결제 처리 중 오류가 발생했습니다. 상점에서 확인 후 다시 시도합니다.",
    Category.UNKNOWN_OUTCOME: "결제 결과를 확인하고 있습니다.",
}


def failure_message(code: str | None, category: Category | None = None) -> str:
    """The plain-Korean reason for a failed charge, by code, else by category."""
    if code and code in MESSAGES:
        return MESSAGES[code]
    return _BY_CATEGORY.get(category or Category.SOFT_DECLINE, _BY_CATEGORY[Category.SOFT_DECLINE])


def charge_failure_reason(code: str | None) -> str:
    """The plain-Korean reason for a failed charge attempt, from its stored code alone (내 구독's history)."""
    return failure_message(code, categorize(code or ""))


# The failure codes that are the card's own answer (a decline a shopper should see on 내 구독), not our
# hiccups (retried) nor calls that never happened; a tuple, for a SQL ``IN``.
CARD_DECLINE_CODES: tuple[str, ...] = tuple(
    sorted(code for code, category in CATEGORIES.items() if category in (Category.HARD_DECLINE, Category.SOFT_DECLINE))
)
