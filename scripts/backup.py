"""PostgreSQL backups of the shop, and a rehearsal that proves one can be restored.

    python scripts/backup.py dump --out /var/backups/storefront/$(date +%F).dump
    python scripts/backup.py restore FILE --into postgresql+psycopg://user@host/new_empty_db
    python scripts/backup.py rehearse [--dump FILE] [--keep]

Settings come from the environment (and `.env` in the repository root), as for the app:
DATABASE_URL is the database backed up, ENCRYPTION_KEY (and ENCRYPTION_KEYS_OLD) the keys the
billing keys are sealed under.

- `dump`: `pg_dump --format=custom` of DATABASE_URL (the whole schema, Alembic's version
  included) into a file readable only by its owner.
- `restore`: `pg_restore` of a dump into an **empty** database (never over the live one:
  restore beside it, check, then point DATABASE_URL at it).
- `rehearse`: dump now (or take `--dump FILE`, e.g. last night's), restore into a fresh
  database created next to DATABASE_URL's, and check that it is a working copy: Alembic's
  version is the code's head, every table has the rows the source had (when dumped now), and
  every sealed billing key opens with this ENCRYPTION_KEY and is the key it was (its SHA-256
  fingerprint matches). Then the scratch database is dropped (`--keep` keeps it). Exit status 0
  when every check passed, 1 otherwise. A key never leaves the process: only counts are printed.

The password travels to pg_dump/pg_restore in PGPASSWORD, never on a command line (`ps`).
`--pg-bin DIR` picks the PostgreSQL client tools (default: the ones on PATH; they must be at
least the server's major version).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, inspect, select, text  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402


class RehearsalFailed(Exception):
    """A check of the restored copy failed; the message says which."""


# -- the PostgreSQL tools --------------------------------------------------------------------------


def libpq_env(url: URL) -> dict[str, str]:
    """The libpq variables for `url` (password included), for pg_dump / pg_restore / createdb."""
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value not in (None, ""):
            env[var] = str(value)
        else:
            env.pop(var, None)
    return env


def tool(name: str, pg_bin: str | None) -> str:
    path = os.path.join(pg_bin, name) if pg_bin else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise SystemExit(f"backup: {name} not found (install postgresql-client, or pass --pg-bin)")
    return path


def postgres_url(raw: str | None) -> URL:
    if not raw:
        raise SystemExit("backup: DATABASE_URL is not set")
    url = make_url(raw)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit(f"backup: DATABASE_URL must be PostgreSQL, not {url.drivername}")
    return url


def dump(url: URL, out: Path, *, pg_bin: str | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    subprocess.run(
        [tool("pg_dump", pg_bin), "--format=custom", "--no-owner", "--no-privileges", "--file", str(out)],
        env=libpq_env(url),
        check=True,
    )
    return out


def restore(dump_file: Path, into: URL, *, pg_bin: str | None = None) -> None:
    engine = create_engine(into.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            if inspect(conn).get_table_names():
                raise SystemExit(f"backup: {into.database} is not empty; restore into a new database")
    finally:
        engine.dispose()
    subprocess.run(
        [
            tool("pg_restore", pg_bin),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            into.database,
            str(dump_file),
        ],
        env=libpq_env(into),
        check=True,
    )


# -- the rehearsal ---------------------------------------------------------------------------------


def rehearse(
    source: URL, config, *, dump_file: Path | None = None, keep: bool = False, pg_bin: str | None = None, out=print
) -> None:
    """Restore a dump into a fresh database and check it (see the module docstring); raises RehearsalFailed."""
    scratch = source.set(database=f"{source.database}_rehearsal_{secrets.token_hex(4)}")
    with tempfile.TemporaryDirectory(prefix="storefront-backup-") as tmp:
        fresh = dump_file is None
        if fresh:
            dump_file = dump(source, Path(tmp) / "now.dump", pg_bin=pg_bin)
            out(f"dumped {source.database} ({dump_file.stat().st_size:,} bytes)")
        _admin(source, f'CREATE DATABASE "{scratch.database}"')
        try:
            restore(dump_file, scratch, pg_bin=pg_bin)
            out(f"restored into {scratch.database}")
            _check(source if fresh else None, scratch, config, out)
        finally:
            if keep:
                out(f"kept {scratch.database}")
            else:
                _admin(source, f'DROP DATABASE "{scratch.database}" WITH (FORCE)')
                out(f"dropped {scratch.database}")


def _admin(url: URL, statement: str) -> None:
    engine = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _check(source: URL | None, copy: URL, config, out) -> None:
    copy_engine = create_engine(copy.set(drivername="postgresql+psycopg"))
    try:
        with copy_engine.connect() as conn:
            _check_version(conn, out)
            counts = _row_counts(conn)
        if source is not None:
            _check_counts(source, counts, out)
        else:
            out(f"tables: {len(counts)}, rows: {sum(counts.values()):,}")
        _check_billing_keys(copy_engine, config, out)
    finally:
        copy_engine.dispose()


def _check_version(conn, out) -> None:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(AlembicConfig))
    heads = set(script.get_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    found = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    if not found or not found <= known:
        raise RehearsalFailed(f"schema version {sorted(found)} is not one of this code's migrations")
    if found == heads:
        out(f"schema at the code's head ({', '.join(sorted(heads))})")
    else:
        out(f"schema at {', '.join(sorted(found))}, behind the code's head: `flask db upgrade` after restoring")


def _alembic_config(factory):
    config = factory()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def _row_counts(conn) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


def _check_counts(source: URL, copied: dict[str, int], out) -> None:
    engine = create_engine(source.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            original = _row_counts(conn)
    finally:
        engine.dispose()
    if original != copied:
        differ = sorted(name for name in set(original) | set(copied) if original.get(name) != copied.get(name))
        raise RehearsalFailed(f"row counts differ from the source in: {', '.join(differ)}")
    out(f"tables: {len(copied)}, rows: {sum(copied.values()):,}, the same as the source")


def _check_billing_keys(engine, config, out) -> None:
    from sqlalchemy.orm import Session

    from storefront.billing.wallet.vault import Actor, Vault, VaultError, fingerprint
    from storefront.clock import SystemClock
    from storefront.models import BillingKey

    vault = Vault(config.encryption_key, config.old_encryption_keys)
    opened, failed = 0, []
    with Session(engine) as session:
        rows = list(session.scalars(select(BillingKey).where(BillingKey.sealed.is_not(None)).order_by(BillingKey.id)))
        for row in rows:
            try:
                plain = vault.open(
                    session, row, actor=Actor.worker(), reason="backup rehearsal", now=SystemClock().now()
                )
            except VaultError as exc:
                failed.append(str(exc))
                continue
            if row.fingerprint and fingerprint(plain) != row.fingerprint:
                failed.append(f"billing key {row.id} opened to a different key")
                continue
            opened += 1
        session.rollback()  # the audit rows of these openings belong to nobody
    if failed:
        raise RehearsalFailed(
            f"{len(failed)} of {len(rows)} billing key(s) do not open: {failed[0]}"
            " (is ENCRYPTION_KEY the one production uses, with ENCRYPTION_KEYS_OLD?)"
        )
    if rows:
        out(f"billing keys: {opened} of {len(rows)} open with ENCRYPTION_KEY and match their fingerprints")
    else:
        out("billing keys: none sealed in this backup")


# -- the command line ------------------------------------------------------------------------------


def _config():
    from dotenv import load_dotenv

    from storefront.config import ConfigError, load_config

    load_dotenv(ROOT / ".env", override=False)
    try:
        return load_config(os.environ)
    except ConfigError as exc:
        raise SystemExit(f"backup: configuration error: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-bin", help="directory of pg_dump / pg_restore (default: PATH)")
    commands = parser.add_subparsers(dest="command", required=True)
    p_dump = commands.add_parser("dump", help="pg_dump DATABASE_URL into a file")
    p_dump.add_argument("--out", required=True, type=Path)
    p_restore = commands.add_parser("restore", help="pg_restore a dump into an empty database")
    p_restore.add_argument("file", type=Path)
    p_restore.add_argument("--into", required=True, help="URL of an empty database")
    p_rehearse = commands.add_parser("rehearse", help="restore into a fresh database and check it")
    p_rehearse.add_argument("--dump", type=Path, help="a dump to rehearse (default: dump DATABASE_URL now)")
    p_rehearse.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)

    config = _config()
    source = postgres_url(config.database_url)
    try:
        if args.command == "dump":
            dump(source, args.out, pg_bin=args.pg_bin)
            print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
        elif args.command == "restore":
            restore(args.file, postgres_url(args.into), pg_bin=args.pg_bin)
            print(
                f"restored {args.file} into {postgres_url(args.into).database}; run `flask db upgrade` if the "
                "code is newer than the backup"
            )
        else:
            rehearse(source, config, dump_file=args.dump, keep=args.keep, pg_bin=args.pg_bin)
            print("rehearsal passed: this backup restores into a working copy")
    except RehearsalFailed as exc:
        print(f"rehearsal FAILED: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"backup: {Path(exc.cmd[0]).name} failed with exit status {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
