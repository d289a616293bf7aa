"""The storefront's tables: catalog, accounts, cards, subscriptions and the money trail.

SQLAlchemy 2.0 typed models. Money is an integer number of won (`*_won`); times are
UTC (`*_at`) and always set by the caller from a clock, never by a Python-side
default, so tests can move time. Every state change of money is a row.
"""

from __future__ import annotations

import uuid
from datetime import UTC as UTC_ZONE  # the name UTC is the column type below
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sqlalchemy.types import TypeDecorator

from storefront.extensions import Model


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which drops the zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; take the time from a clock")
        return value.astimezone(UTC_ZONE)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC_ZONE)
        return value.astimezone(UTC_ZONE)

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return _utc_from_sqlite_text
        return super().result_processor(dialect, coltype)


def _utc_from_sqlite_text(value: str | None) -> datetime | None:
    """SQLite keeps the UTC wall time as text (``2026-12-03 07:08:09.123456``): parsed with its zone in one
    step. The same result as parsing and then `replace(tzinfo=...)`, which costs six times the parse and
    ran for every time column of every row read (a payment row has three)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text that carries its own offset
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC_ZONE)
    if parsed.tzinfo is None:  # a bare date: Python drops an offset after one
        return parsed.replace(tzinfo=UTC_ZONE)
    return parsed


UTC = UTCDateTime()


def new_customer_key() -> str:
    """A random, unguessable Toss customerKey (uuid4), never derived from user data."""
    return str(uuid.uuid4())


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    customer_key: Mapped[str] = mapped_column(String(50), unique=True, default=new_customer_key)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTC)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="user")

    # The sign-in this object was loaded for (set by storefront.accounts.sessions; not a column).
    # Declared for mypy only: an annotation without Mapped[] in the class body would be refused by
    # SQLAlchemy's declarative scan.
    if TYPE_CHECKING:
        session_token: str | None
    session_token = None

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and remember cookies: the user and the sign-in's token."""
        return f"{self.id}:{self.session_token}" if self.session_token else str(self.id)


class UserSession(Model):
    """One signed-in browser. Its cookie carries the token; deleting the row ends that sign-in at once.

    Logout deletes the row; a password change deletes the account's other rows; a password reset,
    account deletion and the admin's 세션 종료 delete them all. Only a hash of the token is stored.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC)
    expires_at: Mapped[datetime] = mapped_column(UTC, index=True)  # retention deletes by it


class LoginThrottle(Model):
    """Recent wrong passwords under one key (an account tried from unknown browsers, or one device cookie).

    `key` is a SHA-256 of the scope and value, so no address or email is stored. See
    storefront/accounts/throttle.py for the delays these counts impose.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTC, index=True)


