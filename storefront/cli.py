"""`flask` commands: seed, users, keys, outbox, billing, and the `worker` and `cron` processes."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from storefront.extensions import db, services

if TYPE_CHECKING:
    from redis import Redis

    from storefront.models import Charge, Subscription

seed_cli = AppGroup("seed", help="Demo data.")
users_cli = AppGroup("users", help="Accounts.")
keys_cli = AppGroup("keys", help="ENCRYPTION_KEY management.")
billing_cli = AppGroup("billing", help="Renewals: charge what is due, settle unknown outcomes, reconcile with Toss.")


def register(app: Flask) -> None:
    from storefront.notify.cli import outbox_cli

    for group in (seed_cli, users_cli, keys_cli, outbox_cli, billing_cli, worker_command, cron_command):
        app.cli.add_command(group)


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new random ENCRYPTION_KEY (64 hex characters)."""
    click.echo(secrets.token_hex(32))


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Re-seal every billing key under the newest ENCRYPTION_KEY (old keys in ENCRYPTION_KEYS_OLD)."""
    from sqlalchemy import select

    from storefront.models import BillingKey

    vault = services().vault
    changed = 0
    ids = db.session.scalars(select(BillingKey.id).where(BillingKey.sealed.is_not(None))).all()
    for row_id in ids:  # one row per transaction: safe to run while the site serves traffic
        row = db.session.get(BillingKey, row_id, with_for_update=True)
        if row is not None and vault.reseal(row):
            changed += 1
        db.session.commit()
    click.echo(f"re-sealed {changed} billing key(s) under key id {vault.current_key_id}")
    click.echo("once this reports 0 on a second run, remove the old keys from ENCRYPTION_KEYS_OLD")


@keys_cli.command("purge-unused")
def keys_purge_unused() -> None:
    """Destroy the sealed billing keys no live subscription uses, and delete them at Toss (best effort)."""
    from storefront.billing.wallet.cards import release_unused_cards

    found = services()
    released = release_unused_cards(db.session(), toss=found.toss, vault=found.vault, clock=found.clock)
    click.echo(f"destroyed {released} billing key(s) that no live subscription uses")


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="관리자")
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account (or make an existing account admin)."""
    from storefront import accounts

    user = accounts.find_by_email(db.session(), email)
    if user is None:
        user = accounts.create_user(
            db.session(),
            accounts.NewUser(email=email, password=password, name=name, is_admin=True),
            now=services().clock.now(),
            cheap_hash=current_app.config["STOREFRONT"].password_hash_cheap,
        )
    user.is_admin = True
    db.session.commit()
    click.echo(f"admin: {user.email}")


@seed_cli.command("demo")
@click.option(
    "--admin-email",
    envvar="SEED_ADMIN_EMAIL",
    show_envvar=True,
    help="Admin account email. Default: admin@<domain of BUSINESS_EMAIL>.",
)
@click.option(
    "--reviewer-email",
    envvar="SEED_REVIEWER_EMAIL",
    show_envvar=True,
    help="Toss reviewer account email. Default: toss-review@<domain of BUSINESS_EMAIL>.",
)
@click.option(
    "--admin-password",
    envvar="SEED_ADMIN_PASSWORD",
    show_envvar=True,
    help="Password for a new admin (prefer the env var). Default: a random one, printed once.",
)
@click.option(
    "--reviewer-password",
    envvar="SEED_REVIEWER_PASSWORD",
    show_envvar=True,
    help="Password for a new reviewer (prefer the env var). Default: a random one, printed once.",
)
@click.option(
    "--reset-reviewer-password", is_flag=True, help="Give the existing reviewer account a new password and print it."
)
@click.option(
    "--no-catalog", is_flag=True, help="Accounts only: leave the catalog alone (a shop with its own products)."
)
def seed_demo(
    admin_email: str | None,
    reviewer_email: str | None,
    admin_password: str | None,
    reviewer_password: str | None,
    reset_reviewer_password: bool,
    no_catalog: bool,
) -> None:
    """Create the demo catalog, an admin and the Toss reviewer account (once; re-running changes nothing)."""
    from storefront.seed import SeedError
    from storefront.seed import seed_demo as run

    config = current_app.config["STOREFRONT"]
    domain = config.business.email.rpartition("@")[2] or "example.com"
    try:
        lines = run(
            db.session(),
            now=services().clock.now(),
            cheap_hash=config.password_hash_cheap,
            admin_email=admin_email or f"admin@{domain}",
            reviewer_email=reviewer_email or f"toss-review@{domain}",
            admin_password=admin_password or None,
            reviewer_password=reviewer_password or None,
            reset_reviewer_password=reset_reviewer_password,
            catalog=not no_catalog,
        )
    except SeedError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


