"""`flask` commands: seed, users, keys, outbox (billing and audit arrive with their issues)."""

from __future__ import annotations

import secrets

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from storefront.extensions import db, services

seed_cli = AppGroup("seed", help="Demo data.")
users_cli = AppGroup("users", help="Accounts.")
keys_cli = AppGroup("keys", help="ENCRYPTION_KEY management.")


def register(app: Flask) -> None:
    from storefront.notify.cli import outbox_cli

    for group in (seed_cli, users_cli, keys_cli, outbox_cli):
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


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="관리자")
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account (or make an existing account admin)."""
    from storefront import accounts

    user = accounts.find_by_email(db.session, email)
    if user is None:
        user = accounts.create_user(
            db.session,
            accounts.NewUser(email=email, password=password, name=name, is_admin=True),
            now=services().clock.now(),
            cheap_hash=current_app.config["STOREFRONT"].password_hash_cheap,
        )
    user.is_admin = True
    db.session.commit()
    click.echo(f"admin: {user.email}")


@seed_cli.command("demo")
def seed_demo() -> None:
    """Create the demo catalog, an admin and the Toss reviewer account (once)."""
    from storefront.seed import seed_demo as run

    for line in run(db.session, now=services().clock.now(), cheap_hash=current_app.config["STOREFRONT"].password_hash_cheap):
        click.echo(line)
