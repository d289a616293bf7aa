"""`POST /webhooks/toss`: Toss webhooks, recorded once and answered 200 at once.

The body is never trusted (see `billing.webhook_events`); CSRF does not apply (Toss cannot
send a token). Answers: 200 for every delivery we recorded, including duplicates, garbage and
events we ignore; 403 when the optional IP allowlist refuses the sender; 503 when the delivery
could not be recorded (Toss then retries it).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from storefront.billing import webhook_events
from storefront.extensions import client_ip, csrf, db, services
from storefront.models import WebhookEvent

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

TRANSMISSION_HEADER = "tosspayments-webhook-transmission-id"


@bp.post("/toss")
@csrf.exempt
def toss():
    if not _sender_allowed():
        return jsonify(status="forbidden"), 403
    svc = services()
    try:
        event, new = webhook_events.record(db.session, transmission_id=request.headers.get(TRANSMISSION_HEADER),
                                           body=request.get_data(cache=False), now=svc.clock.now())
    except SQLAlchemyError:
        current_app.logger.exception("webhook delivery could not be recorded")
        db.session.rollback()
        return jsonify(status="retry"), 503
    # A retried delivery of an event we failed to act on gets another try; others are done.
    if (new and event.status == "received") or (not new and event.status == "error"):
        process_safely(event.id)
    return jsonify(status=event.status if new else "duplicate"), 200


def process_safely(event_id: int) -> WebhookEvent | None:
    """Act on a recorded event; an unexpected failure marks it 'error' instead of raising."""
    svc = services()
    try:
        return webhook_events.reprocess(db.session, event_id, toss=svc.toss, clock=svc.clock)
    except Exception as exc:  # never a 500 for Toss: the row says what broke, the log has the traceback
        current_app.logger.exception("webhook event %s could not be processed", event_id)
        db.session.rollback()
        webhook_events.mark_error(db.session, event_id, f"처리 중 오류: {type(exc).__name__}", now=svc.clock.now())
        return db.session.get(WebhookEvent, event_id)


def _sender_allowed() -> bool:
    allowed = current_app.config["STOREFRONT"].toss_webhook_allowed_ips
    return not allowed or client_ip() in allowed
