"""비밀번호 찾기: an emailed link, valid 30 minutes and usable once, that lets the owner choose a new password.

`request_reset` answers nothing about whether the address has an account (the view shows
the same page either way); for an account it records a link and queues the email through
the notifier, at most `MAX_LINKS_PER_HOUR` per account so nobody can flood an inbox.
`reset_password` spends the link (a conditional UPDATE: two tabs cannot both use it),
spends the account's other open links, sets the password, ends every sign-in of the
account and queues the 비밀번호 변경 notice. Spent and expired links are deleted a day after they
expire (`forget_links`, run by the retention job). No Flask in here; nothing commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from collections.abc import Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storefront import accounts
from storefront.accounts import sessions
from storefront.accounts.tokens import new_token, token_hash
from storefront.dml import execute_dml
from storefront.models import PasswordReset, User

VALID_FOR = timedelta(minutes=30)
MAX_LINKS_PER_HOUR = 3


class LinkInvalid(ValueError):
    """The link is unknown, used or expired."""


def request_reset(
    session: Session, email: str, *, now: datetime, notifier: Any, link_for: Callable[[str], str]
) -> list[int]:
    """Queue a reset link for the account of `email`, if there is one; return the outbox ids to deliver."""
    user = accounts.find_by_email(session, email)
    # No account, or a deleted one (billing/compliance/withdrawal.py).
    if user is None or user.email.endswith("@invalid"):
        return []
    recent = session.execute(
        select(func.count(PasswordReset.id)).where(
            PasswordReset.user_id == user.id, PasswordReset.created_at > now - timedelta(hours=1)
        )
    ).scalar_one()
    if recent >= MAX_LINKS_PER_HOUR:
        return []
    token, hashed = new_token()
    session.add(PasswordReset(user_id=user.id, token_hash=hashed, created_at=now, expires_at=now + VALID_FOR))
    rows = notifier.queue(
        session,
        user=user,
        kind="password_reset",
        dedup_key=f"password-reset:{hashed[:40]}",
        context={"reset_url": link_for(token), "expires_at": now + VALID_FOR},
        now=now,
    )
    return [row.id for row in rows]


def forget_links(session: Session, *, expired_before: datetime) -> int:
    """Delete links (used or not) that expired before `expired_before`; return how many.

    The retention job passes a day ago: `request_reset` counts the last hour's links, so a link
    must outlive its own hour before it goes.
    """
    result = execute_dml(
        session,
        delete(PasswordReset)
        .where(PasswordReset.expires_at < expired_before)
        .execution_options(synchronize_session=False),
    )
    return int(result.rowcount or 0)


def open_link(session: Session, token: str, *, now: datetime) -> PasswordReset:
    """The unused, unexpired link for `token`; raise LinkInvalid otherwise."""
    link = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token or "")))
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise LinkInvalid(token)
    return link


def reset_password(
    session: Session,
    token: str,
    password: str,
    *,
    now: datetime,
    notifier: Any,
    forgot_url: str,
    cheap_hash: bool = False,
) -> tuple[User, list[int]]:
    """Spend the link and set `password`; end every sign-in; return the user and the notice ids. Raise LinkInvalid."""
    link = open_link(session, token, now=now)
    spent = execute_dml(
        session,
        update(PasswordReset)
        .where(PasswordReset.id == link.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False),
    )
    if spent.rowcount != 1:
        raise LinkInvalid(token)
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == link.user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user = session.get_one(User, link.user_id)
    accounts.set_password(user, password, cheap_hash=cheap_hash)
    sessions.end_all(session, user.id)
    return user, password_changed_notice(
        session, user, now=now, notifier=notifier, forgot_url=forgot_url, ended_elsewhere=True
    )


def password_changed_notice(
    session: Session, user: User, *, now: datetime, notifier: Any, forgot_url: str, ended_elsewhere: bool
) -> list[int]:
    """Queue 비밀번호 변경 안내 (after a reset or a change); return the outbox ids."""
    rows = notifier.queue(
        session,
        user=user,
        kind="password_changed",
        dedup_key=f"password-changed:{user.id}:{now.isoformat()}",
        context={"changed_at": now, "reset_url": forgot_url, "ended_elsewhere": ended_elsewhere},
        now=now,
    )
    return [row.id for row in rows]
