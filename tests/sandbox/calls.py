"""Plain-HTTP calls to the sandbox, written the way a Toss client would send them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from tests.sandbox_server import SandboxServer


def post(
    sandbox: SandboxServer,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Idempotency-Key"] = key
    return requests.post(
        sandbox.url + path,
        json=body,
        auth=sandbox.auth,
        headers=all_headers,
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def get(sandbox: SandboxServer, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(sandbox.url + path, auth=sandbox.auth, timeout=10, **kwargs)


def delete_billing_key(sandbox: SandboxServer, billing_key: str) -> requests.Response:
    return requests.delete(sandbox.url + billing_path(billing_key), auth=sandbox.auth, timeout=10)


def billing_path(billing_key: str) -> str:
    """The billing key percent-encoded into the path, as a careful client sends it."""
    return "/v1/billing/" + quote(billing_key, safe="")


def charge(
    sandbox: SandboxServer,
    billing_key: str,
    customer_key: str,
    order_id: str,
    amount: int = 9900,
    *,
    key: str | None = None,
    timeout: float = 10,
    **extra: Any,
) -> requests.Response:
    body = {"customerKey": customer_key, "amount": amount, "orderId": order_id, "orderName": "베이직 월 구독", **extra}
    return post(sandbox, billing_path(billing_key), body, key=key, timeout=timeout)


def error_of(response: requests.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) >= {"code", "message"} and body["message"], body
    return response.status_code, body["code"]
