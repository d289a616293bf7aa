"""Server-side sign-ins: a session cookie opens the account only while its `UserSession` row exists.

Flask-Login keeps ``"<user id>:<token>"`` (User.get_id) in the session cookie and in a
remember cookie; the user loader (`load`) finds the user (as `SignedIn`, not the ORM row)
only through an unexpired row with that token's hash. So a copied cookie dies with its row: `end` (logout),
`end_all(keep=...)` (a password change keeps the browser that made it), `end_all` (a
password reset, account deletion, the admin's 세션 종료). Rows older than `LIFETIME` are
refused, deleted at the user's next sign-in and by the daily retention job (`forget_expired`,
storefront/retention.py). No Flask in here; nothing commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from storefront.accounts.tokens import new_token, token_hash
from storefront.dml import execute_dml
from storefront.models import User, UserSession

# Flask's PERMANENT_SESSION_LIFETIME: the signed cookie is refused after this long anyway.
LIFETIME = timedelta(days=31)
_MAX_USER_ID = 2**31 - 1


def start(session: Session, user: User, *, now: datetime) -> str:
    """Open a sign-in for `user`: add its row, set `user.session_token`, return the token. Flushes."""
    session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now))
    token, hashed = new_token()
    session.add(UserSession(user_id=user.id, token_hash=hashed, created_at=now, expires_at=now + LIFETIME))
    session.flush()
    user.session_token = token
    return token


class SignedIn(NamedTuple):
    """Who a request is signed in as: the account's columns pages read, never its password hash.

    `load` returns this rather than the ORM `User`: a signed-in page view then builds no ORM object
    and sets up no ORM statement (measured at 5-10 % of /account's CPU). What changes the account,
    or hands it to a domain function, loads the `User` row (`web.auth.signin.account_user`).
    It speaks Flask-Login's user protocol (`is_authenticated`, `is_active`, `is_anonymous`, `get_id`).
    """

    id: int
    email: str
    name: str
    phone: str | None
    customer_key: str
    is_admin: bool
    session_token: str

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"  # as User.get_id


# Runs on every signed-in request: built once, with bound parameters; columns, not an entity.
_LOAD = (
    select(User.id, User.email, User.name, User.phone, User.customer_key, User.is_admin)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.expires_at > bindparam("now", type_=UserSession.__table__.c.expires_at.type),
    )
)


def load(session: Session, identifier: str, *, now: datetime) -> SignedIn | None:
    """Who a cookie's ``"<id>:<token>"`` names while that sign-in is open, else None."""
    user_id, _, token = (identifier or "").partition(":")
    if not token or not user_id.isdigit() or len(user_id) > 10 or int(user_id) > _MAX_USER_ID:
        return None
    row = (
        session.connection()
        .execute(_LOAD, {"user_id": int(user_id), "token_hash": token_hash(token), "now": now})
        .first()
    )
    if row is None:
        return None
    found_id, email, name, phone, customer_key, is_admin = row
    return SignedIn(found_id, email, name, phone, customer_key, is_admin, token)


def end(session: Session, user: User | SignedIn) -> None:
    """End the sign-in `user` was loaded for (logout)."""
    if user.session_token:
        session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(user.session_token)))


def end_all(session: Session, user_id: int, *, keep: str | None = None) -> int:
    """End every sign-in of the account except the one whose token is `keep`; return how many ended."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep:
        stmt = stmt.where(UserSession.token_hash != token_hash(keep))
    return int(execute_dml(session, stmt.execution_options(synchronize_session=False)).rowcount or 0)


def forget_expired(session: Session, *, now: datetime) -> int:
    """Delete every sign-in row past its expiry (no cookie can use it any more); return how many."""
    result = execute_dml(
        session, delete(UserSession).where(UserSession.expires_at <= now).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def count_open(session: Session, user_id: int, *, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(UserSession.id)).where(UserSession.user_id == user_id, UserSession.expires_at > now)
        )
        or 0
    )
