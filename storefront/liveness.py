"""What RQ really holds for a job id: waiting in a queue, running on a live worker, lost, or ended.

The due sweep asks this before it enqueues a period's charge job under its deterministic id.
RQ's own `status` field is not enough: it says ``queued`` for a job a worker popped and died
holding (RQ 2.x keeps it in ``rq:queue:<name>:intermediate`` when the worker serves one queue,
and nowhere at all when it serves several), and ``started`` for a job whose worker was
SIGKILLed, until RQ's maintenance notices 7 to 20 minutes later. So the answer here is read
from facts that cannot go stale (RQ 2.12's data layout, read with plain Redis commands so a
half-written job hash cannot make it raise):

- **waiting**: the id is in the queue's list (``LPOS``), or in its scheduled/deferred registry;
- **running**: the job is started (``rq:wip:<queue>`` holds ``<id>:<execution>``, or the job
  hash names a worker) by a worker whose heartbeat is younger than `alive_within` seconds and
  whose ``current_job`` is this id (or that is busy and has not written it yet);
- **in transit**: status ``queued`` but in no queue and not running: a worker may be between
  popping it and starting it (milliseconds), or died there. The first sweep that sees it
  leaves a mark in Redis; one that sees it again at least `alive_within` seconds later calls
  it **lost**. So a stranded job is replaced by the second sweep after it stranded;
- **lost**: started, but no live worker holds it: replaced at once;
- **ended**: finished, failed, stopped or canceled: replaced (its period is still due, or the
  sweep would not be asking);
- **absent**: no job under that id.

`discard` removes every trace of a job id (queue list, intermediate list, every registry,
executions, the hash) with plain commands, so replacing a lost job never depends on RQ's
`Job.delete`, which raises when an execution hash has expired before its registry entry.

Workers started by ``flask worker`` heartbeat every WORKER_HEARTBEAT_SECONDS while they run
a job (`storefront.workers`), so ``alive_within`` is three of those. A worker started by
hand with ``rq worker`` heartbeats only every 30 s (and a SimpleWorker not at all during a
job): its jobs may be judged lost and run twice, which the billing domain makes harmless
(the second run finds the period paid or in flight).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.utils import utcparse
from rq.worker import Worker

WAITING, RUNNING, IN_TRANSIT, LOST, ENDED, ABSENT = "waiting", "running", "in_transit", "lost", "ended", "absent"
PENDING = (WAITING, RUNNING, IN_TRANSIT)  # leave the job alone
_STRANDED_MARK = "storefront:liveness:in-transit:"
_ENDED = ("finished", "failed", "stopped", "canceled")


@dataclass(frozen=True)
class JobState:
    state: str
    detail: str = ""

    @property
    def pending(self) -> bool:
        return self.state in PENDING


def redis_now(connection: Redis) -> datetime:
    """Redis's own clock (``TIME``): the one clock every worker's heartbeat can be compared with."""
    seconds, micros = connection.time()
    return datetime.fromtimestamp(seconds + micros / 1_000_000, tz=UTC)


def job_state(queue: Queue, job_id: str, *, alive_within: float, waiting: set[str] | None = None) -> JobState:
    """Classify `job_id` on `queue` (see the module docstring); may leave an in-transit mark in Redis.

    `waiting`: the queue's ids read once (`waiting_ids`) by a caller that asks about many jobs;
    an id in it is waiting without a scan of the list (a job popped since is pending anyway).
    """
    conn = queue.connection
    job_key = Job.key_for(job_id)
    status, holder = (_text(v) for v in conn.hmget(job_key, ["status", "worker_name"]))
    if status is None and not conn.exists(job_key):
        return JobState(ABSENT)
    if (waiting is not None and job_id in waiting) or conn.lpos(queue.key, job_id) is not None:
        return JobState(WAITING, "in the queue")
    for registry in (ScheduledJobRegistry(queue=queue), DeferredJobRegistry(queue=queue)):
        if conn.zscore(registry.key, job_id) is not None:
            return JobState(WAITING, f"in {registry.key}")
    if status in _ENDED:
        return JobState(ENDED, status)
    now = redis_now(conn)
    workers = _holders(queue, job_id, holder)
    for name in workers:
        if _holds(conn, name, job_id, now, alive_within):
            return JobState(RUNNING, f"on worker {name}")
    if status == "started" or workers:
        return JobState(LOST, f"started; no live worker holds it ({', '.join(sorted(workers)) or 'none named'})")
    # 'queued' (or no status) yet in no queue and on no worker: popped by a worker, maybe dead.
    mark = _STRANDED_MARK + job_id
    conn.set(mark, now.timestamp(), nx=True, ex=24 * 3600)
    first_seen = float(conn.get(mark) or now.timestamp())
    if now.timestamp() - first_seen >= alive_within:
        return JobState(LOST, f"{status or 'no status'} but in no queue for {now.timestamp() - first_seen:.0f}s")
    return JobState(IN_TRANSIT, f"{status or 'no status'} and in no queue; replaced if still so in {alive_within:.0f}s")


def waiting_ids(queue: Queue) -> set[str]:
    """The ids in the queue's list right now, read in one call (LPOS per job is a scan of the list each)."""
    return {text for text in (_text(x) for x in queue.connection.lrange(queue.key, 0, -1)) if text}


