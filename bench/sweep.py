"""Due-sweep benchmark: how long the timer's sweep takes to select and enqueue many due periods.

    .venv/bin/python bench/sweep.py                        # 100,000 due; then 1,000 due among 10k vs 1M
    .venv/bin/python bench/sweep.py --n 20000 --large 200000   # a quick run
    .venv/bin/python bench/sweep.py --skip-postgres        # SQLite only

Part one (scale): a fresh SQLite file (or the EMPTY PostgreSQL database given with
--database-url) holds N subscriptions due a minute ago; one in-process sweep
(`jobs.sweep_due`, what `sweep_due_job` runs) selects them and enqueues N charge jobs on a
fresh Redis. It prints the time to select (`jobs.due_periods`), the time to enqueue, the
total and the jobs found in the queue afterwards (must be N).

Part two (flat in the table's size): 1,000 due periods among 10,000 subscriptions, then
among 1,000,000 (--small, --large, --due), on SQLite and on a throw-away PostgreSQL cluster
started from the machine's binaries (as the test suite does). Each sweep (select + enqueue
on a flushed Redis) runs --repeat times; it prints the medians and the large/small ratio,
which should stay near 1 (the sweep reads `ix_subscriptions_due`, not the table).

Only the sweep is timed: seeding uses bulk inserts and is reported separately. The workers
are not started; no charge is made. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any
from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import support  # noqa: E402  (bench/support.py: Redis, the business details)
from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402

CHUNK = 20_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/sweep.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="due periods in part one (default 100000)")
    p.add_argument("--due", type=int, default=1000, help="due periods in part two (default 1000)")
    p.add_argument("--small", type=int, default=10_000, help="subscriptions in part two's small table")
    p.add_argument("--large", type=int, default=1_000_000, help="subscriptions in part two's large table")
    p.add_argument("--repeat", type=int, default=5, help="sweeps per table in part two (default 5)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="part one on this EMPTY PostgreSQL database instead of a SQLite file",
    )
    p.add_argument("--skip-scale", action="store_true", help="skip part one")
    p.add_argument("--skip-postgres", action="store_true", help="part two on SQLite only")
    p.add_argument("--skip-sqlite", action="store_true", help="part two on PostgreSQL only")
    args = p.parse_args(argv)
    if min(args.n, args.due, args.small, args.repeat) < 1 or args.large < args.small or args.small < args.due:
        p.error("counts must be positive and --due <= --small <= --large")
    return args


# -- set-up ----------------------------------------------------------------------------------------


def env_for(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SANDBOX_", "TOSS_", "SMTP_"))}
    env.update(support.BUSINESS)
    env.update(
        APP_ENV="development",
        SECRET_KEY=secrets.token_hex(32),
        ENCRYPTION_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TOSS_ENV="sandbox",
        SMTP_URL="",
        TOSS_API_BASE="http://127.0.0.1:9",
        FLASK_SKIP_DOTENV="1",
    )
    return env


def make_app(database_url: str, redis_url: str) -> Any:
    from storefront import create_app
    from storefront.config import load_config
    from storefront.extensions import db

    app = create_app(load_config(env_for(database_url, redis_url)))
    with app.app_context():
        db.create_all()
    return app


def seed(app: Any, total: int, due: int) -> float:
    """`total` active subscriptions of one shopper, `due` of them due a minute or more ago; returns seconds."""
    from sqlalchemy import insert

    from storefront.billing.recurring import cycle
    from storefront.extensions import db, services
    from storefront.models import Category, Plan, Product, Subscription, User, new_customer_key

    started = time.perf_counter()
    with app.app_context():
        now = services().clock.now()
        plan = Plan(
            product=Product(
                category=Category(slug="bench", name="벤치"), slug="bench", name="벤치 구독", kind="subscription"
            ),
            name="월간",
            interval="month",
            amount_won=9900,
        )
        user = User(
            email="sweep@bench.example",
            password_hash="!",
            name="김벤치",
            customer_key=new_customer_key(),
            created_at=now,
        )
        db.session.add_all([plan, user])
        db.session.commit()
        table = Subscription.__table__
        for start in range(0, total, CHUNK):
            rows = []
            for i in range(start, min(start + CHUNK, total)):
                # Due ones spread over the last hour; the others over the 30 days from tomorrow.
                at = now - timedelta(seconds=60 + i % 3600) if i < due else now + timedelta(days=1, minutes=i % 43_000)
                rows.append(
                    {
                        "user_id": user.id,
                        "plan_id": plan.id,
                        "status": "active",
                        "amount_won": 9900,
                        "anchor_day": cycle.anchor_day_for(at),
                        "next_charge_at": at,
                        "created_at": now,
                        "cancel_at_period_end": False,
                    }
                )
            db.session.execute(insert(table), rows)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE subscriptions")
    return time.perf_counter() - started


def start_postgres(stack: ExitStack) -> str:
    """A throw-away PostgreSQL cluster (fsync off) on a free port; returns its server URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit(
            "bench: PostgreSQL server binaries not found (apt-get install postgresql), or run with --skip-postgres"
        )
    bindir = os.path.dirname(found[-1])
    base = tempfile.mkdtemp(prefix="storefront-bench-pg-")
    stack.callback(shutil.rmtree, base, True)
    owner: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        owner = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(base, "data"), support.free_port()
    subprocess.run(
        [*owner, f"{bindir}/initdb", "-D", data, "-U", "storefront", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *owner,
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-w",
            "-l",
            os.path.join(base, "log"),
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    stack.callback(
        subprocess.run, [*owner, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True
    )
    return f"postgresql+psycopg://storefront@127.0.0.1:{port}"


def new_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


# -- timing ----------------------------------------------------------------------------------------


def redis_cpu(queue: Queue) -> float:
    info = queue.connection.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def sweep_once(app: Any, queue: Queue) -> tuple[float, float, int, float]:
    """One sweep on an empty queue: (seconds selecting, seconds in all, jobs enqueued, CPU seconds).

    The CPU seconds are this process's and the Redis server's during the sweep: on a machine
    other work is slowing down, they say what the sweep would take alone.
    """
    from storefront import jobs
    from storefront.extensions import db, services

    queue.connection.flushdb()
    with app.app_context():
        now = services().clock.now()
        started = time.perf_counter()
        jobs.due_periods(db.session, now)
        selected = time.perf_counter() - started
        db.session.remove()
        cpu_before = time.process_time() + redis_cpu(queue)
        started = time.perf_counter()
        result = jobs.sweep_due(db.session, queue, now=now)
        total = time.perf_counter() - started
        cpu = time.process_time() + redis_cpu(queue) - cpu_before
        db.session.remove()
    return selected, total, len(result.enqueued), cpu


def part_one(args: argparse.Namespace, workdir: Path, redis_url: str) -> None:
    database_url = args.database_url or f"sqlite:///{workdir / 'scale.db'}"
    print(f"bench: seeding {args.n} due subscriptions ...", flush=True)
    app = make_app(database_url, redis_url)
    seeded = seed(app, args.n, args.n)
    queue = Queue("billing", connection=Redis.from_url(redis_url))
    selected, total, enqueued, cpu = sweep_once(app, queue)
    waiting = queue.count
    database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"sweep bench, part one: {args.n} due periods, {database} (seeded in {seeded:.1f} s)")
    print(f"  select (due_periods)   {selected:8.2f} s")
    print(
        f"  sweep (select+enqueue) {total:8.2f} s   {args.n / total:,.0f} periods/s   "
        f"(CPU: {cpu:.2f} s, this process and Redis)"
    )
    print(f"  enqueued / in queue    {enqueued} / {waiting}" + ("" if waiting == args.n else "   MISMATCH"))
    if waiting != args.n:
        raise SystemExit(1)


def flatness(label: str, make_url: Callable[[str], str], args: argparse.Namespace, redis_url: str) -> None:
    queue = Queue("billing", connection=Redis.from_url(redis_url))
    medians: dict[int, tuple[float, float]] = {}
    for size in (args.small, args.large):
        print(f"bench: {label}: seeding {size} subscriptions, {args.due} due ...", flush=True)
        app = make_app(make_url(f"sweep_{size}"), redis_url)
        seeded = seed(app, size, args.due)
        runs = [sweep_once(app, queue) for _ in range(args.repeat + 1)][1:]  # the first warms caches
        if any(run[2] != args.due for run in runs):
            raise SystemExit(f"bench: {label}: a sweep did not enqueue {args.due} jobs")
        medians[size] = (statistics.median(run[0] for run in runs), statistics.median(run[1] for run in runs))
        print(
            f"  {label} {size:>9,} subscriptions (seeded in {seeded:.0f} s): select {medians[size][0] * 1000:7.1f} ms"
            f"   sweep {medians[size][1] * 1000:7.1f} ms   (median of {args.repeat})",
            flush=True,
        )
        with app.app_context():
            from storefront.extensions import db

            db.engine.dispose()
    (s_small, t_small), (s_large, t_large) = medians[args.small], medians[args.large]
    print(
        f"  {label} {args.large // 1000:,}k/{args.small // 1000:,}k ratio: select {s_large / s_small:.2f}x"
        f"   sweep {t_large / t_small:.2f}x"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="storefront-bench-sweep-"))
    try:
        with ExitStack() as stack:
            stack.callback(shutil.rmtree, workdir, True)
            redis_url = support.start_redis(stack, workdir)
            if not args.skip_scale:
                part_one(args, workdir, redis_url)
            print(f"sweep bench, part two: {args.due} due among {args.small:,} and {args.large:,} subscriptions")
            if not args.skip_sqlite:
                flatness("SQLite", lambda name: f"sqlite:///{workdir / name}.db", args, redis_url)
            if not args.skip_postgres:
                server = start_postgres(stack)
                flatness("PostgreSQL", lambda name: new_database(server, name), args, redis_url)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
