"""Test cards: what a card number does at registration and at each later charge.

Any 15–16 digit number registers (Toss's test environment only checks the BIN); the
numbers in `TEST_CARDS` carry a behaviour. `CardBehaviour.registration_error` refuses the
card in the window (the shopper lands on failUrl with that code); `charge_error` makes
every charge decline with that code, except the first `approve_first` charges. The
issuer is taken from the first digits (`ISSUERS`), so demos show real card names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CardBehaviour:
    label: str  # Korean, for docs/sandbox.md and the card window's help list
    registration_error: str | None = None
    charge_error: str | None = None
    approve_first: int = 0  # charges approved before charge_error applies


APPROVED = CardBehaviour("항상 승인")

TEST_CARDS: dict[str, CardBehaviour] = {
    "4330123412341234": APPROVED,
    "5570000000000001": APPROVED,
    "4330000000000051": CardBehaviour("잔액 부족·한도 초과 (재시도 가능)", charge_error="REJECT_CARD_PAYMENT"),
    "4330000000000052": CardBehaviour("카드사 승인 거절", charge_error="REJECT_CARD_COMPANY"),
    "4330000000000053": CardBehaviour("유효기간 만료", charge_error="INVALID_CARD_EXPIRATION"),
    "4330000000000054": CardBehaviour("정지된 카드", charge_error="INVALID_STOPPED_CARD"),
    "4330000000000055": CardBehaviour("분실·도난 카드", charge_error="INVALID_CARD_LOST_OR_STOLEN"),
    "4330000000000056": CardBehaviour(
        "첫 결제만 승인, 이후 잔액 부족 (연체 데모)", charge_error="REJECT_CARD_PAYMENT", approve_first=1
    ),
    "4330000000000091": CardBehaviour("등록 거절: 카드번호 오류", registration_error="INVALID_CARD_NUMBER"),
    "4330000000000092": CardBehaviour(
        "등록 거절: 지원하지 않는 카드 (기프트카드)", registration_error="NOT_SUPPORTED_CARD_TYPE"
    ),
}

# BIN prefix -> (issuerCode, acquirerCode, cardType, ownerType, Korean issuer name); longest prefix wins.
ISSUERS: dict[str, tuple[str, str, str, str, str]] = {
    "4330": ("61", "31", "신용", "개인", "현대"),
    "5570": ("41", "41", "체크", "개인", "신한"),
    "5365": ("51", "51", "신용", "개인", "삼성"),
    "9410": ("11", "11", "신용", "개인", "국민"),
    "6250": ("71", "71", "신용", "법인", "롯데"),
}
DEFAULT_ISSUER = ("31", "31", "신용", "개인", "BC")


@dataclass(frozen=True)
class CardInfo:
    number: str
    masked: str
    issuer_code: str
    acquirer_code: str
    card_type: str
    owner_type: str
    issuer_name: str


def behaviour_of(number: str) -> CardBehaviour:
    return TEST_CARDS.get(number, APPROVED)


def card_info(number: str) -> CardInfo:
    prefix = max((p for p in ISSUERS if number.startswith(p)), key=len, default=None)
    issuer, acquirer, card_type, owner_type, name = ISSUERS[prefix] if prefix else DEFAULT_ISSUER
    if behaviour_of(number).registration_error == "NOT_SUPPORTED_CARD_TYPE":
        card_type = "기프트"
    return CardInfo(number, mask(number), issuer, acquirer, card_type, owner_type, name)


def mask(number: str) -> str:
    """Toss's masking: first 8 digits, then ****, then 3 digits and a final *."""
    return number[:8] + "****" + number[12:15] + "*"


def parse_number(raw: str) -> str | None:
    digits = re.sub(r"[\s-]", "", raw or "")
    return digits if re.fullmatch(r"\d{15,16}", digits) else None


def parse_expiry(raw: str, today: date) -> tuple[int, int] | str:
    """(month, 4-digit year) from MM/YY, or an error message in Korean."""
    match = re.fullmatch(r"\s*(\d{2})\s*/?\s*(\d{2})\s*", raw or "")
    if not match:
        return "유효기간을 MM/YY 형식으로 입력해 주세요."
    month, year = int(match.group(1)), 2000 + int(match.group(2))
    if not 1 <= month <= 12:
        return "유효기간의 월은 01부터 12 사이여야 해요."
    if (year, month) < (today.year, today.month):
        return "유효기간이 지난 카드예요."
    return month, year


def parse_birth(raw: str) -> str | None:
    """A YYMMDD birth date (or a 10-digit business number) or None."""
    value = (raw or "").strip()
    if re.fullmatch(r"\d{10}", value):
        return value
    if not re.fullmatch(r"\d{6}", value):
        return None
    try:
        date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError:
        return None
    return value