# -- billing -----------------------------------------------------------------------------------------

AS_OF_HELP = (
    "Pretend it is this moment (ISO-8601; without an offset it is read as Asia/Seoul), "
    "e.g. 2026-04-10T10:00+09:00. Only with TOSS_ENV=sandbox; the jobs carry it to the workers."
)


def _as_of(value: str | None) -> datetime | None:
    from storefront import jobs

    try:
        return jobs.parse_as_of(value, current_app.config["STOREFRONT"])
    except jobs.AsOfRefused as exc:
        raise click.UsageError(str(exc)) from None


def _kst(moment: datetime) -> str:
    from storefront.clock import KST

    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M KST")


def _redis_hint(exc: Exception, also: str = "") -> click.ClickException:
    from urllib.parse import urlsplit

    url = urlsplit(current_app.config["STOREFRONT"].redis_url or "")  # host and port only: the URL may hold a password
    return click.ClickException(
        f"Redis at {url.hostname}:{url.port or 6379} is not answering ({type(exc).__name__}); "
        f"start it (`make run` starts an embedded one){also}"
    )


@billing_cli.command("run-due")
@click.option(
    "--dry-run", is_flag=True, help="List what would be charged (id, email, amount, due date); change nothing."
)
@click.option("--as-of", "as_of", metavar="ISO-DATETIME", help=AS_OF_HELP)
@click.option(
    "--sync", is_flag=True, help="Charge in this process, one by one, instead of enqueueing jobs (no Redis needed)."
)
def billing_run_due(dry_run: bool, as_of: str | None, sync: bool) -> None:
    """Do what the timer's due sweep does, now: one charge job per due subscription period."""
    from redis.exceptions import RedisError

    from storefront import jobs

    moment = _as_of(as_of)
    now = moment or services().clock.now()
    if dry_run:
        _print_due(now)
        return
    if sync:
        _charge_due_here(now, moment)
        return
    config = current_app.config["STOREFRONT"]
    queue = jobs.get_queue(jobs.BILLING_QUEUE, config)
    if queue is None:
        raise click.ClickException(
            "REDIS_URL is not set: there is no queue for the charges (use --sync to charge here)"
        )
    try:
        result = jobs.sweep_due(
            db.session(),
            queue,
            now=now,
            as_of=moment.isoformat() if moment else None,
            alive_within=jobs.alive_within(config),
        )
    except RedisError as exc:
        raise _redis_hint(exc, " or use --sync") from None
    line = (
        f"{len(result.due)} subscription(s) due as of {_kst(now)}: {len(result.enqueued)} charge job(s) "
        f"enqueued on '{jobs.BILLING_QUEUE}', {len(result.already)} already waiting or running"
    )
    if result.replaced:
        line += f" ({len(result.replaced)} of the enqueued replace a job lost by a dead worker or ended)"
    if result.in_flight:
        line += f", {len(result.in_flight)} in flight (reconcile settles them)"
    click.echo(line)
    if result.errors:
        click.echo(
            f"{len(result.errors)} could not be enqueued and were skipped (see the log); "
            f"the next sweep tries again: {', '.join(result.errors[:10])}",
            err=True,
        )


def _print_due(now: datetime) -> None:
    from storefront import jobs
    from storefront.billing.compliance import consent
    from storefront.billing.recurring import periods
    from storefront.models import Subscription

    due = jobs.due_periods(db.session(), now)
    click.echo(f"{len(due)} subscription(s) due as of {_kst(now)} (dry run: nothing is charged)")
    if not due:
        return
    click.echo(f"{'id':>6}  {'email':<32} {'amount':>12}  {'due':<20} note")
    for item in due:
        sub = db.session.get_one(Subscription, item.subscription_id)
        pending = periods.pending_charge(db.session(), sub.id)
        verdict = consent.gate(db.session(), sub, now=now) if pending is None else None
        if pending is not None:
            amount = pending.amount_won
        elif verdict is not None and verdict.decision == "agreed" and verdict.change is not None:
            amount = verdict.change.new_amount_won
        else:
            amount = sub.amount_won
        note = _consent_note(verdict) or _due_note(sub, pending)
        click.echo(
            f"{sub.id:>6}  {sub.user.email:<32} {f'{amount:,} won':>12}  {_kst(item.next_charge_at):<20} "
            f"{note}".rstrip()
        )
    db.session.rollback()


