"""The CSRF token a page embeds: Flask-WTF's, signed at most once a minute per browser session.

Flask-WTF signs the session's secret with a timestamp on every request that renders a form, and a
signed-in page always does (the nav's 로그아웃 form): a serializer built and two HMACs, about 3 % of
a signed-in page's CPU. The signed token depends only on the session's secret, the signing key and
the second it was signed, and stays good for WTF_CSRF_TIME_LIMIT (4 hours here). So a token signed
less than `REUSE_FOR` ago for the same secret and key is handed out again: a page's forms stay valid
for at least the time limit less that minute. Validation is Flask-WTF's own and unchanged; a new
session secret, a new key or a token past the minute is signed afresh by Flask-WTF.

It relies on what Flask-WTF documents of `generate_csrf`: the raw secret kept in the session and the
signed token in `g`, both under WTF_CSRF_FIELD_NAME. Putting the token in `g` first makes every form
of the request (`FlaskForm`, `csrf_input()`, `csrf_token()`) use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf

REUSE_FOR = 60.0  # seconds a signed token is handed out again
_KEPT = 4096  # signed tokens kept per process (one per recently seen session); past that, start over


class RecentTokens:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._signed: dict[tuple[str, str | bytes, str], tuple[str, float]] = {}

    def token(self) -> str:
        """This request's CSRF token (what `flask_wtf.csrf.generate_csrf()` returns)."""
        config = current_app.config
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        made = g.get(field)
        if made is not None:
            return made
        secret = session.get(field)
        key = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        if not isinstance(secret, str) or key is None:
            return generate_csrf()  # the session's first form: Flask-WTF makes its secret too
        now = self.clock()
        kept = self._signed.get((field, key, secret))
        if kept is not None and now - kept[1] < REUSE_FOR:
            setattr(g, field, kept[0])
            return kept[0]
        signed = generate_csrf()
        if len(self._signed) >= _KEPT:
            self._signed.clear()
        self._signed[(field, key, secret)] = (signed, now)
        return signed


def register(app: Flask) -> RecentTokens:
    """Make `csrf_token()` in templates (and `csrf_input()`, web/filters.py) hand out recent tokens."""
    tokens = RecentTokens()
    app.extensions["csrf_tokens"] = tokens
    # Flask-WTF offers its `generate_csrf` both ways, as a global and from a context processor; a later
    # context processor wins.
    app.jinja_env.globals["csrf_token"] = tokens.token
    app.context_processor(lambda: {"csrf_token": tokens.token})
    return tokens


def csrf_token() -> str:
    """The current request's CSRF token, through the app's `RecentTokens`."""
    tokens: RecentTokens | None = current_app.extensions.get("csrf_tokens")
    return tokens.token() if tokens is not None else generate_csrf()
