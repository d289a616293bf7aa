"""TossError and the table that sorts Toss's error codes into what we do about them.

Categories (our classification, from toss-api.md §6; Toss itself says nothing about retrying):
- HARD_DECLINE: the customer must change card or register again (expired, stopped, lost,
  deleted key...). Retrying the same card is pointless.
- SOFT_DECLINE: funds or limits (REJECT_CARD_PAYMENT, EXCEED_MAX_*); retrying the same card on
  the dunning schedule is reasonable.
- TRANSIENT: Toss or the card company hiccupped, or nothing reached Toss (connect failure, 429);
  retry soon with the same Idempotency-Key.
- CONFIG: our keys, contract or request are wrong; alert the merchant, do not retry blindly.
- UNKNOWN_OUTCOME: the request may have been carried out (timeout, reset, 5xx after sending a
  money-moving call, a 409 still-processing that never finished, DUPLICATED_ORDER_ID,
  ALREADY_PROCESSED_PAYMENT): never treat as failed; settle by looking the order up
  (`GET /v1/payments/orders/{orderId}`).
- NOT_FOUND: the thing looked up does not exist at Toss (e.g. NOT_FOUND_PAYMENT).
- USER_ACTION: the shopper did something (closed the payment window).

`categorize(code)` reads the table alone (useful for a failUrl's `code`); `classify(...)` is what
the client uses for an HTTP answer, because the same code can mean different things on a call
that moves money and on a lookup.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    HARD_DECLINE = "hard_decline"
    SOFT_DECLINE = "soft_decline"
    TRANSIENT = "transient"
    CONFIG = "config"
    UNKNOWN_OUTCOME = "unknown_outcome"
    NOT_FOUND = "not_found"
    USER_ACTION = "user_action"


_HARD = Category.HARD_DECLINE
_SOFT = Category.SOFT_DECLINE
_TRANSIENT = Category.TRANSIENT
_CONFIG = Category.CONFIG
_UNKNOWN = Category.UNKNOWN_OUTCOME

# code -> category; codes not listed are treated as UNKNOWN_OUTCOME ("query, then alert").
# Every code of toss-api.md §6.2 and §3.5 is here, plus the billing-issue codes of the §6 notes.
CATEGORIES: dict[str, Category] = {
    # The customer must fix or replace the card (or register again).
    "NOT_SUPPORTED_CARD_TYPE": _HARD,
    "INVALID_BILL_KEY_REQUEST": _HARD,
    "INVALID_BILLING_AUTH": _HARD,  # the authKey is spent or bad: restart card registration
    "NOT_FOUND_BILLING": _HARD,
    "ALREADY_REMOVED_BILLING_KEY": _HARD,
    "INVALID_CARD_EXPIRATION": _HARD,
    "INVALID_STOPPED_CARD": _HARD,
    "INVALID_CARD_LOST_OR_STOLEN": _HARD,
    "INVALID_REJECT_CARD": _HARD,
    "INVALID_CARD_NUMBER": _HARD,
    "INVALID_CARD_IDENTITY": _HARD,
    "INVALID_BIRTH_DAY_FORMAT": _HARD,
    "INVALID_CARD_PASSWORD": _HARD,
    "REJECT_CARD_COMPANY": _HARD,
    "EXCEED_MAX_AUTH_COUNT": _HARD,
    "NOT_REGISTERED_CARD_COMPANY": _HARD,
    "NOT_FOUND_PAYMENT_SESSION": _HARD,  # the buyer must pay again
    "PAY_PROCESS_ABORTED": _HARD,
    # Funds or limits: the dunning schedule may succeed later with the same card.
    "REJECT_CARD_PAYMENT": _SOFT,
    "REJECT_ACCOUNT_PAYMENT": _SOFT,
    "EXCEED_MAX_PAYMENT_AMOUNT": _SOFT,
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": _SOFT,
    "EXCEED_MAX_AMOUNT": _SOFT,
    # Temporary trouble at Toss or the card company.
    "PROVIDER_ERROR": _TRANSIENT,  # a 400, yet transient: never decide from the status alone
    "FAILED_INTERNAL_SYSTEM_PROCESSING": _TRANSIENT,
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": _TRANSIENT,
    "FAILED_CARD_COMPANY_RESPONSE": _TRANSIENT,
    "FAILED_BILL_KEY_AUTH_CREATION": _TRANSIENT,
    "FAILED_BILLING_AUTO_CANCEL": _TRANSIENT,
    "COMMON_ERROR": _TRANSIENT,
    "UNKNOWN_ERROR": _TRANSIENT,
    "UNKNOWN_PAYMENT_ERROR": _TRANSIENT,
    "FORBIDDEN_CONSECUTIVE_REQUEST": _TRANSIENT,
    "FAILED_REFUND_PROCESS": _TRANSIENT,
    "FAILED_METHOD_HANDLING_CANCEL": _TRANSIENT,
    "TOO_MANY_REQUESTS": _TRANSIENT,
    "CONNECT_FAILED": _TRANSIENT,  # ours: nothing was sent
    # Our keys, contract or request: alert the merchant.
    "NOT_SUPPORTED_METHOD": _CONFIG,
    "NOT_MATCHES_CUSTOMER_KEY": _CONFIG,
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN": _CONFIG,
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT": _CONFIG,
    "INVALID_CARD_INSTALLMENT_PLAN": _CONFIG,
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN": _CONFIG,
    "BELOW_MINIMUM_AMOUNT": _CONFIG,
    "FAILED_DB_PROCESSING": _CONFIG,
    "INVALID_IDEMPOTENCY_KEY": _CONFIG,
    "UNAUTHORIZED_KEY": _CONFIG,
    "INVALID_API_KEY": _CONFIG,
    "INCORRECT_BASIC_AUTH_FORMAT": _CONFIG,
    "FORBIDDEN_REQUEST": _CONFIG,
    "INVALID_REQUEST": _CONFIG,
    "INVALID_CUSTOMER_KEY": _CONFIG,
    "INVALID_ORDER_ID": _CONFIG,
    "INVALID_ORDER_NAME": _CONFIG,
    "INVALID_EMAIL": _CONFIG,
    "API_VERSION_UPDATE_NEEDED": _CONFIG,
    "INVALID_TEST_CODE": _CONFIG,
    "NOT_CANCELABLE_AMOUNT": _CONFIG,
    "NOT_CANCELABLE_PAYMENT": _CONFIG,
    "EXCEED_MAX_REFUND_DUE": _CONFIG,
    "NOT_ALLOWED_PARTIAL_REFUND": _CONFIG,
    "REFUND_REJECTED": _CONFIG,
    "INVALID_URL": _CONFIG,  # ours: TOSS_API_BASE cannot be requested
    # May mean "it already happened": settle by looking the payment up.
    "DUPLICATED_ORDER_ID": _UNKNOWN,
    "ALREADY_PROCESSED_PAYMENT": _UNKNOWN,
    "ALREADY_CANCELED_PAYMENT": _UNKNOWN,
    "IDEMPOTENT_REQUEST_PROCESSING": _UNKNOWN,
    "TIMEOUT": _UNKNOWN,  # ours: read timeout after sending
    "CONNECTION_ERROR": _UNKNOWN,  # ours: reset / truncated answer after sending
    "INVALID_RESPONSE": _UNKNOWN,  # ours: an answer we cannot read
    # Lookups.
    "NOT_FOUND_PAYMENT": Category.NOT_FOUND,
    # The shopper closed the window (failUrl code; USER_CANCEL is the SDK v1 name).
    "PAY_PROCESS_CANCELED": Category.USER_ACTION,
    "USER_CANCEL": Category.USER_ACTION,
}


def categorize(code: str) -> Category:
    """The table's category for `code`; unknown codes are UNKNOWN_OUTCOME."""
    return CATEGORIES.get(code, Category.UNKNOWN_OUTCOME)


