"""Cards: turning Toss's one-time authKey into a sealed billing key, and forgetting keys nobody needs.

`exchange_auth_key` is the only network step (``POST /v1/billing/authorizations/issue``);
`store_card` writes the BillingKey row, seals the key (AES-256-GCM, `vault.Vault`) and
audits the registration; the plaintext key never leaves those two calls' frames and is
never stored, logged or put in an exception message. `release_card_if_unused` and
`release_unused_cards` destroy the sealed key of a card no live subscription uses and ask
Toss to delete it (best effort), as the privacy rules ask: payment credentials are kept no
longer than needed. `registration_failure_message` gives the plain-Korean reason for a
failed card registration (Toss's failUrl ``code``, or an error from the exchange).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from storefront.billing.recurring import statuses
from storefront.billing.errors import MESSAGES, BillingError
from storefront.billing.wallet.vault import Actor, Vault, VaultError, destroy
from storefront.models import AuditLog, BillingKey, Subscription, User
from storefront.toss.errors import Category, TossError, categorize
from storefront.toss.types import Billing

log = logging.getLogger(__name__)

_REGISTRATION_MESSAGES: dict[str, str] = {
    "PAY_PROCESS_CANCELED": "카드 등록을 취소하셨습니다. 결제는 이루어지지 않았습니다.",
    "USER_CANCEL": "카드 등록을 취소하셨습니다. 결제는 이루어지지 않았습니다.",
    "PAY_PROCESS_ABORTED": "카드 등록이 중간에 중단되었습니다. 결제는 이루어지지 않았습니다.",
    "NOT_SUPPORTED_CARD_TYPE": "자동결제(정기결제)를 지원하지 않는 카드입니다. "
    "다른 신용카드나 체크카드로 등록해 주세요.",
    "REJECT_CARD_COMPANY": "카드사에서 카드 등록을 거절했습니다. 다른 카드로 시도하시거나 카드사에 문의해 주세요.",
    "INVALID_CARD_NUMBER": "카드 번호가 올바르지 않습니다. 번호를 확인한 뒤 다시 등록해 주세요.",
    "INVALID_CARD_IDENTITY": "카드 소유자 정보(생년월일 또는 사업자등록번호)가 카드사 정보와 다릅니다.",
    "INVALID_BIRTH_DAY_FORMAT": "생년월일 6자리(YYMMDD)를 확인해 주세요.",
    "INVALID_BILLING_AUTH": "카드 인증 정보가 만료되었거나 이미 사용되었습니다. "
    "카드 등록을 처음부터 다시 진행해 주세요.",
    "NOT_REGISTERED_CARD_COMPANY": "등록할 수 없는 카드사입니다. 다른 카드로 시도해 주세요.",
}
_REGISTRATION_DEFAULT = "카드 등록을 완료하지 못했습니다. 잠시 후 다시 시도해 주세요."
_REGISTRATION_BY_CATEGORY: dict[Category, str] = {
    Category.TRANSIENT: "카드사 또는 결제대행사의 일시적인 오류로 카드를 "
    "등록하지 못했습니다. 잠시 후 다시 시도해 주세요.",
    Category.CONFIG: "상점의 결제 설정 문제로 카드를 등록하지 못했습니다. 고객센터로 알려 주시면 바로 확인하겠습니다.",
    Category.UNKNOWN_OUTCOME: "카드 등록 결과를 확인하지 못했습니다. 결제는 이루어지지 않았으니 다시 시도해 주세요.",
}


class CardRegistrationFailed(BillingError):
    """Toss did not give a billing key for the authKey; `message` is plain Korean for the shopper."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"card registration failed: {code}")


def registration_failure_message(code: str | None, category: Category | None = None) -> str:
    """The plain-Korean reason a card registration failed, by Toss code, else by category."""
    if code and code in _REGISTRATION_MESSAGES:
        return _REGISTRATION_MESSAGES[code]
    if code and code in MESSAGES:
        return MESSAGES[code]
    return _REGISTRATION_BY_CATEGORY.get(category, _REGISTRATION_DEFAULT) if category else _REGISTRATION_DEFAULT


def registration_failure_reason(code: str | None) -> str:
    """The plain-Korean reason for the ``code`` Toss's failUrl carries (empty or missing: the default)."""
    return registration_failure_message(code or None, categorize(code) if code else None)


def exchange_auth_key(toss: Any, *, auth_key: str, customer_key: str, idempotency_key: str) -> Billing:
    """Exchange the one-time authKey for a billing key (Toss keeps no way to look it up later).

    Sends `idempotency_key` (derive it from the checkout intent, so a repeat of this call
    gets Toss's first answer back). An unknown outcome or a transient error is asked once
    more with the same key. Raises `CardRegistrationFailed` (plain Korean) for any other
    failure, and when Toss answers for another customerKey. Touches no database.
    """
    billing: Billing | None = None
    for attempt in (1, 2):
        try:
            billing = toss.issue_billing_key(auth_key, customer_key, idempotency_key=idempotency_key)
            break
        except TossError as exc:
            retry = exc.category in (Category.UNKNOWN_OUTCOME, Category.TRANSIENT) and attempt == 1
            if exc.category is Category.CONFIG:
                log.error("ALERT billing key issue refused for a configuration reason: %s", exc.code)
            if not retry:
                raise CardRegistrationFailed(exc.code, registration_failure_message(exc.code, exc.category)) from None
            log.warning("billing key issue: %s; asking again with the same idempotency key", exc.code)
    assert billing is not None
    if billing.customer_key != customer_key:
        log.error("billing key issued for another customerKey; not stored")
        raise CardRegistrationFailed("CUSTOMER_KEY_MISMATCH", _REGISTRATION_DEFAULT)
    return billing


