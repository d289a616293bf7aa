"""Checkout: /subscribe/<plan_id>, the card-window page, /billing/success, /billing/fail, the result page."""

from storefront.web.checkout.views import bp

__all__ = ["bp"]
