"""Workers racing for one subscription: one payment, on SQLite and on PostgreSQL.

Each worker is a thread with its own app context, hence its own session and connection,
as separate RQ workers would have. Threads meet at a barrier or an event, never a sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from storefront import create_app
from storefront.billing.recurring import charging
from storefront.extensions import db
from storefront.models import Attempt, Charge, Subscription
from tests.billing.conftest import Shop
from tests.conftest import make_config

N_WORKERS = 6


def _in_threads(app: Flask, n: int, work: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results.append(work())
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def _charge_in_own_session(shop: Shop, subscription_id: int) -> Callable[[], charging.ChargeResult]:
    def work() -> charging.ChargeResult:
        return charging.charge_period(
            db.session,
            subscription_id,
            toss=shop.toss,
            vault=shop.vault,
            notifier=shop.notifier,
            clock=shop.clock,
            config=shop.config,
        )

    return work


def _assert_charged_once(shop: Shop, subscription_id: int, results: list) -> None:
    outcomes = sorted(r.outcome for r in results)
    assert outcomes.count("paid") == 1, outcomes
    assert set(outcomes) <= {"paid", "skipped", "in_flight"}, outcomes
    assert len(shop.toss.approved) == 1
    shop.session.expire_all()
    assert shop.session.scalar(select(func.count(Charge.id)).where(Charge.subscription_id == subscription_id)) == 1
    assert shop.session.scalar(select(func.count(Attempt.id))) == 1
    assert shop.session.get(Subscription, subscription_id).status == "active"


def _race(app: Flask, shop: Shop) -> None:
    sub = shop.subscribe(status="active")
    results = _in_threads(app, N_WORKERS, _charge_in_own_session(shop, sub.id))
    _assert_charged_once(shop, sub.id, results)


def _second_worker_while_first_is_at_toss(app: Flask, shop: Shop) -> None:
    """Worker A is inside the Toss call (its Attempt committed); worker B runs meanwhile and must not charge."""
    sub = shop.subscribe(status="active")
    a_at_toss, b_done = threading.Event(), threading.Event()

    def hold_first_call(call) -> None:
        if not a_at_toss.is_set():
            a_at_toss.set()
            assert b_done.wait(timeout=30)

    shop.toss.before_charge = hold_first_call
    work = _charge_in_own_session(shop, sub.id)
    a_result: list = []
    thread_a = threading.Thread(target=lambda: a_result.append(_with_context(app, work)))
    thread_a.start()
    assert a_at_toss.wait(timeout=30)
    b_result = _with_context(app, work)
    b_done.set()
    thread_a.join(timeout=60)
    assert b_result.outcome == "in_flight"
    assert [r.outcome for r in a_result] == ["paid"]
    _assert_charged_once(shop, sub.id, a_result + [b_result])


def _with_context(app: Flask, work: Callable[[], object]) -> object:
    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()


# -- SQLite ----------------------------------------------------------------------------------------


def test_workers_racing_on_sqlite_charge_once(app, shop):
    _race(app, shop)


def test_a_second_worker_on_sqlite_sees_the_attempt_in_flight(app, shop):
    _second_worker_while_first_is_at_toss(app, shop)


def test_many_subscriptions_many_workers_on_sqlite_each_paid_once(app, shop):
    subs = [shop.subscribe(status="active").id for _ in range(5)]

    def work() -> list:
        return [_charge_in_own_session(shop, i)() for i in charging.due_subscription_ids(db.session, shop.clock.now())]

    outcomes = [r.outcome for batch in _in_threads(app, 4, work) for r in batch]
    assert outcomes.count("paid") == 5
    assert sorted(p.total_amount for p in shop.toss.approved) == [9900] * 5
    shop.session.expire_all()
    assert all(shop.session.get(Subscription, i).status == "active" for i in subs)


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture
def pg_app(tmp_path, postgres_url, clock, toss) -> Iterator[Flask]:
    from flask_migrate import upgrade

    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url), clock=clock, toss=toss)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def pg_shop(pg_app, toss, notifier, clock) -> Iterator[Shop]:
    services = pg_app.extensions["storefront"]
    with pg_app.app_context():
        yield Shop(db.session, toss, services.vault, notifier, clock, pg_app.config["STOREFRONT"])
        db.session.remove()


def _wait_until_someone_waits_for_a_lock(app: Flask) -> None:
    """Poll PostgreSQL until a backend of this database is blocked on a lock (bounded; no fixed sleep)."""
    deadline = time.monotonic() + 20
    with app.app_context(), db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.005)
    pytest.fail("no backend ever waited for the lock")


@pytest.mark.postgres
def test_workers_racing_on_postgres_charge_once(pg_app, pg_shop):
    _race(pg_app, pg_shop)


@pytest.mark.postgres
def test_a_second_worker_on_postgres_sees_the_attempt_in_flight(pg_app, pg_shop):
    _second_worker_while_first_is_at_toss(pg_app, pg_shop)


@pytest.mark.postgres
def test_postgres_row_lock_makes_a_worker_wait_then_recheck(pg_app, pg_shop):
    shop = pg_shop
    sub = shop.subscribe(status="active")
    locked = charging.lock_subscription(shop.session, sub.id)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(_with_context(pg_app, _charge_in_own_session(shop, sub.id))))
    worker.start()
    _wait_until_someone_waits_for_a_lock(pg_app)
    assert result == []  # blocked behind our lock, not finished
    locked.next_charge_at = shop.clock.now().replace(year=2099)  # as if this session had charged it
    shop.session.commit()
    worker.join(timeout=30)
    assert [r.outcome for r in result] == ["skipped"]  # it re-read the row after the lock, so it saw that
    assert shop.toss.calls == []


@pytest.mark.postgres
def test_postgres_unique_period_constraint_returns_the_existing_charge(pg_app, pg_shop):
    """Without the row lock, two inserts of one period race; the loser gets the winner's row."""
    shop = pg_shop
    sub = shop.subscribe(status="active")
    first = Charge(
        subscription_id=sub.id,
        period_start=sub.next_charge_at,
        period_end=sub.next_charge_at,
        amount_won=sub.amount_won,
        status="pending",
        created_at=shop.clock.now(),
    )
    shop.session.add(first)
    shop.session.flush()  # inserted, not committed: the other session cannot see it yet
    opened: list = []

    def open_without_lock() -> Charge:
        other = db.session.get(Subscription, sub.id)
        return charging.open_charge(db.session, other, now=shop.clock.now()).id

    worker = threading.Thread(target=lambda: opened.append(_with_context(pg_app, open_without_lock)))
    worker.start()
    _wait_until_someone_waits_for_a_lock(pg_app)  # its INSERT waits on our uncommitted unique key
    shop.session.commit()
    worker.join(timeout=30)
    assert opened == [first.id]
    assert shop.session.scalar(select(func.count(Charge.id)).where(Charge.subscription_id == sub.id)) == 1
