"""Toss call latency, recorded where the calls happen: the `TossClient`'s `on_call` hook.

The client (which imports no Flask and knows nothing of Redis) calls
``on_call(endpoint, code, seconds)`` once per HTTP exchange with Toss: `endpoint` is the method
and the path template (``POST /v1/billing/{billingKey}``, never a key), `code` the HTTP status
or, without an answer, the client's transport code (``TIMEOUT``, ``CONNECT_FAILED``,
``CONNECTION_ERROR``). `services.build_services` passes a `LatencyRecorder` when REDIS_URL is
set, so web and worker processes on every machine add to one histogram (see `histograms`).
"""

from __future__ import annotations

from redis import Redis

from storefront.observability import histograms

TOSS_LATENCY = histograms.HistogramSpec(
    name="storefront_toss_request_duration_seconds",
    documentation="Calls to the Toss API by endpoint and HTTP status (or transport error), from request to answer",
    labels=("endpoint", "code"),
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 65.0),
)
# Past this a recording gives up: a slow Redis must not hold a payment up.
RECORD_TIMEOUT_SECONDS = 0.5


class LatencyRecorder:
    """The `on_call` hook: one pipelined Redis round trip per Toss call; never raises."""

    def __init__(self, redis_url: str) -> None:
        self._redis = Redis.from_url(
            redis_url, socket_timeout=RECORD_TIMEOUT_SECONDS, socket_connect_timeout=RECORD_TIMEOUT_SECONDS
        )

    def __call__(self, endpoint: str, code: str, seconds: float) -> None:
        histograms.observe_quietly(self._redis, TOSS_LATENCY, (endpoint, code), seconds)

    def __repr__(self) -> str:
        return "<LatencyRecorder>"