class PasswordReset(Model):
    """A 비밀번호 찾기 link: single use, valid 30 minutes; only a hash of its token is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC)
    expires_at: Mapped[datetime] = mapped_column(UTC, index=True)  # retention deletes by it
    used_at: Mapped[datetime | None] = mapped_column(UTC)


class SignupRequest(Model):
    """A sign-up waiting for its email link: no User exists until the address's owner opens it.

    `browser_hash` names the browser that filled in the form (a nonce kept in its session):
    that browser is signed in when the link is opened in it; anywhere else the password is asked.
    """

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    next_url: Mapped[str] = mapped_column(String(500), default="/")
    created_at: Mapped[datetime] = mapped_column(UTC)
    expires_at: Mapped[datetime] = mapped_column(UTC, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTC)


class Category(Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    products: Mapped[list[Product]] = relationship(back_populates="category", order_by="Product.position")


class Product(Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # subscription | one_time
    summary: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    provision: Mapped[str] = mapped_column(Text, default="")  # how and when the service is provided
    # After paying: how to start using it (the result page, the order page, the receipt email).
    getting_started: Mapped[str] = mapped_column(Text, default="")
    # 청약철회 (billing/compliance/cooling_off.py): the window in days after the payment day (the law's
    # minimum is 7), and, when the product is digital content whose 청약철회 is limited once its provision has begun
    # (전자상거래법 제17조②5), what counts as that beginning. Empty: no limit; a full refund in the window.
    cooling_off_days: Mapped[int] = mapped_column(Integer, default=7)
    cooling_off_exclusion: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(255), default="")  # path under static/
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    category: Mapped[Category] = relationship(back_populates="products")
    plans: Mapped[list[Plan]] = relationship(back_populates="product", order_by="Plan.position")

    @property
    def active_plans(self) -> list[Plan]:
        return [p for p in self.plans if p.active]


class Plan(Model):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    interval: Mapped[str] = mapped_column(String(10))  # month | year | once
    amount_won: Mapped[int] = mapped_column(Integer)  # VAT included
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="plans")


class CatalogVersion(Model):
    """One row, bumped in the same transaction as any change to a category, product or plan.

    Every web process caches the shop's catalog pages (storefront/web/catalog_cache.py) and reads
    this number once per page view: a committed admin edit shows on the next view in every worker.
    """

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class BillingKey(Model):
    """A card registered through Toss. The billing key itself is only ever stored sealed."""

    __tablename__ = "billing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_key: Mapped[str] = mapped_column(String(50))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # nonce || ciphertext+tag; None once destroyed
    key_id: Mapped[str | None] = mapped_column(String(32))  # which ENCRYPTION_KEY sealed it
    card_company: Mapped[str] = mapped_column(String(40), default="")
    card_number_masked: Mapped[str] = mapped_column(String(32), default="")
    card_type: Mapped[str] = mapped_column(String(10), default="")
    owner_type: Mapped[str] = mapped_column(String(10), default="")
    issued_at: Mapped[datetime] = mapped_column(UTC)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTC)
    deactivated_reason: Mapped[str | None] = mapped_column(String(100))
    destroyed_at: Mapped[datetime | None] = mapped_column(UTC)
    # hex SHA-256 of the billing key, set by Vault.seal: finds the row a BILLING_DELETED webhook names
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # Toss reported the key deleted (an unauthenticated hint): ask the shopper for a new card
    needs_update_at: Mapped[datetime | None] = mapped_column(UTC)

    user: Mapped[User] = relationship()

    @property
    def label(self) -> str:
        return f"{self.card_company} {self.card_number_masked}".strip()


class Subscription(Model):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_due", "status", "next_charge_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    billing_key_id: Mapped[int | None] = mapped_column(ForeignKey("billing_keys.id"))
    # incomplete | trialing | active | past_due | canceled | unpaid
    status: Mapped[str] = mapped_column(String(20))
    amount_won: Mapped[int] = mapped_column(Integer)  # the price the shopper agreed to pay
    anchor_day: Mapped[int] = mapped_column(Integer)  # day of month renewals fall on (KST)
    current_period_start: Mapped[datetime | None] = mapped_column(UTC)
    current_period_end: Mapped[datetime | None] = mapped_column(UTC)
    next_charge_at: Mapped[datetime | None] = mapped_column(UTC)
    trial_end_at: Mapped[datetime | None] = mapped_column(UTC)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTC)
    ended_at: Mapped[datetime | None] = mapped_column(UTC)
    ended_reason: Mapped[str | None] = mapped_column(String(100))
    pending_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    created_at: Mapped[datetime] = mapped_column(UTC)
    # The renewal (its next_charge_at) the last renewal notice was about, and how many days ahead it was
    # sent: the notice sweep picks only subscriptions still owed one (billing/compliance/notices.py).
    renewal_notice_for_at: Mapped[datetime | None] = mapped_column(UTC)
    renewal_notice_days: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship(back_populates="subscriptions")
    plan: Mapped[Plan] = relationship(foreign_keys=[plan_id])
    pending_plan: Mapped[Plan | None] = relationship(foreign_keys=[pending_plan_id])
    billing_key: Mapped[BillingKey | None] = relationship()
    charges: Mapped[list[Charge]] = relationship(back_populates="subscription", order_by="Charge.period_start")


class Charge(Model):
    """What is owed for one subscription period; at most one per period, amount fixed at creation."""

    __tablename__ = "charges"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start", name="uq_charges_subscription_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    period_start: Mapped[datetime] = mapped_column(UTC)
    period_end: Mapped[datetime] = mapped_column(UTC)
    amount_won: Mapped[int] = mapped_column(Integer)
    # pending | paid | failed | canceled | refunded
    status: Mapped[str] = mapped_column(String(20))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(512))
    retry_count: Mapped[int] = mapped_column(Integer, default=0)  # declines so far
    next_retry_at: Mapped[datetime | None] = mapped_column(UTC)  # None after a hard decline: wait for a new card
    # the first decline: the dunning schedule (DUNNING_RETRY_DAYS) counts from here
    first_failed_at: Mapped[datetime | None] = mapped_column(UTC)
    paid_at: Mapped[datetime | None] = mapped_column(UTC)
    created_at: Mapped[datetime] = mapped_column(UTC)

    subscription: Mapped[Subscription] = relationship(back_populates="charges")
    attempts: Mapped[list[Attempt]] = relationship(back_populates="charge", order_by="Attempt.id")


class Attempt(Model):
    """One call to Toss that may move money; committed before the call is made."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)
    # A one-time order's confirm (charge_id NULL). `order_id` below is Toss's orderId string, hence `_pk`.
    order_pk: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    billing_key_id: Mapped[int | None] = mapped_column(ForeignKey("billing_keys.id"))
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(300))
    amount_won: Mapped[int] = mapped_column(Integer)
    # sending | done | failed | unknown
    status: Mapped[str] = mapped_column(String(20), index=True)
    payment_key: Mapped[str | None] = mapped_column(String(200))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(512))
    receipt_url: Mapped[str | None] = mapped_column(String(500))
    card_summary: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(UTC)
    raw_response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTC)
    updated_at: Mapped[datetime] = mapped_column(UTC)

    charge: Mapped[Charge | None] = relationship(back_populates="attempts")
    order: Mapped[Order | None] = relationship(back_populates="attempts")
    refunds: Mapped[list[Refund]] = relationship(back_populates="attempt", order_by="Refund.id")


