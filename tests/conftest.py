"""Shared fixtures: a fresh app and SQLite file per test, a movable clock, CSRF left on."""

from __future__ import annotations

import re
from datetime import datetime, UTC
from pathlib import Path
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from storefront import create_app
from storefront.clock import FixedClock
from storefront.config import Config, load_config

pytest_plugins = [
    "tests.fixtures_postgres",
    "tests.redis_server",
    "tests.smtp_server",
    "tests.sandbox_server",
    "tests.browser",
]

TEST_ENCRYPTION_KEY = "0f" * 32

BASE_ENV = {
    "APP_ENV": "testing",
    "SECRET_KEY": "test-secret-key-" + "x" * 32,
    "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    "TOSS_ENV": "sandbox",
    "BUSINESS_NAME": "주식회사 테스트상점",
    "BUSINESS_REPRESENTATIVE": "홍길동",
    "BUSINESS_REGISTRATION_NUMBER": "220-81-12345",
    "BUSINESS_MAIL_ORDER_NUMBER": "제2026-서울마포-0042호",
    "BUSINESS_MAIL_ORDER_OFFICE": "서울특별시 마포구청",
    "BUSINESS_ADDRESS": "서울특별시 마포구 월드컵북로 1, 3층",
    "BUSINESS_PHONE": "02-555-0100",
    "BUSINESS_EMAIL": "help@test-shop.example",
    "BUSINESS_HOSTING_PROVIDER": "테스트호스팅(주)",
    "BUSINESS_PRIVACY_OFFICER": "이보안 (privacy@test-shop.example)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database behind the `app` fixture: a SQLite file (default) or a fresh PostgreSQL database",
    )


def make_config(tmp_path: Path, **overrides) -> Config:
    env = dict(BASE_ENV, DATABASE_URL=f"sqlite:///{tmp_path / 'test.db'}")
    env_overrides = {k: v for k, v in overrides.items() if k.isupper()}
    field_overrides = {k: v for k, v in overrides.items() if not k.isupper()}
    env.update(env_overrides)
    field_overrides.setdefault("password_hash_cheap", True)
    return load_config(env, **field_overrides)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 1, 0, tzinfo=UTC))


@pytest.fixture
def config(tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    marker = request.node.get_closest_marker("settings")
    overrides = dict(marker.kwargs if marker else {})
    if request.config.getoption("--database") == "postgres":
        overrides.setdefault("DATABASE_URL", request.getfixturevalue("postgres_url"))
    return make_config(tmp_path, **overrides)


@pytest.fixture
def toss():
    """The Toss client the app uses; tests that charge override this with a sandbox or a fake."""
    return None


class RequestClient(FlaskClient):
    """A test client whose every request starts with an empty `g`, as each request does in production.

    Flask reuses an app context that is already pushed, and `db_session` keeps one open for the whole
    test: without this, what one request left in `g` (Flask-Login's loaded user, the CSRF check's
    verdict) would carry into the next, and a token-less POST after a login could pass unnoticed.
    """

    def open(self, *args, **kwargs):
        from flask import current_app, g, has_app_context

        if has_app_context() and current_app._get_current_object() is self.application:  # type: ignore[attr-defined]
            for name in list(g):
                g.pop(name)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(config: Config, clock: FixedClock, toss) -> Iterator[Flask]:
    from storefront.extensions import db

    app = create_app(config, clock=clock, toss=toss)
    app.test_client_class = RequestClient
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(app: Flask):
    from storefront.extensions import db

    with app.app_context():
        yield db.session


def csrf_token(client: FlaskClient, path: str) -> str:
    """Read the CSRF token from the form a user would see at `path`."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no CSRF token in the form at {path}"
    return match.group(1)


class Auth:
    """Sign up / log in through the real forms, CSRF included."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def signup(
        self,
        email: str = "shopper@example.com",
        password: str = "correct horse 1",
        name: str = "김구매",
        confirm: bool = True,
        **extra,
    ):
        """Fill in the sign-up form and, with `confirm`, open the emailed link in the same browser.

        Returns the last response: the link's redirect (signed in, to `next`) when a link was
        sent, else the form's answer (errors, or the same 메일을 확인해 주세요 redirect a known
        address gets).
        """
        data = {
            "csrf_token": csrf_token(self.client, "/signup"),
            "name": name,
            "email": email,
            "password": password,
            "password_confirm": password,
            "agree_terms": "y",
            "agree_privacy": "y",
            "agree_age": "y",
            **extra,
        }
        response = self.client.post("/signup", data=data)
        link = self.emailed_link(email, "signup_confirm") if confirm and response.status_code == 302 else None
        return self.client.get(link) if link else response

    def emailed_link(self, email: str, kind: str) -> str | None:
        """The path of the link in the newest `kind` notice to `email` (read from the outbox), if any."""
        from sqlalchemy import select

        from storefront.extensions import db
        from storefront.models import EmailMessage

        with self.client.application.app_context():
            body = db.session.scalars(
                select(EmailMessage.body_text)
                .where(EmailMessage.to == email.strip().lower(), EmailMessage.kind == kind)
                .order_by(EmailMessage.id.desc())
            ).first()
        match = re.search(r"https?://[^/\s]+(/[\w/-]+/[\w-]{20,})", body or "")
        return match.group(1) if match else None

    def login(self, email: str = "shopper@example.com", password: str = "correct horse 1", next: str | None = None):
        data = {"csrf_token": csrf_token(self.client, "/login"), "email": email, "password": password}
        if next is not None:
            data["next"] = next
        return self.client.post("/login", data=data)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)
