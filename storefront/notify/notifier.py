"""The Notifier: every notice the product sends goes through `queue` and then `deliver`.

`queue` renders a notice and adds one outbox row (`EmailMessage`) per channel inside the
caller's transaction, so the notice exists exactly when the state change it reports is
committed. `deliver` sends one row at most once: it claims the row with a conditional
UPDATE (queued -> sending) and commits that claim before talking to SMTP or an SMS
provider, so two workers (or a job and the pending sweep) never both send it.

Invariants:
- One event, one message per channel: the outbox's unique `dedup_key` is the guard (an
  INSERT ... ON CONFLICT DO NOTHING), which also holds across processes.
- A row in 'sent' or 'logged' is never sent again. A failed attempt puts the row back to
  'queued' with `attempts` and `last_error` recorded and raises `DeliveryError`, so the RQ
  job retries with back-off; after `max_attempts` the row is 'failed' and stays there
  until someone requeues it (`flask outbox retry`).
- Nothing goes to a member who has withdrawn (회원탈퇴: their address was replaced by one on
  the reserved ``invalid`` top-level domain, billing/compliance/withdrawal.py): `queue` adds nothing for them, and
  a row queued before they withdrew is marked 'skipped' with the reason instead of being sent.

When the outcome of a send is unknown, the rule is **send again, with the same Message-ID**
(at least once, never silently lost): the notices we send include ones the law requires to
arrive (a price rise's consent request, the renewal reminder), so a rare duplicate is the
lesser harm, and a duplicate carries the same Message-ID, Date and body, so a mailbox that
folds duplicates by Message-ID (Gmail does) shows one. Two cases:
- the connection dies after the message was handed over and before the server's answer
  (the "lost 250", `backends.OutcomeUnknown`): the row goes back to 'queued' with a note
  saying the server may have it, and the retry sends it again;
- a worker dies between the claim and the answer: the row stays 'sending'; `sent_at` holds
  when that send began, and `deliver_pending` puts a row 'sending' for SENDING_GRACE back in
  the queue with a note, and sends it again.
An SMS provider adapter should pass the row id as its idempotency key where it has one.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import jinja2
from sqlalchemy import Integer, Table, and_, bindparam, or_, select, text, update
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.orm import Session, make_transient_to_detached

from storefront.clock import KST
from storefront.config import Config
from storefront.dml import execute_dml
from storefront.models import EmailMessage, User
from storefront.notify.backends import (
    ConsoleEmailBackend,
    ConsoleSmsBackend,
    EmailBackend,
    OutcomeUnknown,
    SmsBackend,
    SmtpEmailBackend,
)
from storefront.notify.kinds import NoticeError, check_request
from storefront.notify.render import Renderer, default_environment

log = logging.getLogger("storefront.notify")

DEFAULT_MAX_ATTEMPTS = 8
# A row 'sending' this long belongs to a worker that died mid-send (SMTP gives up after 30 s).
SENDING_GRACE = timedelta(minutes=15)
UNKNOWN_NOTE = "결과 미확인: 메일 서버가 받았을 수 있어 같은 Message-ID로 다시 보냅니다"
_DELIVERED = ("sent", "logged")
# RFC 2606: the `invalid` top-level domain never delivers. A withdrawn member's address is moved onto it.
UNDELIVERABLE_TLD = "invalid"
SKIPPED_WITHDRAWN = "not sent: the member withdrew (회원탈퇴)"


class DeliveryError(RuntimeError):
    """A message could not be sent this time; its row records why and stays queued."""


class Notifier:
    """Renders, queues and delivers notices (email and SMS) through the outbox table."""

    def __init__(
        self,
        jinja_env: jinja2.Environment | None,
        config: Config,
        *,
        email_backend: EmailBackend | None = None,
        sms_backend: SmsBackend | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self.config = config
        self.renderer = Renderer(jinja_env or default_environment(), config)
        if email_backend is None:
            email_backend = SmtpEmailBackend(config.smtp_url) if config.smtp_url else ConsoleEmailBackend()
        self.email_backend = email_backend
        self.sms_backend = sms_backend or ConsoleSmsBackend()
        self.max_attempts = max_attempts

    def queue(
        self,
        session: Session,
        *,
        user: User,
        kind: str,
        dedup_key: str,
        context: dict[str, Any],
        now: datetime,
        channels: tuple[str, ...] = ("email",),
    ) -> list[EmailMessage]:
        """Add one outbox row per channel for this event, unless it is already there.

        Rows get `dedup_key` f"{dedup_key}:{channel}"; a key that exists (queued now or
        earlier, by any process) adds nothing. Returns only the rows this call added, so
        the caller enqueues delivery for exactly those after it commits. Flushes, never
        commits. Raises `NoticeError` for an unknown kind/channel or a missing context key.
        An SMS row for a user without a phone number is recorded as 'failed' (visible in
        the outbox) rather than silently skipped.
        """
        check_request(kind, channels)
        if len(dedup_key) > 190:
            raise NoticeError("dedup_key: at most 190 characters")
        if withdrew(user):
            log.info("%s notice %s not queued: user %s withdrew", kind, dedup_key, user.id)
            return []
        rendered = self.renderer.render(kind, context, user_name=user.name, sms="sms" in channels)
        if user.id is None:
            session.flush()  # a user created in this same transaction needs its id first
        added = []
        for channel in channels:
            values = dict(
                channel=channel,
                dedup_key=f"{dedup_key}:{channel}",
                user_id=user.id,
                kind=kind,
                subject=rendered.subject,
                status="queued",
                attempts=0,
                created_at=now,
            )
            if channel == "email":
                values.update(to=user.email, body_text=rendered.text, body_html=rendered.html)
            else:
                values.update(to=user.phone or "", body_text=rendered.sms, body_html=None)
                if not user.phone:
                    values.update(status="failed", last_error="no phone number on the account")
            row = _insert_once(session, values)
            if row is not None:
                added.append(row)
        return added

    def deliver(self, session: Session, message_id: int, *, now: datetime) -> str:
        """Send one outbox row at most once and commit its new status; return that status.

        Returns 'sent' or 'logged' after sending, or the row's current status ('sent',
        'logged', 'failed', 'sending') without sending when it is not queued, or 'missing'.
        Commits the claim before sending and the outcome after. On a send error the row
        goes back to 'queued' (or 'failed' after `max_attempts`) and `DeliveryError` is
        raised, so an RQ job retries with back-off.
        """
        if not _claim(session, message_id, now):
            row = session.get(EmailMessage, message_id)
            status = row.status if row is not None else "missing"
            session.rollback()
            log.info("message %s not sent again: status %s", message_id, status)
            return status
        row = session.get_one(EmailMessage, message_id)  # just claimed: it exists
        if _recipient_withdrew(session, row):
            row.status, row.last_error, row.sent_at = "skipped", SKIPPED_WITHDRAWN, None
            session.commit()
            log.info("message %s (%s) skipped: the member withdrew", message_id, row.kind)
            return "skipped"
        try:
            status = self._send(row, now)
        except Exception as exc:
            self._record_failure(session, row, exc)
            raise DeliveryError(
                f"message {message_id} not delivered (attempt {row.attempts}): {row.last_error}"
            ) from exc
        row.status, row.sent_at, row.last_error = status, now, None
        session.commit()
        log.info("message %s (%s, %s) %s", message_id, row.kind, row.channel, status)
        return status

    def deliver_pending(self, session: Session, *, now: datetime, limit: int = 100) -> int:
        """Deliver up to `limit` queued rows, oldest first; return how many went out.

        The safety net for rows whose delivery job was never enqueued or was lost. A row
        that fails is recorded (and retried by the next sweep); the others still go.
        """
        _requeue_stale_sends(session, now)
        ids = session.scalars(
            select(EmailMessage.id).where(EmailMessage.status == "queued").order_by(EmailMessage.id).limit(limit)
        ).all()
        session.rollback()
        delivered = 0
        for message_id in ids:
            try:
                status = self.deliver(session, message_id, now=now)
            except DeliveryError as exc:
                log.warning("%s", exc)
                continue
            if status in _DELIVERED:
                delivered += 1
        return delivered

    def _send(self, row: EmailMessage, now: datetime) -> str:
        if row.channel == "sms":
            return self.sms_backend.send(row.to, row.body_text)
        return self.email_backend.send(self.build_mime(row, now))

    def build_mime(self, row: EmailMessage, now: datetime) -> MimeMessage:
        """The MIME message for an email row: UTF-8 text, an HTML alternative, stable Message-ID."""
        name, addr = parseaddr(self.config.mail_from)
        domain = addr.rpartition("@")[2] or "localhost"
        mime = MimeMessage()
        mime["Subject"] = row.subject
        mime["From"] = Address(display_name=name or self.config.business.name, addr_spec=addr)
        mime["To"] = row.to
        # Date and Message-ID are the row's, not the attempt's: a resend is the same message, and a
        # mailbox that folds duplicates by Message-ID shows it once.
        mime["Date"] = format_datetime((row.created_at or now).astimezone(KST))
        mime["Message-ID"] = f"<outbox-{row.id}.{hashlib.sha256(row.dedup_key.encode()).hexdigest()[:16]}@{domain}>"
        mime["Auto-Submitted"] = "auto-generated"
        mime.set_content(row.body_text)
        if row.body_html:
            mime.add_alternative(row.body_html, subtype="html")
        return mime

    def _record_failure(self, session: Session, row: EmailMessage, exc: Exception) -> None:
        note = f"{UNKNOWN_NOTE} ({exc})" if isinstance(exc, OutcomeUnknown) else f"{type(exc).__name__}: {exc}"
        row.last_error, row.sent_at = note[:500], None
        row.status = "failed" if row.attempts >= self.max_attempts else "queued"
        session.commit()
        log.warning("message %s attempt %s failed (%s): %s", row.id, row.attempts, row.status, row.last_error)


def undeliverable(address: str | None) -> bool:
    """An address on the reserved `invalid` top-level domain (``x@invalid``, ``x@y.invalid``)."""
    domain = (address or "").rpartition("@")[2].lower()
    return domain == UNDELIVERABLE_TLD or domain.endswith("." + UNDELIVERABLE_TLD)


def withdrew(user: User | None) -> bool:
    """Whether `user` has withdrawn (회원탈퇴): their email was moved onto the `invalid` domain."""
    return user is not None and undeliverable(user.email)


def _recipient_withdrew(session: Session, row: EmailMessage) -> bool:
    if row.channel == "email" and undeliverable(row.to):
        return True
    return row.user_id is not None and withdrew(session.get(User, row.user_id))


def _insert_once(session: Session, values: dict[str, Any]) -> EmailMessage | None:
    """INSERT the row unless its dedup_key exists; the unique index decides, not a SELECT."""
    dialect = session.get_bind(EmailMessage).dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"outbox insert-once is written for SQLite and PostgreSQL, not {dialect}")
    values = {**_UNSET_COLUMNS, **values}
    row_id = session.execute(_INSERT_ONCE, values).scalar()
    if row_id is None:
        return None
    row = EmailMessage(id=row_id, **values)
    make_transient_to_detached(row)  # the row as just inserted, without reading it back
    session.add(row)
    return row


def _insert_once_statement() -> TextualSelect:
    """``INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING id``, the same in SQLite and PostgreSQL.

    Written as text with typed parameters because SQLAlchemy gives its dialect `on_conflict`
    inserts no cache key: such a statement is compiled again on every execution, and a renewal
    queues its receipt inside the charge. Every column but the id is a parameter.
    """
    table = EmailMessage.__table__
    assert isinstance(table, Table)
    columns = [column for column in table.columns if column.name != "id"]
    names = ", ".join(f'"{column.name}"' for column in columns)
    params = ", ".join(f":{column.name}" for column in columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({params}) ON CONFLICT (dedup_key) DO NOTHING RETURNING id"
    typed = [bindparam(column.name, type_=column.type) for column in columns]
    return text(sql).bindparams(*typed).columns(id=Integer)


_INSERT_ONCE = _insert_once_statement()


# Columns `queue` may leave out of an INSERT: the row has them NULL.
_UNSET_COLUMNS: dict[str, Any] = {"last_error": None, "sent_at": None, "body_html": None}


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """queued -> sending for this row (sent_at: when this send began), committed; False when another has it."""
    result = execute_dml(
        session,
        update(EmailMessage)
        .where(EmailMessage.id == message_id, EmailMessage.status == "queued")
        .values(status="sending", attempts=EmailMessage.attempts + 1, sent_at=now)
        .execution_options(synchronize_session=False),
    )
    session.commit()
    return result.rowcount == 1


def _requeue_stale_sends(session: Session, now: datetime) -> int:
    """Rows left 'sending' by a worker that died mid-send go back to the queue (sent again, same Message-ID)."""
    cutoff = now - SENDING_GRACE
    result = execute_dml(
        session,
        update(EmailMessage)
        .where(
            EmailMessage.status == "sending",
            or_(EmailMessage.sent_at < cutoff, and_(EmailMessage.sent_at.is_(None), EmailMessage.created_at < cutoff)),
        )
        .values(status="queued", last_error=f"{UNKNOWN_NOTE} (발송 중 작업이 끝나지 않았습니다)")
        .execution_options(synchronize_session=False),
    )
    session.commit()
    if result.rowcount:
        log.warning("%s message(s) left 'sending' by a worker that died mid-send were queued again", result.rowcount)
    return int(result.rowcount or 0)