def _consent_note(verdict) -> str:
    """What the consent gate will do with a trial conversion or a price rise (billing/compliance/consent.py)."""
    if verdict is None or verdict.decision == "none":
        return ""
    if verdict.decision == "agreed":
        return "consented new price"
    return f"no consent ({verdict.decision}): ends, not charged"


def _due_note(sub: Subscription, pending: Charge | None) -> str:
    from storefront.billing.recurring import periods

    if pending is not None and periods.open_attempt(db.session(), pending.id) is not None:
        return "a charge is in flight or unknown: reconcile settles it first"
    if sub.cancel_at_period_end:
        return "canceled at period end: ends, not charged"
    if sub.status == "past_due":
        return f"retry after {pending.retry_count if pending else 0} decline(s)"
    return ""


def _charge_due_here(now: datetime, moment: datetime | None) -> None:
    from storefront import jobs
    from storefront.billing.recurring import charging
    from storefront.clock import FixedClock

    config, found = current_app.config["STOREFRONT"], services()
    clock = FixedClock(moment) if moment is not None else found.clock
    due = jobs.due_periods(db.session(), now)
    outcomes: dict[str, int] = {}
    for item in due:
        result = charging.charge_period(
            db.session(),
            item.subscription_id,
            toss=found.toss,
            vault=found.vault,
            notifier=found.notifier,
            clock=clock,
            config=config,
        )
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        click.echo(
            f"subscription {item.subscription_id}: {result.outcome}"
            + (f" ({result.error_code})" if result.error_code else "")
        )
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing to do"
    click.echo(f"{len(due)} subscription(s) due as of {_kst(now)}: {summary}")
    _send_notices_here(clock)


def _send_notices_here(clock: Any) -> None:
    """Notices the charges queued: delivered here (console without SMTP_URL); the outbox sweep catches any left."""
    notifier = services().notifier
    sent = 0
    while True:
        count = notifier.deliver_pending(db.session(), now=clock.now())
        sent += count
        if count < 100:
            break
    if sent:
        click.echo(f"{sent} notice(s) delivered")


@billing_cli.command("reconcile")
@click.option("--as-of", "as_of", metavar="ISO-DATETIME", help=AS_OF_HELP)
def billing_reconcile(as_of: str | None) -> None:
    """Settle charge attempts whose outcome is unknown (timeouts, crashed workers) by asking Toss."""
    from datetime import timedelta

    from storefront.billing.recurring import charging
    from storefront.clock import FixedClock

    moment = _as_of(as_of)
    config, found = current_app.config["STOREFRONT"], services()
    clock = FixedClock(moment) if moment is not None else found.clock
    results = charging.reconcile(
        db.session(),
        toss=found.toss,
        vault=found.vault,
        notifier=found.notifier,
        clock=clock,
        config=config,
        older_than=timedelta(seconds=config.reconcile_grace_seconds),
    )
    for item in results:
        click.echo(
            f"attempt {item.attempt_id} (order {item.order_id}): {item.outcome}"
            + (f" ({item.error_code})" if item.error_code else "")
        )
    left = sum(1 for item in results if item.outcome == "left")
    click.echo(f"{len(results)} attempt(s) looked at, {len(results) - left} settled, {left} left for the next run")
    if len(results) > left:
        _send_notices_here(clock)


