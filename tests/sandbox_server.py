"""The `sandbox` fixture: the Toss sandbox served over real HTTP for one test.

Import it through `pytest_plugins` (tests/conftest.py does). The sandbox runs in-process
on 127.0.0.1 with a free port (werkzeug, threaded), its own SQLite file under the test's
tmp_path, and the test's `clock` fixture: moving that FixedClock moves the store and the
sandbox together. The yielded `SandboxServer` offers the URL and keys, the ledger, runtime
settings, and helpers that do what a shopper's browser would (card registration, payment
window) without a browser, for tests above the Toss client.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from storefront.clock import Clock
from storefront.toss.sandbox import SandboxSettings, close_sandbox_app, create_sandbox_app
from storefront.toss.sandbox.runtime import Gate, SandboxRuntime

APPROVED_CARD = "4330123412341234"
RETURN_URL = "http://127.0.0.1/sandbox-return"


class CardRefused(Exception):
    """The card window sent the shopper to failUrl instead of successUrl."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SandboxServer:
    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        self.url = url
        self.http = requests.Session()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.url}>"

    @property
    def runtime(self) -> SandboxRuntime:
        return self.app.extensions["toss_sandbox"]

    @property
    def secret_key(self) -> str:
        return self.runtime.settings.secret_key

    @property
    def client_key(self) -> str:
        return self.runtime.settings.client_key

    @property
    def auth(self) -> tuple[str, str]:
        """For `requests`: Basic auth as Toss wants it, `secret_key:` with an empty password."""
        return (self.secret_key, "")

    # ------------------------------------------------------------ inspection and control

    def ledger(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get(f"{self.url}/_sandbox/ledger"))

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Change settings at runtime (snake_case names), e.g. `settings(fail_rate=1.0)`."""
        if not changes:
            return self._ok(self.http.get(f"{self.url}/_sandbox/settings"))
        return self._ok(self.http.post(f"{self.url}/_sandbox/settings", json=changes))

    def set_outcome(self, customer_key: str, code: str | None) -> dict[str, Any]:
        """Make later charges on the customer's billing keys fail with `code` (None: approve)."""
        return self._ok(
            self.http.post(
                f"{self.url}/_sandbox/billing-keys/outcome", json={"customerKey": customer_key, "code": code}
            )
        )

    def webhooks(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get(f"{self.url}/_sandbox/webhooks"))

    def flush_webhooks(self) -> list[dict[str, Any]]:
        """Deliver every webhook due now on the sandbox clock; returns all deliveries so far."""
        return self._ok(self.http.post(f"{self.url}/_sandbox/webhooks/flush", json={}))["webhooks"]

    @contextmanager
    def hold_requests(self) -> Iterator[Gate]:
        """Requests to /v1/* stop after claiming their Idempotency-Key until `gate.release()`."""
        gate = Gate()
        self.runtime.gate = gate
        try:
            yield gate
        finally:
            gate.release()
            self.runtime.gate = None

    # ------------------------------------------------------------ what the browser would do

    def register_card(
        self, customer_key: str, card_number: str = APPROVED_CARD, *, expiry: str = "12/35", birth: str = "900101"
    ) -> str:
        """Fill in the billing card window; returns the authKey (raises CardRefused on failUrl)."""
        response = self.http.post(
            f"{self.url}/_sandbox/window/billing",
            data={
                "clientKey": self.client_key,
                "customerKey": customer_key,
                "method": "CARD",
                "successUrl": f"{RETURN_URL}/success",
                "failUrl": f"{RETURN_URL}/fail",
                "cardNumber": card_number,
                "expiry": expiry,
                "birth": birth,
                "action": "submit",
            },
            allow_redirects=False,
        )
        query = self._redirect_query(response)
        if "authKey" not in query:
            raise CardRefused(query.get("code", "?"), query.get("message", ""))
        assert query["customerKey"] == customer_key
        return query["authKey"]

    def issue_billing_key(self, customer_key: str, card_number: str = APPROVED_CARD) -> dict[str, Any]:
        """register_card + POST /v1/billing/authorizations/issue; returns Toss's Billing object."""
        auth_key = self.register_card(customer_key, card_number)
        return self._ok(
            self.http.post(
                f"{self.url}/v1/billing/authorizations/issue",
                auth=self.auth,
                json={"authKey": auth_key, "customerKey": customer_key},
            )
        )

    def pay(
        self,
        *,
        order_id: str,
        amount: int,
        order_name: str = "테스트 상품",
        card_number: str = APPROVED_CARD,
        customer_key: str | None = None,
    ) -> dict[str, str]:
        """Fill in the payment window; returns successUrl's query (paymentKey, orderId, amount, ...)."""
        data = {
            "clientKey": self.client_key,
            "method": "CARD",
            "amount": str(amount),
            "currency": "KRW",
            "orderId": order_id,
            "orderName": order_name,
            "successUrl": f"{RETURN_URL}/success",
            "failUrl": f"{RETURN_URL}/fail",
            "cardNumber": card_number,
            "expiry": "12/35",
            "birth": "900101",
            "action": "submit",
        }
        if customer_key:
            data["customerKey"] = customer_key
        response = self.http.post(f"{self.url}/_sandbox/window/payment", data=data, allow_redirects=False)
        query = self._redirect_query(response)
        if "paymentKey" not in query:
            raise CardRefused(query.get("code", "?"), query.get("message", ""))
        return query

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def _redirect_query(response: requests.Response) -> dict[str, str]:
        assert response.status_code == 303, f"card window answered {response.status_code}: {response.text[:300]}"
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        return {name: values[-1] for name, values in query.items()}

    @staticmethod
    def _ok(response: requests.Response) -> Any:
        assert response.status_code == 200, (
            f"{response.request.method} {response.url}: {response.status_code} {response.text[:300]}"
        )
        return response.json()


@contextmanager
def running_sandbox(db_path: Path, clock: Clock | None = None, **settings: Any) -> Iterator[SandboxServer]:
    """Start a sandbox on a free port; stop it (and its webhook thread) on exit."""
    app = create_sandbox_app(SandboxSettings(db_path=str(db_path), **settings), clock=clock)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
    )
    thread.start()
    handle = SandboxServer(app, f"http://127.0.0.1:{server.server_port}")
    try:
        yield handle
    finally:
        handle.http.close()
        close_sandbox_app(app)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def sandbox(tmp_path: Path, clock: Clock) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path / "sandbox.db", clock) as server:
        yield server
