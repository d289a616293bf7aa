"""Enqueue many RQ jobs of one function under unique ids, a thousand per round trip to Redis.

`Queue.enqueue(..., unique=True)` costs three round trips per job (the queue set, the
server version, RQ's check-save-push script) and packs every field of the job hash for each.
A sweep that finds 100,000 periods due spent over a minute there. `enqueue_unique_many` sends
one Lua script per `chunk` jobs: the fields every job shares once, then each job's id,
pickled call and description. For each job the script does what RQ's unique enqueue does
(nothing if a job has the id; else save the hash and push the id on the queue), and the
whole chunk is one atomic step, so racing sweeps still never make two jobs of one id.

The hash is RQ 2.12's (`Job.to_dict`, with ``data`` the zlib-compressed pickle of the call);
`storefront.liveness` relies on the same layout, and requirements.txt pins the version. The
job keys are built inside the script from their ids, which suits one Redis server (ours), not
Redis Cluster.
"""

from __future__ import annotations

import zlib
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from rq import Queue
from rq.job import Job, JobStatus
from rq.utils import now

CHUNK = 1000

# KEYS[1] the queue's list. ARGV: job key prefix, ttl (-1: none), number of shared field/value
# pairs, the pairs, then per job: id, data, description. Returns 1 (enqueued) or 0 (id taken) per job.
_ENQUEUE_MANY = """
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local pairs_count = tonumber(ARGV[3])
local shared = {}
for i = 1, 2 * pairs_count do shared[i] = ARGV[3 + i] end
local out = {}
local i = 4 + 2 * pairs_count
while i <= #ARGV do
  local key = prefix .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then
    out[#out + 1] = 0
  else
    redis.call('HSET', key, 'data', ARGV[i + 1], 'description', ARGV[i + 2], unpack(shared))
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    redis.call('RPUSH', KEYS[1], ARGV[i])
    out[#out + 1] = 1
  end
  i = i + 3
end
return out
"""

_SCRIPTS: dict[int, Any] = {}


def enqueue_unique_many(
    queue: Queue,
    func: Callable[..., Any],
    items: Iterable[tuple[str, Sequence[Any], str]],
    *,
    chunk: int = CHUNK,
    timeout: int | None = None,
    result_ttl: int | None = None,
    ttl: int | None = None,
    failure_ttl: int | None = None,
) -> list[bool]:
    """Enqueue ``func(*args)`` as job `job_id` for each ``(job_id, args, description)`` unless the id is taken.

    Returns, in order, True for each job enqueued and False for each id a job already had.
    The jobs are what ``queue.enqueue(func, *args, job_id=..., description=..., unique=True,
    job_timeout=timeout, ...)`` makes. Raises what Redis raises; chunks already sent stay
    enqueued (each chunk is atomic).
    """
    conn = queue.connection
    script = _SCRIPTS.get(id(conn))
    if script is None:
        script = _SCRIPTS[id(conn)] = conn.register_script(_ENQUEUE_MANY)
    template = queue.create_job(
        func,
        args=(),
        job_id="template",
        timeout=timeout,
        result_ttl=result_ttl,
        ttl=ttl,
        failure_ttl=failure_ttl,
        status=JobStatus.QUEUED,
    )
    template.origin, template.enqueued_at = queue.name, now()
    template.redis_server_version = queue.get_redis_server_version()
    if template.timeout is None:
        template.timeout = queue._default_timeout
    shared = _shared_fields(template)
    head = [Job.redis_job_namespace_prefix, template.ttl if template.ttl is not None else -1, len(shared) // 2, *shared]
    func_name, serializer = template.func_name, template.serializer
    out: list[bool] = []
    batch: list[Any] = []

    def flush() -> None:
        conn.sadd(queue.redis_queues_keys, queue.key)
        answers = script(keys=[queue.key], args=head + batch)
        out.extend(bool(answer) for answer in answers)
        batch.clear()

    for job_id, args, description in items:
        batch += [job_id, zlib.compress(serializer.dumps((func_name, None, tuple(args), {}))), description]
        if len(batch) >= 3 * chunk:
            flush()
    if batch:
        flush()
    return out


def _shared_fields(template: Job) -> list[Any]:
    """The job hash's fields every job of the batch has alike: `Job.to_dict` less data and description."""
    fields: list[Any] = []
    for key, value in template.to_dict().items():
        if key in ("data", "description") or value is None:
            continue
        fields += [key, value if isinstance(value, (bytes, str)) else str(value)]
    return fields
