"""scripts/backup.py against the test session's PostgreSQL server: a backup restores into a working copy.

The database is built by the real migrations (`flask db upgrade`) and holds a subscriber whose
billing key is sealed by the app's vault; the script runs as an operator would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from storefront import create_app
from storefront.config import ROOT
from tests.conftest import BASE_ENV, make_config

pytestmark = pytest.mark.postgres
BILLING_KEY = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0="


@pytest.fixture
def shop_database(tmp_path: Path, postgres_url: str, clock) -> str:
    """A migrated database with one subscriber whose billing key is sealed."""
    from storefront.extensions import db, services
    from storefront.models import BillingKey, User

    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url), clock=clock)
    with app.app_context():
        upgrade()
        user = User(email="buyer@example.com", password_hash="x", name="김구매", created_at=clock.now())
        db.session.add(user)
        db.session.flush()
        card = BillingKey(
            user_id=user.id,
            customer_key=user.customer_key,
            issued_at=clock.now(),
            card_company="현대",
            card_number_masked="43301234****123*",
        )
        db.session.add(card)
        db.session.flush()
        services().vault.seal(card, BILLING_KEY)
        db.session.commit()
        db.engine.dispose()
    return postgres_url


def run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "ENCRYPTION_"))}
    environ.update(BASE_ENV, DATABASE_URL=database_url, **env)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "backup.py"), *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def databases(database_url: str) -> set[str]:
    server = database_url.replace("+psycopg", "").rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres") as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_a_rehearsal_restores_a_fresh_copy_whose_billing_keys_open(shop_database):
    result = run(shop_database, "rehearse")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema at the code's head" in result.stdout
    assert "the same as the source" in result.stdout
    assert "billing keys: 1 of 1 open with ENCRYPTION_KEY and match their fingerprints" in result.stdout
    assert "rehearsal passed" in result.stdout
    assert BILLING_KEY not in result.stdout + result.stderr
    assert not any("_rehearsal_" in name for name in databases(shop_database))  # the scratch copy is gone


def test_a_backup_whose_keys_this_encryption_key_cannot_open_fails(shop_database):
    result = run(shop_database, "rehearse", ENCRYPTION_KEY="1f" * 32)

    assert result.returncode == 1
    assert "rehearsal FAILED: 1 of 1 billing key(s) do not open" in result.stderr
    assert "ENCRYPTION_KEYS_OLD" in result.stderr
    assert not any("_rehearsal_" in name for name in databases(shop_database))


def test_last_nights_dump_restores_into_an_empty_database(shop_database, postgres_server, tmp_path):
    """`dump`, then `rehearse --dump FILE` (as for a stored backup), then `restore` for real."""
    from storefront.extensions import db
    from storefront.models import BillingKey

    empty = f"restored_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{empty}"')
    postgres_url = f"{postgres_server}/{empty}"

    dump_file = tmp_path / "backups" / "nightly.dump"
    assert run(shop_database, "dump", "--out", str(dump_file)).returncode == 0
    assert dump_file.stat().st_mode & 0o777 == 0o600  # billing keys are sealed, but emails and names are not

    rehearsal = run(shop_database, "rehearse", "--dump", str(dump_file))
    assert rehearsal.returncode == 0, rehearsal.stdout + rehearsal.stderr
    assert "billing keys: 1 of 1 open" in rehearsal.stdout

    restored = run(shop_database, "restore", str(dump_file), "--into", postgres_url)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    again = run(shop_database, "restore", str(dump_file), "--into", postgres_url)
    assert again.returncode != 0 and "is not empty" in again.stderr  # never over a database with tables

    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url))
    with app.app_context():
        assert db.session.scalar(select(func.count(BillingKey.id))) == 1
        db.session.remove()
        db.engine.dispose()
