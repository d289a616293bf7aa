"""`/metrics`: what Prometheus (or an admin) reads, who may read it, and that it survives a dead source.

Real Redis (`redis_url`), real RQ jobs (in-process `SimpleWorker`), the real billing engine
against FakeToss for charges, the real Toss client against the sandbox for call latency.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from storefront import jobs
from storefront.extensions import services
from tests.billing.conftest import Shop
from tests.conftest import make_config
from tests.fakes import TIMEOUT_AFTER_APPROVE, FakeToss, decline
from tests.jobs.engine_support import connection, run_worker, worker_app  # noqa: F401  (fixtures)
from tests.web.admin_support import login_admin


@pytest.fixture
def config(tmp_path: Path, redis_url: str, request):
    marker = request.node.get_closest_marker("settings")
    return make_config(
        tmp_path, REDIS_URL=redis_url, METRICS_ALLOWED_IPS="10.1.0.0/16, 192.0.2.7", **(marker.kwargs if marker else {})
    )


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def shop(app, db_session, toss, clock, config) -> Shop:
    from tests.fakes import RecordingNotifier

    return Shop(db_session, toss, services().vault, RecordingNotifier(), clock, config)


def scrape(client, **environ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", environ_base=environ)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_the_page_shows_charges_unknown_outcomes_lag_queues_webhooks_emails_and_the_sweep(
    app, client, auth, shop, toss, clock, db_session, connection, worker_app
):
    paid, declined, unknown = (shop.subscribe(status="active") for _ in range(3))
    toss.will_for(declined.user.customer_key, decline())
    toss.will_for(unknown.user.customer_key, TIMEOUT_AFTER_APPROVE)
    for sub in (paid, declined, unknown):
        shop.charge(sub.id)
    charged_at = clock.now()
    # A webhook that is garbage (recorded as ignored) and one that waits for its job on the webhooks queue.
    assert client.post("/webhooks/toss", data=b"not json", content_type="application/json").status_code == 200
    assert (
        client.post(
            "/webhooks/toss",
            json={"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "pk_1", "status": "CANCELED"}},
        ).status_code
        == 200
    )
    Queue(jobs.DEFAULT_QUEUE, connection=connection).enqueue(jobs.reconcile_day_job, "not-a-date")  # fails
    run_worker(connection, jobs.DEFAULT_QUEUE)
    auth.signup(email="new@example.com", confirm=False)  # one email queued in the outbox, no worker sends it
    clock.advance(minutes=3)
    Queue(jobs.BILLING_QUEUE, connection=connection).enqueue(jobs.sweep_due_job)
    run_worker(connection, jobs.BILLING_QUEUE)

    samples = scrape(client, REMOTE_ADDR="10.1.2.3")

    assert value(samples, "storefront_charge_attempts", status="done") == 1
    assert value(samples, "storefront_charge_attempts", status="failed") == 1
    assert value(samples, "storefront_charge_attempts", status="unknown") == 1
    assert value(samples, "storefront_attempts_unknown") == 1
    assert value(samples, "storefront_charges", status="paid") == 1
    assert value(samples, "storefront_charges", status="pending") == 2  # the declined one waits for its retry
    assert value(samples, "storefront_reconcile_lag_seconds") == (clock.now() - charged_at).total_seconds() == 180
    assert value(samples, "storefront_webhook_events", status="ignored") == 1
    assert value(samples, "storefront_webhook_events", status="received") == 1
    assert value(samples, "storefront_queue_depth", queue="webhooks") == 1
    assert value(samples, "storefront_jobs_failed", queue="default") == 1
    assert value(samples, "storefront_jobs_failed", queue="billing") == 0
    assert value(samples, "storefront_outbox_messages", channel="email", status="queued") == 1
    assert value(samples, "storefront_sweep_last_success_timestamp_seconds") == clock.now().timestamp()
    assert value(samples, "storefront_sweep_duration_seconds_count") == 1
    assert value(samples, "storefront_sweep_duration_seconds_bucket", le="+Inf") == 1
    assert value(samples, "storefront_metrics_source_up", source="database") == 1
    assert value(samples, "storefront_metrics_source_up", source="redis") == 1


def test_nobody_but_admins_and_the_allowlist_reads_it(app, client, auth, db_session, clock):
    assert client.get("/metrics").status_code == 403  # a guest
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.2.0.1"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    auth.signup()
    assert client.get("/metrics").status_code == 403  # a shopper
    auth.logout()
    login_admin(auth, db_session, clock.now())
    assert client.get("/metrics").status_code == 200


@pytest.mark.settings(TRUSTED_PROXY_HOPS="1")
def test_behind_nginx_the_allowlist_sees_the_real_client(client):
    proxied = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/metrics", environ_base=proxied, headers={"X-Forwarded-For": "10.1.9.9"}).status_code == 200
    assert client.get("/metrics", environ_base=proxied, headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 403
    # A client cannot put itself on the list by writing the header: nginx appends the address it saw.
    assert (
        client.get("/metrics", environ_base=proxied, headers={"X-Forwarded-For": "10.1.9.9, 203.0.113.5"}).status_code
        == 403
    )


def test_a_header_is_not_believed_without_a_proxy(client):
    assert (
        client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"}, headers={"X-Forwarded-For": "10.1.9.9"}
        ).status_code
        == 403
    )


class TestRedisDown:
    @pytest.fixture
    def config(self, tmp_path: Path):
        from tests.redis_server import _free_port

        return make_config(tmp_path, REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0", METRICS_ALLOWED_IPS="127.0.0.1")

    def test_the_database_figures_still_come(self, client, shop):
        shop.charge(shop.subscribe(status="active").id)
        samples = scrape(client)
        assert value(samples, "storefront_metrics_source_up", source="redis") == 0
        assert value(samples, "storefront_metrics_source_up", source="database") == 1
        assert value(samples, "storefront_charges", status="paid") == 1
        assert not any(name == "storefront_queue_depth" for name, _ in samples)


class TestTossLatency:
    """The app's own Toss client (built from config) records every call in Redis."""

    @pytest.fixture
    def config(self, tmp_path: Path, redis_url: str, sandbox):
        return make_config(tmp_path, REDIS_URL=redis_url, TOSS_API_BASE=sandbox.url, METRICS_ALLOWED_IPS="127.0.0.1")

    @pytest.fixture
    def toss(self):
        return None  # create_app builds the real client, with its latency hook

    def test_calls_are_counted_by_endpoint_template_and_status(self, app, client, sandbox, db_session):
        from storefront.toss.errors import TossError

        user_key = "cust-latency-0001"
        issued = sandbox.issue_billing_key(user_key)
        toss = services().toss
        toss.charge_billing_key(
            issued["billingKey"],
            customer_key=user_key,
            amount=9900,
            order_id="order-lat-0001",
            order_name="정기결제",
            idempotency_key="order-lat-0001",
        )
        with pytest.raises(TossError):
            toss.get_payment_by_order_id("order-missing-0001")
        page = client.get("/metrics").get_data(as_text=True)
        samples = scrape(client)

        charge = dict(endpoint="POST /v1/billing/{billingKey}", code="200")
        lookup = dict(endpoint="GET /v1/payments/orders/{orderId}", code="404")
        assert value(samples, "storefront_toss_request_duration_seconds_count", **charge) == 1
        assert value(samples, "storefront_toss_request_duration_seconds_count", **lookup) == 1
        assert value(samples, "storefront_toss_request_duration_seconds_bucket", le="+Inf", **charge) == 1
        assert value(samples, "storefront_toss_request_duration_seconds_sum", **charge) > 0
        assert issued["billingKey"] not in page and "order-missing-0001" not in page
