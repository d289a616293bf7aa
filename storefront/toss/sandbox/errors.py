"""Toss's error codes as the sandbox answers them: HTTP status, Korean and English message.

The statuses follow toss-api.md §6 (Toss's per-endpoint tables); where the sources
disagree the sandbox picks one and says so in a comment. `ApiError` is what the sandbox's
handlers raise; the app turns it into `{"code", "message"}` with the status below, the
message in English when the request asks `Accept-Language: en-US` (D-AUTH).

`ENDPOINT_CODES` decides which values the `TossPayments-Test-Code` header accepts on which
API: the codes Toss lists for that API (D-ERR's per-endpoint tables, 3P-ENUMS where D-ERR
could not be read) plus the ones every API can answer. Anything else, including the codes
marked "not a Toss code" below, is `INVALID_TEST_CODE`.

Choices where the sources disagree (kept the same in the SDK stub, the card window and the API):

- Amounts (`amount`, `cancelAmount`, `taxFreeAmount`, `taxExemptionAmount`,
  `refundableAmount`): D-REF types them as numbers, but every official sample (Django,
  Express, PHP, Go, React) confirms with `amount` straight from the success URL's query, a
  JSON string such as "50000", and Toss accepts it. The sandbox accepts a JSON number with
  no fraction or a string of digits; anything else is INVALID_REQUEST.
- orderId: D-REF allows `A-Z a-z 0-9 - _`, the SDK typings also `=`. The sandbox uses
  D-REF's set everywhere, the SDK stub included, because the confirm API refuses `=` anyway.
- Amount limits: card payments need at least 100 won (D-ERR BELOW_MINIMUM_AMOUNT). Toss
  publishes no maximum (issuers set card limits); the sandbox refuses more than
  MAX_CARD_AMOUNT with EXCEED_MAX_AMOUNT so a runaway amount is noticed in tests.
- Installments (`cardInstallmentPlan` on a billing charge): 0 (lump sum) or 2–12 months,
  and only from 50,000 won (toss-api.md §2.4); check cards have none.
"""

from __future__ import annotations

