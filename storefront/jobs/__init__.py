"""RQ entry points: thin wrappers that get the app, open an app context and call the domain.

Jobs take ints and strings only and are safe to run twice. The plumbing is apart from the
jobs:

- process.py: the worker's app (built once per process from the environment and `.env`, or
  adopted: `adopt_app`) and `warm_up` before a forking worker forks.
- logs.py: every log line a job writes carries its job id (`JobIdFilter`, installed on the
  worker's handler by `install_job_logging`).
- as_of.py: `--as-of` (sandbox only) travels as an ISO string and becomes a `FixedClock`.
- queues.py: the queues, the order a worker serves them in, and the Redis connection.

The jobs, one module per capability:

- charging.py: the timer's due sweep (`sweep_due_job`), one `charge_subscription_job` per
  due period, `reconcile_job` for attempts left ``sending``/``unknown``.
- settlement.py: `settle_refunds_job`, `settle_orders_job`, the daily 대사 (`reconcile_day_job`).
- notices.py: outbox delivery (`deliver_message_job`, `deliver_pending_job`, `enqueue_delivery`),
  consent requests and renewal notices.
- webhooks.py: `process_webhook_job`, `webhook_sweep_job`, `purge_webhooks_job`.
- retention.py: `release_cards_job`, `retention_job`.

The timer (`storefront.cron`) says which job runs when.

Every job's path is ``storefront.jobs.<name>``: RQ stores a job by the dotted path of its
function (in the queue, the scheduled and failed registries, and the cron registry), so
jobs enqueued before these modules were split, or by a release rolled back to, must find
their function here. This package re-exports every job and names itself as their module
(`JOBS`, `__module__` below), so what RQ writes now is the path it wrote before the split.
`tests/jobs/test_job_paths.py` holds the list of paths ever enqueued.
"""

from __future__ import annotations

from storefront.jobs.as_of import AsOfRefused, parse_as_of
from storefront.jobs.charging import (
    Due,
    SweepResult,
    alive_within,
    charge_job_id,
    charge_subscription_job,
    due_periods,
    enqueue_charge,
    reconcile_job,
    sweep_due,
    sweep_due_job,
)
from storefront.jobs.logs import JOB_LOG_FORMAT, JobIdFilter, install_job_logging, job_log_handler
from storefront.jobs.notices import (
    consent_requests_job,
    deliver_message_job,
    deliver_pending_job,
    enqueue_deliveries,
    enqueue_delivery,
    renewal_notices_job,
)
from storefront.jobs.process import adopt_app, warm_up
from storefront.jobs.queues import (
    BILLING_QUEUE,
    CHARGE_JOB_TIMEOUT,
    DEFAULT_ALIVE_WITHIN,
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_QUEUE,
    DELIVERY_RETRY_INTERVALS,
    NOTICES_QUEUE,
    QUEUES,
    WEBHOOKS_QUEUE,
    get_queue,
    redis_connection,
)
from storefront.jobs.retention import release_cards_job, retention_job
from storefront.jobs.settlement import reconcile_day_job, settle_orders_job, settle_refunds_job
from storefront.jobs.webhooks import enqueue_webhook, process_webhook_job, purge_webhooks_job, webhook_sweep_job

# Every function RQ runs, by the name it is stored under (``storefront.jobs.<name>``).
JOBS = (
    sweep_due_job,
    charge_subscription_job,
    reconcile_job,
    settle_refunds_job,
    settle_orders_job,
    reconcile_day_job,
    deliver_message_job,
    deliver_pending_job,
    consent_requests_job,
    renewal_notices_job,
    process_webhook_job,
    webhook_sweep_job,
    purge_webhooks_job,
    release_cards_job,
    retention_job,
)
for _job in JOBS:
    _job.__module__ = __name__  # RQ writes f"{__module__}.{__qualname__}": keep the pre-split path
del _job

__all__ = [
    "AsOfRefused",
    "BILLING_QUEUE",
    "CHARGE_JOB_TIMEOUT",
    "DEFAULT_ALIVE_WITHIN",
    "DEFAULT_HEARTBEAT_SECONDS",
    "DEFAULT_QUEUE",
    "DELIVERY_RETRY_INTERVALS",
    "Due",
    "JOBS",
    "JOB_LOG_FORMAT",
    "JobIdFilter",
    "NOTICES_QUEUE",
    "QUEUES",
    "SweepResult",
    "WEBHOOKS_QUEUE",
    "adopt_app",
    "alive_within",
    "charge_job_id",
    "charge_subscription_job",
    "consent_requests_job",
    "deliver_message_job",
    "deliver_pending_job",
    "due_periods",
    "enqueue_charge",
    "enqueue_deliveries",
    "enqueue_delivery",
    "enqueue_webhook",
    "get_queue",
    "install_job_logging",
    "job_log_handler",
    "parse_as_of",
    "process_webhook_job",
    "purge_webhooks_job",
    "reconcile_day_job",
    "reconcile_job",
    "redis_connection",
    "release_cards_job",
    "renewal_notices_job",
    "retention_job",
    "settle_orders_job",
    "settle_refunds_job",
    "sweep_due",
    "sweep_due_job",
    "warm_up",
    "webhook_sweep_job",
]
