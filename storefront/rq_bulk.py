"""Enqueue many RQ jobs under unique ids in a few round trips to Redis.

`Queue.enqueue(..., unique=True)` costs three round trips per job (the queue set, the
server version, RQ's check-save-push script). A sweep that finds 100,000 periods due spent
most of its time there. `enqueue_unique_many` builds the jobs in Python and sends RQ's own
atomic script for each through one pipeline per `chunk`: the same Redis state as
`enqueue(..., unique=True)` job by job (hash saved and id pushed only when no job has the
id; atomic per job, so racing sweeps still never make two), in a fraction of the time.

It relies on RQ 2.12's script and job layout (`rq.scripts`), as `storefront.liveness` does
on its keys; the pinned version in requirements.txt keeps them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from rq import Queue
from rq.job import Job, JobStatus
from rq.scripts import _build_hset_args, get_unique_enqueue_script
from rq.utils import now

CHUNK = 1000


@dataclass(frozen=True)
class JobSpec:
    """One job to enqueue: what `Queue.enqueue` would be given, with its (required) id."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    job_id: str
    options: dict[str, Any] = field(default_factory=dict)


def enqueue_unique_many(queue: Queue, specs: Iterable[JobSpec], *,
                        chunk: int = CHUNK) -> list[Job | None | Exception]:
    """Enqueue each spec unless a job with its id exists; in order, the Job, None for a duplicate, or the error.

    `options` take `Queue.create_job`'s names (``timeout``, ``result_ttl``, ``ttl``,
    ``failure_ttl``, ``description``, ``meta``, ...). A Redis error answered for one job
    (a script error) is returned in its place and the others go on; losing the connection
    raises, and jobs enqueued by earlier chunks stay enqueued (each is whole: the script
    saves and pushes together).
    """
    conn = queue.connection
    script = get_unique_enqueue_script(conn)
    version = queue.get_redis_server_version()
    out: list[Job | None | Exception] = []
    batch: list[Job] = []

    def flush() -> None:
        with conn.pipeline(transaction=False) as pipe:
            pipe.sadd(queue.redis_queues_keys, queue.key)
            for job in batch:
                ttl = job.ttl if job.ttl is not None else -1
                script(keys=[job.key, queue.key], args=[job.id, "R", ttl, *_build_hset_args(job)], client=pipe)
            answers = pipe.execute(raise_on_error=False)[1:]
        for job, answer in zip(batch, answers):
            out.append(answer if isinstance(answer, Exception) else job if answer == 1 else None)
        batch.clear()

    for spec in specs:
        job = queue.create_job(spec.func, args=spec.args, job_id=spec.job_id, status=JobStatus.QUEUED,
                               **spec.options)
        job.redis_server_version = version
        job.origin = queue.name
        job.enqueued_at = now()
        if job.timeout is None:
            job.timeout = queue._default_timeout
        batch.append(job)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return out