def store_card(
    session: Session, *, user: User, billing: Billing, vault: Vault, actor: Actor, now: datetime
) -> BillingKey:
    """Add a BillingKey row for `billing`, seal the key into it and audit the registration.

    Flushes (the seal needs the row id), never commits. Only the sealed bytes, the key id,
    the fingerprint and the masked card details are stored; `billing.billing_key` itself
    is not kept anywhere.
    """
    card = billing.card
    row = BillingKey(
        user_id=user.id,
        customer_key=billing.customer_key,
        issued_at=now,
        card_company=(card.company if card else "")[:40],
        card_number_masked=(card.number if card else "")[:32],
        card_type=((card.card_type or "") if card else "")[:10],
        owner_type=((card.owner_type or "") if card else "")[:10],
    )
    session.add(row)
    session.flush()
    vault.seal(row, billing.billing_key)
    session.add(
        AuditLog(
            at=now,
            actor_type=actor.type,
            actor_id=actor.id,
            action="register_billing_key",
            reason="card registered through the Toss billing window",
            ip=actor.ip[:64],
            billing_key_id=row.id,
        )
    )
    session.flush()
    return row


def card_label(row: BillingKey | None) -> str:
    """'현대 43301234****123*' for a page or a notice; never more than the masked number."""
    if row is None:
        return "등록된 카드 없음"
    return row.label or "등록된 카드"


def in_use(session: Session, billing_key_id: int) -> bool:
    """True while a live subscription (see statuses.NOT_ENDED) charges, or may charge, this card."""
    query = select(
        exists().where(Subscription.billing_key_id == billing_key_id, Subscription.status.in_(statuses.NOT_ENDED))
    )
    return bool(session.scalar(query))


def release_card_if_unused(
    session: Session,
    billing_key_id: int | None,
    *,
    toss: Any,
    vault: Vault,
    clock: Any,
    actor: Actor = Actor.worker(),
    reason: str = "no live subscription uses this card",
) -> bool:
    """Destroy a card's sealed key when no live subscription uses it, then delete it at Toss; True if destroyed.

    Call it after the transaction that ended a subscription (or replaced its card) has
    committed: the engine when it ends a subscription (canceled at period end, unpaid after
    dunning), and the self-service flows after a cancellation or a card change. A card a
    live subscription still uses (a cancellation at period end keeps it, so resuming needs
    no new card) is left alone, as is one already destroyed: calling this twice is harmless.

    Steps: open the key (an AuditLog row, as every opening), destroy the sealed bytes
    locally (the row stays, with ``destroyed_at``, for the charges that reference it),
    COMMIT, then ask Toss to delete the key, best effort: its answer, or an error, changes
    nothing here. A key that no longer opens (its ENCRYPTION_KEY was removed) is destroyed
    locally only.
    """
    if billing_key_id is None:
        return False
    row = session.get(BillingKey, billing_key_id)
    if row is None or row.sealed is None or in_use(session, billing_key_id):
        return False
    now = clock.now()
    try:
        plaintext: str | None = vault.open(session, row, actor=actor, reason=f"delete at Toss: {reason}"[:200], now=now)
    except VaultError as exc:
        log.warning("billing key %s does not open (%s); destroyed locally only", row.id, type(exc).__name__)
        plaintext = None
    destroy(row, now=now, reason=reason)
    session.commit()
    if plaintext is not None:
        _delete_at_toss(toss, plaintext, row.id)
    return True


def release_unused_cards(session: Session, *, toss: Any, vault: Vault, clock: Any, limit: int | None = None) -> int:
    """The sweep: `release_card_if_unused` for every sealed key no live subscription uses; returns how many.

    For a timer or `flask keys purge-unused`, in case a caller ended a subscription without
    releasing its card. One transaction per card.
    """
    live = select(Subscription.id).where(
        Subscription.billing_key_id == BillingKey.id, Subscription.status.in_(statuses.NOT_ENDED)
    )
    query = select(BillingKey.id).where(BillingKey.sealed.is_not(None), ~live.exists()).order_by(BillingKey.id)
    ids = list(session.scalars(query.limit(limit) if limit is not None else query))
    session.commit()
    return sum(release_card_if_unused(session, key_id, toss=toss, vault=vault, clock=clock) for key_id in ids)


def _delete_at_toss(toss: Any, plaintext: str, row_id: int) -> None:
    try:
        deleted = toss.delete_billing_key(plaintext)
    except Exception as exc:  # noqa: BLE001 - best effort; the key is already gone on our side
        log.warning("billing key %s: delete at Toss raised %s", row_id, type(exc).__name__)
        return
    if deleted is False:
        log.warning("billing key %s: Toss did not confirm the delete; destroyed locally", row_id)
