"""One budget of calls to Toss per minute, shared by every worker and web process through Redis.

`TossRateLimiter` keeps one Redis sorted set of calls, made or booked, and never lets more
than the budget fall in any 60 seconds. Background work (workers, the CLI) takes evenly
spaced slots: each call books the next free moment, one every 60 / (budget - reserve)
seconds, and sleeps until it, so a big billing day runs at a steady pace (no burst, then a
minute's stall, and no wall of 429s) and a job waits about one spacing per worker ahead of
it. Calls made while a shopper waits (a web request) go at once as long as the window has
room, and may use the reserve (a tenth of the budget by default), so checkout stays quick
while the workers are saturating Toss. The check-and-book is one Lua script, so processes on
different machines never overspend together.

The limiter never raises: when Redis cannot be reached it logs a warning and lets the
call through (Toss's own 429 is a transient error the billing engine already retries),
and a wait longer than `max_wait` is cut short the same way. `RateLimitedToss` wraps a
Toss client (or any object with its methods) so every call to Toss takes a slot first;
`storefront.services` installs it when REDIS_URL is configured. Time and sleep are
injectable for tests. No Flask in here.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from storefront.clock import SystemClock

log = logging.getLogger("storefront.ratelimit")

DEFAULT_KEY = "storefront:toss:calls"
WINDOW_SECONDS = 60.0
# Sleep this much past the moment the oldest call leaves the window (float rounding).
_EPSILON = 0.001

# KEYS[1] the sorted set of calls (score: when each goes, possibly a moment to come); KEYS[2] the
# next background slot (GCRA's theoretical arrival time). ARGV: now, window, cap, member,
# spacing (0: an interactive call, go now or say how long to wait), max_wait, catch_up.
# Returns (as a string: Lua numbers become integers in replies) "0" when the call is recorded
# to go now; with a spacing, "<seconds>" when it is recorded to go that many seconds from now
# (its slot), or "-<seconds>" when the slot would be further away than max_wait (not recorded);
# without one, "<seconds>" to wait before asking again (not recorded).
_ACQUIRE = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local spacing = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local at = now
local base = now
local pushed = false
if spacing > 0 then
  -- A caller at most catch_up seconds late keeps the schedule (the next slot stays where it was);
  -- after a longer pause the schedule starts again from now.
  local scheduled = tonumber(redis.call('GET', KEYS[2]) or '0')
  if scheduled >= now - tonumber(ARGV[7]) then base = scheduled end
  at = math.max(now, base)
end
local count = redis.call('ZCOUNT', key, '(' .. (at - window), '+inf')
if count >= cap then
  local leaving = redis.call('ZRANGEBYSCORE', key, '(' .. (at - window), '+inf', 'WITHSCORES', 'LIMIT', count - cap, 1)
  local free_at = tonumber(leaving[2]) + window
  if spacing <= 0 then return tostring(math.max(free_at - now, 0.001)) end
  at = free_at
  pushed = true
end
if at - now > tonumber(ARGV[6]) then return tostring(-(at - now)) end
redis.call('ZADD', key, at, ARGV[4])
redis.call('PEXPIRE', key, math.ceil((at - now + window) * 1000) + 1000)
if spacing > 0 then
  local next_slot = base + spacing
  if pushed then next_slot = at + spacing end
  redis.call('SET', KEYS[2], tostring(next_slot), 'PX', math.ceil((next_slot - now + window) * 1000))
end
return tostring(at - now)
"""


