"""Korean labels for the statuses the admin pages show."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "subscription": {
        "incomplete": "미완료", "trialing": "무료 체험 중", "active": "이용 중", "past_due": "결제 실패(재시도 중)",
        "canceled": "해지됨", "unpaid": "미납",
    },
    "charge": {"pending": "결제 대기", "paid": "결제 완료", "failed": "결제 실패", "canceled": "취소",
               "refunded": "환불됨"},
    "attempt": {"sending": "전송 중", "done": "승인", "failed": "실패", "unknown": "결과 미확인"},
    "refund": {"sending": "전송 중", "done": "환불 완료", "failed": "거절됨", "unknown": "결과 미확인"},
    "email": {"queued": "발송 대기", "sent": "발송됨", "failed": "발송 실패", "logged": "기록만 함", "skipped": "보내지 않음 (탈퇴)"},
    "webhook": {"received": "수신(처리 대기)", "processed": "처리됨", "ignored": "무시함", "error": "오류"},
    "interval": {"month": "매월", "year": "매년", "once": "1회"},
    "kind": {"subscription": "정기구독", "one_time": "단건 구매"},
    "consent": {"terms": "이용약관", "auto_renewal": "자동갱신", "price_increase": "가격 인상",
                "trial_conversion": "유료 전환"},
    "decision": {"agreed": "동의", "refused": "거부"},
    "price_change": {"pending": "응답 대기", "agreed": "동의함", "refused": "해지 선택", "lapsed": "무응답(종료)",
                     "applied": "적용됨"},
    "price_change_reason": {"plan_price": "플랜 가격 변경", "discount_end": "할인 종료", "trial": "무료 체험 종료"},
    "actor": {"user": "회원", "admin": "관리자", "worker": "작업자"},
    "order": {"pending": "결제 대기", "checking": "확인 중", "paid": "결제 완료", "failed": "결제 실패",
              "canceled": "전액 환불됨", "expired": "만료"},
    "price_change_kind": {"price_increase": "가격 인상", "trial_conversion": "유료 전환"},
    "queue": {"webhooks": "웹훅 (webhooks)", "notices": "알림 (notices)", "billing": "결제 (billing)", "default": "기타 (default)"},
}
