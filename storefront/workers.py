"""The RQ worker classes `flask worker` runs: they outlive a Redis outage and show they are alive.

RQ 2.x's worker quits ("found an unhandled exception, quitting") when Redis drops anywhere but
in its blocking dequeue: a heartbeat, the end-of-job bookkeeping, a maintenance pass. Here
every Redis call of the work loop is wrapped: on a connection error or timeout the worker
logs once, waits for Redis with exponential back-off (0.5 s doubling to 30 s), registers itself
again (a restarted Redis may have lost its keys) and carries on. A job that was running when
Redis went away is allowed to finish (its database work does not need Redis); afterwards, if
Redis does not show the job as finished or failed, it is recorded as failed with a note, and
what it did is what the database says: the due sweep replaces a failed charge job, whose
second run finds the period paid; a notice's delivery is claimed once in the outbox.

Liveness: a busy worker writes its heartbeat every `heartbeat_seconds` (the forking worker
from its monitoring loop, RQ's `job_monitoring_interval`; the non-forking one from a small
thread, since RQ's SimpleWorker writes none while a job runs). `storefront.liveness` treats
a worker silent for three beats as dead and lets the due sweep replace what it held.

A stop request (SIGTERM, Ctrl-C) during an outage is honoured: the worker stops waiting and
exits; a second one is RQ's cold shutdown.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.utils import now, utcformat
from rq.worker import BaseWorker, WorkerStatus

LOST = (RedisConnectionError, RedisTimeoutError)
_ENDED = (b"finished", b"failed", b"stopped", b"canceled")
MAX_BACKOFF = 30.0


class OutlivesRedis(BaseWorker):
    """Mixin for RQ workers: wait for Redis instead of quitting when it drops (see the module docstring).

    It subclasses RQ's `BaseWorker`, which `Worker` and `SimpleWorker` share, so the worker it is
    mixed into comes next in the MRO and every `super()` call below reaches that worker.
    """

    redis_first_pause = 0.5
    redis_max_pause = MAX_BACKOFF

    # -- the loop's Redis calls ----------------------------------------------------------------

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except LOST as exc:
            self.wait_for_redis(exc, "checking for suspension")

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except LOST as exc:
            # The next pass comes after the usual interval. (RQ's untyped `= None` initialiser makes mypy
            # read the attribute as None-only; RQ itself stores a datetime here.)
            self.last_cleaned_at = now()  # type: ignore[assignment]
            self.wait_for_redis(exc, "cleaning registries")

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except LOST as exc:
                self.wait_for_redis(exc, "waiting for a job")

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        try:
            return super().heartbeat(timeout)
        except LOST as exc:
            self.wait_for_redis(exc, "sending a heartbeat")
            return super().heartbeat(timeout)

    def teardown(self) -> None:
        try:
            super().teardown()
        except LOST:
            self.log.warning("Worker %s: Redis is gone; exiting without registering death", self.name)

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except LOST as exc:
            self.log.warning(
                "Worker %s: lost Redis while running job %s (%s); letting it finish",
                self.name,
                job.id,
                type(exc).__name__,
            )
            self._let_horse_finish(job)
            self.wait_for_redis(exc, f"finishing job {job.id}")
            self._record_after_outage(job, queue)

    # -- waiting and recovering ----------------------------------------------------------------

    def wait_for_redis(self, exc: BaseException, doing: str) -> None:
        """Block until Redis answers a PING (back-off up to 30 s), then register this worker again."""
        self.log.warning(
            "Worker %s: lost Redis while %s (%s: %s); retrying with back-off", self.name, doing, type(exc).__name__, exc
        )
        pause, waited = self.redis_first_pause, 0.0
        while True:
            if getattr(self, "_stop_requested", False):
                raise StopRequested()
            time.sleep(pause)
            waited += pause
            try:
                self.connection.ping()
                break
            except LOST:
                pause = min(pause * 2, self.redis_max_pause)
        self._register_again()
        self.log.warning("Worker %s: Redis answers again after %.1f s", self.name, waited)

    def _register_again(self) -> None:
        """Put this worker back in Redis as `register_birth` did (a restarted Redis may hold nothing)."""
        self.last_heartbeat = now()
        if getattr(self, "birth_date", None) is None:
            self.birth_date = self.last_heartbeat
        with self.connection.pipeline() as pipe:
            pipe.hset(self.key, mapping=self.serialize())
            pipe.hdel(self.key, "death")
            pipe.expire(self.key, self.worker_ttl + 60)
            worker_registration.register(self, pipe)
            pipe.execute()

    def _let_horse_finish(self, job: Job) -> None:
        """A forking worker: wait for the work horse (killing it past the job's timeout + 60 s, as RQ does)."""
        pid = getattr(self, "_horse_pid", 0)
        if not pid:
            return
        deadline = time.monotonic() + (job.timeout if job.timeout and job.timeout > 0 else 180) + 60
        while True:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            if time.monotonic() > deadline:
                self.kill_horse()
                self.wait_for_horse()
                break
            time.sleep(0.2)
        self._horse_pid = 0

    def _record_after_outage(self, job: Job, queue: Queue) -> None:
        """Mark the job failed unless Redis shows it ended; then be idle again."""
        try:
            status = self.connection.hget(job.key, "status")
            if status is None:
                self.log.warning("Worker %s: job %s is no longer in Redis (restarted empty?)", self.name, job.id)
                self.execution = None
            elif status not in _ENDED:
                job.ended_at = job.ended_at or now()
                self.handle_job_failure(
                    job,
                    queue,
                    exc_string=(
                        "Redis connection lost while the job ran; it was allowed to finish, and its own state "
                        "(the database) says what it did"
                    ),
                )
            else:
                self.execution = None
            self.set_current_job_id(None)
            self.set_state(WorkerStatus.IDLE)
        except LOST as exc:  # lost again at once: the next loop turn waits for it
            self.log.warning("Worker %s: Redis dropped again (%s)", self.name, type(exc).__name__)


class ResilientWorker(OutlivesRedis, Worker):
    """RQ's forking worker that outlives Redis outages; heartbeats every `job_monitoring_interval` seconds."""


class ResilientSimpleWorker(OutlivesRedis, SimpleWorker):
    """RQ's non-forking worker that outlives Redis outages and heartbeats from a thread while a job runs."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        stop = threading.Event()
        beat = threading.Thread(target=self._beat_while_running, args=(job, stop), name="rq-heartbeat", daemon=True)
        beat.start()
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            beat.join()

    def get_heartbeat_ttl(self, job: Job) -> int:
        # The thread keeps the execution alive; RQ's default (job timeout + 60 s) hid a dead worker for 7 minutes.
        return self.job_monitoring_interval + 60

    def _beat_while_running(self, job: Job, stop: threading.Event) -> None:
        """What the forking worker's monitoring loop does each interval: worker, execution and job heartbeats."""
        ttl = self.job_monitoring_interval + 60
        while not stop.wait(self.job_monitoring_interval):
            execution = self.execution
            try:
                with self.connection.pipeline() as pipe:
                    pipe.hset(self.key, "last_heartbeat", utcformat(now()))
                    pipe.expire(self.key, ttl)
                    if execution is not None:
                        execution.heartbeat(job.started_job_registry, ttl, pipeline=pipe)
                        job.heartbeat(now(), ttl, pipeline=pipe, xx=True)
                    pipe.execute()
            except Exception:  # noqa: BLE001 - Redis down: the job goes on; the main thread deals with Redis
                continue


def worker_class(fork: bool) -> type:
    return ResilientWorker if fork else ResilientSimpleWorker
