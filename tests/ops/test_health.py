"""`/healthz` fails when the timer has not swept for two intervals; `/healthz/web` is for load balancers.

The sweep is the real `sweep_due_job` run by an RQ worker on a real Redis; time moves on the
app's FixedClock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rq import Queue

from storefront import jobs
from tests.conftest import make_config
from tests.jobs.engine_support import connection, run_worker, worker_app  # noqa: F401  (fixtures)


@pytest.fixture
def config(tmp_path: Path, redis_url: str, request):
    marker = request.node.get_closest_marker("settings")
    return make_config(tmp_path, REDIS_URL=redis_url, **(marker.kwargs if marker else {}))


def sweep(connection) -> None:
    Queue(jobs.BILLING_QUEUE, connection=connection).enqueue(jobs.sweep_due_job)
    run_worker(connection, jobs.BILLING_QUEUE)


def test_healthy_while_the_timer_sweeps_and_503_two_intervals_after_it_stops(client, clock, connection, worker_app):
    sweep(connection)
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json["checks"] == {"database": "ok", "redis": "ok", "timer": "ok"}
    assert answer.json["last_sweep_at"] == clock.now().isoformat()

    clock.advance(minutes=10)  # exactly two 5-minute intervals: still fine
    assert client.get("/healthz").status_code == 200
    clock.advance(minutes=1)
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json["status"] == "error"
    assert answer.json["checks"]["timer"].startswith("error: no due sweep for 11 min (expected every 5 min")
    assert "flask cron" in answer.json["checks"]["timer"]
    assert client.get("/healthz/web").status_code == 200  # the web server itself can still serve

    sweep(connection)
    assert client.get("/healthz").status_code == 200


def test_a_timer_that_never_swept_fails_two_intervals_after_it_was_first_missed(client, clock):
    assert client.get("/healthz").status_code == 200  # a fresh install: the cron gets its two intervals
    clock.advance(minutes=10)
    assert client.get("/healthz").status_code == 200
    clock.advance(minutes=1)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json["checks"]["timer"].startswith("error: no due sweep recorded for 11 min")
    assert answer.json["last_sweep_at"] is None


@pytest.mark.settings(BILLING_SWEEP_MINUTES="1")
def test_the_limit_follows_the_sweep_interval(client, clock, connection, worker_app):
    sweep(connection)
    clock.advance(minutes=2)
    assert client.get("/healthz").status_code == 200
    clock.advance(seconds=1)
    assert client.get("/healthz").status_code == 503


def test_a_sweep_that_fails_does_not_count(client, clock, connection, worker_app, monkeypatch):
    sweep(connection)
    clock.advance(minutes=8)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(jobs.charging, "sweep_due", broken)
    sweep(connection)  # fails in the worker (it lands in the failed registry)
    clock.advance(minutes=3)
    assert client.get("/healthz").status_code == 503


class TestRedisDown:
    @pytest.fixture
    def config(self, tmp_path: Path):
        from tests.redis_server import _free_port

        return make_config(tmp_path, REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")

    def test_both_checks_fail_and_name_redis(self, client):
        for path in ("/healthz", "/healthz/web"):
            answer = client.get(path)
            assert answer.status_code == 503
            assert answer.json["checks"]["redis"] == "error: ConnectionError"
            assert "timer" not in answer.json["checks"]


def test_without_redis_there_is_no_timer_to_check(tmp_path, clock):
    from storefront import create_app
    from storefront.extensions import db

    app = create_app(make_config(tmp_path), clock=clock)
    with app.app_context():
        db.create_all()
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200 and answer.json["checks"] == {"database": "ok"}