# code -> (HTTP status, Korean message, English message for `Accept-Language: en-US`)
CATALOGUE: dict[str, tuple[int, str, str]] = {
    # Auth and request shape
    "UNAUTHORIZED_KEY": (
        401,
        "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
        "Unauthorized secret key or client key.",
    ),
    "INVALID_API_KEY": (400, "잘못된 시크릿키 연동 정보 입니다.", "Invalid secret key format."),
    # 401 per a Python SDK, 403 per Java enums; the sandbox answers 401 like UNAUTHORIZED_KEY.
    "INCORRECT_BASIC_AUTH_FORMAT": (
        401,
        "잘못된 요청입니다. ':' 를 포함해 인코딩해주세요.",
        "Invalid request. Encode the secret key with a trailing ':'.",
    ),
    "FORBIDDEN_REQUEST": (403, "허용되지 않은 요청입니다.", "The request is not allowed."),
    "INVALID_REQUEST": (400, "잘못된 요청입니다.", "Invalid request."),
    "INVALID_CUSTOMER_KEY": (
        400,
        "고객 키는 2자 이상 300자 이하, 영문 대소문자·숫자·특수문자(-, _, =, ., @)만 사용할 수 있습니다.",
        "customerKey must be 2 to 300 characters of letters, digits and - _ = . @.",
    ),
    "INVALID_ORDER_ID": (
        400,
        "주문번호는 6자 이상 64자 이하의 영문 대소문자, 숫자, 특수문자(-, _)만 사용할 수 있습니다.",
        "orderId must be 6 to 64 characters of letters, digits, - and _.",
    ),
    "INVALID_ORDER_NAME": (400, "주문명은 1자 이상 100자 이하여야 합니다.", "orderName must be 1 to 100 characters."),
    "INVALID_EMAIL": (400, "유효하지 않은 이메일 주소 형식입니다.", "Invalid email address."),
    "INVALID_IDEMPOTENCY_KEY": (
        400,
        "멱등키는 최대 300자 입니다.",
        "The idempotency key can be at most 300 characters.",
    ),
    "IDEMPOTENT_REQUEST_PROCESSING": (
        409,
        "이전 멱등 요청이 처리중입니다.",
        "The previous request with this idempotency key is still being processed.",
    ),
    "INVALID_TEST_CODE": (400, "유효하지 않은 테스트 코드입니다.", "Invalid test code."),
    "API_VERSION_UPDATE_NEEDED": (400, "API 버전 업데이트가 필요합니다.", "An API version update is needed."),
    "FORBIDDEN_CONSECUTIVE_REQUEST": (
        403,
        "반복적인 요청은 허용되지 않습니다. 잠시 후 다시 시도해주세요.",
        "Repeated requests are not allowed. Please try again later.",
    ),
    # Not a Toss code: Toss documents only the 429 status ("비정상적으로 많은 요청").
    "TOO_MANY_REQUESTS": (
        429,
        "비정상적으로 많은 요청이 발생했습니다. 잠시 후 다시 시도해주세요.",
        "Too many requests. Please try again later.",
    ),
    # Not documented Toss codes either: Toss says every API answer is JSON `{code, message}`
    # (D-REQRES) but names no code for a path or method it does not serve.
    "NOT_FOUND": (404, "요청한 API를 찾을 수 없습니다.", "The requested API does not exist."),
    "METHOD_NOT_ALLOWED": (
        405,
        "이 API에서 허용되지 않는 HTTP 메서드입니다.",
        "The HTTP method is not allowed for this API.",
    ),
    # Billing keys
    "NOT_SUPPORTED_METHOD": (400, "지원되지 않는 결제 수단입니다.", "Unsupported payment method."),
    "NOT_SUPPORTED_CARD_TYPE": (400, "지원되지 않는 카드 종류입니다.", "Unsupported card type."),
    "NOT_MATCHES_CUSTOMER_KEY": (
        400,
        "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다.",
        "The customerKey does not match the one used for billing authorization.",
    ),
    "INVALID_BILL_KEY_REQUEST": (
        400,
        "빌링 인증이 완료되지 않았거나 유효하지 않은 빌링 거래입니다.",
        "Billing authorization is not complete or the billing transaction is invalid.",
    ),
    "INVALID_BILLING_AUTH": (400, "유효하지 않은 빌링 인증입니다.", "Invalid billing authorization."),
    "NOT_FOUND_BILLING": (404, "빌링 인증 정보를 찾을 수 없습니다.", "Billing authorization not found."),
    "ALREADY_REMOVED_BILLING_KEY": (400, "이미 삭제된 빌링키입니다.", "The billing key has already been deleted."),
    "EXCEED_MAX_AUTH_COUNT": (
        403,
        "최대 인증 횟수를 초과했습니다. 카드사로 문의해주세요.",
        "Too many authentication attempts. Please contact the card company.",
    ),
    "NOT_REGISTERED_CARD_COMPANY": (400, "등록되지 않은 카드사입니다.", "Unregistered card company."),
    # Card problems
    "INVALID_CARD_NUMBER": (400, "카드번호를 다시 확인해주세요.", "Please check the card number."),
    "INVALID_CARD_EXPIRATION": (
        400,
        "카드 정보를 다시 확인해주세요. (유효기간)",
        "Please check the card's expiration date.",
    ),
    "INVALID_STOPPED_CARD": (400, "정지된 카드 입니다.", "The card is suspended."),
    # Only in third-party enums; 400 like the other INVALID_CARD_* codes.
    "INVALID_CARD_LOST_OR_STOLEN": (400, "분실 혹은 도난 카드입니다.", "The card was reported lost or stolen."),
    "INVALID_REJECT_CARD": (
        400,
        "카드 사용이 거절되었습니다. 카드사 문의가 필요합니다.",
        "The card was rejected. Please contact the card company.",
    ),
    "INVALID_CARD_IDENTITY": (
        400,
        "입력하신 주민번호/사업자번호가 카드 소유주 정보와 일치하지 않습니다.",
        "The identity number does not match the card owner.",
    ),
    "INVALID_BIRTH_DAY_FORMAT": (
        400,
        "생년월일 정보는 6자리의 yyMMdd 형식이어야 합니다.",
        "The date of birth must be 6 digits (yyMMdd).",
    ),
    "INVALID_CARD_PASSWORD": (400, "카드 정보를 다시 확인해주세요. (비밀번호)", "Please check the card password."),
    "REJECT_CARD_COMPANY": (403, "결제 승인이 거절되었습니다.", "The payment was rejected."),
    "REJECT_CARD_PAYMENT": (
        403,
        "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
        "The payment failed: limit exceeded or insufficient balance.",
    ),
    "REJECT_ACCOUNT_PAYMENT": (403, "잔액부족으로 결제에 실패했습니다.", "The payment failed: insufficient balance."),
    "EXCEED_MAX_PAYMENT_AMOUNT": (400, "하루 결제 가능 금액을 초과했습니다.", "The daily payment amount was exceeded."),
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": (
        400,
        "하루 결제 가능 횟수를 초과했습니다.",
        "The daily number of payments was exceeded.",
    ),
    "EXCEED_MAX_AMOUNT": (400, "거래금액 한도를 초과했습니다.", "The transaction amount limit was exceeded."),
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN": (
        400,
        "설정 가능한 최대 할부 개월 수를 초과했습니다.",
        "The installment plan exceeds the maximum number of months.",
    ),
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT": (
        400,
        "할부가 지원되지 않는 카드 또는 가맹점 입니다.",
        "Installments are not supported for this card or merchant.",
    ),
    "INVALID_CARD_INSTALLMENT_PLAN": (400, "할부 개월 정보가 잘못되었습니다.", "Invalid installment plan."),
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN": (
        400,
        "할부가 지원되지 않는 카드입니다.",
        "This card does not support installments.",
    ),
    "BELOW_MINIMUM_AMOUNT": (
        400,
        "신용카드는 결제금액이 100원 이상, 계좌는 200원이상부터 결제가 가능합니다.",
        "Card payments must be at least 100 KRW, account payments at least 200 KRW.",
    ),
    # Payments
    "DUPLICATED_ORDER_ID": (
        400,
        "이미 승인 및 취소가 진행된 중복된 주문번호 입니다. 다른 주문번호로 진행해주세요.",
        "This orderId has already been approved or canceled. Please use another orderId.",
    ),
    "ALREADY_PROCESSED_PAYMENT": (400, "이미 처리된 결제 입니다.", "The payment has already been processed."),
    "PROVIDER_ERROR": (
        400,
        "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
        "A temporary error occurred. Please try again later.",
    ),
    "NOT_FOUND_PAYMENT": (404, "존재하지 않는 결제 입니다.", "The payment does not exist."),
    "NOT_FOUND_PAYMENT_SESSION": (
        404,
        "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
        "The payment session has expired and its data no longer exists.",
    ),
    "PAY_PROCESS_CANCELED": (400, "사용자에 의해 결제가 취소되었습니다.", "The payment was canceled by the user."),
    "PAY_PROCESS_ABORTED": (
        400,
        "결제가 취소되었거나 진행되지 않았습니다.",
        "The payment was canceled or not processed.",
    ),
    # Transactions look-up: a startingAfter that names no transaction (seen in a Toss answer, techchat).
    "INVALID_TRANSACTION_KEY": (400, "잘못된 페이징 키 입니다.", "Invalid paging key."),
    # Cancels
    "ALREADY_CANCELED_PAYMENT": (400, "이미 취소된 결제 입니다.", "The payment has already been canceled."),
    "NOT_CANCELABLE_AMOUNT": (403, "취소 할 수 없는 금액 입니다.", "The amount cannot be canceled."),
    "NOT_CANCELABLE_PAYMENT": (403, "취소 할 수 없는 결제 입니다.", "The payment cannot be canceled."),
    "EXCEED_MAX_REFUND_DUE": (403, "환불 가능한 기간이 지났습니다.", "The refund period has passed."),
    "NOT_ALLOWED_PARTIAL_REFUND": (
        403,
        "부분 환불이 불가능한 결제입니다.",
        "This payment cannot be partially refunded.",
    ),
    "REFUND_REJECTED": (
        400,
        "환불이 거절되었습니다. 결제사에 문의 부탁드립니다.",
        "The refund was rejected. Please contact the payment provider.",
    ),
    "FAILED_REFUND_PROCESS": (
        500,
        "은행 응답시간 지연이나 일시적인 오류로 환불요청에 실패했습니다.",
        "The refund failed because of a bank delay or a temporary error.",
    ),
    "FAILED_METHOD_HANDLING_CANCEL": (
        500,
        "취소 중 결제 시 사용한 결제 수단 처리과정에서 일시적인 오류가 발생했습니다.",
        "A temporary error occurred while canceling with the payment method.",
    ),
    # Toss-side and provider failures
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (
        500,
        "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요.",
        "Internal system processing failed. Please try again later.",
    ),
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": (
        500,
        "결제가 완료되지 않았어요. 다시 시도해주세요.",
        "The payment was not completed. Please try again.",
    ),
    # No status in any source; the sandbox treats it as a provider failure (500).
    "FAILED_CARD_COMPANY_RESPONSE": (
        500,
        "카드사에서 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.",
        "The card company returned an error. Please try again later.",
    ),
    "FAILED_BILL_KEY_AUTH_CREATION": (
        500,
        "빌링키 생성에 실패했습니다. 잠시 후 다시 시도해주세요.",
        "Creating the billing key failed. Please try again later.",
    ),
    "FAILED_BILLING_AUTO_CANCEL": (
        500,
        "자동결제 취소 중 일시적인 오류가 발생했습니다.",
        "A temporary error occurred while auto-canceling the billing payment.",
    ),
    "FAILED_DB_PROCESSING": (
        500,
        "잘못된 요청 값으로 처리 중 DB 에러가 발생했습니다.",
        "A database error occurred because of an invalid request value.",
    ),
    "COMMON_ERROR": (
        500,
        "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
        "A temporary error occurred. Please try again later.",
    ),
    "UNKNOWN_ERROR": (
        500,
        "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
        "A temporary error occurred. Please try again later.",
    ),
    "UNKNOWN_PAYMENT_ERROR": (
        500,
        "결제에 실패했어요. 같은 문제가 반복된다면 은행이나 카드사로 문의해주세요.",
        "The payment failed. If this repeats, please contact the bank or card company.",
    ),
}


