"""A read-only look at RQ for the admin's 작업 page: queue and registry counts, failed jobs, the timer.

Everything here only reads Redis (registry counts and job ids are read with ``cleanup=False``,
the cron registry without pruning), except `requeue_failed`, the one action: it moves a job
from a queue's FailedJobRegistry back onto its queue. That is safe because every job in this
app takes ids or ISO dates and is idempotent (see `storefront.jobs`).

What a failed job shows is limited on purpose: the function's name, positional arguments
that are ints or short strings (never keyword arguments), its times, and the *last line* of
the exception with addresses and long tokens blanked. The full traceback stays in Redis: it
can hold request URLs, and a billing charge's URL holds the billing key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any
from collections.abc import Iterable

from redis import Redis
from rq import Queue
from rq.cron import CronScheduler
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result

FAILED_SHOWN = 20
MAX_ARG_CHARS = 64
MAX_ERROR_CHARS = 300
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# Anything that looks like an address or a path on an API, and long opaque tokens (keys, payment keys).
_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://|/v1/)\S*", re.IGNORECASE)
_TOKEN = re.compile(r"\b[A-Za-z0-9_-]{24,}\b")
HIDDEN = "[생략]"


@dataclass(frozen=True)
class QueueCounts:
    name: str
    queued: int
    started: int
    scheduled: int
    finished: int
    failed: int
    deferred: int


@dataclass(frozen=True)
class FailedJob:
    queue: str
    job_id: str
    func_name: str
    args: tuple[str, ...]
    has_kwargs: bool
    enqueued_at: datetime | None
    ended_at: datetime | None
    error: str


@dataclass(frozen=True)
class CronEntry:
    name: str
    func_name: str
    queue: str
    every: str  # "5분마다" or the cron expression
    last_at: datetime | None
    next_at: datetime | None


@dataclass(frozen=True)
class CronProcess:
    name: str
    last_heartbeat: datetime | None
    entries: list[CronEntry]


def queue_counts(connection: Redis, names: Iterable[str]) -> list[QueueCounts]:
    """Jobs per state for each queue, without touching the registries (no cleanup)."""
    result = []
    for name in names:
        queue = Queue(name, connection=connection)
        result.append(
            QueueCounts(
                name=name,
                queued=queue.count,
                started=StartedJobRegistry(queue=queue).get_job_count(cleanup=False),
                scheduled=ScheduledJobRegistry(queue=queue).get_job_count(cleanup=False),
                finished=FinishedJobRegistry(queue=queue).get_job_count(cleanup=False),
                failed=FailedJobRegistry(queue=queue).get_job_count(cleanup=False),
                deferred=DeferredJobRegistry(queue=queue).get_job_count(cleanup=False),
            )
        )
    return result


def failed_jobs(connection: Redis, names: Iterable[str], *, limit: int = FAILED_SHOWN) -> list[FailedJob]:
    """The most recently failed jobs over the queues (at most `limit`), newest first."""
    found: list[FailedJob] = []
    for name in names:
        registry = FailedJobRegistry(queue=Queue(name, connection=connection))
        ids = registry.get_job_ids(0, limit - 1, desc=True, cleanup=False)
        for job in Job.fetch_many(ids, connection=connection):
            if job is not None:
                found.append(_failed(name, job))
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda job: job.ended_at or job.enqueued_at or epoch, reverse=True)
    return found[:limit]


def _failed(queue: str, job: Job) -> FailedJob:
    try:
        func_name, args, kwargs = job.func_name or "?", tuple(job.args or ()), bool(job.kwargs)
    except Exception:  # noqa: BLE001 - a job whose data cannot be read is still listed
        func_name, args, kwargs = "(읽을 수 없음)", (), False
    return FailedJob(
        queue=queue,
        job_id=job.id,
        func_name=func_name,
        args=tuple(shown_arg(a) for a in args),
        has_kwargs=kwargs,
        enqueued_at=_aware(job.enqueued_at),
        ended_at=_aware(job.ended_at),
        error=last_error_line(_exc_string(job)),
    )


def shown_arg(value: Any) -> str:
    """An int or a short string as it is; anything else only by its type."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, str):
        text = scrub(value)
        return repr(text if len(text) <= MAX_ARG_CHARS else text[:MAX_ARG_CHARS] + "…")
    return f"<{type(value).__name__}>"


def last_error_line(exc_string: str | None) -> str:
    """The exception's last non-empty line (``ValueError: ...``), scrubbed and shortened."""
    lines = [line.strip() for line in (exc_string or "").splitlines() if line.strip()]
    if not lines:
        return "-"
    line = scrub(lines[-1])
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS] + "…"


def scrub(text: str) -> str:
    """Blank addresses (a Toss URL may carry a billing key) and long opaque tokens."""
    return _TOKEN.sub(HIDDEN, _ADDRESS.sub(HIDDEN, text))


def _exc_string(job: Job) -> str | None:
    result = job.latest_result()
    if result is not None and result.type == Result.Type.FAILED:
        return result.exc_string
    return None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class NotRequeued(Exception):
    """The job is not (or no longer) in that queue's failed registry."""


def requeue_failed(connection: Redis, queue_name: str, job_id: str) -> Job:
    """Put a failed job back on its queue (RQ's FailedJobRegistry.requeue). Raises NotRequeued."""
    if not JOB_ID_PATTERN.fullmatch(job_id or ""):
        raise NotRequeued(job_id)
    registry = FailedJobRegistry(queue=Queue(queue_name, connection=connection))
    try:
        return registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        raise NotRequeued(job_id) from None


def cron_processes(connection: Redis) -> list[CronProcess]:
    """Running `rq cron` processes (RQ's CronScheduler registry) and what each has registered."""
    processes = []
    for scheduler in CronScheduler.all(connection, cleanup=False):
        entries = [
            CronEntry(
                name=job.name,
                func_name=job.func_name,
                queue=job.queue_name,
                every=_every(job.interval, job.cron),
                last_at=_aware(job.latest_enqueue_time),
                next_at=_aware(job.next_enqueue_time),
            )
            for job in scheduler.get_jobs()
        ]
        processes.append(CronProcess(name=scheduler.name, last_heartbeat=scheduler.last_heartbeat, entries=entries))
    return processes


def configured_schedule(entries: Iterable[dict[str, Any]]) -> list[CronEntry]:
    """`storefront.cron.schedule(...)` as rows, for when no cron process is registered."""
    return [
        CronEntry(
            name=entry.get("name") or entry["func"].__name__,
            func_name=f"{entry['func'].__module__}.{entry['func'].__name__}",
            queue=entry["queue_name"],
            every=_every(entry.get("interval"), entry.get("cron")),
            last_at=None,
            next_at=None,
        )
        for entry in entries
    ]


def _every(interval: int | None, cron: str | None) -> str:
    if interval:
        if interval % 3600 == 0:
            return f"{interval // 3600}시간마다"
        if interval % 60 == 0:
            return f"{interval // 60}분마다"
        return f"{interval}초마다"
    return f"cron {cron} (UTC)" if cron else "-"
