"""What one running sandbox holds besides its SQLite file: clock, settings, dice, limiter.

`SandboxRuntime` lives in `app.extensions["toss_sandbox"]`. Settings are swapped whole
under a lock (`update_settings`), so a request reads one consistent snapshot. The clock is
the injected one plus an offset that `POST /_sandbox/clock` can move, so a separately
running sandbox can be sent into the future too. `Gate` is a test hook: a request that
reaches the gate (after its Idempotency-Key is claimed) waits until the test releases it.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from collections.abc import Mapping

from .clock import Clock
from .settings import SandboxSettings
from .store import Store


class SandboxClock:
    """The sandbox's time: a base clock plus an adjustable offset."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.base.now() + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, at: datetime) -> datetime:
        with self._lock:
            self._offset = at - self.base.now()
        return self.now()


class RateLimiter:
    """N requests per sliding minute per endpoint, counted on the sandbox clock."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, endpoint: str, now: datetime, per_minute: int) -> bool:
        with self._lock:
            window = self._seen[endpoint]
            while window and window[0] <= now - timedelta(minutes=1):
                window.popleft()
            # A clock moved backwards (tests) must not leave requests "in the future" forever.
            while window and window[-1] > now:
                window.pop()
            if len(window) >= per_minute:
                return False
            window.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


class Dice:
    """The seeded random source for faults and jitter; reseeded when `seed` changes."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng.seed(seed)

    def fault(self, s: SandboxSettings) -> str | None:
        """None, "fail", "timeout" or "drop" for one money request."""
        if not (s.fail_rate or s.timeout_rate or s.drop_rate):
            return None
        with self._lock:
            roll = self._rng.random()
        if roll < s.fail_rate:
            return "fail"
        if roll < s.fail_rate + s.timeout_rate:
            return "timeout"
        if roll < s.fail_rate + s.timeout_rate + s.drop_rate:
            return "drop"
        return None

    def latency_seconds(self, s: SandboxSettings) -> float:
        jitter = 0.0
        if s.jitter_ms:
            with self._lock:
                jitter = self._rng.uniform(0, s.jitter_ms)
        return (s.latency_ms + jitter) / 1000.0


@dataclass
class Gate:
    """Holds requests at the point where they are "still processing" (tests only)."""

    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    arrivals: int = 0

    def arrive(self, stopping: threading.Event) -> None:
        self.arrivals += 1
        self.entered.set()
        while not self.released.wait(0.05):
            if stopping.is_set():
                return

    def release(self) -> None:
        self.released.set()


class SandboxRuntime:
    def __init__(self, settings: SandboxSettings, clock: Clock) -> None:
        self.store = Store(settings.db_path)
        self.clock = SandboxClock(clock)
        self._settings = settings
        self._settings_lock = threading.Lock()
        self.dice = Dice(settings.seed)
        self.limiter = RateLimiter()
        self.stopping = threading.Event()
        self.gate: Gate | None = None
        self.webhooks: Any = None  # WebhookDispatcher, set by the app factory

    def __repr__(self) -> str:
        return f"<SandboxRuntime {self.store.path}>"

    @property
    def settings(self) -> SandboxSettings:
        with self._settings_lock:
            return self._settings

    def update_settings(self, changes: Mapping[str, Any]) -> SandboxSettings:
        """Apply validated changes; SettingsError leaves the old settings in place."""
        with self._settings_lock:
            new = self._settings.with_changes(changes)
            old, self._settings = self._settings, new
        if "seed" in changes or new.seed != old.seed:
            self.dice.reseed(new.seed)
        if new.rate_limit != old.rate_limit or new.rate_limit_per_minute != old.rate_limit_per_minute:
            self.limiter.reset()
        return new

    def pause(self, seconds: float) -> None:
        """Wait, but wake up at once when the sandbox shuts down."""
        if seconds > 0:
            self.stopping.wait(seconds)

    def close(self) -> None:
        self.stopping.set()
        if self.gate is not None:
            self.gate.release()
        if self.webhooks is not None:
            self.webhooks.stop()
