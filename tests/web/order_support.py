"""Helpers for the one-time order tests: a catalog with a one-time plan, a Toss client that
records its calls, and the shopper's steps (order, pay in the sandbox window, come back)."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import select

from storefront.models import Category, Order, Plan, Product
from storefront.toss.errors import TossError
from storefront.toss.types import Cancel, CardSummary, Payment
from tests.conftest import csrf_token

PRICE = 29_000
PROVISION = "결제 확인 후 1영업일 이내에 이메일로 다운로드 링크를 보내 드립니다."


class RecordingToss:
    """Wraps a real Toss client (here: pointed at the sandbox) and records each call by name."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return attr(*args, **kwargs)

        return call

    def count(self, name: str) -> int:
        return sum(1 for called, _, _ in self.calls if called == name)


@dataclass(frozen=True)
class Catalog:
    once_plan_id: int
    monthly_plan_id: int


def make_catalog(session) -> Catalog:
    category = Category(slug="files", name="자료")
    pack = Product(
        category=category,
        slug="deck-pack",
        name="프레젠테이션 템플릿 팩",
        kind="one_time",
        summary="템플릿 50종",
        description="슬라이드 묶음",
        provision=PROVISION,
    )
    once = Plan(name="단품 구매", interval="once", amount_won=PRICE)
    pack.plans.append(once)
    service = Product(category=category, slug="notes", name="노트 구독", kind="subscription", provision="매월")
    monthly = Plan(name="월간", interval="month", amount_won=9_900)
    service.plans.append(monthly)
    session.add_all([category, pack, service])
    session.commit()
    return Catalog(once.id, monthly.id)


def place_order(client: FlaskClient, plan_id: int) -> str:
    """Agree on /buy/<plan_id> and submit; returns the orderId of the pay page it leads to."""
    token = csrf_token(client, f"/buy/{plan_id}")
    response = client.post(f"/buy/{plan_id}", data={"csrf_token": token, "agree": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    match = re.fullmatch(r"/orders/([A-Za-z0-9_-]+)/pay", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def success_path(query: dict[str, str]) -> str:
    return "/payments/success?" + urlencode(query)


def come_back(client: FlaskClient, query: dict[str, str]):
    """What Toss's window and then the progress page do: GET the success URL, which answers at once; its
    form then POSTs to the same URL, which confirms and sends the browser to the outcome. Returns the last
    response (the GET's when it already answered: a refusal, or an order settled before)."""
    path = success_path(query)
    page = client.get(path)
    html = page.get_data(as_text=True)
    if page.status_code != 200 or 'data-mode="settle"' not in html:
        return page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    return client.post(path, data={"csrf_token": token}, follow_redirects=True)


def order_row(session, order_id: str) -> Order:
    session.expire_all()
    return session.scalars(select(Order).where(Order.order_id == order_id)).one()


def payment(
    order_id: str,
    status: str,
    *,
    failure: str | None = None,
    cancels: tuple[Cancel, ...] = (),
    balance: int | None = None,
    at: datetime | None = None,
) -> Payment:
    done = status in ("DONE", "CANCELED", "PARTIAL_CANCELED")
    return Payment(
        payment_key="tpay_order_1",
        order_id=order_id,
        order_name="팩",
        status=status,
        type="NORMAL",
        method="카드",
        total_amount=PRICE,
        balance_amount=PRICE if balance is None else balance,
        requested_at=at,
        approved_at=at if done else None,
        card=CardSummary("61", "31", "43301234****123*", "신용", "개인", "현대"),
        receipt_url="https://receipt.example/tpay_order_1" if done else None,
        cancels=cancels,
        failure_code=failure,
        failure_message=f"{failure} from Toss" if failure else None,
        raw={"orderId": order_id, "status": status},
    )


class ScriptedToss:
    """confirm_payment and get_payment_by_order_id answer from scripts; every call is recorded."""

    def __init__(self) -> None:
        self.confirms: deque[Payment | TossError] = deque()
        self.lookups: deque[Payment | TossError] = deque()
        self.calls: list[tuple[str, Any]] = []

    def confirm_payment(self, payment_key: str, order_id: str, amount: int, *, idempotency_key: str) -> Payment:
        self.calls.append(("confirm", (payment_key, order_id, amount, idempotency_key)))
        return self._answer(self.confirms.popleft())

    def get_payment_by_order_id(self, order_id: str) -> Payment:
        self.calls.append(("lookup", order_id))
        return self._answer(self.lookups.popleft())

    def count(self, name: str) -> int:
        return sum(1 for called, _ in self.calls if called == name)

    @staticmethod
    def _answer(answer: Payment | TossError) -> Payment:
        if isinstance(answer, TossError):
            raise answer
        return answer
