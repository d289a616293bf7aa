"""Accounts: creating users, hashing and checking passwords (Argon2id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront.models import User, new_customer_key

# Cheap parameters are for the test suite only (config.password_hash_cheap).
_STRONG = PasswordHasher()
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
# A hash to verify against when the account does not exist, so timing doesn't reveal it.
_DUMMY_HASH = _STRONG.hash("storefront-dummy-password")


class EmailTaken(ValueError):
    pass


@dataclass(frozen=True)
class NewUser:
    email: str
    password: str
    name: str
    phone: str | None = None
    is_admin: bool = False
    marketing_opt_in: bool = False


def hasher(cheap: bool = False) -> PasswordHasher:
    return _CHEAP if cheap else _STRONG


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def create_user(session: Session, info: NewUser, *, now: datetime, cheap_hash: bool = False) -> User:
    """Add a user with a fresh random customer_key; raise EmailTaken. Flushes, does not commit."""
    if find_by_email(session, info.email) is not None:
        raise EmailTaken(info.email)
    user = User(
        email=normalize_email(info.email),
        password_hash=hasher(cheap_hash).hash(info.password),
        name=info.name.strip(),
        phone=(info.phone or "").strip() or None,
        customer_key=new_customer_key(),
        is_admin=info.is_admin,
        marketing_opt_in=info.marketing_opt_in,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose password matches, or None (same work either way)."""
    user = find_by_email(session, email)
    if user is None:
        _verify(_DUMMY_HASH, password)
        return None
    return user if _verify(user.password_hash, password) else None


def set_password(user: User, password: str, *, cheap_hash: bool = False) -> None:
    user.password_hash = hasher(cheap_hash).hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _STRONG.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
