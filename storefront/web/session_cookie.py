"""Flask's signed cookie session, with its signing serializer built once per key set.

Flask builds a new `URLSafeTimedSerializer` (and its signer's settings) on every request that
opens or saves the session: about 1 % of a signed-in page's CPU. The serializer holds nothing
but its keys and settings, so it is kept per (fallback keys, secret key) and built again only
when those change. Everything else, the cookie format included, is Flask's own.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CookieSessions(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # itsdangerous signs with the last key and accepts any of them, as Flask orders them.
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        return self._serializer(keys)

    @lru_cache(maxsize=8)  # noqa: B019 - one interface per app, kept as long as the app
    def _serializer(self, keys: tuple[str | bytes, ...]) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            list(keys),  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )


def register(app: Flask) -> None:
    app.session_interface = CookieSessions()
