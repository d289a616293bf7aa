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


@keys_cli.command("purge-unused")
def keys_purge_unused() -> None:
    """Destroy the sealed billing keys no live subscription uses, and delete them at Toss (best effort)."""
    from storefront.billing.cards import release_unused_cards

    found = services()
    released = release_unused_cards(db.session, toss=found.toss, vault=found.vault, clock=found.clock)
    click.echo(f"destroyed {released} billing key(s) that no live subscription uses")


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
@click.option("--admin-email", envvar="SEED_ADMIN_EMAIL", show_envvar=True,
              help="Admin account email. Default: admin@<domain of BUSINESS_EMAIL>.")
@click.option("--reviewer-email", envvar="SEED_REVIEWER_EMAIL", show_envvar=True,
              help="Toss reviewer account email. Default: toss-review@<domain of BUSINESS_EMAIL>.")
@click.option("--admin-password", envvar="SEED_ADMIN_PASSWORD", show_envvar=True,
              help="Password for a new admin (prefer the env var). Default: a random one, printed once.")
@click.option("--reviewer-password", envvar="SEED_REVIEWER_PASSWORD", show_envvar=True,
              help="Password for a new reviewer (prefer the env var). Default: a random one, printed once.")
@click.option("--reset-reviewer-password", is_flag=True,
              help="Give the existing reviewer account a new password and print it.")
@click.option("--no-catalog", is_flag=True, help="Accounts only: leave the catalog alone (a shop with its own products).")
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
            db.session,
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