class TossRateLimiter:
    """At most `per_minute` calls in any 60 seconds, across every process using the same Redis key.

    Background calls are spread evenly: each takes the next free slot, one every
    ``60 / (per_minute - reserve)`` seconds, so a billing day runs at a steady pace instead
    of a burst followed by a stall. A slot nobody was ready for is not lost at once: callers
    up to `catch_up` seconds behind the schedule go without waiting (a few calls together at
    most), so slow moments on the workers' side do not cost the budget. `reserve` slots
    (default a tenth of the budget) are kept for interactive calls
    (`acquire(background=False)`), which go at once while fewer than
    `per_minute` calls are in (or booked for) the window. Every call, booked or made, is
    one entry in one sorted set, and a call is only booked where the window around it has
    room, so the budget holds across processes.
    """

    def __init__(
        self,
        redis: Redis,
        per_minute: int,
        *,
        key: str = DEFAULT_KEY,
        reserve: int | None = None,
        window: float = WINDOW_SECONDS,
        max_wait: float = 120.0,
        catch_up: float = 2.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.reserve = per_minute // 10 if reserve is None else reserve
        if not 0 <= self.reserve < per_minute:
            raise ValueError("reserve must leave at least one call for background work")
        self.key = key
        self.window = window
        self.max_wait = max_wait
        self.catch_up = catch_up
        self._redis = redis
        self._script = redis.register_script(_ACQUIRE)
        self._clock = clock or _wall_seconds
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<TossRateLimiter {self.per_minute}/min reserve={self.reserve} key={self.key}>"

    @property
    def spacing(self) -> float:
        """Seconds between two background calls: the background share spread over the window."""
        return self.window / (self.per_minute - self.reserve)

    def acquire(self, *, background: bool = True) -> float:
        """Take one slot, waiting for it if need be; returns the seconds spent waiting. Never raises."""
        try:
            if background:
                return self._take_slot()
            return self._wait_for_room()
        except RedisError as exc:
            log.warning("Toss rate limiter unavailable (%s); calling Toss without it", type(exc).__name__)
            return 0.0

    def _take_slot(self) -> float:
        """Book the next background slot (at least `spacing` after the last call), then sleep until it."""
        wait = self._run(self.per_minute - self.reserve, spacing=self.spacing)
        if wait < 0:
            log.warning(
                "no Toss call slot within %.1fs (next in %.1fs, %s/min); calling anyway",
                self.max_wait,
                -wait,
                self.per_minute,
            )
            return 0.0
        if wait > 0:
            self._sleep(wait + _EPSILON)
            wait += _EPSILON
        return wait

    def _wait_for_room(self) -> float:
        """An interactive call: go now if the window has room for it, else wait for the oldest to leave."""
        waited = 0.0
        while True:
            wait = self._run(self.per_minute, spacing=0.0)
            if wait <= 0:
                if waited:
                    log.info("waited %.2fs for a Toss call slot (%s/min)", waited, self.per_minute)
                return waited
            if waited + wait > self.max_wait:
                log.warning("no Toss call slot after %.1fs (%s/min); calling anyway", waited, self.per_minute)
                return waited
            self._sleep(wait + _EPSILON)
            waited += wait + _EPSILON

    def in_window(self) -> int:
        """Calls recorded in the current window, booked ones included (for tests and monitoring)."""
        now = self._clock()
        return int(self._redis.zcount(self.key, f"({now - self.window}", "+inf"))

    def _run(self, cap: int, *, spacing: float) -> float:
        now = self._clock()
        member = f"{now:.6f}:{uuid.uuid4().hex}"
        answer = self._script(
            keys=[self.key, f"{self.key}:next"],
            args=[
                repr(float(now)),
                repr(float(self.window)),
                cap,
                member,
                repr(float(spacing)),
                repr(float(self.max_wait)),
                repr(float(self.catch_up)),
            ],
        )
        return float(answer.decode() if isinstance(answer, bytes) else answer)


def _wall_seconds() -> float:
    """Seconds since the epoch from the system clock: shared by processes on NTP-synced machines."""
    return SystemClock().now().timestamp()


class RateLimitedToss:
    """A Toss client whose calls each take a slot from a `TossRateLimiter` first.

    Same methods and results as the wrapped client; attributes that are not calls to Toss
    (e.g. ``base_url``) pass straight through. `interactive` says whether the current call
    serves a waiting shopper (the web app passes ``flask.has_request_context``); those may
    use the reserve.
    """

    CALLS = frozenset(
        {
            "issue_billing_key",
            "charge_billing_key",
            "delete_billing_key",
            "confirm_payment",
            "get_payment",
            "get_payment_by_order_id",
            "cancel_payment",
            "list_transactions",
            "list_settlements",  # one page each; iter_* below page through these
        }
    )

    def __init__(
        self, client: Any, limiter: TossRateLimiter, *, interactive: Callable[[], bool] = lambda: False
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._interactive = interactive

    def __repr__(self) -> str:
        return f"<RateLimitedToss {self._client!r} {self._limiter!r}>"

    @property
    def wrapped(self) -> Any:
        return self._client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in self.CALLS or not callable(attr):
            return attr

        def limited(*args: Any, **kwargs: Any) -> Any:
            self._limiter.acquire(background=not self._interactive())
            return attr(*args, **kwargs)

        limited.__name__ = name
        return limited

    # A paging look-up makes one call per page: the client's own paging, run over this wrapper so
    # that every page (`list_transactions`, `list_settlements`) takes its slot as it is fetched.
    def iter_transactions(self, *args: Any, **kwargs: Any) -> Any:
        return type(self._client).iter_transactions(self, *args, **kwargs)

    def iter_settlements(self, *args: Any, **kwargs: Any) -> Any:
        return type(self._client).iter_settlements(self, *args, **kwargs)


def limiter_for(redis_url: str, per_minute: int, **kwargs: Any) -> TossRateLimiter:
    """A limiter on its own small Redis connection pool with short timeouts (a dead Redis fails open fast)."""
    connection = Redis.from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
    return TossRateLimiter(connection, per_minute, **kwargs)
