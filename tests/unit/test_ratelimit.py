"""The shared Toss call budget: a sliding minute in a real Redis, with a movable clock and a recorded sleep."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from redis import Redis

from storefront import create_app
from storefront.clock import FixedClock
from storefront.ratelimit import RateLimitedToss, TossRateLimiter, limiter_for
from storefront.toss.client import TossClient
from storefront.toss.errors import TossError
from tests.conftest import make_config
from tests.fakes import FakeToss
from datetime import UTC


class FakeTime:
    """Seconds since the epoch that move only when someone sleeps."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def t() -> FakeTime:
    return FakeTime()


def limiter(redis_url: str, per_minute: int, t: FakeTime, **kwargs) -> TossRateLimiter:
    return TossRateLimiter(Redis.from_url(redis_url), per_minute, clock=t.clock, sleep=t.sleep, **kwargs)


def test_background_calls_are_spread_evenly_over_the_minute(redis_url, t):
    budget = limiter(redis_url, 3, t, reserve=0)  # one every 20 s

    waits = [budget.acquire() for _ in range(4)]  # four workers asking at once, one after the other

    assert waits == [0, pytest.approx(20.0, abs=0.01), pytest.approx(20.0, abs=0.01), pytest.approx(20.0, abs=0.01)]
    assert budget.in_window() == 3  # the first call (at 0 s) left the window as the fourth went (at 60 s)


def test_a_call_after_a_quiet_spell_goes_at_once(redis_url, t):
    budget = limiter(redis_url, 3, t, reserve=0)
    assert budget.acquire() == 0
    t.now += 25  # longer than the spacing
    assert budget.acquire() == 0
    t.now += 5
    assert budget.acquire() == pytest.approx(15.0, abs=0.01)  # 20 s after the one before


def test_a_caller_a_little_late_for_its_slot_does_not_push_the_schedule_back(redis_url, t):
    budget = limiter(redis_url, 3, t, reserve=0, catch_up=2.0)
    assert budget.acquire() == 0  # at 0 s: the next slot is at 20 s
    t.now += 21.5  # the worker was busy and asks 1.5 s after its slot
    assert budget.acquire() == 0
    t.now += 0.5
    assert budget.acquire() == pytest.approx(18.0, abs=0.01)  # the slot after is still at 40 s, not 41.5 s
    t.now = 1_780_000_000.0 + 100  # a long pause: the schedule starts again from now
    assert budget.acquire() == 0
    assert budget.acquire() == pytest.approx(20.0, abs=0.01)


def test_workers_sharing_a_redis_share_one_budget(redis_url, t):
    worker_a, worker_b = limiter(redis_url, 2, t, reserve=0), limiter(redis_url, 2, t, reserve=0)
    assert worker_a.acquire() == 0
    assert worker_b.acquire() == pytest.approx(30.0, abs=0.01)
    assert worker_a.acquire() == pytest.approx(30.0, abs=0.01)
    assert len(t.sleeps) == 2


def test_slots_are_booked_so_workers_asking_together_get_different_moments(redis_url):
    """Two processes asking at the same instant: the second is told to wait one spacing, not zero."""
    frozen = FakeTime()
    no_sleep: list[float] = []
    a = TossRateLimiter(Redis.from_url(redis_url), 6, reserve=0, clock=frozen.clock, sleep=no_sleep.append)
    b = TossRateLimiter(Redis.from_url(redis_url), 6, reserve=0, clock=frozen.clock, sleep=no_sleep.append)
    assert [a.acquire(), b.acquire(), a.acquire()] == [0, pytest.approx(10.0, abs=0.01), pytest.approx(20.0, abs=0.01)]
    assert a.in_window() == 3  # two of them booked ahead


def test_background_work_leaves_the_reserve_to_shoppers(redis_url, t):
    budget = limiter(redis_url, 10, t)  # a tenth is reserved: background calls every 60/9 s
    assert budget.reserve == 1
    waits = [budget.acquire() for _ in range(9)]
    assert waits[0] == 0 and all(w == pytest.approx(60 / 9, abs=0.01) for w in waits[1:])
    assert budget.acquire(background=False) == 0  # a checkout still goes at once
    assert len(t.sleeps) == 8


def test_shoppers_go_at_once_until_the_whole_budget_is_used(redis_url, t):
    budget = limiter(redis_url, 3, t, reserve=1)
    assert [budget.acquire(background=False) for _ in range(3)] == [0, 0, 0]
    assert budget.acquire(background=False) == pytest.approx(60.0, abs=0.01)  # the first three leave the minute
    assert budget.in_window() == 1


def test_background_work_waits_for_room_the_shoppers_took(redis_url, t):
    budget = limiter(redis_url, 4, t, reserve=1)  # background: three a minute, one every 20 s
    for _ in range(4):
        budget.acquire(background=False)
        t.now += 1  # shoppers used the whole budget at 0, 1, 2 and 3 s
    # Three calls already in the window: the background share is full until the one at 1 s leaves.
    assert budget.acquire() == pytest.approx(57.0, abs=0.01)
    assert budget.in_window() == 3


