"""SENTRY_DSN: errors reach Sentry without billing keys, emails or secrets (a fake transport; no network).

A real request that fails inside the app and a real RQ job that fails inside a worker are
reported through sentry-sdk's Flask, logging and RQ integrations; everything the transport
would have sent is searched for what must not leave.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import sentry_sdk
from rq import Queue
from sentry_sdk.transport import Transport

from storefront import create_app
from storefront.extensions import db
from storefront.observability.errors import Scrubber
from tests.conftest import make_config
from tests.jobs.engine_support import connection, run_worker  # noqa: F401  (fixture)

# Made at run time: Sentry sends a few lines of source around each frame, so a literal here would
# be "leaked" by this very file.
BILLING_KEY = "Zt5" + secrets.token_urlsafe(30) + "="
EMAIL = f"buyer.{secrets.token_hex(4)}@example.co.kr"
AUTH_KEY = "bln_" + secrets.token_hex(8)
AUTHORIZATION = "Basic " + secrets.token_hex(8)
DSN = "https://0123456789abcdef@sentry.example.invalid/42"


class RecordingTransport(Transport):
    """Keeps every envelope sentry-sdk would send, as JSON text."""

    sent: list[str] = []

    def capture_envelope(self, envelope) -> None:
        for item in envelope.items:
            payload = item.payload.json if item.payload.json is not None else item.payload.get_bytes().decode()
            RecordingTransport.sent.append(json.dumps(payload, ensure_ascii=False, default=str))


@pytest.fixture
def reported(tmp_path: Path, clock, redis_url):
    """An app with SENTRY_DSN set whose reports land in `RecordingTransport.sent`."""
    from storefront.observability import errors

    config = make_config(tmp_path, SENTRY_DSN=DSN, REDIS_URL=redis_url)
    RecordingTransport.sent = []
    original = errors.init_error_reporting
    errors.init_error_reporting = lambda cfg: original(cfg, transport=RecordingTransport)
    try:
        app = create_app(config, clock=clock)
    finally:
        errors.init_error_reporting = original
    with app.app_context():
        db.create_all()
    yield app
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: reporting off for the rest of the session
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def failing_job(billing_key: str, email: str) -> None:
    raise RuntimeError(f"charge to /v1/billing/{billing_key} for {email} failed")


def everything_sent() -> str:
    sentry_sdk.flush(timeout=5)
    return "\n".join(RecordingTransport.sent)


def test_a_failing_request_is_reported_without_keys_emails_or_secrets(reported):
    config = reported.config["STOREFRONT"]

    @reported.route("/_boom")
    def boom():
        billing_key, customer_email = BILLING_KEY, EMAIL  # locals: never sent
        reported.logger.info("looking at %s", customer_email)  # a breadcrumb
        raise RuntimeError(f"charging {billing_key} for {customer_email} with {config.toss_secret_key}")

    response = reported.test_client().get(
        f"/_boom?customerKey=c1&authKey={AUTH_KEY}", headers={"Cookie": "session=abc", "Authorization": AUTHORIZATION}
    )
    assert response.status_code == 500

    sent = everything_sent()
    assert "RuntimeError" in sent and "[Filtered]" in sent  # an event went out, scrubbed
    for secret in (BILLING_KEY, EMAIL, AUTH_KEY, config.toss_secret_key, config.secret_key, AUTHORIZATION):
        assert secret not in sent, secret


def test_a_failing_job_is_reported_without_keys_or_emails(reported, connection):
    queue = Queue("default", connection=connection)
    queue.enqueue(failing_job, BILLING_KEY, EMAIL)
    run_worker(connection, "default")

    sent = everything_sent()
    assert "RuntimeError" in sent and "/v1/billing/[Filtered]" in sent
    assert BILLING_KEY not in sent and EMAIL not in sent


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"GET /v1/billing/{BILLING_KEY}", "GET /v1/billing/[Filtered]"),
        (f"/billing/success?customerKey=c&authKey={AUTH_KEY}", "/billing/success?customerKey=c&authKey=[Filtered]"),
        ("/password/reset/AbCdEf0123456789xyzTOKEN", "/password/reset/[Filtered]"),
        (f"notice to {EMAIL} queued", "notice to [Filtered] queued"),
        (f"key {BILLING_KEY.rstrip('=')} in a message", "key [Filtered] in a message"),
        ("storefront.billing.charging.charge_period failed", "storefront.billing.charging.charge_period failed"),
        ("subscription 12 period 1775782800: paid", "subscription 12 period 1775782800: paid"),
    ],
)
def test_the_scrubber_blanks_secrets_and_keeps_what_helps(text, expected):
    assert Scrubber().text(text) == expected


def test_the_scrubber_blanks_named_fields_and_known_secrets_everywhere():
    event = {
        "extra": {"billing_key": "anything", "Email": "a@b.co", "count": 3},
        "request": {"headers": [["Authorization", "Basic abc"], ["Accept", "text/html"]]},
        "message": "secret is test_sk_LIVEVALUE here",
    }
    assert Scrubber(["test_sk_LIVEVALUE"]).before_send(event, {}) == {
        "extra": {"billing_key": "[Filtered]", "Email": "[Filtered]", "count": 3},
        "request": {"headers": [["Authorization", "[Filtered]"], ["Accept", "text/html"]]},
        "message": "secret is [Filtered] here",
    }


def test_without_a_dsn_nothing_is_started(tmp_path):
    from storefront.observability.errors import init_error_reporting

    assert init_error_reporting(make_config(tmp_path)) is False
