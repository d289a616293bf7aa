"""The shopper's own page (/account): subscriptions, cards, payments; cancel, resume, change card or plan."""

from storefront.web.account.views import bp

__all__ = ["bp"]