def test_a_wait_longer_than_max_wait_gives_up_waiting_rather_than_failing(redis_url, t, caplog):
    budget = limiter(redis_url, 1, t, reserve=0, max_wait=5)
    budget.acquire()
    with caplog.at_level(logging.WARNING, logger="storefront.ratelimit"):
        assert budget.acquire() == 0
    assert t.sleeps == [] and "calling anyway" in caplog.text


def test_an_unreachable_redis_lets_calls_through_with_a_warning(t, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    budget = limiter_for(f"redis://127.0.0.1:{port}/0", 5, clock=t.clock, sleep=t.sleep)
    with caplog.at_level(logging.WARNING, logger="storefront.ratelimit"):
        assert budget.acquire() == 0
    assert "calling Toss without it" in caplog.text and t.sleeps == []


def test_a_rate_limited_client_takes_a_slot_for_each_call_to_toss_only(redis_url, t):
    budget = limiter(redis_url, 2, t, reserve=0)
    fake = FakeToss()
    toss = RateLimitedToss(fake, budget)
    toss.charge_billing_key(
        "bk_1", customer_key="c1", amount=9900, order_id="order-0001", order_name="플랜", idempotency_key="order-0001"
    )
    assert toss.ledger is fake.ledger  # not a call: passed through, no slot taken
    with pytest.raises(TossError):
        toss.get_payment_by_order_id("order-0002")
    assert budget.in_window() == 2
    assert t.sleeps == [pytest.approx(30.0, abs=0.01)]  # two a minute: the second call went 30 s after the first
    toss.get_payment_by_order_id("order-0001")
    assert t.sleeps[1:] == [pytest.approx(30.0, abs=0.01)]


def test_the_app_limits_toss_calls_only_when_redis_is_configured(tmp_path: Path, redis_url: str):
    with_redis = create_app(make_config(tmp_path, REDIS_URL=redis_url, TOSS_CALLS_PER_MINUTE="120"))
    without = create_app(make_config(tmp_path))
    limited = with_redis.extensions["storefront"].toss
    assert isinstance(limited, RateLimitedToss) and isinstance(limited.wrapped, TossClient)
    assert limited._limiter.per_minute == 120
    assert isinstance(without.extensions["storefront"].toss, TossClient)
    with with_redis.test_request_context("/"):
        assert limited._interactive() is True  # a shopper is waiting: the reserve is theirs
    assert limited._interactive() is False


def _charge(client, keys: list[tuple[str, str]], prefix: str) -> list[str]:
    outcomes = []
    for i, (customer_key, billing_key) in enumerate(keys):
        order_id = f"{prefix}-order-{i:03d}"
        try:
            client.charge_billing_key(
                billing_key,
                customer_key=customer_key,
                amount=9900,
                order_id=order_id,
                order_name="월간 플랜",
                idempotency_key=order_id,
            )
            outcomes.append("DONE")
        except TossError as exc:
            outcomes.append(exc.code)
    return outcomes


def test_the_budget_spreads_a_burst_evenly_instead_of_a_wall_of_429s(sandbox, clock: FixedClock, redis_url):
    keys = [(f"customer-{i:03d}", sandbox.issue_billing_key(f"customer-{i:03d}")["billingKey"]) for i in range(7)]
    sandbox.settings(rate_limit=True, rate_limit_per_minute=5)  # Toss-style limit, counted on the sandbox clock
    client = TossClient(sandbox.url, sandbox.secret_key)
    assert _charge(client, keys, "plain") == ["DONE"] * 5 + ["TOO_MANY_REQUESTS"] * 2  # without the limiter

    clock.advance(minutes=2)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds=seconds)  # the sandbox's clock moves with ours

    budget = TossRateLimiter(
        Redis.from_url(redis_url), 5, reserve=0, clock=lambda: clock.now().timestamp(), sleep=sleep
    )
    assert _charge(RateLimitedToss(client, budget), keys, "limited") == ["DONE"] * 7
    # Evenly spread: one call every 12 s, never five at once and then a minute's stall.
    assert sleeps == [pytest.approx(12.0, abs=0.01)] * 6


def test_transaction_and_settlement_look_ups_take_a_slot_for_every_page(sandbox, clock: FixedClock, redis_url, t):
    """The daily reconciliation pages through Toss's look-ups: each page is a call, so each takes a slot."""
    from datetime import datetime, timedelta, timezone

    from tests.sandbox.calls import charge

    billing = sandbox.issue_billing_key("cust-pages")
    for n in range(3):
        charge(sandbox, billing["billingKey"], "cust-pages", f"order-pages-{n}", 9900)
    budget = limiter(redis_url, 100, t, reserve=0)
    toss = RateLimitedToss(TossClient(sandbox.url, sandbox.secret_key), budget)
    start = datetime(2026, 3, 9, 15, tzinfo=UTC)  # 2026-03-10 00:00 KST
    end = start + timedelta(days=1, seconds=-1)

    assert len(toss.list_transactions(start, end, limit=10)) == 3
    assert budget.in_window() == 1
    assert len(list(toss.iter_transactions(start, end, page_size=2))) == 3  # two pages
    assert budget.in_window() == 3
    day = start.astimezone(timezone(timedelta(hours=9))).date()
    settled = list(toss.iter_settlements(day, day, page_size=2))  # two pages
    assert len(settled) == 3 and budget.in_window() == 5
    assert len(toss.list_settlements(day, day)) == 3 and budget.in_window() == 6