class Refund(Model):
    """A refund (Toss cancel) of a paid Attempt; committed as 'sending' before Toss is called."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    amount_won: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # sending | done | failed | unknown
    transaction_key: Mapped[str | None] = mapped_column(String(64))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTC)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(512))
    settled_at: Mapped[datetime | None] = mapped_column(UTC)  # when it became done or failed

    attempt: Mapped[Attempt] = relationship(back_populates="refunds")
    requested_by: Mapped[User | None] = relationship()


class AuditLog(Model):
    """Append-only record of every opening of a billing key, admin view of personal data and admin action
    on a customer (kept at least two years)."""

    __tablename__ = "audit_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC, index=True)
    actor_type: Mapped[str] = mapped_column(String(10))  # user | admin | worker
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64))
    billing_key_id: Mapped[int | None] = mapped_column(ForeignKey("billing_keys.id"))
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    # The customer whose data or subscription the row is about (admin views and actions), for the
    # audit page's "which customer" filter; rows about a card or a subscription are found through those too.
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Consent(Model):
    """A consent given or refused, with what was shown: checkout terms, auto-renewal, price rise, trial conversion."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    kind: Mapped[str] = mapped_column(
        String(30)
    )  # terms | auto_renewal | price_increase | trial_conversion | order_terms
    decision: Mapped[str] = mapped_column(String(10))  # agreed | refused
    text_version: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")  # JSON: amounts, dates shown
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTC)


