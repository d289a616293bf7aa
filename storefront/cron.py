"""The timer: what RQ's CronScheduler enqueues, and how often.

Loaded by ``flask cron`` (the Procfile's `cron:` line) or by RQ's own command,
``rq cron storefront.cron --url $REDIS_URL``: importing this module registers every entry
of `schedule()` with ``rq.cron.register``, which is how RQ 2.x reads a cron file. Run one
cron process per Redis; a second one only makes extra sweeps, which charge nobody twice
(see `storefront.jobs`).

| job | queue | when (default) | setting |
| --- | --- | --- | --- |
| `sweep_due_job` | billing | every 5 minutes | BILLING_SWEEP_MINUTES |
| `reconcile_job` | billing | every 10 minutes | BILLING_RECONCILE_MINUTES |
| `deliver_pending_job` | notices | every minute | OUTBOX_SWEEP_MINUTES |
| `settle_refunds_job` | billing | every 10 minutes | REFUND_SETTLE_MINUTES |
| `settle_orders_job` | billing | every 10 minutes | REFUND_SETTLE_MINUTES |
| `consent_requests_job` | notices | every 15 minutes | — |
| `renewal_notices_job` | notices | every hour | — |
| `release_cards_job` | default | every hour | — |
| `webhook_sweep_job` | webhooks | every minute | — |
| `reconcile_day_job` | billing | daily at 05:00 KST (20:00 UTC): yesterday's 대사 with Toss | — |
| `retention_job` | default | daily at 04:30 KST (19:30 UTC): retention.py's table (audit log: two years) | — |
| `purge_webhooks_job` | default | daily at 04:10 KST (19:10 UTC) | WEBHOOK_IGNORED_RETENTION_DAYS |

Interval jobs run once as soon as the cron starts, then every interval. Each enqueued job
expires from its queue if no worker has started it within one interval, so a busy billing
day never stacks up sweeps. Settings are read from the environment when this module is
imported (`flask cron` loads `.env` first); a bad value stops the cron with one line naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping

from rq import cron

from storefront import jobs
from storefront.config import ConfigError

# RQ evaluates cron expressions in UTC.
# 05:00 Asia/Seoul: yesterday is over in Korea and Toss has filed its transactions.
RECONCILE_DAY_CRON = "0 20 * * *"
RETENTION_CRON = "30 19 * * *"  # 04:30 Asia/Seoul: storefront/retention.py's table, within a day of 탈퇴
WEBHOOK_PURGE_CRON = "10 19 * * *"


@dataclass(frozen=True)
class CronSettings:
    sweep_minutes: int = 5
    reconcile_minutes: int = 10
    outbox_minutes: int = 1
    refunds_minutes: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CronSettings:
        return cls(
            sweep_minutes=_minutes(env, "BILLING_SWEEP_MINUTES", cls.sweep_minutes),
            reconcile_minutes=_minutes(env, "BILLING_RECONCILE_MINUTES", cls.reconcile_minutes),
            outbox_minutes=_minutes(env, "OUTBOX_SWEEP_MINUTES", cls.outbox_minutes),
            refunds_minutes=_minutes(env, "REFUND_SETTLE_MINUTES", cls.refunds_minutes),
        )


def _minutes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 1440:
        raise ConfigError(f"{name}: whole minutes between 1 and 1440, got {raw!r}")
    return int(raw)


def schedule(settings: CronSettings) -> list[dict[str, Any]]:
    """The timer's entries as keyword arguments for ``rq.cron.register`` / ``CronScheduler.register``."""

    def every(func: Callable[..., Any], queue: str, minutes: int) -> dict[str, Any]:
        seconds = minutes * 60
        return dict(func=func, queue_name=queue, interval=seconds, ttl=seconds, name=func.__name__)

    return [
        every(jobs.sweep_due_job, jobs.BILLING_QUEUE, settings.sweep_minutes),
        every(jobs.reconcile_job, jobs.BILLING_QUEUE, settings.reconcile_minutes),
        every(jobs.deliver_pending_job, jobs.NOTICES_QUEUE, settings.outbox_minutes),
        every(jobs.settle_refunds_job, jobs.BILLING_QUEUE, settings.refunds_minutes),
        every(jobs.settle_orders_job, jobs.BILLING_QUEUE, settings.refunds_minutes),
        every(jobs.consent_requests_job, jobs.NOTICES_QUEUE, 15),
        every(jobs.renewal_notices_job, jobs.NOTICES_QUEUE, 60),
        every(jobs.release_cards_job, jobs.DEFAULT_QUEUE, 60),
        every(jobs.webhook_sweep_job, jobs.WEBHOOKS_QUEUE, 1),
        dict(
            func=jobs.reconcile_day_job,
            queue_name=jobs.BILLING_QUEUE,
            cron=RECONCILE_DAY_CRON,
            name=jobs.reconcile_day_job.__name__,
        ),
        dict(
            func=jobs.retention_job,
            queue_name=jobs.DEFAULT_QUEUE,
            cron=RETENTION_CRON,
            name=jobs.retention_job.__name__,
        ),
        dict(
            func=jobs.purge_webhooks_job,
            queue_name=jobs.DEFAULT_QUEUE,
            cron=WEBHOOK_PURGE_CRON,
            name=jobs.purge_webhooks_job.__name__,
        ),
    ]


def register_all(register: Callable[..., Any] = cron.register, env: Mapping[str, str] | None = None) -> None:
    """Register every entry of the schedule (with RQ's module-level registry by default)."""
    for entry in schedule(CronSettings.from_env(os.environ if env is None else env)):
        register(**entry)


register_all()
