"""Sealing and opening billing keys (AES-256-GCM), with every opening audited.

A sealed value is ``nonce (12 bytes) || ciphertext || tag``, stored with the id of the
key that sealed it (`config.key_id`). The associated data binds it to its row
(``billing_key:<row id>:<user id>``), so a sealed value copied to another row will not
open. The plaintext exists only in the caller's stack frame while Toss is called;
it never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from storefront.config import key_id
from storefront.models import AuditLog, BillingKey

NONCE_BYTES = 12
ACTOR_TYPES = ("user", "admin", "worker")


def fingerprint(billing_key: str) -> str:
    """Hex SHA-256 of a billing key: finds its row (e.g. from a BILLING_DELETED webhook) without opening keys.

    Billing keys are long random strings issued by Toss, so the digest reveals nothing useful;
    it is not a secret, but it is never shown on a page either.
    """
    return hashlib.sha256(billing_key.encode()).hexdigest()


class VaultError(Exception):
    """A billing key could not be opened (wrong row, unknown key id, tampered, or destroyed)."""


@dataclass(frozen=True)
class Actor:
    """Who opens a billing key, and from where (an IP, or "worker")."""

    type: str
    id: int | None
    ip: str

    def __post_init__(self) -> None:
        if self.type not in ACTOR_TYPES:
            raise ValueError(f"unknown actor type {self.type!r}")

    @classmethod
    def worker(cls) -> Actor:
        return cls("worker", None, "worker")


class Vault:
    """Seals with the newest ENCRYPTION_KEY; opens with any key still listed in config."""

    def __init__(self, current_key: bytes, old_keys: tuple[bytes, ...] = ()) -> None:
        if len(current_key) != 32 or any(len(k) != 32 for k in old_keys):
            raise ValueError("AES-256 keys must be 32 bytes")
        self._current_id = key_id(current_key)
        self._keys = {key_id(k): AESGCM(k) for k in (*old_keys, current_key)}

    def __repr__(self) -> str:
        return f"<Vault current={self._current_id} keys={len(self._keys)}>"

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def seal(self, row: BillingKey, billing_key: str) -> None:
        """Seal `billing_key` into `row` under the current key, and set `row.fingerprint`.

        The row must have an id (flush first).
        """
        if row.id is None or row.user_id is None:
            raise VaultError("seal needs a flushed BillingKey row (id and user_id set)")
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._keys[self._current_id].encrypt(nonce, billing_key.encode(), _aad(row))
        row.sealed = nonce + ciphertext
        row.key_id = self._current_id
        row.fingerprint = fingerprint(billing_key)

    def open(
        self,
        session: Session,
        row: BillingKey,
        *,
        actor: Actor,
        reason: str,
        now: datetime,
        subscription_id: int | None = None,
        flush: bool = True,
    ) -> str:
        """Return the plaintext billing key, writing an AuditLog row first (flushed, not committed).

        `flush=False` leaves the row pending for a caller that flushes and commits it, with its
        own writes, before the key is used (the renewal charge: one flush instead of two).
        """
        session.add(
            AuditLog(
                at=now,
                actor_type=actor.type,
                actor_id=actor.id,
                action="open_billing_key",
                reason=reason[:200],
                ip=actor.ip[:64],
                billing_key_id=row.id,
                subscription_id=subscription_id,
            )
        )
        if flush:
            session.flush()
        return self._decrypt(row)

    def reseal(self, row: BillingKey) -> bool:
        """Re-seal `row` under the current key if it is under an older one; True if it changed.

        Used by `flask keys rotate`; not audited as an opening because the plaintext
        never leaves this method.
        """
        if row.sealed is None or row.key_id == self._current_id:
            return False
        self.seal(row, self._decrypt(row))
        return True

    def _decrypt(self, row: BillingKey) -> str:
        if row.sealed is None:
            raise VaultError(f"billing key {row.id} was destroyed")
        aes = self._keys.get(row.key_id or "")
        if aes is None:
            raise VaultError(f"billing key {row.id} is sealed under a key that is no longer configured")
        try:
            plain = aes.decrypt(row.sealed[:NONCE_BYTES], row.sealed[NONCE_BYTES:], _aad(row))
        except InvalidTag:
            raise VaultError(f"billing key {row.id} does not open (tampered or moved)") from None
        return plain.decode()


def destroy(row: BillingKey, *, now: datetime, reason: str) -> None:
    """Forget the sealed key locally (payment credentials are kept no longer than needed)."""
    row.sealed = None
    row.destroyed_at = now
    if row.deactivated_at is None:
        row.deactivated_at = now
        row.deactivated_reason = reason[:100]


def _aad(row: BillingKey) -> bytes:
    return f"billing_key:{row.id}:{row.user_id}".encode()