class PriceChange(Model):
    """A rise in what one subscription pays (a plan price, the end of a discount, a trial's first paid period).

    It is charged only with the shopper's separate consent given within the 30 days before
    `effective_at` (the renewal it applies to); see billing/compliance/consent.py. `token` is the
    unguessable part of the consent page's address.
    """

    __tablename__ = "price_changes"
    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "kind", "effective_at", name="uq_price_changes_subscription_kind_effective"
        ),
        Index("ix_price_changes_due", "status", "effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # price_increase | trial_conversion
    reason: Mapped[str] = mapped_column(String(20))  # plan_price | discount_end | trial
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    old_amount_won: Mapped[int] = mapped_column(Integer)
    new_amount_won: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(UTC)  # the renewal charged at the new amount
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # pending | agreed | refused | lapsed (no answer by the date) | applied (charged at the new amount)
    status: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime | None] = mapped_column(UTC)  # the first consent request
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    notice_sent_at: Mapped[datetime | None] = mapped_column(UTC)  # trial conversions: the 7-day advance notice
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))  # the answer that decided it
    decided_at: Mapped[datetime | None] = mapped_column(UTC)
    applied_at: Mapped[datetime | None] = mapped_column(UTC)
    created_at: Mapped[datetime] = mapped_column(UTC)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the admin who applied it

    subscription: Mapped[Subscription] = relationship()
    plan: Mapped[Plan | None] = relationship()
    consent: Mapped[Consent | None] = relationship()


class CheckoutIntent(Model):
    """What the shopper saw and agreed to before Toss's window opened; the success handler charges this."""

    __tablename__ = "checkout_intents"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # subscribe | change_card
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    amount_won: Mapped[int] = mapped_column(Integer, default=0)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    created_at: Mapped[datetime] = mapped_column(UTC)
    expires_at: Mapped[datetime] = mapped_column(UTC)
    used_at: Mapped[datetime | None] = mapped_column(UTC)
    auth_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # refuses a replayed authKey


class Order(Model):
    """A one-time purchase of a plan with interval 'once', paid through Toss's payment window.

    `order_id` is the orderId sent to Toss ([A-Za-z0-9_-]{6,64}, random, unique); `amount_won`
    is copied from the plan when the order is created and never changes. The money trail is
    the order's Attempt (the confirm call, ``charge_id`` NULL), so admin refunds and the
    webhook handler work on one-time payments as on renewals. `payment_key`/`receipt_url`
    repeat the paid Attempt's values for the order pages.
    """

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_expires_at", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    order_name: Mapped[str] = mapped_column(String(100))  # what Toss's window and the card statement show
    amount_won: Mapped[int] = mapped_column(Integer)  # VAT included, fixed at creation
    # pending | paid | failed | canceled (paid, then refunded in full) | expired (not paid within 30 minutes)
    status: Mapped[str] = mapped_column(String(20))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    payment_key: Mapped[str | None] = mapped_column(String(200))
    receipt_url: Mapped[str | None] = mapped_column(String(500))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(512))  # plain Korean, shown to the shopper
    created_at: Mapped[datetime] = mapped_column(UTC)
    expires_at: Mapped[datetime] = mapped_column(UTC)  # created_at + 30 minutes
    paid_at: Mapped[datetime | None] = mapped_column(UTC)
    closed_at: Mapped[datetime | None] = mapped_column(UTC)  # when it became failed, expired or canceled

    user: Mapped[User] = relationship()
    plan: Mapped[Plan] = relationship()
    consent: Mapped[Consent | None] = relationship()
    attempts: Mapped[list[Attempt]] = relationship(back_populates="order", order_by="Attempt.id")


class WebhookEvent(Model):
    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    transmission_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # received | processed | ignored | error
    note: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(UTC)
    processed_at: Mapped[datetime | None] = mapped_column(UTC)


class EmailMessage(Model):
    """The outbox: every notice (email or SMS) as a row; `dedup_key` makes one event one message."""

    __tablename__ = "email_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), default="email")  # email | sms
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # queued | sending | sent | failed | logged | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTC)
    sent_at: Mapped[datetime | None] = mapped_column(UTC)


