"""Builds the app's collaborators (clock, Toss client, vault, notifier) in one place."""

from __future__ import annotations

from typing import Any

from storefront.clock import SystemClock
from storefront.config import Config
from storefront.extensions import Services


def build_services(config: Config, *, clock: Any = None, toss: Any = None, jinja_env: Any = None) -> Services:
    """`jinja_env` is the app's (for the email templates); without it the notifier builds its own."""
    from storefront.billing.vault import Vault
    from storefront.notify import Notifier
    from storefront.toss.client import TossClient

    clock = clock or SystemClock()
    if toss is None:
        toss = TossClient(config.toss_api_base, config.toss_secret_key)
    vault = Vault(config.encryption_key, config.old_encryption_keys)
    notifier = Notifier(jinja_env, config)
    return Services(clock=clock, toss=toss, vault=vault, notifier=notifier)
