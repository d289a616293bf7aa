"""Sign-up confirmed by email: the same answer for a new and a known address, and no account until the link is opened.

`apply` takes the form's answers and always does the same work (the password is hashed either
way): for a new address it records a `SignupRequest` and queues the 가입 확인 link; for a known
one it creates nothing and tells the address's owner by email (signup_existing, at most once
an hour). The page that follows is the same in both cases, so sign-up cannot tell anyone which
addresses are registered.

The account is created by `confirm`, when the link is opened: in the browser that filled in the
form (it holds the nonce whose hash is `browser_hash`) at once; anywhere else only after the
password chosen in the form is typed again (`password_matches`), so a link opened by a mail
scanner, or a sign-up someone else started with your address, creates nothing you didn't ask for.
Links are valid `VALID_FOR`, usable once, at most `MAX_LINKS_PER_DAY` per address; a request
whose link expired is deleted by the next sign-up or the daily retention job (`forget_lapsed`),
whichever comes first. No Flask in here; nothing commits.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from collections.abc import Callable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from storefront import accounts
from storefront.accounts.tokens import new_token, token_hash
from storefront.dml import execute_dml
from storefront.models import SignupRequest, User

VALID_FOR = timedelta(hours=24)
MAX_LINKS_PER_DAY = 5


class LinkInvalid(ValueError):
    """The link is unknown, used or expired."""


class AlreadyRegistered(ValueError):
    """The address got an account (through another link) before this one was opened."""


@dataclass(frozen=True)
class Application:
    """What the sign-up form collected."""

    email: str
    password: str
    name: str
    phone: str | None
    marketing_opt_in: bool
    next_url: str


@dataclass(frozen=True)
class Recipient:
    """Who a 가입 확인 email goes to before any User exists (what the notifier reads from a user)."""

    email: str
    name: str
    id: None = None
    phone: None = None


@dataclass(frozen=True)
class Links:
    """Absolute URLs for the emails (the web layer knows the routes)."""

    confirm_for: Callable[[str], str]
    login: str
    forgot: str


def apply(
    session: Session,
    application: Application,
    *,
    browser_nonce: str,
    now: datetime,
    notifier: Any,
    links: Links,
    cheap_hash: bool = False,
) -> list[int]:
    """Start a sign-up (or tell a known address's owner); return the outbox ids to deliver."""
    password_hash = accounts.hasher(cheap_hash).hash(application.password)  # hashed in both cases: same time
    email = accounts.normalize_email(application.email)
    session.execute(
        delete(SignupRequest).where(SignupRequest.expires_at <= now).execution_options(synchronize_session=False)
    )
    user = accounts.find_by_email(session, email)
    if user is not None:
        return _tell_owner(session, user, now=now, notifier=notifier, links=links)
    recent = session.execute(select(func.count(SignupRequest.id)).where(SignupRequest.email == email)).scalar_one()
    if recent >= MAX_LINKS_PER_DAY:
        return []
    token, hashed = new_token()
    session.add(
        SignupRequest(
            token_hash=hashed,
            browser_hash=token_hash(browser_nonce),
            email=email,
            name=application.name.strip(),
            phone=accounts.normalize_mobile(application.phone),
            password_hash=password_hash,
            marketing_opt_in=application.marketing_opt_in,
            next_url=application.next_url[:500],
            created_at=now,
            expires_at=now + VALID_FOR,
        )
    )
    rows = notifier.queue(
        session,
        user=Recipient(email=email, name=application.name.strip()),
        kind="signup_confirm",
        dedup_key=f"signup-confirm:{hashed[:40]}",
        context={"confirm_url": links.confirm_for(token), "expires_at": now + VALID_FOR},
        now=now,
    )
    return [row.id for row in rows]


def _tell_owner(session: Session, user: User, *, now: datetime, notifier: Any, links: Links) -> list[int]:
    if user.email.endswith("@invalid"):  # a deleted account's placeholder (billing/compliance/withdrawal.py): no inbox
        return []
    rows = notifier.queue(
        session,
        user=user,
        kind="signup_existing",
        dedup_key=f"signup-existing:{user.id}:{now:%Y%m%d%H}",
        context={"login_url": links.login, "reset_url": links.forgot},
        now=now,
    )
    return [row.id for row in rows]


def forget_lapsed(session: Session, *, now: datetime) -> int:
    """Delete sign-ups whose link has expired or was used (name, phone, password hash go); return how many."""
    result = execute_dml(
        session,
        delete(SignupRequest)
        .where(or_(SignupRequest.expires_at <= now, SignupRequest.confirmed_at.is_not(None)))
        .execution_options(synchronize_session=False),
    )
    return int(result.rowcount or 0)


def open_request(session: Session, token: str, *, now: datetime) -> SignupRequest:
    """The pending sign-up of `token`; raise LinkInvalid for an unknown, used or expired link."""
    found = session.scalar(select(SignupRequest).where(SignupRequest.token_hash == token_hash(token or "")))
    if found is None or found.confirmed_at is not None or found.expires_at <= now:
        raise LinkInvalid(token)
    return found


def from_this_browser(pending: SignupRequest, browser_nonce: str | None) -> bool:
    if not browser_nonce:
        return False
    return hmac.compare_digest(pending.browser_hash, token_hash(browser_nonce))


def password_matches(pending: SignupRequest, password: str) -> bool:
    return accounts.check_password_hash(pending.password_hash, password)


def confirm(session: Session, pending: SignupRequest, *, now: datetime) -> User:
    """Spend the link and create the account from it. Raise LinkInvalid (spent meanwhile) or AlreadyRegistered."""
    spent = execute_dml(
        session,
        update(SignupRequest)
        .where(SignupRequest.id == pending.id, SignupRequest.confirmed_at.is_(None))
        .values(confirmed_at=now)
        .execution_options(synchronize_session=False),
    )
    if spent.rowcount != 1:
        raise LinkInvalid(pending.id)
    try:
        user = accounts.add_user(
            session,
            email=pending.email,
            password_hash=pending.password_hash,
            name=pending.name,
            phone=pending.phone,
            marketing_opt_in=pending.marketing_opt_in,
            now=now,
        )
    except accounts.EmailTaken:
        raise AlreadyRegistered(pending.email) from None
    # The account holds what the request held: no copy of the password hash or number stays behind.
    session.execute(
        delete(SignupRequest).where(SignupRequest.email == pending.email).execution_options(synchronize_session=False)
    )
    return user