MIN_CARD_AMOUNT = 100
MAX_CARD_AMOUNT = 100_000_000  # 1억 원: the sandbox's own limit (Toss publishes none)
INSTALLMENT_MIN_AMOUNT = 50_000
MAX_INSTALLMENT_MONTHS = 12

# Codes the sandbox itself answers that Toss does not document: never accepted as a test code.
NOT_TOSS_CODES = frozenset({"TOO_MANY_REQUESTS", "NOT_FOUND", "METHOD_NOT_ALLOWED"})

# What any API can answer.
_COMMON = (
    "INVALID_REQUEST",
    "UNAUTHORIZED_KEY",
    "INVALID_API_KEY",
    "INCORRECT_BASIC_AUTH_FORMAT",
    "FORBIDDEN_REQUEST",
    "FORBIDDEN_CONSECUTIVE_REQUEST",
    "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "COMMON_ERROR",
    "UNKNOWN_ERROR",
    "API_VERSION_UPDATE_NEEDED",
)
# What any POST can answer besides (Idempotency-Key handling, D-AUTH).
_POST = ("INVALID_IDEMPOTENCY_KEY", "IDEMPOTENT_REQUEST_PROCESSING")
# What a card approval can answer: the card company's refusals and the provider's hiccups.
_CARD_APPROVAL = (
    "REJECT_CARD_PAYMENT",
    "REJECT_CARD_COMPANY",
    "REJECT_ACCOUNT_PAYMENT",
    "INVALID_CARD_EXPIRATION",
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_LOST_OR_STOLEN",
    "INVALID_REJECT_CARD",
    "INVALID_CARD_NUMBER",
    "EXCEED_MAX_AMOUNT",
    "EXCEED_MAX_PAYMENT_AMOUNT",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT",
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN",
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT",
    "INVALID_CARD_INSTALLMENT_PLAN",
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN",
    "NOT_SUPPORTED_CARD_TYPE",
    "NOT_SUPPORTED_METHOD",
    "BELOW_MINIMUM_AMOUNT",
    "DUPLICATED_ORDER_ID",
    "ALREADY_PROCESSED_PAYMENT",
    "INVALID_ORDER_ID",
    "INVALID_ORDER_NAME",
    "INVALID_EMAIL",
    "PROVIDER_ERROR",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_CARD_COMPANY_RESPONSE",
    "FAILED_DB_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR",
)

