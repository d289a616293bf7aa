"""Random tokens for links and cookies; the database keeps only their SHA-256 (a leaked table opens nothing)."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """(token, its hash): 256 random bits, URL-safe."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
