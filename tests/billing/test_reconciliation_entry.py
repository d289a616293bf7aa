"""How the daily reconciliation is started: the timer's job (an RQ worker) and `flask billing reconcile-day`."""

from __future__ import annotations

from rq import Queue
from sqlalchemy import select

from storefront import jobs
from storefront.models import Reconciliation, Refund
from tests.billing.reconciliation_support import DAY, store, toss  # noqa: F401  (fixtures)
from tests.jobs.engine_support import connection, run_worker, worker_app  # noqa: F401  (fixtures)


def flask(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_the_timers_job_reconciles_yesterday_in_korea_on_a_worker(store, worker_app, connection):
    sub = store.paid_subscription()
    store.cancel_at_toss(store.attempt(sub.id).payment_key, 1000)
    store.next_morning()  # 05:00 KST on the 11th, when the cron entry fires

    Queue(jobs.BILLING_QUEUE, connection=connection).enqueue(jobs.reconcile_day_job)
    run_worker(connection, jobs.BILLING_QUEUE)

    store.session.expire_all()
    [row] = store.session.scalars(select(Reconciliation)).all()
    assert (row.day, row.status, row.recorded_count) == (DAY, "recorded", 1)
    assert [r.amount_won for r in store.session.scalars(select(Refund))] == [1000]


def test_the_command_reports_the_day_and_lists_what_to_look_at(store, app):
    sub = store.paid_subscription()
    attempt = store.attempt(sub.id)
    store.cancel_at_toss(attempt.payment_key, 1000)
    attempt.amount_won = 9000  # a difference to flag
    store.session.commit()
    store.next_morning()

    result = flask(app, "billing", "reconcile-day", "--date", "2026-03-10")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2026-03-10 (KST): differences"
    assert "Toss: 1 approval(s) 9,900 won, 1 cancel(s) 1,000 won" in result.output
    assert "1 recorded from Toss, 1 to look at" in result.output
    assert any("amount_differs" in line and attempt.order_id in line for line in lines)
    assert any("refund_recorded" in line for line in lines)

    again = flask(app, "billing", "reconcile-day")  # default: yesterday in Korea, the same day
    assert again.exit_code == 0 and again.output.splitlines()[0] == "2026-03-10 (KST): differences"
    assert len(store.refunds()) == 1


def test_the_command_refuses_days_that_are_not_days_or_not_over(store, app):
    store.next_morning()
    bad = flask(app, "billing", "reconcile-day", "--date", "yesterday")
    assert bad.exit_code == 2 and "not a date" in bad.output
    future = flask(app, "billing", "reconcile-day", "--date", "2026-03-12")
    assert future.exit_code == 2 and "has not happened yet" in future.output
    assert store.session.scalars(select(Reconciliation)).all() == []
    assert flask(app, "billing", "reconcile-day", "--date", "2026-03-11").exit_code == 0
