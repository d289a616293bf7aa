"""The merchant's admin (admins only): `bp` and the `admin_required` decorator.

`views` defines the blueprint and the original pages; the modules imported after it add
their routes to the same `bp` (환불, 1회 구매, 결제 운영, 작업, 동의 현황, 대사, 회원 세션 종료,
감사 기록, 내보내기·회계 자료, 구독 조치, 준비 상태).
"""

from storefront.web.admin.views import admin_required, bp
from storefront.web.admin import (  # noqa: E402,F401  (routes)
    audit,
    consents,
    customers,
    exports,
    job_queues,
    operations,
    orders,
    readiness,
    reconciliation,
    refunds,
    subscription_actions,
)

__all__ = ["admin_required", "bp"]
