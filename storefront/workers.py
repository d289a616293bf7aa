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

Threads (`flask worker --threads N`): `ThreadedWorker` runs N non-forking workers
(`ThreadMember`) in one process that built the app once, so N jobs wait on Toss at the same
time without a fork, an app build or a new database connection per job. Each member is a
whole RQ worker in Redis (its own name, heartbeat and current job), so `storefront.liveness`
and the due sweep see them exactly as they see N processes; a SIGKILL takes them all, and
their heartbeats stopping is what lets the next sweep replace what they held. Each job runs
in its own app context, hence its own database session and transaction: a charge keeps its
row lock and commits its Attempt before calling Toss as it does anywhere else. The main
thread owns the signals: the first SIGTERM/Ctrl-C lets every member finish its job and
stop, a second one exits at once. Job timeouts use RQ's timer-based death penalty (signals
reach only the main thread).
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
from rq.timeouts import TimerDeathPenalty
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


class ThreadMember(ResilientSimpleWorker):
    """One member of a `ThreadedWorker`: a non-forking worker that runs in a thread, not the main one."""

    death_penalty_class = TimerDeathPenalty
    # An idle member looks up from its blocking dequeue this often, to notice a stop request.
    poll_seconds = 2

    def _install_signal_handlers(self) -> None:
        pass  # only the main thread may; `ThreadedWorker` relays a stop request

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        if timeout is None or max_idle_time is not None:  # burst mode, or a caller's own idle limit
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while True:
            result = super().dequeue_job_and_maintain_ttl(self.poll_seconds, self.poll_seconds)
            if result is not None or self._stop_requested:
                return result


class ThreadedWorker:
    """`count` `ThreadMember` workers in threads of this process, named ``<name>-1`` ... ``<name>-<count>``.

    `connect` makes each member its own Redis client. The first member also runs RQ's
    scheduler (retries with an interval). `work` returns when every member has stopped.
    """

    def __init__(
        self, count: int, queue_names: list[str], connect: Any, *, name: str | None = None, **worker_kwargs: Any
    ) -> None:
        if count < 1:
            raise ValueError("a threaded worker needs at least one thread")
        base = name or f"{os.uname().nodename}.{os.getpid()}"
        self.members: list[ThreadMember] = []
        for i in range(count):
            connection = connect()
            queues = [Queue(q, connection=connection) for q in queue_names]
            self.members.append(ThreadMember(queues, connection=connection, name=f"{base}-{i + 1}", **worker_kwargs))
        self._stopping = False

    def work(self, *, burst: bool = False, with_scheduler: bool = True, logging_level: str = "INFO") -> None:
        import signal

        if with_scheduler:  # from the main thread, before any other: RQ's scheduler forks a process
            self.members[0]._start_scheduler(burst, logging_level)
        threads = [
            threading.Thread(
                target=member.work,
                name=f"rq-{member.name}",
                daemon=True,
                kwargs=dict(burst=burst, logging_level=logging_level),
            )
            for member in self.members
        ]
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.5)  # short joins: the main thread must stay free for signals
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self._stopping:
            raise SystemExit(1)  # a second request: cold shutdown, the members go with the process
        self._stopping = True
        for member in self.members:
            member.log.info("Worker %s: warm shut down requested", member.name)
            member._stop_requested = True
            if member.scheduler:
                member.stop_scheduler()
