"""Accounts: creating users, hashing and checking passwords (Argon2id), the profile.

The package owns what an account is and how one proves to be its owner; no Flask in here.
Its modules: `sessions` (server-side sign-ins that logout, a password change or the admin
can end), `throttle` (the progressive delay after wrong passwords), `signup` (sign-ups
confirmed by an emailed link, with the same answer for a known address), `reset`
(비밀번호 찾기 links) and `tokens` (random tokens stored only as hashes).
"""

from __future__ import annotations

import re
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

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# A Korean mobile number (SMS notices go to it), with or without hyphens: 010-1234-5678.
MOBILE_PATTERN = r"^01[016789]-?\d{3,4}-?\d{4}$"
_MOBILE = re.compile(MOBILE_PATTERN)


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


def normalize_mobile(phone: str | None) -> str | None:
    """`010-1234-5678` -> `01012345678`; None for an empty value; ValueError for anything else."""
    value = (phone or "").strip()
    if not value:
        return None
    if not _MOBILE.match(value):
        raise ValueError("not a mobile number")
    return value.replace("-", "")


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def create_user(session: Session, info: NewUser, *, now: datetime, cheap_hash: bool = False) -> User:
    """Add a user with a fresh random customer_key; raise EmailTaken. Flushes, does not commit."""
    return add_user(
        session,
        email=info.email,
        password_hash=hasher(cheap_hash).hash(info.password),
        name=info.name,
        phone=info.phone,
        is_admin=info.is_admin,
        marketing_opt_in=info.marketing_opt_in,
        now=now,
    )


def add_user(
    session: Session,
    *,
    email: str,
    password_hash: str,
    name: str,
    phone: str | None,
    now: datetime,
    is_admin: bool = False,
    marketing_opt_in: bool = False,
) -> User:
    """Add a user whose password is already hashed; raise EmailTaken. Flushes, does not commit."""
    if find_by_email(session, email) is not None:
        raise EmailTaken(email)
    user = User(
        email=normalize_email(email),
        password_hash=password_hash,
        name=name.strip(),
        phone=(phone or "").strip() or None,
        customer_key=new_customer_key(),
        is_admin=is_admin,
        marketing_opt_in=marketing_opt_in,
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


def check_password(user: User, password: str) -> bool:
    return _verify(user.password_hash, password)


def check_password_hash(password_hash: str, password: str) -> bool:
    return _verify(password_hash, password)


def set_password(user: User, password: str, *, cheap_hash: bool = False) -> None:
    user.password_hash = hasher(cheap_hash).hash(password)


def update_profile(user: User, *, name: str, phone: str | None) -> None:
    """Set the name and mobile number (normalised; ValueError if it is not a mobile number)."""
    user.name = name.strip()
    user.phone = normalize_mobile(phone)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _STRONG.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
