"""Settlement jobs: what a crash or a lost answer left unknown is settled by asking Toss, and the daily 대사.

`settle_refunds_job` and `settle_orders_job` run every few minutes, `reconcile_day_job` daily
(`storefront.cron`).
"""

from __future__ import annotations

import logging

from storefront.extensions import db, services
from storefront.jobs.notices import enqueue_deliveries
from storefront.jobs.process import _app, _config
from storefront.jobs.queues import NOTICES_QUEUE, get_queue

log = logging.getLogger("storefront.jobs")


def settle_refunds_job() -> int:
    """Settle refunds whose outcome is unknown (`refunds.settle_unknown_refunds`); returns how many were looked at.

    First sends the refund of any 청약철회 or 바로 해지 whose Refund row a crash kept from being
    written (`cooling_off.finish_withdrawals`, `subscriptions.finish_cancel_now`); last, tells
    shoppers about refunds made at Toss that a webhook, the reconciliation or this job recorded
    (`refund_notices.announce`) and enqueues their delivery.
    """
    from storefront.billing.compliance import cooling_off
    from storefront.billing.refunding import refund_notices, refunds
    from storefront.billing.recurring import subscriptions

    with _app().app_context():
        found = services()
        cooling_off.finish_withdrawals(db.session(), toss=found.toss, clock=found.clock)
        subscriptions.finish_cancel_now(db.session(), toss=found.toss, clock=found.clock)
        rows = refunds.settle_unknown_refunds(db.session(), toss=found.toss, clock=found.clock)
        notices = refund_notices.announce(db.session(), notifier=found.notifier, clock=found.clock)
        queue = get_queue(NOTICES_QUEUE, _config()) if notices else None
        if queue is not None:
            enqueue_deliveries(queue, notices)
    log.info("refund settlement: %s refund(s) looked at", len(rows))
    return len(rows)


def settle_orders_job() -> int:
    """Settle one-time orders whose confirm outcome is unknown, expire unpaid ones (`orders.settle_unknown_orders`)."""
    from storefront.billing.one_time import orders

    with _app().app_context():
        found = services()
        outcomes = orders.settle_unknown_orders(
            db.session(), toss=found.toss, clock=found.clock, notifier=found.notifier
        )
    log.info("order settlement: %s order(s) looked at", len(outcomes))
    return len(outcomes)


def reconcile_day_job(day: str | None = None) -> str:
    """Daily reconciliation (대사) with Toss of `day` (ISO date; default: yesterday in Korea); returns its status."""
    from datetime import date

    from storefront.billing.toss_sync import reconciliation

    with _app().app_context():
        found = services()
        target = date.fromisoformat(day) if day else reconciliation.previous_day(found.clock.now())
        row = reconciliation.reconcile_day(db.session(), target, toss=found.toss, clock=found.clock)
        status, flagged = row.status, row.flagged_count
    log.info("reconciliation of %s: %s, %s difference(s) to look at", target, status, flagged)
    return status
