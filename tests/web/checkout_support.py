"""Helpers for checkout and 내 구독 tests: a small catalog, and a shopper who goes through the real forms.

`Shopper.subscribe` does what a browser does: opens /subscribe/<plan>, ticks the consents
(CSRF token read from the form), follows to the card page, reads the successUrl and the
customerKey from the button's data-* attributes, and comes back from "Toss" with an authKey
(the FakeToss accepts any authKey once).
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront.models import Category, Plan, Product, Subscription, User
from tests.conftest import Auth, csrf_token
from tests.fakes import FakeToss


@dataclass
class Catalog:
    product: Product
    monthly: Plan
    premium: Plan  # monthly, dearer
    yearly: Plan
    trial: Plan  # another product, 14-day trial
    other_product_plan: Plan


def make_catalog(session: Session) -> Catalog:
    category = Category(slug="classes", name="클래스")
    product = Product(
        category=category,
        slug="daily-english",
        name="매일 영어 회화",
        kind="subscription",
        summary="하루 10분",
        description="매일 영어 회화 강의",
        provision="가입 즉시 온라인 제공",
    )
    monthly = Plan(product=product, name="월간 베이직", interval="month", amount_won=9900, position=1)
    premium = Plan(product=product, name="월간 프리미엄", interval="month", amount_won=19900, position=2)
    yearly = Plan(product=product, name="연간 베이직", interval="year", amount_won=99000, position=3)
    other = Product(
        category=category,
        slug="excel-master",
        name="엑셀 마스터",
        kind="subscription",
        summary="실무 엑셀",
        description="엑셀 강의",
        provision="가입 즉시 온라인 제공",
    )
    trial = Plan(product=other, name="월간 (14일 무료)", interval="month", amount_won=12900, trial_days=14)
    session.add_all([category, product, monthly, premium, yearly, other, trial])
    session.commit()
    return Catalog(product, monthly, premium, yearly, trial, trial)


def data_attrs(page: str, element_id: str) -> dict[str, str]:
    """The data-* attributes of the element with this id, unescaped."""
    match = re.search(rf'<[^>]*id="{element_id}"[^>]*>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return {
        name.replace("-", "_"): html.unescape(value)
        for name, value in re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(0))
    }


def local(url: str) -> str:
    """The path and query of an absolute URL, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Shopper:
    """One signed-in shopper using the site through its forms."""

    def __init__(self, client: FlaskClient, session: Session, email: str = "shopper@example.com") -> None:
        self.client = client
        self.session = session
        self.email = email
        self.auth = Auth(client)

    def signup(self, **extra: Any) -> Shopper:
        response = self.auth.signup(email=self.email, **extra)
        assert response.status_code == 302, response.get_data(as_text=True)
        return self

    @property
    def user(self) -> User:
        self.session.expire_all()
        return self.session.scalar(select(User).where(User.email == self.email))

    def consent(self, plan: Plan, **extra: str):
        """Tick both consents and submit; returns the response (a redirect to the card page when accepted)."""
        path = f"/subscribe/{plan.id}"
        data = {"csrf_token": csrf_token(self.client, path), "agree_terms": "y", "agree_renewal": "y", **extra}
        if plan.trial_days:
            data.setdefault("phone", "010-1234-5678")  # a trial asks for a number for its SMS notice
        return self.client.post(path, data=data)

    def card_page(self, plan: Plan, **extra: str) -> str:
        response = self.consent(plan, **extra)
        assert response.status_code == 302, response.get_data(as_text=True)
        page = self.client.get(response.headers["Location"])
        assert page.status_code == 200
        return page.get_data(as_text=True)

    def toss_button(self, page: str) -> dict[str, str]:
        return data_attrs(page, "toss-billing-auth")

    def come_back(
        self, button: dict[str, str], *, auth_key: str | None = None, customer_key: str | None = None, **extra: str
    ):
        """What Toss's window and then our progress page do: GET successUrl + customerKey + authKey, which
        answers at once; its form then POSTs to the same URL, which does the work. Returns the last response
        (the POST's, or the GET's when that already answered: a refusal, or a settled intent)."""
        query = {"customerKey": customer_key or button["customer_key"], "authKey": auth_key or new_auth_key(), **extra}
        url = f"{local(button['success_url'])}&{urlencode(query)}"
        page = self.client.get(url)
        if page.status_code != 200 or 'data-mode="settle"' not in page.get_data(as_text=True):
            return page
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
        return self.client.post(url, data={"csrf_token": token})

    def subscribe(self, plan: Plan, *, auth_key: str | None = None, **extra: str):
        """Consent, open the window, come back with a fresh authKey; returns the success response."""
        return self.come_back(self.toss_button(self.card_page(plan)), auth_key=auth_key, **extra)

    def signed_in(self) -> Shopper:
        """Sign in again when the sign-in has run out (tests move the clock past its 31 days, and a
        shopper coming back a month later signs in, as a real one would)."""
        if self.client.get("/account").status_code == 302:
            response = self.auth.login(email=self.email)
            assert response.status_code == 302 and "/login" not in response.headers["Location"], response.headers
        return self

    def change_card(self, subscription_id: int, *, auth_key: str | None = None):
        """내 구독 → 카드 변경 → the window → back; returns the success response."""
        self.signed_in()
        token = csrf_token(self.client, "/account")
        response = self.client.post(f"/account/subscriptions/{subscription_id}/card", data={"csrf_token": token})
        assert response.status_code == 302 and "/billing/card" in response.headers["Location"], response.headers
        page = self.client.get(response.headers["Location"]).get_data(as_text=True)
        return self.come_back(self.toss_button(page), auth_key=auth_key)

    def post(self, path: str, form_page: str = "/account", **data: str):
        self.signed_in()
        return self.client.post(path, data={"csrf_token": csrf_token(self.client, form_page), **data})

    def subscriptions(self) -> list[Subscription]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(Subscription).where(Subscription.user_id == self.user.id).order_by(Subscription.id)
            )
        )


def new_auth_key() -> str:
    return f"bln_auth_{uuid.uuid4().hex}"


def intent_token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["intent"][0]


# -- fixtures for the checkout and 내 구독 tests (import them by name) --


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def catalog(db_session):
    return make_catalog(db_session)


@pytest.fixture
def shopper(client, db_session) -> Shopper:
    return Shopper(client, db_session).signup()
