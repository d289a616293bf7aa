"""Notices to customers (email and SMS): templates, the outbox, and delivery.

Views and billing code call `services().notifier.queue(...)` inside the transaction that
changes state, commit, then enqueue delivery (`storefront.jobs.enqueue_delivery`). Workers
call `Notifier.deliver`. See `notifier.py` for the invariants and `kinds.py` for the
catalogue of notices and their context keys.
"""

from storefront.notify.backends import (
    ConsoleEmailBackend,
    ConsoleSmsBackend,
    EmailBackend,
    SmsBackend,
    SmtpConfigError,
    SmtpEmailBackend,
)
from storefront.notify.kinds import CHANNELS, KINDS, NoticeError
from storefront.notify.notifier import DeliveryError, Notifier
from storefront.notify.render import Rendered, Renderer, default_environment

__all__ = [
    "CHANNELS",
    "KINDS",
    "ConsoleEmailBackend",
    "ConsoleSmsBackend",
    "DeliveryError",
    "EmailBackend",
    "NoticeError",
    "Notifier",
    "Rendered",
    "Renderer",
    "SmsBackend",
    "SmtpConfigError",
    "SmtpEmailBackend",
    "default_environment",
]
