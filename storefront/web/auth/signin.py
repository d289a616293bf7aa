"""Flask-Login over server-side sign-ins (storefront.accounts.sessions): sign in, sign out, load the user.

Every place that signs someone in or out goes through here, so a session cookie is always
backed by a `UserSession` row and logging out really ends it.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user, login_user, logout_user

from storefront.accounts import sessions
from storefront.extensions import db, services
from storefront.models import User


def sign_in(user: User) -> None:
    """Open a sign-in for `user` (committed) and put it in this browser's session."""
    sessions.start(db.session(), user, now=services().clock.now())
    db.session.commit()
    login_user(user)


def sign_out(*, everywhere: bool = False) -> None:
    """End this browser's sign-in (or all of the account's) on the server, then forget it here."""
    if current_user.is_authenticated:
        if everywhere:
            sessions.end_all(db.session(), current_user.id)
        else:
            sessions.end(db.session(), current_user)
        db.session.commit()
    logout_user()


def load_user(identifier: str) -> sessions.SignedIn | None:
    """Flask-Login's user loader: who an open sign-in belongs to, never a deleted account.

    `current_user` is then a `sessions.SignedIn` (id, email, name, phone, customer_key, is_admin), not
    the ORM `User`: what changes the account or passes it to the domain takes `account_user()`.
    """
    from storefront.billing.compliance.withdrawal import is_deleted

    user = sessions.load(db.session(), identifier, now=services().clock.now())
    return None if user is None or is_deleted(user) else user  # a deleted account's other sessions end


def account_user() -> User:
    """The signed-in account's `User` row (in this request's session), for the domain and for changes.

    On the request that signs in, `current_user` is that row already; on later ones it is a
    `sessions.SignedIn` and the row is read by primary key (from the session's identity map after
    the first call).
    """
    if not current_user.is_authenticated:
        abort(401)
    user = db.session.get(User, current_user.id)
    if user is None:  # deleted since this request's sign-in check
        abort(401)
    user.session_token = current_user.session_token
    return user
