"""Toss webhooks: record every delivery once, then act only on what Toss itself confirms.

`record` stores a delivery as a WebhookEvent, deduplicated on Toss's transmission id, with
secrets (a billing key, a virtual-account secret) replaced before anything is written. What
is stored is bounded: of an event type we act on, only the fields we use (and a few a person
reading the admin page needs); of anything else, the first MAX_STORED_CHARS characters. A
body that is not JSON, cannot be walked (nested thousands deep: RecursionError), or is longer
than MAX_BODY_BYTES (the caller reads no more) is recorded as 'ignored' with a note and at
most MAX_UNPARSED_CHARS of it. `purge_ignored` deletes ignored deliveries after the retention
period. `process` acts on an event (the web view hands new ones to an RQ job,
`storefront.jobs.process_webhook_job`):

- ``PAYMENT_STATUS_CHANGED``: the body is unauthenticated, so it only names a payment; the
  payment is re-fetched with ``toss.get_payment`` and its cancels are folded into our Refund
  rows (`refunds.sync_payment`); the shopper is told of a cancel made at Toss by the refund
  settle job (`refund_notices.announce`), once, whichever path recorded it. If the look-up
  fails the event is left in status 'error' (the HTTP answer is still 200: Toss's retries are
  slow and blind; the timer's webhook sweep, `reprocess` and the admin page retry on our terms).
- ``BILLING_DELETED``: nothing to re-fetch, so it is a hint: the card whose fingerprint matches
  is marked ``needs_update_at`` (the shopper is asked for a new card); subscriptions are not
  touched, and the next charge on a really deleted key fails and goes through dunning.
- anything else (``DEPOSIT_CALLBACK``, other types, non-JSON, odd shapes): status 'ignored'
  with a note.

Statuses: received → processed | ignored | error. Notes are shown to the merchant (Korean).
Two events about the same payment may be processed at once (two workers): `refunds.sync_payment`
locks the payment's Attempt row, so the second sees the first's refunds as done; a unique-key
race that slips through anyway is retried once instead of being recorded as 'error'.
`process_safely` is the entry point for jobs and the admin's 다시 처리 button; `pending_ids`
lists what the timer's webhook sweep picks up (a job lost with Redis, an error to retry).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.billing.refunding import refunds
from storefront.billing.wallet.vault import fingerprint
from storefront.dml import execute_dml
from storefront.models import Attempt, BillingKey, WebhookEvent
from storefront.toss.errors import Category, TossError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # read and parsed of a delivery; Toss's bodies are a few kB
MAX_STORED_CHARS = 4_000  # stored of a parsed body
MAX_UNPARSED_CHARS = 1_000  # stored of a body that is not JSON, too deep or too large
MAX_FIELD_CHARS = 300  # of one kept string field
REDACTED = "[redacted]"
FINGERPRINT_PREFIX = "sha256:"
REPROCESSABLE = ("received", "error")
# Received but not processed after this long: its job was lost (Redis down when it was recorded).
STALE_RECEIVED = timedelta(minutes=1)
# Errors (Toss could not be reached) are retried this long after the last try, for as long as Toss retries.
ERROR_RETRY_AFTER = timedelta(minutes=10)
ERROR_RETRY_FOR = timedelta(days=4)


class Clock(Protocol):
    def now(self) -> datetime: ...


Outcome = tuple[str, str]  # (status, note)


def record(
    session: Session, *, transmission_id: str | None, body: bytes, now: datetime, complete: bool = True
) -> tuple[WebhookEvent, bool]:
    """Store a delivery once per transmission id; return (event, True if it is new). Commits.

    `complete` is False when the caller stopped reading the body at MAX_BODY_BYTES. Garbage
    (not JSON, too deep, too large, no eventType) is stored as 'ignored' with a note; everything
    else as 'received', for `process`.
    """
    transmission_id = (transmission_id or "").strip()[:100] or None
    if transmission_id is not None:
        existing = _by_transmission(session, transmission_id)
        if existing is not None:
            return existing, False
    event = _new_event(body, transmission_id, now, complete=complete)
    session.add(event)
    try:
        session.commit()
    except IntegrityError:  # the same delivery, twice at once
        session.rollback()
        existing = _by_transmission(session, transmission_id) if transmission_id else None
        if existing is None:
            raise
        return existing, False
    return event, True


def process(session: Session, event: WebhookEvent, *, toss: Any, clock: Clock) -> WebhookEvent:
    """Act on a recorded event and store the outcome (status, note, processed_at). Commits.

    Idempotent: processing the same event again changes nothing more. A unique-key conflict
    (another process recorded the same refund a moment earlier) is retried once, when the
    other's rows are visible. Raises only on unexpected errors (the caller marks the event
    with `mark_error`).
    """
    event_id = event.id
    for last_try in (False, True):
        try:
            return _process_once(session, event, toss=toss, clock=clock)
        except IntegrityError:
            session.rollback()
            if last_try:
                raise
            log.info("webhook event %s: another process recorded the same change first; looking again", event_id)
            event = session.get_one(WebhookEvent, event_id)
    raise AssertionError("unreachable")


def _process_once(session: Session, event: WebhookEvent, *, toss: Any, clock: Clock) -> WebhookEvent:
    payload = _loads(event.payload)
    handler = HANDLERS.get(event.event_type)
    if handler is None or not isinstance(payload, dict):
        status, note = "ignored", _ignored_note(event.event_type)
    else:
        status, note = handler(session, payload, toss, clock.now())
    event.status, event.note, event.processed_at = status, note[:500], clock.now()
    session.commit()
    return event


def reprocess(session: Session, event_id: int, *, toss: Any, clock: Clock) -> WebhookEvent | None:
    """Process again an event left 'received' or 'error' (e.g. Toss could not be reached). Commits."""
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status not in REPROCESSABLE:
        return event
    return process(session, event, toss=toss, clock=clock)


def mark_error(session: Session, event_id: int, note: str, *, now: datetime) -> None:
    """Record that processing broke unexpectedly (after the caller rolled back). Commits."""
    event = session.get(WebhookEvent, event_id)
    if event is not None:
        event.status, event.note, event.processed_at = "error", note[:500], now
        session.commit()


def process_safely(session: Session, event_id: int, *, toss: Any, clock: Clock) -> WebhookEvent | None:
    """Process an event left 'received' or 'error'; an unexpected failure marks it 'error' instead of raising."""
    try:
        return reprocess(session, event_id, toss=toss, clock=clock)
    except Exception as exc:  # noqa: BLE001 - the row says what broke, the log has the traceback
        log.exception("webhook event %s could not be processed", event_id)
        session.rollback()
        mark_error(session, event_id, f"처리 중 오류: {type(exc).__name__}", now=clock.now())
        return session.get(WebhookEvent, event_id)


def pending_ids(session: Session, *, now: datetime, limit: int = 100) -> list[int]:
    """Events the timer's sweep should process: 'received' for a minute (job lost), or 'error' to retry."""
    query = (
        select(WebhookEvent.id)
        .where(
            ((WebhookEvent.status == "received") & (WebhookEvent.received_at <= now - STALE_RECEIVED))
            | (
                (WebhookEvent.status == "error")
                & (WebhookEvent.processed_at <= now - ERROR_RETRY_AFTER)
                & (WebhookEvent.received_at >= now - ERROR_RETRY_FOR)
            )
        )
        .order_by(WebhookEvent.id)
        .limit(limit)
    )
    ids = list(session.scalars(query))
    session.rollback()
    return ids


