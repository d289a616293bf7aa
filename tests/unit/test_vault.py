from datetime import datetime, UTC

import pytest
from sqlalchemy import select

from storefront.billing.wallet.vault import Actor, Vault, VaultError, destroy
from storefront.models import AuditLog, BillingKey, User

NOW = datetime(2026, 3, 1, tzinfo=UTC)
KEY_A = bytes.fromhex("11" * 32)
KEY_B = bytes.fromhex("22" * 32)
BILLING_KEY = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0="


def _user(session, n: int) -> User:
    user = User(email=f"u{n}@example.com", password_hash="x", name="u", created_at=NOW)
    session.add(user)
    session.flush()
    return user


def _card(session, user: User) -> BillingKey:
    row = BillingKey(user_id=user.id, customer_key=user.customer_key, issued_at=NOW)
    session.add(row)
    session.flush()
    return row


def test_seal_then_open_returns_the_key_and_audits(db_session):
    vault = Vault(KEY_A)
    row = _card(db_session, _user(db_session, 1))
    vault.seal(row, BILLING_KEY)
    assert BILLING_KEY.encode() not in row.sealed
    opened = vault.open(db_session, row, actor=Actor.worker(), reason="renewal", now=NOW)
    assert opened == BILLING_KEY
    audit = db_session.scalars(select(AuditLog)).one()
    assert (audit.actor_type, audit.ip, audit.billing_key_id, audit.reason) == ("worker", "worker", row.id, "renewal")


def test_two_seals_of_the_same_key_differ(db_session):
    vault = Vault(KEY_A)
    row = _card(db_session, _user(db_session, 1))
    vault.seal(row, BILLING_KEY)
    first = row.sealed
    vault.seal(row, BILLING_KEY)
    assert first != row.sealed


def test_sealed_key_moved_to_another_row_does_not_open(db_session):
    vault = Vault(KEY_A)
    a = _card(db_session, _user(db_session, 1))
    b = _card(db_session, _user(db_session, 2))
    vault.seal(a, BILLING_KEY)
    b.sealed, b.key_id = a.sealed, a.key_id
    with pytest.raises(VaultError) as exc:
        vault.open(db_session, b, actor=Actor.worker(), reason="x", now=NOW)
    assert BILLING_KEY not in str(exc.value)


def test_rotation_reseals_and_old_key_can_then_be_removed(db_session):
    old = Vault(KEY_A)
    row = _card(db_session, _user(db_session, 1))
    old.seal(row, BILLING_KEY)
    rotating = Vault(KEY_B, (KEY_A,))
    assert rotating.reseal(row) is True
    assert rotating.reseal(row) is False
    only_new = Vault(KEY_B)
    assert only_new.open(db_session, row, actor=Actor.worker(), reason="x", now=NOW) == BILLING_KEY
    with pytest.raises(VaultError):
        old.open(db_session, row, actor=Actor.worker(), reason="x", now=NOW)


def test_destroyed_key_never_opens(db_session):
    vault = Vault(KEY_A)
    row = _card(db_session, _user(db_session, 1))
    vault.seal(row, BILLING_KEY)
    destroy(row, now=NOW, reason="subscription ended")
    with pytest.raises(VaultError):
        vault.open(db_session, row, actor=Actor.worker(), reason="x", now=NOW)


def test_vault_repr_holds_no_key_material():
    assert "11" * 8 not in repr(Vault(KEY_A))
