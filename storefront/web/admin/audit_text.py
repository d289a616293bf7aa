"""The audit log's 내용 column in Korean, for the merchant.

Rows written by the billing code keep their stored English reason (``renewal charge of
subscription 12``, ``delete at Toss: replaced by a new card``): that text is part of an
append-only record and is never rewritten. It is translated here, at display, from the
known shapes; anything else (the Korean reasons of admin views and actions, or a reason this
module does not know yet) is shown as stored.
"""

from __future__ import annotations

import re

# The reasons a card is released for (`cards.release_card_if_unused` callers), as the merchant reads them.
RELEASE_REASONS: dict[str, str] = {
    "no live subscription uses this card": "이 카드로 결제하는 구독이 없어 정리",
    "subscription canceled by the customer": "회원이 구독을 해지함",
    "subscription ended now by the customer": "회원이 구독을 바로 해지함",
    "subscription withdrawn (청약철회) by the customer": "회원이 청약철회함",
    "subscription ended now by an admin": "관리자가 구독을 즉시 해지함",
    "member withdrawal": "회원 탈퇴",
    "an unpaid checkout was replaced by a new one": "결제되지 않은 신청이 새 신청으로 바뀜",
    "registered for a subscription that had ended": "이미 종료된 구독에 등록된 카드",
    "replaced by a new card": "새 카드로 바뀜",
}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"first charge of subscription (\d+)"), r"구독 #\1 첫 결제"),
    (re.compile(r"renewal charge of subscription (\d+)"), r"구독 #\1 정기 결제 (자동 갱신)"),
    (re.compile(r"charge of subscription (\d+)"), r"구독 #\1 결제 (재시도 또는 카드 변경 후 결제)"),
    (re.compile(r"card registered through the Toss billing window"), "토스페이먼츠 결제창에서 카드 등록"),
]
_DELETE = "delete at Toss: "


def audit_detail(reason: str | None) -> str:
    """`reason` in Korean when it is one of the billing code's English reasons, else as stored."""
    text = (reason or "").strip()
    if text.startswith(_DELETE):
        why = text.removeprefix(_DELETE)
        return f"카드 정보 삭제 (토스페이먼츠에도 삭제 요청): {RELEASE_REASONS.get(why, why)}"
    for pattern, korean in _PATTERNS:
        if pattern.fullmatch(text):
            return pattern.sub(korean, text)
    return text
