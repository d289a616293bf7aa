from storefront.web.auth.views import bp
from storefront.web.auth import password  # noqa: E402,F401  (registers the 비밀번호 찾기 routes on bp)

__all__ = ["bp"]
