"""LOG_FORMAT=json: every line an object with the request's or the job's id, and still no secrets.

The worker test runs a real `flask worker --burst` charging against the sandbox; the request
test attaches the app's JSON handler to a buffer for one request. gunicorn's JSON access log is
checked behind nginx in test_deploy.py.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest

from storefront import jobs
from storefront.extensions import db, services
from storefront.observability.logs import json_handler
from tests.conftest import make_config
from tests.jobs.engine_support import (  # noqa: F401
    billing_queue,
    connection,
    make_shop,
    subscriber,
    worker_app,
    worker_env,
    worker_process,
)
from tests.sandbox_server import SandboxServer


class TestWorker:
    @pytest.fixture
    def config(self, tmp_path: Path, sandbox: SandboxServer):
        return make_config(tmp_path, TOSS_API_BASE=sandbox.url)

    def test_a_charge_job_writes_json_lines_with_its_job_id_and_no_billing_key(
        self, worker_app, db_session, clock, config, sandbox, redis_url, billing_queue, tmp_path
    ):
        shop = make_shop(worker_app, services().toss, clock, config)
        sub = subscriber(shop, sandbox)
        (job_id,) = jobs.sweep_due(db.session, billing_queue, now=clock.now(), as_of=clock.now().isoformat()).enqueued

        worker = worker_process(
            worker_env(config, redis_url, LOG_FORMAT="json"), tmp_path / "worker.log", jobs.BILLING_QUEUE
        )
        assert worker.wait(timeout=120) == 0
        text = (tmp_path / "worker.log").read_text()

        records = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
        assert all({"time", "level", "logger", "message", "job_id"} <= set(r) for r in records)
        of_job = [r for r in records if r["job_id"] == job_id]
        messages = [r["message"] for r in of_job]
        assert f"subscription {sub.id} period {job_id.rsplit('-', 1)[1]}: paid" in messages
        assert any(re.fullmatch(r"toss POST /v1/billing/\{billingKey\} -> 200 in [\d.]+s", m) for m in messages)
        assert any(r["logger"] == "rq.worker" and r["job_id"] is None for r in records)  # RQ's own lines too
        (entry,) = sandbox.ledger()
        assert entry["billingKey"] not in text


class TestRequest:
    @pytest.fixture
    def config(self, tmp_path: Path):
        from tests.redis_server import _free_port

        # Redis not answering makes the webhook view log a warning inside the request.
        return make_config(tmp_path, LOG_FORMAT="json", REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")

    @pytest.fixture(autouse=True)
    def _root_logger_restored(self):
        """create_app in JSON mode adds a handler to this (pytest's) process's root logger: take it off after."""
        yield
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "storefront-json"]:
            root.removeHandler(handler)

    @pytest.fixture
    def lines(self, app):
        buffer = io.StringIO()
        handler = json_handler(buffer)
        logger = logging.getLogger("storefront")
        logger.addHandler(handler)
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
        logger.removeHandler(handler)

    def test_lines_a_request_writes_carry_its_id_which_the_answer_shows(self, client, lines):
        response = client.post(
            "/webhooks/toss",
            json={"eventType": "PAYMENT_STATUS_CHANGED", "data": {}},
            headers={"X-Request-ID": "rid-from-nginx-0001"},
        )
        assert response.headers["X-Request-ID"] == "rid-from-nginx-0001"
        (line,) = [r for r in lines() if "Redis is not answering" in r["message"]]
        assert line["request_id"] == "rid-from-nginx-0001" and line["job_id"] is None
        assert line["level"] == "WARNING" and line["logger"] == "storefront"

    def test_an_id_that_is_not_an_id_is_replaced(self, client):
        response = client.get("/healthz/web", headers={"X-Request-ID": "<script>alert(1)</script>"})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])

    def test_json_mode_puts_one_handler_on_the_root_logger_however_many_apps(self, app, config):
        from storefront import create_app

        create_app(config)
        assert [h.get_name() for h in logging.getLogger().handlers].count("storefront-json") == 1