def discard(queue: Queue, job_id: str) -> None:
    """Remove every trace of `job_id` from Redis (what `Job.delete` does, without its failure modes)."""
    conn = queue.connection
    started = StartedJobRegistry(queue=queue)
    prefix = f"{job_id}:"
    entries = [e for e in (_text(x) for x in conn.zrange(started.key, 0, -1)) if e and e.startswith(prefix)]
    executions_key = f"rq:executions:{job_id}"
    executions = [_text(x) for x in conn.zrange(executions_key, 0, -1)]
    with conn.pipeline() as pipe:
        pipe.lrem(queue.key, 0, job_id)
        pipe.lrem(queue.intermediate_queue_key, 0, job_id)
        if entries:
            pipe.zrem(started.key, *entries)
        for registry in (
            FinishedJobRegistry,
            FailedJobRegistry,
            CanceledJobRegistry,
            ScheduledJobRegistry,
            DeferredJobRegistry,
        ):
            pipe.zrem(registry(queue=queue).key, job_id)
        for execution_id in executions:
            pipe.delete(f"rq:execution:{job_id}:{execution_id}")
        pipe.delete(
            Job.key_for(job_id),
            Job.dependents_key_for(job_id),
            f"{Job.key_for(job_id)}:dependencies",
            executions_key,
            _STRANDED_MARK + job_id,
        )
        pipe.execute()


def _holders(queue: Queue, job_id: str, holder: str | None) -> set[str]:
    """Names of the workers that started `job_id`: from its live executions and from the job hash."""
    conn = queue.connection
    names = {holder} if holder else set()
    prefix = f"{job_id}:"
    for entry in (_text(x) for x in conn.zrange(StartedJobRegistry(queue=queue).key, 0, -1)):
        if entry and entry.startswith(prefix):
            name = _text(conn.hget(f"rq:execution:{entry}", "worker_name"))
            if name:
                names.add(name)
    return names


def _holds(conn: Redis, worker_name: str, job_id: str, now: datetime, alive_within: float) -> bool:
    beat, current, state = (
        _text(v)
        for v in conn.hmget(
            Worker.redis_worker_namespace_prefix + worker_name, ["last_heartbeat", "current_job", "state"]
        )
    )
    if not beat:
        return False
    try:
        age = (now - utcparse(beat)).total_seconds()
    except ValueError:
        return False
    if age > alive_within:
        return False
    return current == job_id or (not current and state == "busy")


def _text(value: object) -> str | None:
    """A Redis reply as text. redis-py types replies loosely (any RESP value); ours are bytes, str or None."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