@billing_cli.command("reconcile-day")
@click.option(
    "--date",
    "day",
    metavar="YYYY-MM-DD",
    help="The Korean calendar day to compare with Toss (default: yesterday in Korea).",
)
def billing_reconcile_day(day: str | None) -> None:
    """Daily reconciliation (대사): compare a day of Toss's transactions with our payments and refunds.

    What Toss has and we lack (a dashboard refund, a lost webhook) is recorded as the webhook
    would; everything else that differs is listed for a person (admin: 대사). Safe to run again.
    """
    from datetime import date

    from storefront.billing.toss_sync import reconciliation
    from storefront.clock import KST

    found = services()
    try:
        target = date.fromisoformat(day) if day else reconciliation.previous_day(found.clock.now())
    except ValueError:
        raise click.UsageError(f"--date: {day!r} is not a date like 2026-03-10") from None
    if target > found.clock.now().astimezone(KST).date():
        raise click.UsageError(f"--date: {target} has not happened yet in Korea")
    row = reconciliation.reconcile_day(db.session(), target, toss=found.toss, clock=found.clock)
    click.echo(f"{target} (KST): {row.status}")
    if row.error:
        raise click.ClickException(row.error)
    click.echo(
        f"  Toss: {row.toss_approved_count} approval(s) {row.toss_approved_won:,} won, "
        f"{row.toss_canceled_count} cancel(s) {row.toss_canceled_won:,} won"
    )
    click.echo(
        f"  ours: {row.our_paid_count} paid {row.our_paid_won:,} won, "
        f"{row.our_refunded_count} refund(s) {row.our_refunded_won:,} won"
    )
    click.echo(
        f"  {row.matched_count} matched, {row.recorded_count} recorded from Toss, {row.flagged_count} to look at"
    )
    for item in row.items:
        if item.resolved_at is None:
            click.echo(f"  - [{item.resolution}] {item.kind} {item.order_id or item.ref}: {item.note}")
    if row.settlement_count:
        click.echo(
            f"  settlement: {row.settlement_amount_won:,} won, fees {row.settlement_fee_won:,} won, "
            f"payout {row.settlement_payout_won:,} won on {row.payout_dates or '-'}"
        )
    elif row.settlement_note:
        click.echo(f"  settlement: {row.settlement_note}")


# -- processes ---------------------------------------------------------------------------------------


def _redis_or_fail(tries: int = 60, pause: float = 0.25) -> Redis:
    """A connection to REDIS_URL, waiting a little for it at start (honcho starts Redis beside us)."""
    import time

    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError

    config = current_app.config["STOREFRONT"]
    if not config.redis_url:
        raise click.ClickException("REDIS_URL is not set (development uses the embedded Redis from `make run`)")
    connection = Redis.from_url(config.redis_url)
    for attempt in range(tries):
        try:
            connection.ping()
            return connection
        except RedisConnectionError as exc:
            if attempt == tries - 1:
                raise _redis_hint(exc) from None
            time.sleep(pause)
        except RedisError as exc:
            raise _redis_hint(exc) from None
    raise AssertionError("unreachable")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queues are empty.")
@click.option(
    "--queue",
    "-q",
    "queues",
    multiple=True,
    help="A queue to serve (repeat; in priority order). Default: webhooks, notices, billing, default.",
)
@click.option("--name", help="Worker name shown by `rq info` (default: host and pid).")
@click.option(
    "--fork/--no-fork",
    default=True,
    show_default=True,
    help="Run each job in a forked child process (isolation) or in the worker itself (faster).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Run this many workers as threads of one process (no fork; each job in its own thread). "
    "They wait on Toss together: the way to keep Toss busy without a process per charge.",
)
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...], name: str | None, fork: bool, threads: int | None) -> None:
    """Run an RQ worker (with its scheduler, for retries) on REDIS_URL; start as many as you need.

    It outlives Redis outages (waits with back-off, lets the running job finish) and heartbeats
    every WORKER_HEARTBEAT_SECONDS while busy (see storefront/workers.py). With --threads N the
    process runs N workers in threads, named NAME-1 ... NAME-N.
    """
    from rq import Queue

    from storefront import jobs
    from storefront.workers import worker_class

    connection = _redis_or_fail()
    jobs.install_job_logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy's; typed as Flask
    jobs.adopt_app(app)  # forked job processes inherit the built app ...
    jobs.warm_up(app)  # ... its mappers and compiled email templates
    config = current_app.config["STOREFRONT"]
    if threads is not None:
        from storefront.workers import ThreadedWorker

        threaded = ThreadedWorker(
            threads,
            list(queues or jobs.QUEUES),
            _redis_or_fail,
            name=name,
            job_monitoring_interval=config.worker_heartbeat_seconds,
        )
        threaded.work(burst=burst, with_scheduler=True, logging_level="INFO")
        return
    worker = worker_class(fork)(
        [Queue(q, connection=connection) for q in queues or jobs.QUEUES],
        connection=connection,
        name=name,
        job_monitoring_interval=config.worker_heartbeat_seconds,
    )
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Run the timer (RQ's CronScheduler with storefront/cron.py) on REDIS_URL; run exactly one."""
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=_redis_or_fail(), logging_level="INFO")
    scheduler.load_config_from_file("storefront.cron")
    scheduler.start()
