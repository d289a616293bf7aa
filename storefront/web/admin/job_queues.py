"""Admin 작업 page: a read-only view over RQ's registries, plus 다시 시도 for a failed job.

The page reads Redis through `rq_status` (counts per queue, the last failed jobs, the timer's
registered entries) and changes nothing. Without Redis (REDIS_URL unset outside development,
or tests) or when Redis does not answer, it says so instead of failing. The one action,
다시 시도, puts a failed job back on its queue; every job here is idempotent, so running one
again never charges or sends twice. This replaces mounting rq-dashboard (STYLE.md §1.9).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from contextlib import contextmanager
from collections.abc import Iterator

from flask import abort, current_app, flash, redirect, render_template, url_for
from redis import Redis
from redis.exceptions import RedisError

from storefront import jobs
from storefront.config import ConfigError
from storefront.web.admin import rq_status
from storefront.web.admin.forms import ActionForm
from storefront.web.admin.views import admin_required, bp

CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5


@dataclass
class Snapshot:
    """What the page shows; `problem` is a sentence when Redis is missing or did not answer."""

    problem: str | None = None
    queues: list[rq_status.QueueCounts] = field(default_factory=list)
    failed: list[rq_status.FailedJob] = field(default_factory=list)
    cron: list[rq_status.CronProcess] = field(default_factory=list)
    schedule: list[rq_status.CronEntry] = field(default_factory=list)
    schedule_error: str | None = None


@bp.get("/jobs")
@admin_required
def job_list():
    return render_template("admin/jobs.html", snap=_snapshot(), failed_shown=rq_status.FAILED_SHOWN)


@bp.post("/jobs/<queue_name>/<job_id>/requeue")
@admin_required
def requeue_job(queue_name: str, job_id: str):
    if queue_name not in jobs.QUEUES:
        abort(404)
    if ActionForm().validate_on_submit():
        flash(*_requeue(queue_name, job_id))
    return redirect(url_for(".job_list"))


def _requeue(queue_name: str, job_id: str) -> tuple[str, str]:
    try:
        with _connection() as connection:
            if connection is None:
                return "Redis가 설정되지 않아 작업을 다시 넣을 수 없습니다.", "error"
            rq_status.requeue_failed(connection, queue_name, job_id)
    except rq_status.NotRequeued:
        return "그 작업은 실패 목록에 없습니다 (이미 다시 시도했거나 기록이 만료되었습니다).", "error"
    except RedisError:
        return "Redis에 연결할 수 없어 작업을 다시 넣지 못했습니다.", "error"
    return f"작업 {job_id}을(를) {queue_name} 대기열에 다시 넣었습니다. 작업자가 곧 실행합니다.", "success"


def _snapshot() -> Snapshot:
    snap = Snapshot()
    try:
        with _connection() as connection:
            if connection is None:
                snap.problem = (
                    "Redis가 설정되지 않았습니다 (REDIS_URL). 작업 대기열 없이 실행 중이므로 "
                    "정기 작업은 flask billing 명령으로 직접 실행해야 합니다."
                )
            else:
                snap.queues = rq_status.queue_counts(connection, jobs.QUEUES)
                snap.failed = rq_status.failed_jobs(connection, jobs.QUEUES)
                snap.cron = rq_status.cron_processes(connection)
    except RedisError:
        snap.problem = "Redis에 연결할 수 없습니다. Redis 서버와 REDIS_URL 설정을 확인하세요."
    if not snap.cron:
        snap.schedule, snap.schedule_error = _configured_schedule()
    return snap


@contextmanager
def _connection() -> Iterator[Redis | None]:
    """A short-timeout connection to REDIS_URL (None without one), closed afterwards.

    Not `jobs.redis_connection`: an admin page should fail fast, not hang, on an unreachable Redis.
    """
    url = current_app.config["STOREFRONT"].redis_url
    if not url:
        yield None
        return
    connection = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=READ_TIMEOUT_S)
    try:
        yield connection
    finally:
        connection.close()


def _configured_schedule() -> tuple[list[rq_status.CronEntry], str | None]:
    """The timer as storefront/cron.py would register it (imported here only when no cron is running)."""
    try:
        from storefront import cron as timer

        return rq_status.configured_schedule(timer.schedule(timer.CronSettings.from_env(os.environ))), None
    except ConfigError as exc:
        return [], str(exc)
