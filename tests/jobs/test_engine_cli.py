"""`flask billing run-due` / `flask billing reconcile` / `flask worker`, through Flask's CLI runner."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storefront.clock import FixedClock
from storefront.config import Config
from storefront.extensions import db
from storefront.models import Attempt, AuditLog, Charge
from tests.conftest import make_config
from tests.fakes import TIMEOUT_AFTER_APPROVE, FakeToss
from tests.jobs.engine_support import connection, make_shop, run_worker, worker_app  # noqa: F401

NOT_SANDBOX = dict(TOSS_ENV="test", TOSS_CLIENT_KEY="test_ck_docs", TOSS_SECRET_KEY="test_sk_docs")


@pytest.fixture
def toss(clock: FixedClock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def shop(worker_app, db_session, toss, clock, config):
    return make_shop(worker_app, toss, clock, config)


def flask(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count(model.id))) for model in (Charge, Attempt, AuditLog))


def test_dry_run_lists_what_would_be_charged_and_changes_nothing(app, shop, toss, clock):
    plan = shop.plan(amount_won=12900, name="프리미엄")
    renew = shop.subscribe(plan=plan, status="active")
    ending = shop.subscribe(status="active", cancel_at_period_end=True)
    later = shop.subscribe(status="active", start=clock.now() + timedelta(days=2))

    result = flask(app, "billing", "run-due", "--dry-run")

    assert result.exit_code == 0, result.output
    title, header, *rows = result.output.splitlines()
    assert title == "2 subscription(s) due as of 2026-03-10 10:00 KST (dry run: nothing is charged)"
    assert header.split() == ["id", "email", "amount", "due", "note"]
    assert [row.split()[0] for row in rows] == [str(renew.id), str(ending.id)]
    assert renew.user.email in rows[0] and "12,900 won" in rows[0] and "2026-03-10 10:00 KST" in rows[0]
    assert ending.user.email in rows[1] and "9,900 won" in rows[1]
    assert rows[1].endswith("canceled at period end: ends, not charged")
    assert str(later.id) not in [row.split()[0] for row in rows]
    assert counts() == (0, 0, 0) and toss.calls == []  # no charge, no attempt, no billing key opened


def test_dry_run_says_a_trial_without_conversion_consent_ends_instead_of_being_charged(app, shop, clock):
    trial = shop.subscribe(status="trialing", trial_end_at=clock.now())

    result = flask(app, "billing", "run-due", "--dry-run")

    [row] = result.output.splitlines()[2:]
    assert row.split()[0] == str(trial.id)
    assert row.endswith("no consent (missing): ends, not charged")


def test_as_of_moves_the_dry_run_to_that_moment_read_in_korean_time(app, shop, clock):
    later = shop.subscribe(status="active", start=clock.now() + timedelta(days=2))  # 2026-03-12 10:00 KST

    before = flask(app, "billing", "run-due", "--dry-run", "--as-of", "2026-03-12T09:59")
    at = flask(app, "billing", "run-due", "--dry-run", "--as-of", "2026-03-12T10:00")

    assert before.output.startswith("0 subscription(s) due as of 2026-03-12 09:59 KST")
    assert at.output.startswith("1 subscription(s) due as of 2026-03-12 10:00 KST")
    assert [row.split()[0] for row in at.output.splitlines()[2:]] == [str(later.id)]


@pytest.mark.settings(**NOT_SANDBOX)
@pytest.mark.parametrize(
    "command",
    [
        ["billing", "run-due"],
        ["billing", "run-due", "--dry-run"],
        ["billing", "run-due", "--sync"],
        ["billing", "reconcile"],
    ],
)
def test_as_of_is_refused_outside_the_sandbox(app, shop, toss, command):
    shop.subscribe(status="active")

    result = flask(app, *command, "--as-of", "2026-04-10T10:00+09:00")

    assert result.exit_code == 2
    assert "--as-of is only allowed with TOSS_ENV=sandbox (TOSS_ENV is test)" in result.output
    assert counts() == (0, 0, 0) and toss.calls == []


def test_an_unreadable_as_of_is_refused_with_an_example(app, shop):
    result = flask(app, "billing", "run-due", "--as-of", "next tuesday")
    assert result.exit_code == 2
    assert "is not an ISO date-time, e.g. 2026-04-10T10:00+09:00" in result.output


def test_run_due_without_redis_says_so_and_points_at_sync(app, shop, toss):
    shop.subscribe(status="active")
    result = flask(app, "billing", "run-due")
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output and "--sync" in result.output
    assert toss.calls == []


class TestWithRedis:
    @pytest.fixture
    def config(self, tmp_path: Path, redis_url: str) -> Config:
        return make_config(tmp_path, REDIS_URL=redis_url)

    def test_run_due_enqueues_each_period_once_and_a_worker_charges_it(self, app, shop, toss, connection):
        subs = [shop.subscribe(status="active") for _ in range(2)]

        first = flask(app, "billing", "run-due")
        second = flask(app, "billing", "run-due")

        assert first.exit_code == 0, first.output
        assert first.output.strip() == (
            "2 subscription(s) due as of 2026-03-10 10:00 KST: 2 charge job(s) enqueued "
            "on 'billing', 0 already waiting or running"
        )
        assert "0 charge job(s) enqueued on 'billing', 2 already waiting or running" in second.output
        assert toss.calls == []  # enqueued, not charged here

        run_worker(connection)
        assert len(toss.approved) == 2
        assert [c.status for s in subs for c in shop.charges(s.id)] == ["paid", "paid"]

    def test_the_worker_command_refuses_to_start_without_redis(self, tmp_path):
        from storefront import create_app

        app = create_app(make_config(tmp_path))
        result = flask(app, "worker", "--burst")
        assert result.exit_code == 1 and "REDIS_URL is not set" in result.output


def test_sync_charges_here_and_reconcile_settles_a_lost_answer(app, shop, toss, clock):
    paid = shop.subscribe(status="active")
    lost = shop.subscribe(status="active")
    toss.will_for(lost.user.customer_key, TIMEOUT_AFTER_APPROVE)

    result = flask(app, "billing", "run-due", "--sync")

    assert result.exit_code == 0, result.output
    assert f"subscription {paid.id}: paid" in result.output
    assert f"subscription {lost.id}: unknown (TIMEOUT)" in result.output
    assert "2 subscription(s) due as of 2026-03-10 10:00 KST: 1 paid, 1 unknown" in result.output
    assert "1 notice(s) delivered" in result.output  # the receipt, printed (no SMTP_URL)
    assert shop.charges(lost.id)[0].status == "pending" and shop.sub(lost.id).status == "active"

    too_soon = flask(app, "billing", "reconcile")
    assert too_soon.output.strip() == "0 attempt(s) looked at, 0 settled, 0 left for the next run"

    later = (clock.now() + timedelta(minutes=11)).isoformat()
    settled = flask(app, "billing", "reconcile", "--as-of", later)

    assert settled.exit_code == 0, settled.output
    assert (
        "): paid" in settled.output and "1 attempt(s) looked at, 1 settled, 0 left for the next run" in settled.output
    )
    assert shop.charges(lost.id)[0].status == "paid" and len(toss.approved) == 2
