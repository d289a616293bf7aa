"""Toss webhooks: record every delivery once, then act only on what Toss itself confirms.

`record` stores a delivery as a WebhookEvent, deduplicated on Toss's transmission id, with
secrets (a billing key, a virtual-account secret) replaced before anything is written.
`process` acts on it:

- ``PAYMENT_STATUS_CHANGED``: the body is unauthenticated, so it only names a payment; the
  payment is re-fetched with ``toss.get_payment`` and its cancels are folded into our Refund
  rows (`refunds.sync_payment`). If the look-up fails the event is left in status 'error' (the
  HTTP answer is still 200: Toss's retries are slow and blind, `reprocess` and the admin page
  retry on our terms).
- ``BILLING_DELETED``: nothing to re-fetch, so it is a hint: the card whose fingerprint matches
  is marked ``needs_update_at`` (the shopper is asked for a new card); subscriptions are not
  touched, and the next charge on a really deleted key fails and goes through dunning.
- anything else (``DEPOSIT_CALLBACK``, other types, non-JSON, odd shapes): status 'ignored'
  with a note.

Statuses: received → processed | ignored | error. Notes are shown to the merchant (Korean).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.billing import refunds
from storefront.billing.vault import fingerprint
from storefront.models import Attempt, BillingKey, WebhookEvent
from storefront.toss.errors import Category, TossError

MAX_RAW_PAYLOAD = 10_000
REDACTED = "[redacted]"
FINGERPRINT_PREFIX = "sha256:"
REPROCESSABLE = ("received", "error")


class Clock(Protocol):
    def now(self) -> datetime: ...


Outcome = tuple[str, str]  # (status, note)


def record(session: Session, *, transmission_id: str | None, body: bytes, now: datetime) -> tuple[WebhookEvent, bool]:
    """Store a delivery once per transmission id; return (event, True if it is new). Commits.

    Unparseable bodies are stored as 'ignored' with a note; everything else as 'received'.
    """
    transmission_id = (transmission_id or "").strip()[:100] or None
    if transmission_id is not None:
        existing = _by_transmission(session, transmission_id)
        if existing is not None:
            return existing, False
    event = _new_event(body, transmission_id, now)
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

    Idempotent: processing the same event again changes nothing more. Raises only on
    unexpected errors (the caller marks the event with `mark_error`).
    """
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


def _new_event(body: bytes, transmission_id: str | None, now: datetime) -> WebhookEvent:
    event = WebhookEvent(transmission_id=transmission_id, received_at=now, status="received", note="")
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        event.event_type, event.payload = "unknown", _text(body.decode("utf-8", errors="replace"))[:MAX_RAW_PAYLOAD]
        event.status, event.note, event.processed_at = "ignored", "JSON 본문이 아닙니다.", now
        return event
    event.event_type = _text(_event_type(parsed))[:60]
    event.payload = json.dumps(_redact(parsed), ensure_ascii=False)
    if not isinstance(parsed, dict) or event.event_type == "unknown":
        event.status, event.note, event.processed_at = "ignored", "eventType이 없는 본문입니다.", now
    return event


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


def _redact(value: Any) -> Any:
    """Replace secrets before storing: billingKey by its fingerprint, secret by a marker."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "billingKey" and isinstance(item, str):
                out[key] = FINGERPRINT_PREFIX + fingerprint(item)
            elif key == "secret" and item is not None:
                out[key] = REDACTED
            else:
                out[key] = _redact(item)
        return out
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _payment_status_changed(session: Session, payload: dict, toss: Any, now: datetime) -> Outcome:
    data = payload.get("data")
    payment_key = data.get("paymentKey") if isinstance(data, dict) else None
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
    stored = data.get("billingKey") if isinstance(data, dict) else None
    if not isinstance(stored, str) or not stored.startswith(FINGERPRINT_PREFIX):
        return "ignored", "data.billingKey가 없는 본문입니다."
    card = session.scalar(select(BillingKey).where(BillingKey.fingerprint == stored[len(FINGERPRINT_PREFIX):]))
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
