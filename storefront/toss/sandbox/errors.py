"""Toss's error codes as the sandbox answers them: HTTP status and Korean message.

The statuses follow toss-api.md §6 (Toss's per-endpoint tables); where the sources
disagree the sandbox picks one and says so in a comment. `ApiError` is what the sandbox's
handlers raise; the app turns it into `{"code", "message"}` with the status below. The
same table decides which values the `TossPayments-Test-Code` header accepts.
"""

from __future__ import annotations

# code -> (HTTP status, message)
CATALOGUE: dict[str, tuple[int, str]] = {
    # Auth and request shape
    "UNAUTHORIZED_KEY": (401, "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."),
    "INVALID_API_KEY": (400, "잘못된 시크릿키 연동 정보 입니다."),
    # 401 per a Python SDK, 403 per Java enums; the sandbox answers 401 like UNAUTHORIZED_KEY.
    "INCORRECT_BASIC_AUTH_FORMAT": (401, "잘못된 요청입니다. ':' 를 포함해 인코딩해주세요."),
    "FORBIDDEN_REQUEST": (403, "허용되지 않은 요청입니다."),
    "INVALID_REQUEST": (400, "잘못된 요청입니다."),
    "INVALID_CUSTOMER_KEY": (400, "고객 키는 2자 이상 300자 이하, 영문 대소문자·숫자·특수문자(-, _, =, ., @)만 사용할 수 있습니다."),
    "INVALID_ORDER_ID": (400, "주문번호는 6자 이상 64자 이하의 영문 대소문자, 숫자, 특수문자(-, _)만 사용할 수 있습니다."),
    "INVALID_ORDER_NAME": (400, "주문명은 1자 이상 100자 이하여야 합니다."),
    "INVALID_EMAIL": (400, "유효하지 않은 이메일 주소 형식입니다."),
    "INVALID_IDEMPOTENCY_KEY": (400, "멱등키는 최대 300자 입니다."),
    "IDEMPOTENT_REQUEST_PROCESSING": (409, "이전 멱등 요청이 처리중입니다."),
    "INVALID_TEST_CODE": (400, "유효하지 않은 테스트 코드입니다."),
    "API_VERSION_UPDATE_NEEDED": (400, "API 버전 업데이트가 필요합니다."),
    "FORBIDDEN_CONSECUTIVE_REQUEST": (403, "반복적인 요청은 허용되지 않습니다. 잠시 후 다시 시도해주세요."),
    # Not a documented Toss code: Toss documents only the 429 status ("비정상적으로 많은 요청").
    "TOO_MANY_REQUESTS": (429, "비정상적으로 많은 요청이 발생했습니다. 잠시 후 다시 시도해주세요."),
    # Billing keys
    "NOT_SUPPORTED_METHOD": (400, "지원되지 않는 결제 수단입니다."),
    "NOT_SUPPORTED_CARD_TYPE": (400, "지원되지 않는 카드 종류입니다."),
    "NOT_MATCHES_CUSTOMER_KEY": (400, "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다."),
    "INVALID_BILL_KEY_REQUEST": (400, "빌링 인증이 완료되지 않았거나 유효하지 않은 빌링 거래입니다."),
    "INVALID_BILLING_AUTH": (400, "유효하지 않은 빌링 인증입니다."),
    "NOT_FOUND_BILLING": (404, "빌링 인증 정보를 찾을 수 없습니다."),
    "ALREADY_REMOVED_BILLING_KEY": (400, "이미 삭제된 빌링키입니다."),
    "EXCEED_MAX_AUTH_COUNT": (403, "최대 인증 횟수를 초과했습니다. 카드사로 문의해주세요."),
    "NOT_REGISTERED_CARD_COMPANY": (400, "등록되지 않은 카드사입니다."),
    # Card problems
    "INVALID_CARD_NUMBER": (400, "카드번호를 다시 확인해주세요."),
    "INVALID_CARD_EXPIRATION": (400, "카드 정보를 다시 확인해주세요. (유효기간)"),
    "INVALID_STOPPED_CARD": (400, "정지된 카드 입니다."),
    # Only in third-party enums; 400 like the other INVALID_CARD_* codes.
    "INVALID_CARD_LOST_OR_STOLEN": (400, "분실 혹은 도난 카드입니다."),
    "INVALID_REJECT_CARD": (400, "카드 사용이 거절되었습니다. 카드사 문의가 필요합니다."),
    "INVALID_CARD_IDENTITY": (400, "입력하신 주민번호/사업자번호가 카드 소유주 정보와 일치하지 않습니다."),
    "INVALID_BIRTH_DAY_FORMAT": (400, "생년월일 정보는 6자리의 yyMMdd 형식이어야 합니다."),
    "INVALID_CARD_PASSWORD": (400, "카드 정보를 다시 확인해주세요. (비밀번호)"),
    "REJECT_CARD_COMPANY": (403, "결제 승인이 거절되었습니다."),
    "REJECT_CARD_PAYMENT": (403, "한도초과 혹은 잔액부족으로 결제에 실패했습니다."),
    "REJECT_ACCOUNT_PAYMENT": (403, "잔액부족으로 결제에 실패했습니다."),
    "EXCEED_MAX_PAYMENT_AMOUNT": (400, "하루 결제 가능 금액을 초과했습니다."),
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": (400, "하루 결제 가능 횟수를 초과했습니다."),
    "EXCEED_MAX_AMOUNT": (400, "거래금액 한도를 초과했습니다."),
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN": (400, "설정 가능한 최대 할부 개월 수를 초과했습니다."),
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT": (400, "할부가 지원되지 않는 카드 또는 가맹점 입니다."),
    "INVALID_CARD_INSTALLMENT_PLAN": (400, "할부 개월 정보가 잘못되었습니다."),
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN": (400, "할부가 지원되지 않는 카드입니다."),
    "BELOW_MINIMUM_AMOUNT": (400, "신용카드는 결제금액이 100원 이상, 계좌는 200원이상부터 결제가 가능합니다."),
    # Payments
    "DUPLICATED_ORDER_ID": (400, "이미 승인 및 취소가 진행된 중복된 주문번호 입니다. 다른 주문번호로 진행해주세요."),
    "ALREADY_PROCESSED_PAYMENT": (400, "이미 처리된 결제 입니다."),
    "PROVIDER_ERROR": (400, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."),
    "NOT_FOUND_PAYMENT": (404, "존재하지 않는 결제 입니다."),
    "NOT_FOUND_PAYMENT_SESSION": (404, "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다."),
    "PAY_PROCESS_CANCELED": (400, "사용자에 의해 결제가 취소되었습니다."),
    "PAY_PROCESS_ABORTED": (400, "결제가 취소되었거나 진행되지 않았습니다."),
    # Cancels
    "ALREADY_CANCELED_PAYMENT": (400, "이미 취소된 결제 입니다."),
    "NOT_CANCELABLE_AMOUNT": (403, "취소 할 수 없는 금액 입니다."),
    "NOT_CANCELABLE_PAYMENT": (403, "취소 할 수 없는 결제 입니다."),
    "EXCEED_MAX_REFUND_DUE": (403, "환불 가능한 기간이 지났습니다."),
    "NOT_ALLOWED_PARTIAL_REFUND": (403, "부분 환불이 불가능한 결제입니다."),
    "REFUND_REJECTED": (400, "환불이 거절되었습니다. 결제사에 문의 부탁드립니다."),
    "FAILED_REFUND_PROCESS": (500, "은행 응답시간 지연이나 일시적인 오류로 환불요청에 실패했습니다."),
    "FAILED_METHOD_HANDLING_CANCEL": (500, "취소 중 결제 시 사용한 결제 수단 처리과정에서 일시적인 오류가 발생했습니다."),
    # Toss-side and provider failures
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (500, "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요."),
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": (500, "결제가 완료되지 않았어요. 다시 시도해주세요."),
    # No status in any source; the sandbox treats it as a provider failure (500).
    "FAILED_CARD_COMPANY_RESPONSE": (500, "카드사에서 오류가 발생했습니다. 잠시 후 다시 시도해 주세요."),
    "FAILED_BILL_KEY_AUTH_CREATION": (500, "빌링키 생성에 실패했습니다. 잠시 후 다시 시도해주세요."),
    "FAILED_BILLING_AUTO_CANCEL": (500, "자동결제 취소 중 일시적인 오류가 발생했습니다."),
    "FAILED_DB_PROCESSING": (500, "잘못된 요청 값으로 처리 중 DB 에러가 발생했습니다."),
    "COMMON_ERROR": (500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."),
    "UNKNOWN_ERROR": (500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."),
    "UNKNOWN_PAYMENT_ERROR": (500, "결제에 실패했어요. 같은 문제가 반복된다면 은행이나 카드사로 문의해주세요."),
}


class ApiError(Exception):
    """A Toss error answer: `code` from CATALOGUE, optionally a more precise message."""

    def __init__(self, code: str, message: str | None = None) -> None:
        status, default_message = CATALOGUE[code]
        self.code = code
        self.status = status
        self.message = message or default_message
        super().__init__(f"{code} ({status})")

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def status_of(code: str) -> int:
    return CATALOGUE[code][0]


def message_of(code: str) -> str:
    return CATALOGUE[code][1]
