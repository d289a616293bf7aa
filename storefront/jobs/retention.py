"""Retention jobs: what is kept no longer than needed — unused cards, and the retention table's rows."""

from __future__ import annotations

import logging

from storefront.extensions import db, services
from storefront.jobs.process import _app

log = logging.getLogger("storefront.jobs")


def release_cards_job() -> int:
    """Destroy (and delete at Toss, best effort) sealed cards no live subscription uses any more."""
    from storefront.billing.wallet import cards

    with _app().app_context():
        found = services()
        count = cards.release_unused_cards(db.session(), toss=found.toss, vault=found.vault, clock=found.clock)
    log.info("card release: %s unused card(s) destroyed", count)
    return count


def retention_job() -> dict[str, int]:
    """Apply the retention table (`storefront.retention.RULES`): what is past its period is anonymised or deleted."""
    from storefront.retention import apply_rules

    with _app().app_context():
        changed = apply_rules(db.session(), now=services().clock.now())
    log.info("retention: %s", ", ".join(f"{key} {count}" for key, count in changed.items()))
    return changed