class Reconciliation(Model):
    """One Korean day of Toss's transactions compared with our records (대사); one row per day.

    Written by `billing/toss_sync/reconciliation.py`; running a day again updates this row in place.
    Counts are of that day's transactions (Toss) and of our paid attempts and done refunds
    (ours); the settlement figures are Toss's settlements sold that day (None until read).
    """

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)  # Asia/Seoul
    # matched | recorded (what Toss had and we lacked was recorded) | differences (flags open) | failed
    status: Mapped[str] = mapped_column(String(20))
    toss_approved_count: Mapped[int] = mapped_column(Integer, default=0)
    toss_approved_won: Mapped[int] = mapped_column(BigInteger, default=0)
    toss_canceled_count: Mapped[int] = mapped_column(Integer, default=0)
    toss_canceled_won: Mapped[int] = mapped_column(BigInteger, default=0)
    our_paid_count: Mapped[int] = mapped_column(Integer, default=0)
    our_paid_won: Mapped[int] = mapped_column(BigInteger, default=0)
    our_refunded_count: Mapped[int] = mapped_column(Integer, default=0)
    our_refunded_won: Mapped[int] = mapped_column(BigInteger, default=0)
    matched_count: Mapped[int] = mapped_column(Integer, default=0)  # Toss transactions that agree with ours
    recorded_count: Mapped[int] = mapped_column(Integer, default=0)  # taken from Toss, as a webhook would
    flagged_count: Mapped[int] = mapped_column(Integer, default=0)  # open differences for a person to look at
    settlement_count: Mapped[int | None] = mapped_column(Integer)
    settlement_amount_won: Mapped[int | None] = mapped_column(BigInteger)  # sales minus cancels, as Toss settles
    settlement_fee_won: Mapped[int | None] = mapped_column(BigInteger)  # Toss's fees, VAT included
    settlement_payout_won: Mapped[int | None] = mapped_column(BigInteger)  # what Toss pays out
    payout_dates: Mapped[str] = mapped_column(String(100), default="")  # ISO dates, comma-separated
    settlement_note: Mapped[str] = mapped_column(String(300), default="")
    error: Mapped[str | None] = mapped_column(String(500))  # why the last run could not finish
    first_run_at: Mapped[datetime] = mapped_column(UTC)
    last_run_at: Mapped[datetime] = mapped_column(UTC)

    items: Mapped[list[ReconciliationItem]] = relationship(
        back_populates="reconciliation", order_by="ReconciliationItem.id", cascade="all, delete-orphan"
    )

    @property
    def our_revenue_won(self) -> int:
        return self.our_paid_won - self.our_refunded_won


class ReconciliationItem(Model):
    """One difference a reconciliation found: recorded from Toss (fixed) or flagged (for a person).

    `ref` names what differs (Toss's transactionKey, or our orderId when Toss has nothing); one
    row per (day, kind, ref), so a second run finds the row it made and changes nothing. A flag
    a later run no longer finds gets `resolved_at`.
    """

    __tablename__ = "reconciliation_items"
    __table_args__ = (UniqueConstraint("reconciliation_id", "kind", "ref", name="uq_reconciliation_items_kind_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(ForeignKey("reconciliations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    resolution: Mapped[str] = mapped_column(String(20))  # recorded | flagged
    ref: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[str | None] = mapped_column(String(64))
    payment_key: Mapped[str | None] = mapped_column(String(200))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    toss_amount_won: Mapped[int | None] = mapped_column(Integer)
    our_amount_won: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")  # Korean, for the merchant
    found_at: Mapped[datetime] = mapped_column(UTC)
    resolved_at: Mapped[datetime | None] = mapped_column(UTC)

    reconciliation: Mapped[Reconciliation] = relationship(back_populates="items")
    attempt: Mapped[Attempt | None] = relationship()
    refund: Mapped[Refund | None] = relationship()


# Every process that can edit the catalog bumps `CatalogVersion` with its edit (session events).
from storefront import catalog_version  # noqa: E402, F401