ENDPOINT_CODES: dict[str, frozenset[str]] = {
    name: frozenset(_COMMON + (_POST if post else ()) + codes)
    for name, post, codes in (
        (
            "billing_issue",
            True,
            (
                "NOT_SUPPORTED_METHOD",
                "NOT_SUPPORTED_CARD_TYPE",
                "INVALID_BILLING_AUTH",
                "NOT_MATCHES_CUSTOMER_KEY",
                "INVALID_CUSTOMER_KEY",
                "INVALID_CARD_NUMBER",
                "INVALID_CARD_PASSWORD",
                "INVALID_CARD_EXPIRATION",
                "INVALID_CARD_IDENTITY",
                "INVALID_REJECT_CARD",
                "INVALID_STOPPED_CARD",
                "INVALID_BIRTH_DAY_FORMAT",
                "NOT_REGISTERED_CARD_COMPANY",
                "INVALID_EMAIL",
                "EXCEED_MAX_AUTH_COUNT",
                "REJECT_CARD_COMPANY",
                "REJECT_ACCOUNT_PAYMENT",
                "FAILED_BILL_KEY_AUTH_CREATION",
                "FAILED_CARD_COMPANY_RESPONSE",
                "FAILED_DB_PROCESSING",
            ),
        ),
        (
            "billing_charge",
            True,
            _CARD_APPROVAL
            + (
                "INVALID_BILL_KEY_REQUEST",
                "NOT_MATCHES_CUSTOMER_KEY",
                "INVALID_CUSTOMER_KEY",
                "ALREADY_REMOVED_BILLING_KEY",
                "FAILED_BILLING_AUTO_CANCEL",
            ),
        ),
        ("billing_delete", False, ("NOT_FOUND_BILLING", "ALREADY_REMOVED_BILLING_KEY")),
        (
            "confirm",
            True,
            _CARD_APPROVAL
            + ("NOT_FOUND_PAYMENT", "NOT_FOUND_PAYMENT_SESSION", "PAY_PROCESS_CANCELED", "PAY_PROCESS_ABORTED"),
        ),
        ("payment_lookup", False, ("NOT_FOUND_PAYMENT",)),
        (
            "cancel",
            True,
            (
                "NOT_FOUND_PAYMENT",
                "ALREADY_CANCELED_PAYMENT",
                "NOT_CANCELABLE_AMOUNT",
                "NOT_CANCELABLE_PAYMENT",
                "EXCEED_MAX_REFUND_DUE",
                "NOT_ALLOWED_PARTIAL_REFUND",
                "REFUND_REJECTED",
                "FAILED_REFUND_PROCESS",
                "FAILED_METHOD_HANDLING_CANCEL",
                "PROVIDER_ERROR",
                "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
            ),
        ),
        ("transactions", False, ("INVALID_TRANSACTION_KEY",)),
        ("settlements", False, ()),
    )
}
assert all(code in CATALOGUE for codes in ENDPOINT_CODES.values() for code in codes)
assert not NOT_TOSS_CODES & set().union(*ENDPOINT_CODES.values())


def accepts_test_code(endpoint: str, code: str) -> bool:
    """Whether `TossPayments-Test-Code: code` is a code the API `endpoint` can answer."""
    return code in ENDPOINT_CODES.get(endpoint, ())


class ApiError(Exception):
    """A Toss error answer: `code` from CATALOGUE, optionally a more precise message (Korean, English)."""

    def __init__(self, code: str, message: str | None = None, message_en: str | None = None) -> None:
        status, default_message, default_en = CATALOGUE[code]
        self.code = code
        self.status = status
        self.message = message or default_message
        # A precise Korean message without its English twin falls back to the code's English message.
        self.message_en = message_en or default_en
        super().__init__(f"{code} ({status})")

    def body(self, language: str = "ko") -> dict[str, str]:
        return {"code": self.code, "message": self.message_en if language == "en" else self.message}


def status_of(code: str) -> int:
    return CATALOGUE[code][0]


def message_of(code: str) -> str:
    return CATALOGUE[code][1]
