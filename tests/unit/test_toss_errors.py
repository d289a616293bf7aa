"""Every Toss error code we know sorts into what the caller must do about it."""

from __future__ import annotations

import pytest

from storefront.toss.errors import CATEGORIES, Category, TossError, categorize, classify

HARD, SOFT, TRANSIENT, CONFIG = (Category.HARD_DECLINE, Category.SOFT_DECLINE, Category.TRANSIENT, Category.CONFIG)
UNKNOWN, NOT_FOUND, USER = Category.UNKNOWN_OUTCOME, Category.NOT_FOUND, Category.USER_ACTION

# toss-api.md §6.2 (the "Retry" column), the cancel codes of §3.5, the billing-issue codes of the
# §6 notes, and the client's own codes for answers that never came.
EXPECTED: dict[str, Category] = {
    "NOT_SUPPORTED_METHOD": CONFIG,
    "NOT_SUPPORTED_CARD_TYPE": HARD,
    "NOT_MATCHES_CUSTOMER_KEY": CONFIG,
    "INVALID_BILL_KEY_REQUEST": HARD,
    "INVALID_BILLING_AUTH": HARD,
    "NOT_FOUND_BILLING": HARD,
    "ALREADY_REMOVED_BILLING_KEY": HARD,
    "INVALID_CARD_EXPIRATION": HARD,
    "INVALID_STOPPED_CARD": HARD,
    "INVALID_CARD_LOST_OR_STOLEN": HARD,
    "INVALID_REJECT_CARD": HARD,
    "INVALID_CARD_NUMBER": HARD,
    "INVALID_CARD_IDENTITY": HARD,
    "INVALID_BIRTH_DAY_FORMAT": HARD,
    "INVALID_CARD_PASSWORD": HARD,
    "REJECT_CARD_COMPANY": HARD,
    "REJECT_CARD_PAYMENT": SOFT,
    "REJECT_ACCOUNT_PAYMENT": SOFT,
    "EXCEED_MAX_PAYMENT_AMOUNT": SOFT,
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": SOFT,
    "EXCEED_MAX_AMOUNT": SOFT,
    "EXCEED_MAX_AUTH_COUNT": HARD,
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN": CONFIG,
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT": CONFIG,
    "INVALID_CARD_INSTALLMENT_PLAN": CONFIG,
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN": CONFIG,
    "BELOW_MINIMUM_AMOUNT": CONFIG,
    "DUPLICATED_ORDER_ID": UNKNOWN,
    "ALREADY_PROCESSED_PAYMENT": UNKNOWN,
    "PROVIDER_ERROR": TRANSIENT,
    "FAILED_INTERNAL_SYSTEM_PROCESSING": TRANSIENT,
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": TRANSIENT,
    "FAILED_CARD_COMPANY_RESPONSE": TRANSIENT,
    "FAILED_BILL_KEY_AUTH_CREATION": TRANSIENT,
    "FAILED_BILLING_AUTO_CANCEL": TRANSIENT,
    "FAILED_DB_PROCESSING": CONFIG,
    "COMMON_ERROR": TRANSIENT,
    "UNKNOWN_ERROR": TRANSIENT,
    "UNKNOWN_PAYMENT_ERROR": TRANSIENT,
    "FORBIDDEN_CONSECUTIVE_REQUEST": TRANSIENT,
    "IDEMPOTENT_REQUEST_PROCESSING": UNKNOWN,
    "INVALID_IDEMPOTENCY_KEY": CONFIG,
    "UNAUTHORIZED_KEY": CONFIG,
    "INVALID_API_KEY": CONFIG,
    "INCORRECT_BASIC_AUTH_FORMAT": CONFIG,
    "FORBIDDEN_REQUEST": CONFIG,
    "INVALID_REQUEST": CONFIG,
    "INVALID_CUSTOMER_KEY": CONFIG,
    "INVALID_ORDER_ID": CONFIG,
    "INVALID_ORDER_NAME": CONFIG,
    "INVALID_EMAIL": CONFIG,
    "NOT_FOUND_PAYMENT": NOT_FOUND,
    "NOT_FOUND_PAYMENT_SESSION": HARD,
    "API_VERSION_UPDATE_NEEDED": CONFIG,
    "INVALID_TEST_CODE": CONFIG,
    "PAY_PROCESS_CANCELED": USER,
    "PAY_PROCESS_ABORTED": HARD,
    "USER_CANCEL": USER,
    "NOT_REGISTERED_CARD_COMPANY": HARD,
    # §3.5 cancel errors
    "ALREADY_CANCELED_PAYMENT": UNKNOWN,
    "NOT_CANCELABLE_AMOUNT": CONFIG,
    "NOT_CANCELABLE_PAYMENT": CONFIG,
    "EXCEED_MAX_REFUND_DUE": CONFIG,
    "NOT_ALLOWED_PARTIAL_REFUND": CONFIG,
    "REFUND_REJECTED": CONFIG,
    "FAILED_REFUND_PROCESS": TRANSIENT,
    "FAILED_METHOD_HANDLING_CANCEL": TRANSIENT,
    # no HTTP answer, or not one we can use
    "TOO_MANY_REQUESTS": TRANSIENT,
    "CONNECT_FAILED": TRANSIENT,
    "TIMEOUT": UNKNOWN,
    "CONNECTION_ERROR": UNKNOWN,
    "INVALID_RESPONSE": UNKNOWN,
    "INVALID_URL": CONFIG,
}