def classify(code: str, http_status: int | None, *, money_moving: bool) -> Category:
    """The category of an HTTP error answer from Toss, given the kind of call.

    On a call that moves money (issue, charge, confirm, cancel) a 5xx or an unknown code means
    the request reached Toss and may have been carried out, so it is UNKNOWN_OUTCOME whatever the
    table says. A 429 is TRANSIENT (a rate limiter refused it). On a lookup nothing can have
    moved: unknown codes are TRANSIENT for 5xx/429 and CONFIG otherwise.
    """
    known = CATEGORIES.get(code)
    if http_status == 429 and (known is None or known is _TRANSIENT):
        return _TRANSIENT
    if money_moving:
        if http_status is not None and http_status >= 500:
            return _UNKNOWN
        return known or _UNKNOWN
    if known is not None:
        return known
    return _TRANSIENT if http_status is None or http_status >= 500 else _CONFIG


class TossError(Exception):
    """An answer from Toss that is not a success, or no answer at all (UNKNOWN_OUTCOME).

    `code` is Toss's error code (or one of ours: TIMEOUT, CONNECTION_ERROR, CONNECT_FAILED,
    INVALID_RESPONSE, INVALID_URL, HTTP_<status>), `message` Toss's text or ours, `http_status`
    None when no answer came. The message never contains the secret key or a billing key: the
    client scrubs Toss's text and never copies request URLs or headers into it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int | None = None,
        category: Category | None = None,
        *,
        trace_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        self.category = category or categorize(code)
        self.trace_id = trace_id  # X-TossPayments-Trace-Id, to quote to Toss support
        super().__init__(f"{code} ({http_status}): {message}")

    @property
    def unknown_outcome(self) -> bool:
        return self.category is Category.UNKNOWN_OUTCOME
