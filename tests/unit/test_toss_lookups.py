"""TossClient's transaction and settlement look-ups against Toss's documented bodies (via `responses`).

tests/fixtures/toss/transactions.json follows the guide "거래 조회 API"
(docs.tosspayments.com/guides/apis/list-transactions-settlements; keys from the guide "결제와 거래");
settlements.json the guide's settlement example (fees as strings) and a real cancel row
(techchat m/1255352982157922435: negative amount, fee given back, `cancel` object).
"""

from __future__ import annotations

import json
from datetime import date, datetime, UTC
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from storefront.toss.client import TossClient
from storefront.toss.errors import Category, TossError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "toss"
API = "https://api.tosspayments.com"
SECRET = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"
AUTHORIZATION = "Basic dGVzdF9za196WExrS0V5cE5BcldtbzUwblgzbG1lYXhZRzVSOg=="
# 2026-03-10 in Korea: 2026-03-09T15:00Z .. 2026-03-10T14:59:59Z
DAY_START = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
DAY_END = datetime(2026, 3, 10, 14, 59, 59, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def toss() -> TossClient:
    return TossClient(API, SECRET, sleep=lambda _: None)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def query_of(call: Any) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def test_transactions_are_asked_for_in_korean_time_and_parsed(toss, rsps) -> None:
    rsps.get(f"{API}/v1/transactions", json=fixture("transactions.json"))

    approval, cancel = toss.list_transactions(DAY_START, DAY_END)

    [call] = rsps.calls
    assert call.request.headers["Authorization"] == AUTHORIZATION
    assert query_of(call) == {"startDate": "2026-03-10T00:00:00", "endDate": "2026-03-10T23:59:59", "limit": "100"}
    assert (approval.transaction_key, approval.status, approval.amount, approval.is_cancel) == (
        "D830460735FF8B6C8DFCF515F6AF31B8",
        "DONE",
        15000,
        False,
    )
    assert approval.transaction_at == datetime(2023, 8, 21, 10, 48, 7, tzinfo=UTC)
    assert approval.order_id == "2c0lhlsxtMlGKUC5GOyik" and approval.method == "카드"
    assert (cancel.status, cancel.amount, cancel.is_cancel) == ("PARTIAL_CANCELED", 5000, True)
    assert cancel.payment_key == approval.payment_key


def test_every_page_is_read_after_the_last_key_until_a_short_page(toss, rsps) -> None:
    def page(n: int, start: int) -> list[dict[str, Any]]:
        item = fixture("transactions.json")[0]
        return [{**item, "transactionKey": f"TX{start + i}", "orderId": f"order-{start + i}"} for i in range(n)]

    rsps.get(f"{API}/v1/transactions", json=page(3, 0))
    rsps.get(f"{API}/v1/transactions", json=page(3, 3))
    rsps.get(f"{API}/v1/transactions", json=page(1, 6))

    keys = [t.transaction_key for t in toss.iter_transactions(DAY_START, DAY_END, page_size=3)]

    assert keys == [f"TX{i}" for i in range(7)]
    assert [query_of(c).get("startingAfter") for c in rsps.calls] == [None, "TX2", "TX5"]
    assert {query_of(c)["limit"] for c in rsps.calls} == {"3"}


def test_a_full_last_page_costs_one_more_empty_request(toss, rsps) -> None:
    item = fixture("transactions.json")[0]
    rsps.get(f"{API}/v1/transactions", json=[{**item, "transactionKey": "TX0"}, {**item, "transactionKey": "TX1"}])
    rsps.get(f"{API}/v1/transactions", json=[])
    assert [t.transaction_key for t in toss.iter_transactions(DAY_START, DAY_END, page_size=2)] == ["TX0", "TX1"]
    assert len(rsps.calls) == 2


def test_an_unknown_paging_key_is_a_toss_error(toss, rsps) -> None:
    rsps.get(
        f"{API}/v1/transactions",
        status=400,
        json={"code": "INVALID_TRANSACTION_KEY", "message": "잘못된 페이징 키 입니다."},
    )
    with pytest.raises(TossError) as caught:
        toss.list_transactions(DAY_START, DAY_END, starting_after="txrd_unknown")
    assert (caught.value.code, caught.value.http_status) == ("INVALID_TRANSACTION_KEY", 400)
    assert caught.value.category is Category.CONFIG  # a look-up moves no money: nothing is unknown
    assert query_of(rsps.calls[0])["startingAfter"] == "txrd_unknown"


@pytest.mark.parametrize("body", [{"not": "a list"}, [1, 2], [{"transactionKey": "TX"}]])
def test_an_unreadable_list_is_transient(toss, rsps, body) -> None:
    rsps.get(f"{API}/v1/transactions", json=body)
    with pytest.raises(TossError) as caught:
        toss.list_transactions(DAY_START, DAY_END)
    assert (caught.value.code, caught.value.category) == ("INVALID_RESPONSE", Category.TRANSIENT)


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 5001}, {"limit": True}, {"starting_after": ""}])
def test_bad_paging_arguments_are_refused_before_sending(toss, rsps, kwargs) -> None:
    with pytest.raises(ValueError):
        toss.list_transactions(DAY_START, DAY_END, **kwargs)


def test_naive_datetimes_are_refused(toss, rsps) -> None:
    with pytest.raises(ValueError):
        toss.list_transactions(datetime(2026, 3, 10), DAY_END)


def test_settlements_are_parsed_with_fees_from_either_field(toss, rsps) -> None:
    rsps.get(f"{API}/v1/settlements", json=fixture("settlements.json"))

    sale, refund = toss.list_settlements(date(2021, 12, 30), date(2023, 11, 25))

    assert query_of(rsps.calls[0]) == {
        "startDate": "2021-12-30",
        "endDate": "2023-11-25",
        "dateType": "soldDate",
        "page": "1",
        "size": "100",
    }
    assert (sale.amount, sale.fee, sale.pay_out_amount, sale.is_cancel) == (34000, 860, 33140, False)
    assert (sale.sold_date, sale.paid_out_date) == (date(2021, 12, 30), date(2022, 1, 1))
    assert (refund.amount, refund.fee, refund.supply_amount, refund.vat, refund.pay_out_amount) == (
        -99800,
        -2250,
        -2045,
        -205,
        -97550,
    )
    assert refund.is_cancel and refund.transaction_key == "497BF239847238947B0491D84B4"


def test_settlement_pages_are_read_until_a_short_one(toss, rsps) -> None:
    row = fixture("settlements.json")[0]
    rsps.get(f"{API}/v1/settlements", json=[row, row])
    rsps.get(f"{API}/v1/settlements", json=[row])
    rows = list(toss.iter_settlements(date(2026, 3, 1), date(2026, 3, 31), date_type="paidOutDate", page_size=2))
    assert len(rows) == 3
    assert [(query_of(c)["page"], query_of(c)["dateType"]) for c in rsps.calls] == [
        ("1", "paidOutDate"),
        ("2", "paidOutDate"),
    ]


@pytest.mark.parametrize("kwargs", [{"date_type": "approvedAt"}, {"page": 0}, {"size": 5001}])
def test_bad_settlement_arguments_are_refused_before_sending(toss, rsps, kwargs) -> None:
    with pytest.raises(ValueError):
        toss.list_settlements(date(2026, 3, 1), date(2026, 3, 1), **kwargs)