@pytest.mark.parametrize(("code", "category"), sorted(EXPECTED.items()))
def test_each_code_has_its_category(code: str, category: Category) -> None:
    assert categorize(code) is category


def test_table_and_expectations_list_the_same_codes() -> None:
    assert set(CATEGORIES) == set(EXPECTED)


def test_unknown_codes_are_unknown_outcome() -> None:
    assert categorize("SOME_CODE_TOSS_ADDS_NEXT_YEAR") is UNKNOWN


@pytest.mark.parametrize(
    ("code", "status", "money_moving", "category"),
    [
        ("PROVIDER_ERROR", 400, True, TRANSIENT),  # a 400 that is transient: the code decides
        ("REJECT_CARD_PAYMENT", 403, True, SOFT),
        ("INVALID_STOPPED_CARD", 400, True, HARD),
        ("UNAUTHORIZED_KEY", 401, False, CONFIG),
        ("DUPLICATED_ORDER_ID", 400, True, UNKNOWN),
        ("ALREADY_PROCESSED_PAYMENT", 400, True, UNKNOWN),
        ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500, True, UNKNOWN),  # 5xx after sending money
        ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500, False, TRANSIENT),  # ... but a lookup moves nothing
        ("FAILED_DB_PROCESSING", 500, True, UNKNOWN),
        ("FAILED_DB_PROCESSING", 500, False, CONFIG),
        ("BRAND_NEW_CODE", 400, True, UNKNOWN),
        ("BRAND_NEW_CODE", 400, False, CONFIG),
        ("BRAND_NEW_CODE", 503, False, TRANSIENT),
        ("HTTP_502", 502, True, UNKNOWN),
        ("HTTP_429", 429, True, TRANSIENT),
        ("TOO_MANY_REQUESTS", 429, True, TRANSIENT),
        ("REJECT_CARD_PAYMENT", 429, True, SOFT),  # a known code still wins over 429
        ("NOT_FOUND_PAYMENT", 404, False, NOT_FOUND),
    ],
)
def test_classify_uses_the_code_and_the_kind_of_call(
    code: str, status: int, money_moving: bool, category: Category
) -> None:
    assert classify(code, status, money_moving=money_moving) is category


def test_toss_error_carries_its_fields() -> None:
    error = TossError("REJECT_CARD_PAYMENT", "한도초과", 403, trace_id="trace-1")

    assert (error.code, error.message, error.http_status, error.trace_id) == (
        "REJECT_CARD_PAYMENT",
        "한도초과",
        403,
        "trace-1",
    )
    assert error.category is SOFT and not error.unknown_outcome
    assert str(error) == "REJECT_CARD_PAYMENT (403): 한도초과"
    assert TossError("TIMEOUT", "no answer").unknown_outcome
    assert TossError("PROVIDER_ERROR", "x", 400, Category.CONFIG).category is CONFIG
