"""Prometheus histograms kept in Redis: one figure for every process on every machine.

A Toss call happens in a gunicorn worker on one host or in an RQ job's forked process on
another; a process-local histogram would die with the job's process, and prometheus-client's
multiprocess mode only adds up the processes of one host (and leaves a file per forked job).
Here each observation is one pipelined round trip to the Redis all processes already share
(the Toss rate limiter uses it on every call anyway): HINCRBY on its bucket and the count,
HINCRBYFLOAT on the sum, in one hash per histogram. Any web process reads the hash at scrape
time and turns it into cumulative buckets.

Recording never fails the caller: a Redis error is logged at debug level and the observation
is lost. A Redis restarted empty starts the counts from zero, which Prometheus reads as a
counter reset (``rate()`` and ``histogram_quantile()`` handle it).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from collections.abc import Iterable, Sequence

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger("storefront.observability")

KEY_PREFIX = "storefront:metrics:histogram:"
_SEP = "\x1f"  # between the labels' JSON and the field's kind


@dataclass(frozen=True)
class HistogramSpec:
    """A histogram's name, help text, label names and bucket upper bounds (seconds)."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.name


@dataclass(frozen=True)
class Series:
    """One label set's cumulative buckets ``[(le, count), ..., ("+Inf", count)]``, sum and count."""

    labels: tuple[str, ...]
    buckets: list[tuple[str, float]]
    sum: float
    count: float


def bucket_bound(spec: HistogramSpec, value: float) -> str:
    """The upper bound (as exposed, ``le``) of the first bucket that holds `value`."""
    for bound in spec.buckets:
        if value <= bound:
            return _le(bound)
    return "+Inf"


def observe(connection: Redis, spec: HistogramSpec, labels: Sequence[str], value: float) -> None:
    """Add one observation; raises RedisError (callers that must not fail use `observe_quietly`)."""
    if len(labels) != len(spec.labels):
        raise ValueError(f"{spec.name}: expected labels {spec.labels}, got {tuple(labels)}")
    prefix = json.dumps([str(v) for v in labels], ensure_ascii=False) + _SEP
    with connection.pipeline(transaction=False) as pipe:
        pipe.hincrby(spec.key, prefix + "b:" + bucket_bound(spec, value), 1)
        pipe.hincrby(spec.key, prefix + "count", 1)
        pipe.hincrbyfloat(spec.key, prefix + "sum", value)
        pipe.execute()


def observe_quietly(connection: Redis, spec: HistogramSpec, labels: Sequence[str], value: float) -> None:
    """`observe`, logging (at debug level) instead of raising when Redis does not answer."""
    try:
        observe(connection, spec, labels, value)
    except RedisError as exc:
        log.debug("metrics: observation of %s lost (%s)", spec.name, type(exc).__name__)


def read(connection: Redis, spec: HistogramSpec) -> list[Series]:
    """Every label set recorded so far, with cumulative buckets in bound order."""
    raw = connection.hgetall(spec.key)
    per_labels: dict[str, dict[str, float]] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else field
        labels_json, _, kind = name.partition(_SEP)
        per_labels.setdefault(labels_json, {})[kind] = float(value)
    series = []
    for labels_json in sorted(per_labels):
        fields = per_labels[labels_json]
        running, buckets = 0.0, []
        for bound in (*(_le(b) for b in spec.buckets), "+Inf"):
            running += fields.get("b:" + bound, 0.0)
            buckets.append((bound, running))
        series.append(
            Series(
                labels=tuple(json.loads(labels_json)),
                buckets=buckets,
                sum=fields.get("sum", 0.0),
                count=fields.get("count", running),
            )
        )
    return series


def clear(connection: Redis, specs: Iterable[HistogramSpec]) -> None:
    connection.delete(*(spec.key for spec in specs))


def _le(bound: float) -> str:
    if math.isinf(bound):
        return "+Inf"
    return repr(float(bound))
