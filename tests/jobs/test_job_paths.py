"""Jobs already in Redis keep working after a deploy that moves code.

RQ stores each job as the dotted path of its function (``storefront.jobs.charge_subscription_job``)
in the queue, the scheduled registry (retries with an interval), the failed registry (the admin's
다시 실행) and the cron registry, and a worker imports that path when it runs the job. These are all
the paths the store has ever enqueued; a path that stopped importing would leave those jobs failing
with an ImportError on the first deploy after a move.
"""

from __future__ import annotations

import inspect

import pytest
from redis import Redis
from rq.job import Job
from rq.utils import import_attribute

from storefront import jobs

EVER_ENQUEUED = [
    "storefront.jobs.sweep_due_job",
    "storefront.jobs.charge_subscription_job",
    "storefront.jobs.reconcile_job",
    "storefront.jobs.settle_refunds_job",
    "storefront.jobs.settle_orders_job",
    "storefront.jobs.reconcile_day_job",
    "storefront.jobs.release_cards_job",
    "storefront.jobs.retention_job",
    "storefront.jobs.deliver_message_job",
    "storefront.jobs.deliver_pending_job",
    "storefront.jobs.process_webhook_job",
    "storefront.jobs.webhook_sweep_job",
    "storefront.jobs.purge_webhooks_job",
    "storefront.jobs.consent_requests_job",
    "storefront.jobs.renewal_notices_job",
]


@pytest.mark.parametrize("path", EVER_ENQUEUED)
def test_every_path_ever_enqueued_still_imports_as_a_worker_imports_it(path):
    func = import_attribute(path)
    assert callable(func)
    assert func in jobs.JOBS


def test_a_job_enqueued_now_is_stored_under_the_same_path_as_before():
    # Job.create names the function exactly as queue.enqueue does; no Redis round trip is made.
    stored = {Job.create(func, connection=Redis()).func_name for func in jobs.JOBS}
    assert stored == set(EVER_ENQUEUED)


def test_every_job_function_in_the_package_is_listed():
    from storefront.jobs import charging, notices, retention, settlement, webhooks

    defined = {
        f"storefront.jobs.{name}"
        for module in (charging, notices, retention, settlement, webhooks)
        for name, value in vars(module).items()
        if name.endswith("_job")
        and inspect.isfunction(value)
        and inspect.unwrap(value).__code__.co_filename == module.__file__
    }
    assert defined == set(EVER_ENQUEUED)
