"""`POST /webhooks/toss`: Toss webhooks, recorded once, answered 200 at once, processed by a job.

The body is never trusted (see `billing.toss_sync.webhook_events`); CSRF does not apply (Toss cannot
send a token). The view reads at most `webhook_events.MAX_BODY_BYTES` of the body, records
the delivery (deduplicated on the transmission id; garbage, too-large and too-deep bodies
recorded as ignored with a bounded part of them) and hands a new event to an RQ job on the
``webhooks`` queue, so a slow Toss look-up never holds Toss's request past its 10-second
limit. Without Redis configured the event is processed here, in the request, as before; if
Redis does not answer it stays 'received' and the timer's webhook sweep processes it.

Answers: 200 for every delivery we recorded, including duplicates, garbage and events we
ignore; 403 when the optional IP allowlist refuses the sender; 429 past WEBHOOK_RATE_LIMIT
per sender address (nothing recorded; Toss retries later); 503 when the delivery could not be
recorded (Toss then retries it).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from storefront.billing.toss_sync import webhook_events
from storefront.extensions import client_ip, csrf, db, limiter, services
from storefront.models import WebhookEvent

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

TRANSMISSION_HEADER = "tosspayments-webhook-transmission-id"


def _rate_limit() -> str:
    return current_app.config["STOREFRONT"].webhook_rate_limit


@bp.post("/toss")
@csrf.exempt
@limiter.limit(_rate_limit)  # per sender address (`extensions.client_ip`)
def toss():
    if not _sender_allowed():
        return jsonify(status="forbidden"), 403
    body, complete = _read_body()
    try:
        event, new = webhook_events.record(
            db.session(),
            transmission_id=request.headers.get(TRANSMISSION_HEADER),
            body=body,
            now=services().clock.now(),
            complete=complete,
        )
    except SQLAlchemyError:
        current_app.logger.exception("webhook delivery could not be recorded")
        db.session.rollback()
        return jsonify(status="retry"), 503
    # New, or a retried delivery of an event we have not finished acting on: (another) go; others are done.
    if event.status in webhook_events.REPROCESSABLE:
        event = dispatch(event)
    return jsonify(status=event.status if new else "duplicate"), 200


@bp.errorhandler(429)
def rate_limited(_exc):
    return jsonify(status="rate_limited"), 429


def dispatch(event: WebhookEvent) -> WebhookEvent:
    """Hand the event to a job on the webhooks queue; without Redis, process it here."""
    from storefront import jobs

    config = current_app.config["STOREFRONT"]
    queue = jobs.get_queue(jobs.WEBHOOKS_QUEUE, config)
    if queue is None:
        return process_safely(event.id) or event
    try:
        jobs.enqueue_webhook(queue, event.id)
    except RedisError:
        current_app.logger.warning(
            "webhook event %s: Redis is not answering; the webhook sweep will process it", event.id
        )
    return event


def process_safely(event_id: int) -> WebhookEvent | None:
    """Act on a recorded event now (the admin's 다시 처리); a failure marks it 'error' instead of raising."""
    svc = services()
    return webhook_events.process_safely(db.session(), event_id, toss=svc.toss, clock=svc.clock)


def _read_body() -> tuple[bytes, bool]:
    """At most MAX_BODY_BYTES of the body, and whether that was all of it."""
    limit = webhook_events.MAX_BODY_BYTES
    try:
        head = request.stream.read(limit + 1)
    except RequestEntityTooLarge:  # over the app's MAX_CONTENT_LENGTH: not even the start is read
        return b"", False
    return head[:limit], len(head) <= limit


def _sender_allowed() -> bool:
    allowed = current_app.config["STOREFRONT"].toss_webhook_allowed_ips
    return not allowed or client_ip() in allowed
