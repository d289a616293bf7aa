"""Device cookies (OWASP): a signed mark a browser gets when it signs in to an account.

The cookie holds the account's id and a random nonce, signed with SECRET_KEY. At the next
login to the *same* account it makes the browser "known": wrong passwords typed elsewhere
do not delay it (storefront/accounts/throttle.py counts its own under the nonce), and the
per-address limit does not apply to it. It opens nothing by itself: the password is still
checked. A new one is issued at every successful sign-in and after a password reset
(opening the emailed link proves the owner is at this browser).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from storefront.models import User

COOKIE = "sf_device"
MAX_AGE = timedelta(days=365)
_SALT = "storefront.device-cookie"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def issue(response: Response, user: User) -> None:
    """Mark this browser as one that signed in to `user`'s account."""
    value = _serializer().dumps({"u": user.id, "n": secrets.token_urlsafe(16)})
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(MAX_AGE.total_seconds()),
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def known_nonce(user: User | None) -> str | None:
    """The nonce of this browser's valid device cookie for `user`.

    None when there is no cookie, or it is for another account, forged or expired.
    """
    raw = request.cookies.get(COOKIE)
    if user is None or not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=int(MAX_AGE.total_seconds()))
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("u") != user.id or not isinstance(data.get("n"), str):
        return None
    return data["n"]
