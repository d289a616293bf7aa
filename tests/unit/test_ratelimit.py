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


def test_calls_within_the_budget_go_at_once_and_the_next_waits_for_the_oldest_to_leave_the_minute(redis_url, t):
    budget = limiter(redis_url, 3, t, reserve=0)
    for _ in range(3):
        assert budget.acquire() == 0
        t.now += 10  # calls at 0 s, 10 s, 20 s

    waited = budget.acquire()  # at 30 s: the call made at 0 s leaves the window at 60 s

    assert waited == pytest.approx(30.0, abs=0.01)
    assert t.sleeps == [pytest.approx(30.0, abs=0.01)]
    assert budget.in_window() == 3  # 10 s, 20 s and this one


def test_workers_sharing_a_redis_share_one_budget(redis_url, t):
    worker_a, worker_b = limiter(redis_url, 2, t, reserve=0), limiter(redis_url, 2, t, reserve=0)
    assert worker_a.acquire() == 0
    assert worker_b.acquire() == 0
    assert worker_a.acquire() == pytest.approx(60.0, abs=0.01)
    assert len(t.sleeps) == 1


def test_background_work_leaves_the_reserve_to_shoppers(redis_url, t):
    budget = limiter(redis_url, 10, t)  # a tenth is reserved
    assert budget.reserve == 1
    assert [budget.acquire() for _ in range(9)] == [0] * 9
    assert budget.acquire(background=False) == 0  # a checkout still goes at once
    assert t.sleeps == []
    assert budget.acquire() == pytest.approx(60.0, abs=0.01)  # background work waits for the minute to pass


def test_the_background_share_is_the_budget_less_the_reserve(redis_url, t):
    budget = limiter(redis_url, 10, t)
    assert [budget.acquire() for _ in range(9)] == [0] * 9
    assert budget.acquire() > 0


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
    toss.get_payment_by_order_id("order-0001")  # the third call waits for the minute to pass
    assert t.sleeps == [pytest.approx(60.0, abs=0.01)]


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


def test_the_budget_spreads_a_burst_over_the_minutes_instead_of_a_wall_of_429s(sandbox, clock: FixedClock, redis_url):
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
    # One wait: the burst's first five go at once, the other two a minute later.
    assert sleeps == [pytest.approx(60.0, abs=0.01)]


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
