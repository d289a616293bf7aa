"""Sign-in throttling: a progressive delay after wrong passwords that an attacker cannot turn into a lockout.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies", with a delay in place of a
hard lock. Wrong passwords are counted under one of two keys:

- the **account**, for attempts from browsers that have never signed in to it (no valid
  device cookie). After `FREE_FAILURES` wrong passwords in a row, each further one makes the
  next attempt wait `FIRST_DELAY`, doubling up to `MAX_DELAY`, counted from the last wrong
  password. Every unknown browser waits alike, whatever its address, so a botnet gets about
  four guesses an hour per account; the owner on a new phone waits at most `MAX_DELAY`.
- one **device cookie** (a browser that signed in to this account before): the same schedule,
  but only that browser waits. Its owner is never held back by wrong passwords typed
  elsewhere, which is what keeps a guessing attack from locking the owner out.

Attempts made while a key must wait are refused without checking the password (and are not
counted). A right password clears the key it was tried under; a key with no wrong password
for `FORGET_AFTER` starts again from zero. Keys are hashed (no email or cookie is stored),
and the same schedule applies to an address that has no account, so the delay tells nothing
about which addresses are registered. The per-address limit on every login request (all
accounts, LOGIN_RATE_LIMIT) is Flask-Limiter's, in the view. No Flask in here; nothing commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storefront.dml import execute_dml
from storefront.models import LoginThrottle

FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=24)

# Each dialect's INSERT has its own ON CONFLICT; typed as the union so both are checked.
_INSERTS: dict[str, Callable[..., sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def account_key(normalized_email: str) -> str:
    return _key("account", normalized_email)


def device_key(nonce: str) -> str:
    return _key("device", nonce)


def current_password_key(user_id: int) -> str:
    """Wrong current passwords on 비밀번호 변경 (someone holding a signed-in browser guessing it)."""
    return _key("current-password", str(user_id))


def _key(scope: str, value: str) -> str:
    return hashlib.sha256(f"storefront-login:{scope}:{value}".encode("utf-8", "surrogatepass")).hexdigest()


def delay_after(failures: int) -> timedelta:
    """How long the next attempt waits after `failures` wrong passwords in a row."""
    if failures <= FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES - 1, 16)  # 2**16 * 30 s is far beyond MAX_DELAY
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


def wait(session: Session, key: str, *, now: datetime) -> timedelta:
    """How long `key` must still wait before a password is checked again (zero: it may try now)."""
    row = session.get(LoginThrottle, key)
    if row is None or now - row.last_failure_at >= FORGET_AFTER:
        return timedelta(0)
    return max(row.last_failure_at + delay_after(row.failures) - now, timedelta(0))


def record_failure(session: Session, key: str, *, now: datetime) -> int:
    """Count a wrong password under `key` (atomically, across processes); return its count so far.

    Also deletes keys forgotten long ago, so the table holds only the last day's failures.
    """
    cutoff = now - FORGET_AFTER
    forget_old(session, before=cutoff)
    insert = _INSERTS[session.get_bind(LoginThrottle).dialect.name]
    stmt = (
        insert(LoginThrottle)
        .values(key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": case((LoginThrottle.last_failure_at <= cutoff, 1), else_=LoginThrottle.failures + 1),
                "last_failure_at": now,
            },
        )
        .returning(LoginThrottle.failures)
    )
    return int(session.execute(stmt).scalar_one())


def forget_old(session: Session, *, before: datetime) -> int:
    """Delete keys whose last wrong password is `before` or older; return how many.

    Called with `FORGET_AFTER` ago (such keys count from zero anyway) at every wrong password and
    by the daily retention job, so keys nobody types at again go too.
    """
    result = execute_dml(
        session,
        delete(LoginThrottle)
        .where(LoginThrottle.last_failure_at <= before)
        .execution_options(synchronize_session=False),
    )
    return int(result.rowcount or 0)


def clear(session: Session, key: str) -> None:
    """Forget `key`'s wrong passwords (its owner has just proved the password)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key).execution_options(synchronize_session=False))
