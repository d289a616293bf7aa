"""회원탈퇴: a shopper closes their account; personal data goes, the records the law keeps stay.

This module owns what deleting an account does (약관 제4조). It is refused while a
subscription is live or a one-time payment is in progress: the shopper cancels first (내
구독 offers ending a paid period now with the unused days refunded). Otherwise the User row
is anonymised in place (name, email, phone, password, marketing consent), because the
payment, refund, consent, notice and audit rows that reference it must be kept for five
years (전자상거래법 제6조, 시행령 제6조); and every billing key still sealed is destroyed and
deleted at Toss (`cards.release_card_if_unused`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront import accounts
from storefront.accounts.sessions import SignedIn
from storefront.billing.wallet import cards
from storefront.billing.recurring import periods, statuses
from storefront.billing.recurring.subscriptions import ActionRefused
from storefront.billing.wallet.vault import Actor
from storefront.models import BillingKey, Order, Subscription, User

log = logging.getLogger(__name__)

DELETED_NAME = "탈퇴회원"
# Not an Argon2 hash: verifying any password against it fails (accounts._verify), so it never logs in.
UNUSABLE_PASSWORD_PREFIX = "!deleted:"


@dataclass(frozen=True)
class Withdrawal:
    user_id: int
    cards_released: int


def deleted_email(user_id: int) -> str:
    """The placeholder address of a deleted account (the `.invalid` TLD never delivers)."""
    return f"deleted-{user_id}@invalid"


def is_deleted(user: User | SignedIn) -> bool:
    return user.email == deleted_email(user.id)


def blocking_subscriptions(session: Session, user_id: int) -> list[Subscription]:
    """The user's subscriptions that must be canceled before the account can be deleted."""
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.user_id == user_id, Subscription.status.in_(statuses.NOT_ENDED))
            .order_by(Subscription.id)
        )
    )


def delete_account(
    session: Session, *, user: User, password: str, toss: Any, vault: Any, clock: Any, ip: str
) -> Withdrawal:
    """Delete `user`'s account after checking `password`. COMMITS, then releases the cards.

    Under the user's subscriptions' row locks: refuses (`ActionRefused`, nothing changed)
    for a wrong password, an admin account, a live subscription (incomplete, trialing,
    active — even when set to cancel at period end — or past_due) or a one-time order whose
    payment window is still open. Otherwise sets name ``탈퇴회원``, email
    ``deleted-<id>@invalid``, no phone, an unusable password hash and no marketing consent,
    and COMMITS. Charges, attempts, refunds, orders, consents, notices and audit rows are
    kept as they are (the law's five years). Then every sealed card of the user is
    destroyed and deleted at Toss, one commit each; a card left behind by a crash is caught
    by the `release_unused_cards` sweep. Calling it again for a deleted account is refused
    by the password check.
    """
    now = clock.now()
    if is_deleted(user) or accounts.authenticate(session, user.email, password or "") is None:
        session.rollback()
        raise ActionRefused("비밀번호가 올바르지 않습니다.")
    if user.is_admin:
        session.rollback()
        raise ActionRefused("관리자 계정은 탈퇴할 수 없습니다. 다른 관리자에게 권한 해제를 요청해 주세요.")
    for sub_id in session.scalars(select(Subscription.id).where(Subscription.user_id == user.id)).all():
        periods.lock_subscription(session, sub_id)  # a renewal or a checkout finishing waits, then is seen
    if blocking_subscriptions(session, user.id):
        session.rollback()
        raise ActionRefused(
            "이용 중인 구독이 있어 탈퇴할 수 없습니다. 내 구독에서 먼저 해지해 주세요. "
            "결제한 이용 기간이 남아 있으면 '바로 해지하고 환불받기'로 남은 기간의 요금을 돌려받을 수 있습니다."
        )
    if _open_order(session, user.id, now):
        session.rollback()
        raise ActionRefused("결제가 진행 중인 주문이 있습니다. 잠시 후 다시 시도해 주세요.")
    _anonymise(user)
    session.commit()
    log.info("user %s deleted their account", user.id)
    key_ids = list(
        session.scalars(select(BillingKey.id).where(BillingKey.user_id == user.id, BillingKey.sealed.is_not(None)))
    )
    released = sum(
        cards.release_card_if_unused(
            session,
            key_id,
            toss=toss,
            vault=vault,
            clock=clock,
            actor=Actor("user", user.id, ip),
            reason="member withdrawal",
        )
        for key_id in key_ids
    )
    return Withdrawal(user.id, released)


def _open_order(session: Session, user_id: int, now: Any) -> bool:
    return (
        session.scalar(
            select(Order.id).where(Order.user_id == user_id, Order.status == "pending", Order.expires_at > now).limit(1)
        )
        is not None
    )


def _anonymise(user: User) -> None:
    user.name = DELETED_NAME
    user.email = deleted_email(user.id)
    user.phone = None
    user.password_hash = UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(32)
    user.marketing_opt_in = False
