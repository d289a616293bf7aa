"""TossError and the table that sorts Toss's error codes into what we do about them.

Categories (our classification, from toss-api.md §6):
- HARD_DECLINE: the customer must change card (expired, stopped, lost, deleted key...).
- SOFT_DECLINE: funds or limits; retrying the same card on the dunning schedule is reasonable.
- TRANSIENT: Toss or the card company hiccupped; retry soon with the same Idempotency-Key.
- CONFIG: our keys, contract or request are wrong; alert the merchant, do not retry blindly.
- UNKNOWN_OUTCOME: the request may have been carried out (timeout, reset, 5xx after sending,
  a 409 still-processing that never finished): never treat as failed; settle by looking the
  order up (`GET /v1/payments/orders/{orderId}`).
- NOT_FOUND: the thing looked up does not exist at Toss (e.g. NOT_FOUND_PAYMENT).
- USER_ACTION: the shopper did something (closed the window).

(Skeleton: the Toss client issue fills in the full table.)
"""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    HARD_DECLINE = "hard_decline"
    SOFT_DECLINE = "soft_decline"
    TRANSIENT = "transient"
    CONFIG = "config"
    UNKNOWN_OUTCOME = "unknown_outcome"
    NOT_FOUND = "not_found"
    USER_ACTION = "user_action"


# code -> category; codes not listed are treated as UNKNOWN_OUTCOME ("query, then alert").
CATEGORIES: dict[str, Category] = {}


def categorize(code: str) -> Category:
    return CATEGORIES.get(code, Category.UNKNOWN_OUTCOME)


class TossError(Exception):
    """An answer from Toss that is not a success, or no answer at all (UNKNOWN_OUTCOME).

    The message never contains the secret key or a billing key.
    """

    def __init__(self, code: str, message: str, http_status: int | None = None,
                 category: Category | None = None) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        self.category = category or categorize(code)
        super().__init__(f"{code} ({http_status}): {message}")

    @property
    def unknown_outcome(self) -> bool:
        return self.category is Category.UNKNOWN_OUTCOME
