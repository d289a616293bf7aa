"""The figures `/metrics` shows, read at scrape time from where they are facts.

Web and worker processes run on several machines, so a counter kept in one process's memory
would show that process only. What the database or Redis already holds is read when
Prometheus asks (a custom collector, as prometheus-client recommends for such state):

| metric | type | from |
| --- | --- | --- |
| `storefront_charges{status}` | gauge | charges by status (pending, paid, failed, canceled, refunded) |
| `storefront_charge_attempts{status}` | gauge | calls to Toss that may move money, by status |
| `storefront_attempts_unknown` | gauge | attempts whose outcome is unknown (reconcile asks Toss) |
| `storefront_reconcile_lag_seconds` | gauge | age of the oldest attempt still `sending`/`unknown` (0: none) |
| `storefront_queue_depth{queue}` | gauge | jobs waiting in each RQ queue |
| `storefront_jobs_failed{queue}` | gauge | jobs in each queue's failed registry |
| `storefront_workers` | gauge | RQ workers registered in Redis |
| `storefront_sweep_last_success_timestamp_seconds` | gauge | when the due sweep last succeeded |
| `storefront_sweep_duration_seconds` | histogram | each successful sweep's duration (`sweeps`) |
| `storefront_toss_request_duration_seconds{endpoint,code}` | histogram | every call to Toss (`toss_calls`) |
| `storefront_webhook_events{status}` | gauge | webhook deliveries by status |
| `storefront_outbox_messages{channel,status}` | gauge | emails and SMS by status |
| `storefront_metrics_source_up{source}` | gauge | 1 when the database / Redis answered this scrape |

A source that does not answer leaves its metrics out of that scrape (and its `_up` at 0)
instead of failing the whole page.
"""

from __future__ import annotations

import logging
from datetime import datetime
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storefront.observability import histograms, sweeps, toss_calls

log = logging.getLogger("storefront.observability")

OPEN_ATTEMPT_STATUSES = ("sending", "unknown")


class StoreCollector:
    """A prometheus-client collector over one database session and one Redis connection (or none)."""

    def __init__(self, session: Session, redis: Redis | None, *, now: datetime, queues: tuple[str, ...]) -> None:
        self.session = session
        self.redis = redis
        self.now = now
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "storefront_metrics_source_up", "1 when the source answered this scrape", labels=["source"]
        )
        try:
            found = list(self._database())
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            self.session.rollback()
            found = []
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
        yield from found
        if self.redis is not None:
            try:
                found = list(self._redis(self.redis))
            except RedisError as exc:
                log.warning("metrics: Redis did not answer (%s)", type(exc).__name__)
                found = []
                up.add_metric(["redis"], 0)
            else:
                up.add_metric(["redis"], 1)
            yield from found
        yield up

    # -- the database ------------------------------------------------------------------------------

    def _database(self) -> Iterator[Metric]:
        from storefront.models import Attempt, Charge, EmailMessage, WebhookEvent

        yield _by_status(
            "storefront_charges", "Charges (one per subscription period) by status", self._count_by(Charge.status)
        )
        attempts = self._count_by(Attempt.status)
        yield _by_status("storefront_charge_attempts", "Calls to Toss that may move money, by status", attempts)
        yield GaugeMetricFamily(
            "storefront_attempts_unknown",
            "Attempts whose outcome is unknown; reconcile asks Toss about them",
            value=sum(n for (status,), n in attempts if status == "unknown"),
        )
        oldest = self.session.scalar(
            select(func.min(Attempt.updated_at)).where(Attempt.status.in_(OPEN_ATTEMPT_STATUSES))
        )
        lag = max(0.0, (self.now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "storefront_reconcile_lag_seconds",
            "Age of the oldest attempt still sending or unknown (0 when there is none)",
            value=lag,
        )
        yield _by_status(
            "storefront_webhook_events", "Toss webhook deliveries by status", self._count_by(WebhookEvent.status)
        )
        outbox = GaugeMetricFamily(
            "storefront_outbox_messages", "Notices (email, SMS) by channel and status", labels=["channel", "status"]
        )
        for (channel, status), count in self._count_by(EmailMessage.channel, EmailMessage.status):
            outbox.add_metric([channel, status], count)
        yield outbox
        self.session.rollback()  # a read-only look: end the transaction

    def _count_by(self, *columns) -> list[tuple[tuple[str, ...], int]]:
        rows = self.session.execute(select(*columns, func.count()).group_by(*columns).order_by(*columns))
        return [(tuple(str(v) for v in row[:-1]), int(row[-1])) for row in rows]

    # -- Redis -------------------------------------------------------------------------------------

    def _redis(self, connection: Redis) -> Iterator[Metric]:
        depth = GaugeMetricFamily("storefront_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
        failed = GaugeMetricFamily(
            "storefront_jobs_failed", "Jobs in each RQ queue's failed registry", labels=["queue"]
        )
        for name in self.queues:
            queue = Queue(name, connection=connection)
            depth.add_metric([name], queue.count)
            failed.add_metric([name], FailedJobRegistry(queue=queue).get_job_count(cleanup=False))
        yield depth
        yield failed
        yield GaugeMetricFamily(
            "storefront_workers", "RQ workers registered in Redis", value=Worker.count(connection=connection)
        )
        last = sweeps.last_sweep(connection)
        if last is not None:
            yield GaugeMetricFamily(
                "storefront_sweep_last_success_timestamp_seconds",
                "When the due sweep last succeeded (Unix time)",
                value=last.at.timestamp(),
            )
        yield _histogram(connection, sweeps.SWEEP_DURATION)
        yield _histogram(connection, toss_calls.TOSS_LATENCY)


def _by_status(name: str, documentation: str, counts: list[tuple[tuple[str, ...], int]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for (status,), count in counts:
        family.add_metric([status], count)
    return family


def _histogram(connection: Redis, spec: histograms.HistogramSpec) -> HistogramMetricFamily:
    family = HistogramMetricFamily(spec.name, spec.documentation, labels=list(spec.labels))
    for series in histograms.read(connection, spec):
        family.add_metric(list(series.labels), series.buckets, sum_value=series.sum)
    return family
