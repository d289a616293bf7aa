"""An integration written the way Toss's official samples are, run against the sandbox.

`SampleMerchant` does what tosspayments-sample's django-javascript/payments/views.py (and its
Express, PHP, Go and React siblings) do, changed only in host and keys: it confirms with the
`amount` string exactly as the success URL's query gave it, charges a billing key by putting
the raw key (which ends with `=`) straight into the path, keeps billing keys in a dict, and
calls `response.json()` on every answer, success or error. Issue 11: the one-time flow used to
fail at confirm with "amount 값은 숫자여야 합니다."; both flows must pass unchanged.
"""

from __future__ import annotations

import base64
from typing import Any

import requests

from tests.sandbox_server import SandboxServer

DECLINING_CARD = "4330000000000051"


class SampleMerchant:
    """The sample's server side, nothing more careful than it is."""

    def __init__(self, api_base: str, secret_key: str) -> None:
        self.api_base = api_base
        self.billing_key_map: dict[str, str] = {}
        encoded = base64.b64encode(f"{secret_key}:".encode()).decode()
        self.headers = {"Authorization": f"Basic {encoded}", "Content-Type": "application/json"}

    def _send(self, url: str, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
        response = requests.post(url, json=params, headers=self.headers, timeout=30)
        return response.json(), response.status_code  # every answer is read as JSON

    def payment_success(self, query: dict[str, str]) -> tuple[dict[str, Any], int]:
        """views.process_payment: orderId, amount, paymentKey straight from request.GET."""
        params = {"orderId": query.get("orderId"), "amount": query.get("amount"), "paymentKey": query.get("paymentKey")}
        return self._send(f"{self.api_base}/v1/payments/confirm", params)

    def issue_billing_key(self, body: dict[str, str]) -> tuple[dict[str, Any], int]:
        """views.issueBillingKey: remembers the key per customerKey on success."""
        resjson, status = self._send(
            f"{self.api_base}/v1/billing/authorizations/issue",
            {"customerKey": body["customerKey"], "authKey": body["authKey"]},
        )
        if status == 200:
            self.billing_key_map[body["customerKey"]] = resjson.get("billingKey")
        return resjson, status

    def confirm_billing(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """views.confirm_billing: f"https://api.tosspayments.com/v1/billing/{billingKey}", key unencoded."""
        billing_key = self.billing_key_map[body["customerKey"]]
        params = {
            name: body[name]
            for name in ("customerKey", "amount", "orderId", "orderName", "customerEmail", "customerName")
        }
        return self._send(f"{self.api_base}/v1/billing/{billing_key}", params)


def _merchant(sandbox: SandboxServer) -> SampleMerchant:
    return SampleMerchant(sandbox.url, sandbox.secret_key)


def test_the_samples_one_time_payment_flow(sandbox):
    merchant = _merchant(sandbox)
    query = sandbox.pay(order_id="MC4wNTk0MTk5OTc1", amount=50000, order_name="토스 티셔츠 외 2건")
    assert isinstance(query["amount"], str)

    resjson, status = merchant.payment_success(query)

    assert status == 200, resjson
    assert (resjson["status"], resjson["totalAmount"], resjson["orderId"]) == ("DONE", 50000, "MC4wNTk0MTk5OTc1")
    assert [(e["orderId"], e["amount"], e["status"]) for e in sandbox.ledger()] == [("MC4wNTk0MTk5OTc1", 50000, "DONE")]
    again, status = merchant.payment_success(query)  # a shopper reloading the success page
    assert (status, again["code"]) == (400, "ALREADY_PROCESSED_PAYMENT") and again["message"]


def test_the_samples_one_time_flow_reads_a_decline_as_json(sandbox):
    merchant = _merchant(sandbox)
    query = sandbox.pay(order_id="MC4xNjU0Mzc5MjA5", amount=15000, card_number=DECLINING_CARD)
    resjson, status = merchant.payment_success(query)
    assert (status, resjson["code"]) == (403, "REJECT_CARD_PAYMENT") and resjson["message"]
    tampered = dict(sandbox.pay(order_id="MC4yNDk1MzM1NzE0", amount=15000), amount="100")
    resjson, status = merchant.payment_success(tampered)
    assert (status, resjson["code"]) == (400, "INVALID_REQUEST")
    assert sandbox.ledger() == []


def test_the_samples_billing_flow(sandbox):
    merchant = _merchant(sandbox)
    customer_key = "qLKNEQdVbLshykFfzorKz"
    auth_key = sandbox.register_card(customer_key)  # the card window's successUrl query

    issued, status = merchant.issue_billing_key({"customerKey": customer_key, "authKey": auth_key})

    assert status == 200, issued
    assert issued["billingKey"].endswith("=")  # travels raw in the path below
    charged, status = merchant.confirm_billing(
        {
            "customerKey": customer_key,
            "amount": "4900",
            "orderId": "ZbiAf8QsWA979_j-TEp_N",
            "orderName": "토스 프라임 구독",
            "customerEmail": "customer@email.com",
            "customerName": "박토스",
        }
    )
    assert status == 200, charged
    assert (charged["status"], charged["type"], charged["totalAmount"]) == ("DONE", "BILLING", 4900)
    assert [(e["orderId"], e["amount"]) for e in sandbox.ledger()] == [("ZbiAf8QsWA979_j-TEp_N", 4900)]

    twice, status = merchant.confirm_billing(
        {
            "customerKey": customer_key,
            "amount": 4900,
            "orderId": "ZbiAf8QsWA979_j-TEp_N",
            "orderName": "토스 프라임 구독",
            "customerEmail": "customer@email.com",
            "customerName": "박토스",
        }
    )
    assert (status, twice["code"]) == (400, "DUPLICATED_ORDER_ID")
    reused, status = merchant.issue_billing_key({"customerKey": customer_key, "authKey": auth_key})
    assert (status, reused["code"]) == (400, "INVALID_BILLING_AUTH")
    assert merchant.billing_key_map[customer_key] == issued["billingKey"]  # a failed issue keeps the old key
