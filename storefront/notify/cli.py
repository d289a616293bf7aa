"""`flask outbox`: look at the notices the site queued and sent, and push them along by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from storefront.extensions import db, services
from storefront.models import EmailMessage

outbox_cli = AppGroup("outbox", help="Notices (email/SMS) in the outbox.")

STATUSES = ("queued", "sending", "sent", "logged", "failed", "skipped")


@outbox_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only rows in this status.")
@click.option("--limit", default=20, show_default=True, help="Newest rows first.")
def list_messages(status: str | None, limit: int) -> None:
    """One line per message: id, created (UTC), channel, status, attempts, recipient, subject."""
    query = select(EmailMessage).order_by(EmailMessage.id.desc()).limit(limit)
    if status:
        query = query.where(EmailMessage.status == status)
    for row in db.session.scalars(query):
        click.echo(
            f"{row.id:>6}  {row.created_at:%Y-%m-%d %H:%M}  {row.channel:<5}  {row.status:<7}  "
            f"{row.attempts}  {row.to}  {row.subject}"
        )
        if row.last_error and row.status != "sent":
            click.echo(f"        last error: {row.last_error}")


@outbox_cli.command("show")
@click.argument("message_id", type=int)
def show_message(message_id: int) -> None:
    """Print one message as it was (or will be) sent: headers and plain text."""
    row = db.session.get(EmailMessage, message_id)
    if row is None:
        raise click.ClickException(f"no message {message_id}")
    click.echo(f"kind: {row.kind}  channel: {row.channel}  status: {row.status}  attempts: {row.attempts}")
    click.echo(f"dedup_key: {row.dedup_key}\nTo: {row.to}\nSubject: {row.subject}\n")
    click.echo(row.body_text)


@outbox_cli.command("deliver")
@click.option("--limit", default=100, show_default=True)
def deliver(limit: int) -> None:
    """Deliver queued messages now, in this process (what the worker's sweep does)."""
    found = services()
    count = found.notifier.deliver_pending(db.session(), now=found.clock.now(), limit=limit)
    click.echo(f"delivered {count} message(s)")


@outbox_cli.command("retry")
@click.argument("message_id", type=int)
def retry(message_id: int) -> None:
    """Put a 'failed' (or stuck 'sending') message back in the queue with a fresh attempt count.

    A 'sending' row may already have reached the recipient (the worker died mid-send):
    check the mail server's log before retrying one.
    """
    row = db.session.get(EmailMessage, message_id, with_for_update=True)
    if row is None:
        raise click.ClickException(f"no message {message_id}")
    if row.status not in ("failed", "sending"):
        raise click.ClickException(f"message {message_id} is {row.status}; only failed or sending rows are retried")
    row.status, row.attempts = "queued", 0
    db.session.commit()
    click.echo(f"message {message_id} queued again; `flask outbox deliver` or the worker's sweep will send it")
