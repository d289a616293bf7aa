"""GET /v1/transactions (거래 조회) and GET /v1/settlements (정산 조회) as Toss documents them.

Toss's guides (docs.tosspayments.com/guides/apis/list-transactions-settlements): transactions
by `transactionAt` between startDate and endDate (Korean time; a day is T00:00:00–T23:59:59),
paged with `startingAfter` (a transactionKey) and `limit` (up to 5,000); settlements by
soldDate or paidOutDate (`dateType`), paged with `page` and `size`, each with its fees and
`payOutAmount` = amount − fees. A cancel is a transaction of its own, and a negative
settlement row (techchat m/1255352982157922435).
"""

from __future__ import annotations

import pytest

from storefront.toss.sandbox import SandboxSettings, SettingsError
from tests.sandbox.calls import charge, error_of, get, post

CUSTOMER = "cust-reports"
DAY = {"startDate": "2026-03-10T00:00:00", "endDate": "2026-03-10T23:59:59"}  # the clock: 10:00 KST


def _transactions(sandbox, **params):
    response = get(sandbox, "/v1/transactions", params={**DAY, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_days_transactions_are_every_approval_and_every_cancel(sandbox, clock):
    billing = sandbox.issue_billing_key(CUSTOMER)
    paid = charge(sandbox, billing["billingKey"], CUSTOMER, "order-tx-1", 9900).json()
    clock.advance(minutes=5)
    partial = post(
        sandbox, f"/v1/payments/{paid['paymentKey']}/cancel", {"cancelReason": "부분 환불", "cancelAmount": 3900}
    ).json()
    clock.advance(minutes=5)
    full = post(sandbox, f"/v1/payments/{paid['paymentKey']}/cancel", {"cancelReason": "해지"}).json()
    clock.advance(minutes=5)
    window = sandbox.pay(order_id="order-tx-2", amount=5000)
    post(sandbox, "/v1/payments/confirm", {"paymentKey": window["paymentKey"], "orderId": "order-tx-2", "amount": 5000})
    sandbox.pay(order_id="order-tx-3", amount=7000)  # authenticated, never confirmed: no transaction

    items = _transactions(sandbox)
    assert [(t["orderId"], t["status"], t["amount"]) for t in items] == [
        ("order-tx-1", "DONE", 9900),
        ("order-tx-1", "PARTIAL_CANCELED", 3900),
        ("order-tx-1", "CANCELED", 6000),
        ("order-tx-2", "DONE", 5000),
    ]
    approval, first_cancel, second_cancel, _ = items
    assert approval["transactionKey"] not in (first_cancel["transactionKey"], second_cancel["transactionKey"])
    assert [first_cancel["transactionKey"], second_cancel["transactionKey"]] == [
        c["transactionKey"] for c in full["cancels"]
    ]
    assert partial["cancels"][0]["transactionKey"] == first_cancel["transactionKey"]
    assert approval["transactionAt"] == "2026-03-10T10:00:00+09:00"
    assert set(approval) == {
        "mId",
        "transactionKey",
        "paymentKey",
        "orderId",
        "method",
        "customerKey",
        "useEscrow",
        "receiptUrl",
        "status",
        "transactionAt",
        "currency",
        "amount",
    }
    assert (approval["method"], approval["currency"], approval["customerKey"]) == ("카드", "KRW", CUSTOMER)


def test_the_range_is_in_korean_time_and_includes_its_last_second(sandbox, clock):
    billing = sandbox.issue_billing_key(CUSTOMER)
    clock.advance(hours=13, minutes=59, seconds=59)  # 23:59:59 KST on the 10th
    charge(sandbox, billing["billingKey"], CUSTOMER, "order-late-day", 1000)
    clock.advance(seconds=1)  # 00:00:00 on the 11th
    charge(sandbox, billing["billingKey"], CUSTOMER, "order-next-day", 1000)
    assert [t["orderId"] for t in _transactions(sandbox)] == ["order-late-day"]
    next_day = _transactions(sandbox, startDate="2026-03-11T00:00:00", endDate="2026-03-11T23:59:59")
    assert [t["orderId"] for t in next_day] == ["order-next-day"]
    utc = _transactions(sandbox, startDate="2026-03-10T14:59:59Z", endDate="2026-03-10T15:00:00Z")
    assert [t["orderId"] for t in utc] == ["order-late-day", "order-next-day"]


def test_more_transactions_than_the_limit_come_in_pages_after_the_last_key(sandbox, clock):
    billing = sandbox.issue_billing_key(CUSTOMER)
    for n in range(5):
        charge(sandbox, billing["billingKey"], CUSTOMER, f"order-page-{n}", 1000 + n)
        clock.advance(seconds=1)
    first = _transactions(sandbox, limit="2")
    second = _transactions(sandbox, limit="2", startingAfter=first[-1]["transactionKey"])
    third = _transactions(sandbox, limit="2", startingAfter=second[-1]["transactionKey"])
    last = _transactions(sandbox, limit="2", startingAfter=third[-1]["transactionKey"])
    assert [[t["orderId"][-1] for t in page] for page in (first, second, third, last)] == [
        ["0", "1"],
        ["2", "3"],
        ["4"],
        [],
    ]
    assert len(_transactions(sandbox)) == 5  # default limit 100


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"startingAfter": "NOT-A-KEY"}, 400, "INVALID_TRANSACTION_KEY"),
        ({"limit": "5001"}, 400, "INVALID_REQUEST"),
        ({"limit": "0"}, 400, "INVALID_REQUEST"),
        ({"startDate": "yesterday"}, 400, "INVALID_REQUEST"),
        ({"startDate": ""}, 400, "INVALID_REQUEST"),
        ({"endDate": "2026-03-09T00:00:00"}, 400, "INVALID_REQUEST"),
    ],
)
def test_bad_transaction_queries_are_refused(sandbox, params, status, code):
    response = get(sandbox, "/v1/transactions", params={**DAY, **params})
    assert error_of(response) == (status, code)


