from storefront.web.auth.views import bp
from storefront.web.auth import password, signup  # noqa: E402,F401  (register 비밀번호 찾기 and 회원가입 on bp)

__all__ = ["bp"]
