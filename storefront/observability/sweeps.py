"""The due sweep's last success, for `/healthz` and `/metrics`.

`records_sweep` wraps `jobs.sweep_due_job`: when the job returns, it writes the moment (the
app's clock) and how long the sweep took into Redis (``storefront:timer:sweep``) and adds the
duration to the ``storefront_sweep_duration_seconds`` histogram. A sweep that raises records
nothing, so its last success stays where it was.

`timer_health` says whether the timer is alive: the last success must be younger than two
sweep intervals (BILLING_SWEEP_MINUTES). Without any record (a new install, or a Redis that
restarted empty) the clock starts when a health check first notices the absence, so a cron
that never started fails the check two intervals later instead of never.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any, TypeVar
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from storefront.observability import histograms

log = logging.getLogger("storefront.observability")

SWEEP_KEY = "storefront:timer:sweep"
WATCH_KEY = "storefront:timer:sweep-missing-since"
SWEEP_DURATION = histograms.HistogramSpec(
    name="storefront_sweep_duration_seconds",
    documentation="How long each successful due sweep took (listing due periods and enqueueing their charge jobs)",
    labels=(),
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)

F = TypeVar("F", bound=Callable[..., Any])


def record_sweep(connection: Redis, *, now: datetime, seconds: float) -> None:
    """Note a successful sweep that ended at `now` after `seconds`; raises RedisError."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.hset(
            SWEEP_KEY, mapping={"last_success_at": f"{now.timestamp():.3f}", "last_duration_seconds": f"{seconds:.6f}"}
        )
        pipe.delete(WATCH_KEY)
        pipe.execute()
    histograms.observe(connection, SWEEP_DURATION, (), seconds)


@dataclass(frozen=True)
class LastSweep:
    at: datetime
    seconds: float


def last_sweep(connection: Redis) -> LastSweep | None:
    """The last successful sweep recorded in Redis, if any."""
    values = connection.hgetall(SWEEP_KEY)
    at = values.get(b"last_success_at")
    if at is None:
        return None
    return LastSweep(
        at=datetime.fromtimestamp(float(at), tz=UTC), seconds=float(values.get(b"last_duration_seconds") or 0.0)
    )


@dataclass(frozen=True)
class TimerHealth:
    ok: bool
    detail: str  # "ok" or "error: ..." for /healthz's checks
    last_sweep: LastSweep | None


def timer_health(connection: Redis, *, now: datetime, interval_minutes: int) -> TimerHealth:
    """Healthy while the last sweep is at most two intervals old (see the module docstring)."""
    limit = 2 * interval_minutes * 60
    found = last_sweep(connection)
    if found is not None:
        age = (now - found.at).total_seconds()
        if age <= limit:
            return TimerHealth(True, "ok", found)
        return TimerHealth(
            False,
            f"error: no due sweep for {_minutes(age)} (expected every {interval_minutes} min; "
            "is `flask cron` running, and a worker serving the billing queue?)",
            found,
        )
    connection.set(WATCH_KEY, f"{now.timestamp():.3f}", nx=True)
    since = float(connection.get(WATCH_KEY) or now.timestamp())
    age = now.timestamp() - since
    if age <= limit:
        return TimerHealth(True, "ok", None)
    return TimerHealth(
        False,
        f"error: no due sweep recorded for {_minutes(age)} (expected every {interval_minutes} "
        "min; is `flask cron` running, and a worker serving the billing queue?)",
        None,
    )


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min"


def records_sweep(job: F) -> F:
    """Decorator for the timer's sweep job: on success, record when it ended and how long it took."""

    @functools.wraps(job)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = job(*args, **kwargs)
        _record_for_worker(time.perf_counter() - started)
        return result

    return wrapper  # type: ignore[return-value]


def _record_for_worker(seconds: float) -> None:
    from flask import current_app

    from storefront.extensions import services
    from storefront.jobs.process import _app
    from storefront.jobs.queues import redis_connection

    with _app().app_context():
        connection = redis_connection(current_app.config["STOREFRONT"])
        if connection is None:
            return
        try:
            record_sweep(connection, now=services().clock.now(), seconds=seconds)
        except RedisError as exc:
            log.warning(
                "due sweep done, but its success could not be recorded (%s); /healthz may report the timer late",
                type(exc).__name__,
            )