def purge_ignored(session: Session, *, now: datetime, keep_days: int) -> int:
    """Delete 'ignored' deliveries (garbage, events we do not use) older than `keep_days`. Commits."""
    result = execute_dml(
        session,
        delete(WebhookEvent).where(
            WebhookEvent.status == "ignored", WebhookEvent.received_at < now - timedelta(days=keep_days)
        ),
    )
    session.commit()
    return int(result.rowcount or 0)


# -- what is stored --------------------------------------------------------------------------------


def _new_event(body: bytes, transmission_id: str | None, now: datetime, *, complete: bool) -> WebhookEvent:
    event = WebhookEvent(transmission_id=transmission_id, received_at=now, status="received", note="")

    def garbage(note: str, stored: str = "") -> WebhookEvent:
        event.event_type, event.payload = "unknown", _text(stored)[:MAX_UNPARSED_CHARS]
        event.status, event.note, event.processed_at = "ignored", note, now
        return event

    if not complete:
        return garbage(f"본문이 너무 큽니다 ({MAX_BODY_BYTES:,}바이트 초과): 앞부분만 저장했습니다.", _head(body))
    try:
        parsed = json.loads(body.decode("utf-8"))
        event_type = _text(_event_type(parsed))[:60]
        stored = _stored(parsed, event_type)
    except (UnicodeDecodeError, ValueError):
        return garbage("JSON 본문이 아닙니다.", _head(body))
    except RecursionError:  # nested too deep to parse or walk; its head may hold a secret, so none is kept
        return garbage("JSON이 너무 깊게 중첩되어 있어 읽지 않았습니다.")
    event.event_type, event.payload = event_type, stored
    if not isinstance(parsed, dict) or event.event_type == "unknown":
        event.status, event.note, event.processed_at = "ignored", "eventType이 없는 본문입니다.", now
    return event