def test_a_limit_of_5000_is_allowed(sandbox):
    assert _transactions(sandbox, limit="5000") == []


# -- settlements ----------------------------------------------------------------------------------


def _settlements(sandbox, **params):
    response = get(sandbox, "/v1/settlements", params={"startDate": "2026-03-10", "endDate": "2026-03-10", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_settlements_take_the_fee_and_give_it_back_on_a_cancel(sandbox):
    sandbox.settings(fee_rate=0.032)
    billing = sandbox.issue_billing_key(CUSTOMER)
    paid = charge(sandbox, billing["billingKey"], CUSTOMER, "order-settle-1", 10000).json()
    post(sandbox, f"/v1/payments/{paid['paymentKey']}/cancel", {"cancelReason": "부분 환불", "cancelAmount": 2500})
    sale, refund = _settlements(sandbox)
    assert (sale["amount"], sale["fee"], sale["supplyAmount"], sale["vat"], sale["payOutAmount"]) == (
        10000,
        320,
        291,
        29,
        9680,
    )
    assert sale["fees"] == [{"type": "BASE", "fee": 320}] and sale["cancel"] is None
    assert (sale["soldDate"], sale["paidOutDate"], sale["approvedAt"]) == (
        "2026-03-10",
        "2026-03-12",
        "2026-03-10T10:00:00+09:00",
    )
    assert (refund["amount"], refund["fee"], refund["payOutAmount"]) == (-2500, -80, -2420)
    assert refund["cancel"]["cancelAmount"] == 2500 and refund["transactionKey"] == refund["cancel"]["transactionKey"]
    assert refund["paymentKey"] == sale["paymentKey"] == paid["paymentKey"]


def test_a_payments_fee_rate_is_fixed_when_it_is_approved(sandbox):
    billing = sandbox.issue_billing_key(CUSTOMER)
    sandbox.settings(fee_rate=0.02)
    paid = charge(sandbox, billing["billingKey"], CUSTOMER, "order-settle-2", 10000).json()
    sandbox.settings(fee_rate=0.05)
    charge(sandbox, billing["billingKey"], CUSTOMER, "order-settle-3", 10000)
    post(sandbox, f"/v1/payments/{paid['paymentKey']}/cancel", {"cancelReason": "환불"})
    assert [(s["orderId"], s["fee"]) for s in _settlements(sandbox)] == [
        ("order-settle-2", 200),
        ("order-settle-3", 500),
        ("order-settle-2", -200),
    ]


def test_settlements_by_payout_date_and_in_pages(sandbox, clock):
    sandbox.settings(payout_days=3)
    billing = sandbox.issue_billing_key(CUSTOMER)
    for n in range(3):
        charge(sandbox, billing["billingKey"], CUSTOMER, f"order-payout-{n}", 1000)
    assert _settlements(sandbox, dateType="paidOutDate") == []
    by_payout = _settlements(sandbox, dateType="paidOutDate", startDate="2026-03-13", endDate="2026-03-13")
    assert [s["orderId"] for s in by_payout] == ["order-payout-0", "order-payout-1", "order-payout-2"]
    assert [s["orderId"] for s in _settlements(sandbox, size="2", page="2")] == ["order-payout-2"]
    assert error_of(get(sandbox, "/v1/settlements", params={"startDate": "2026-03-10"})) == (400, "INVALID_REQUEST")
    assert error_of(
        get(
            sandbox,
            "/v1/settlements",
            params={"startDate": "2026-03-10", "endDate": "2026-03-10", "dateType": "approvedAt"},
        )
    ) == (400, "INVALID_REQUEST")


def test_fee_rate_and_payout_days_are_sandbox_settings():
    settings = SandboxSettings.from_env({"SANDBOX_FEE_RATE": "0.025", "SANDBOX_PAYOUT_DAYS": "1"})
    assert (settings.fee_rate, settings.payout_days) == (0.025, 1)
    assert SandboxSettings.from_env({}).fee_rate == 0.032
    for env in ({"SANDBOX_FEE_RATE": "3.2"}, {"SANDBOX_FEE_RATE": "-0.1"}, {"SANDBOX_PAYOUT_DAYS": "-1"}):
        with pytest.raises(SettingsError):
            SandboxSettings.from_env(env)


def test_fee_rate_can_be_changed_while_the_sandbox_runs(sandbox):
    assert sandbox.settings(fee_rate=0.018)["feeRate"] == 0.018
    response = sandbox.http.post(f"{sandbox.url}/_sandbox/settings", json={"feeRate": 2})
    assert error_of(response) == (400, "INVALID_REQUEST")
