"""The merchant's admin (admins only): `bp` and the `admin_required` decorator."""

from storefront.web.admin.views import admin_required, bp

__all__ = ["admin_required", "bp"]