def _head(body: bytes) -> str:
    return body[: MAX_UNPARSED_CHARS * 4].decode("utf-8", errors="replace")[:MAX_UNPARSED_CHARS]


# What is kept of the bodies we act on: the fields `process` reads, and a few a person needs.
_KEPT = {
    "PAYMENT_STATUS_CHANGED": (
        "paymentKey",
        "orderId",
        "orderName",
        "status",
        "method",
        "type",
        "totalAmount",
        "balanceAmount",
        "approvedAt",
        "lastTransactionKey",
    ),
    "BILLING_DELETED": ("billingKey", "reason"),
}
_KEPT_FLAT = {"DEPOSIT_CALLBACK": ("createdAt", "secret", "status", "transactionKey", "orderId")}


def _stored(parsed: Any, event_type: str) -> str:
    """The JSON text stored for a parsed body: redacted, and bounded (see the module docstring)."""
    if isinstance(parsed, dict) and event_type in _KEPT:
        data = parsed.get("data")
        kept: dict[str, Any] = {"eventType": event_type, "createdAt": _scalar(parsed.get("createdAt"))}
        if isinstance(data, dict):
            kept["data"] = {k: _scalar(_redact_field(k, data[k])) for k in _KEPT[event_type] if k in data}
        else:
            kept["data"] = _scalar(data)
        return _dump(kept)
    if isinstance(parsed, dict) and event_type in _KEPT_FLAT:
        return _dump({k: _scalar(_redact_field(k, parsed[k])) for k in _KEPT_FLAT[event_type] if k in parsed})
    text = _dump(_redact(parsed))
    if len(text) <= MAX_STORED_CHARS:
        return text
    return text[:MAX_STORED_CHARS] + f"…({len(text) - MAX_STORED_CHARS:,}자 생략)"


def _dump(value: Any) -> str:
    return _text(json.dumps(value, ensure_ascii=False))


def _scalar(value: Any) -> Any:
    """A kept field: strings cut to MAX_FIELD_CHARS; lists and objects (we do not read them) replaced."""
    if isinstance(value, str):
        return value[:MAX_FIELD_CHARS]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return "…"


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters; a sender's stray NUL must not cost us the record."""
    return value.replace("\x00", "\ufffd")


def _event_type(parsed: Any) -> str:
    if not isinstance(parsed, dict):
        return "unknown"
    value = parsed.get("eventType")
    if isinstance(value, str) and value.strip():
        return value.strip()
    if {"secret", "status", "orderId"} <= parsed.keys():
        return "DEPOSIT_CALLBACK"  # virtual-account deposits come flat, without eventType
    return "unknown"


def _redact_field(key: str, value: Any) -> Any:
    if key == "billingKey" and isinstance(value, str):
        return FINGERPRINT_PREFIX + fingerprint(value)
    if key == "secret" and value is not None:
        return REDACTED
    return value


