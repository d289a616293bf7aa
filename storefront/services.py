"""Builds the app's collaborators (clock, Toss client, vault) in one place."""

from __future__ import annotations

from typing import Any

from storefront.clock import SystemClock
from storefront.config import Config
from storefront.extensions import Services


def build_services(config: Config, *, clock: Any = None, toss: Any = None) -> Services:
    from storefront.billing.vault import Vault
    from storefront.toss.client import TossClient

    clock = clock or SystemClock()
    if toss is None:
        toss = TossClient(config.toss_api_base, config.toss_secret_key)
    vault = Vault(config.encryption_key, config.old_encryption_keys)
    return Services(clock=clock, toss=toss, vault=vault)
