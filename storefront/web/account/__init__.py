"""The shopper's own page (/account): subscriptions, cards, payments; cancel, resume, change card or plan;
회원 정보 and 비밀번호 변경 (profile.py)."""

from storefront.web.account.views import bp
from storefront.web.account import profile  # noqa: E402,F401  (registers 회원 정보 and 비밀번호 변경 on bp)

__all__ = ["bp"]