def _redact(value: Any) -> Any:
    """Replace secrets before storing: billingKey by its fingerprint, secret by a marker, at any depth."""
    if isinstance(value, dict):
        return {
            key: _redact_field(key, item) if key in ("billingKey", "secret") else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


# -- acting on it ----------------------------------------------------------------------------------


def _payment_status_changed(session: Session, payload: dict, toss: Any, now: datetime) -> Outcome:
    data = payload.get("data")
    if not isinstance(data, dict):
        data = {}
    payment_key = data.get("paymentKey")
    if not isinstance(payment_key, str) or not payment_key:
        return "ignored", "data.paymentKey가 없는 본문입니다."
    order_id = data.get("orderId") if isinstance(data.get("orderId"), str) else None
    attempt = _attempt_for(session, payment_key, order_id)
    if attempt is None:
        return "ignored", "이 상점의 결제 시도와 일치하지 않습니다."
    try:
        payment = toss.get_payment(payment_key)
    except TossError as exc:
        if exc.category is Category.NOT_FOUND:
            return "ignored", "토스페이먼츠에 없는 결제입니다 (위조된 알림일 수 있습니다)."
        return "error", f"결제 조회 실패({exc.code}): 다시 처리가 필요합니다."
    if payment.order_id != attempt.order_id:
        return "ignored", "조회한 결제의 주문번호가 결제 시도와 다릅니다."
    if attempt.status != "done":
        return "ignored", f"결제 시도 상태가 {attempt.status}입니다: 결제 정산 작업이 확정합니다."
    result = refunds.sync_payment(session, attempt, payment, now=now)
    return "processed", _sync_note(payment, result)


def _sync_note(payment: Any, result: refunds.SyncResult) -> str:
    parts = [f"토스 상태 {payment.status}, 잔액 {payment.balance_amount:,}원"]
    if result.settled:
        parts.append(f"확인된 환불 {result.settled}건")
    if result.created:
        parts.append(f"새 환불 {result.created}건 기록")
    if result.charge_refunded:
        parts.append("결제 전액 환불 처리")
    return "; ".join(parts)


def _billing_deleted(session: Session, payload: dict, toss: Any, now: datetime) -> Outcome:
    data = payload.get("data")
    if not isinstance(data, dict):
        data = {}
    stored = data.get("billingKey")
    if not isinstance(stored, str) or not stored.startswith(FINGERPRINT_PREFIX):
        return "ignored", "data.billingKey가 없는 본문입니다."
    card = session.scalar(select(BillingKey).where(BillingKey.fingerprint == stored[len(FINGERPRINT_PREFIX) :]))
    if card is None:
        return "ignored", "일치하는 카드가 없습니다."
    if card.destroyed_at is not None or card.deactivated_at is not None:
        return "processed", f"카드 #{card.id}는 이미 비활성화되어 있습니다."
    if card.needs_update_at is None:
        card.needs_update_at = now
    reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
    return "processed", f"카드 #{card.id}를 교체 필요로 표시했습니다 (사유: {reason or '없음'})."


def _attempt_for(session: Session, payment_key: str, order_id: str | None) -> Attempt | None:
    attempt = session.scalar(select(Attempt).where(Attempt.payment_key == payment_key))
    if attempt is None and order_id:
        attempt = session.scalar(select(Attempt).where(Attempt.order_id == order_id))
    return attempt


def _ignored_note(event_type: str) -> str:
    if event_type == "DEPOSIT_CALLBACK":
        return "가상계좌 입금 알림은 사용하지 않습니다."
    return f"처리하지 않는 이벤트 유형입니다: {event_type}"


def _loads(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _by_transmission(session: Session, transmission_id: str) -> WebhookEvent | None:
    return session.scalar(select(WebhookEvent).where(WebhookEvent.transmission_id == transmission_id))


HANDLERS: dict[str, Callable[[Session, dict, Any, datetime], Outcome]] = {
    "PAYMENT_STATUS_CHANGED": _payment_status_changed,
    "BILLING_DELETED": _billing_deleted,
}
