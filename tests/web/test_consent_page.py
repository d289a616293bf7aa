"""The consent page /consent/<token>: owner only, facts shown, 동의 and 해지 of equal weight, CSRF, IP kept."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from storefront import accounts
from storefront.billing.compliance import consent
from storefront.models import BillingKey, Consent, EmailMessage, Subscription, User
from tests.billing.consent_support import kst
from tests.conftest import csrf_token
from tests.web.admin_support import make_catalog

PASSWORD = "correct horse 1"


class Buttons(HTMLParser):
    """Every <button> with its attributes and text, and whether it sits in a form."""

    def __init__(self) -> None:
        super().__init__()
        self.buttons: list[dict] = []
        self._open: dict | None = None
        self.flags: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "button" and values.get("name") == "decision":
            self._open = {"tag": tag, **values, "text": ""}
        if tag in ("input", "button", "select", "option") and any(
            a in values for a in ("checked", "autofocus", "selected")
        ):
            self.flags.append(f"{tag}:{values}")

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._open is not None:
            self._open["text"] = self._open["text"].strip()
            self.buttons.append(self._open)
            self._open = None


def decision_buttons(html: str) -> Buttons:
    parser = Buttons()
    parser.feed(html)
    return parser


def make_user(db_session, clock, email: str = "shopper@example.com") -> User:
    user = accounts.create_user(
        db_session, accounts.NewUser(email=email, password=PASSWORD, name="김구매"), now=clock.now(), cheap_hash=True
    )
    db_session.commit()
    return user


def make_subscription(db_session, clock, user: User, *, status: str = "active") -> Subscription:
    plan = make_catalog(db_session)
    card = BillingKey(
        user_id=user.id,
        customer_key=user.customer_key,
        card_company="현대",
        card_number_masked="43301234****123*",
        issued_at=clock.now(),
    )
    renewal = kst(2026, 4, 10, 10)
    sub = Subscription(
        user_id=user.id,
        plan=plan,
        billing_key=card,
        status=status,
        amount_won=9900,
        anchor_day=10,
        current_period_start=clock.now(),
        current_period_end=renewal,
        next_charge_at=renewal,
        trial_end_at=renewal if status == "trialing" else None,
        created_at=clock.now(),
    )
    db_session.add_all([card, sub])
    db_session.commit()
    return sub


@pytest.fixture
def change(app, db_session, clock):
    """A 9,900원 → 12,900원 rise from the 2026-04-10 renewal; the window opened 2026-03-11 10:00 KST."""
    user = make_user(db_session, clock)
    sub = make_subscription(db_session, clock, user)
    row = consent.schedule_price_change(
        db_session,
        sub,
        new_amount_won=12900,
        effective_on=date(2026, 4, 9),
        reason="plan_price",
        now=clock.now(),
        config=app.config["STOREFRONT"],
    )
    db_session.commit()
    clock.set(kst(2026, 3, 27, 10))
    return row


def consents(db_session) -> list[Consent]:
    db_session.expire_all()
    return list(db_session.scalars(select(Consent)))


def test_a_guest_signs_in_and_comes_back_to_the_page_from_the_email_link(client, auth, change):
    path = f"/consent/{change.token}"
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=%2Fconsent%2F{change.token}"
    response = auth.login(next=path)
    assert response.status_code == 302 and response.headers["Location"] == path
    assert client.get(path).status_code == 200


def test_the_page_shows_date_prices_and_card_with_two_equal_buttons_and_no_default(client, auth, change):
    auth.login()
    html = client.get(f"/consent/{change.token}").get_data(as_text=True)
    for fact in (
        "2026년 4월 10일",
        "9,900원",
        "12,900원",
        "현대 43301234****123*",
        "선택하지 않으시면 동의하지 않은 것으로",
        "아무것도 결제되지 않으며",
    ):
        assert fact in html
    parsed = decision_buttons(html)
    agree, cancel = parsed.buttons
    assert (agree["value"], agree["text"], cancel["value"], cancel["text"]) == ("agreed", "동의", "refused", "해지")
    assert {k: v for k, v in agree.items() if k not in ("value", "text")} == {
        k: v for k, v in cancel.items() if k not in ("value", "text")
    }
    assert "primary" not in agree["class"]
    assert parsed.flags == []  # nothing pre-selected, nothing focused first
    assert 'name="csrf_token"' in html


def test_agreeing_records_the_answer_with_time_and_ip(client, auth, change, db_session, clock):
    auth.login()
    path = f"/consent/{change.token}"
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "decision": "agreed"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 302 and response.headers["Location"] == path
    [row] = consents(db_session)
    assert (row.kind, row.decision, row.ip, row.at, row.subscription_id) == (
        "price_increase",
        "agreed",
        "203.0.113.9",
        clock.now(),
        change.subscription_id,
    )
    html = client.get(path).get_data(as_text=True)
    assert "동의가 기록되었습니다" in html and "동의하셨습니다" in html
    assert [b["value"] for b in decision_buttons(html).buttons] == ["refused"]  # 해지 stays possible


def test_refusing_with_the_cancel_button_ends_the_subscription_at_the_period_end_and_says_so(
    client, auth, change, db_session
):
    auth.login()
    path = f"/consent/{change.token}"
    client.post(path, data={"csrf_token": csrf_token(client, path), "decision": "refused"})
    html = client.get(path).get_data(as_text=True)
    assert "해지를 선택하셨습니다. 구독은 2026년 4월 10일에 종료되며, 더 이상 결제되지 않습니다." in html
    assert decision_buttons(html).buttons == []
    db_session.expire_all()
    sub = db_session.get(Subscription, change.subscription_id)
    assert sub.cancel_at_period_end and sub.status == "active"
    assert [row.decision for row in consents(db_session)] == ["refused"]
    mail = db_session.scalars(select(EmailMessage).where(EmailMessage.kind == "subscription_canceled")).one()
    assert "2026년 4월 10일까지" in mail.body_text


def test_a_post_without_the_csrf_token_is_refused_and_records_nothing(client, auth, change, db_session):
    auth.login()
    response = client.post(f"/consent/{change.token}", data={"decision": "agreed"})
    assert response.status_code == 400
    assert consents(db_session) == []


@pytest.mark.parametrize("data", [{}, {"decision": "maybe"}, {"decision": ""}])
def test_a_post_without_a_real_choice_records_nothing(client, auth, change, db_session, data):
    auth.login()
    path = f"/consent/{change.token}"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), **data}, follow_redirects=True)
    assert response.status_code == 200
    assert "동의 또는 해지 중 하나를 선택해 주세요." in response.get_data(as_text=True)
    assert consents(db_session) == []


def test_only_the_owner_sees_the_page(client, auth, change, db_session, clock):
    make_user(db_session, clock, email="other@example.com")
    auth.login(email="other@example.com")
    assert client.get(f"/consent/{change.token}").status_code == 404
    assert (
        client.post(
            f"/consent/{change.token}", data={"csrf_token": csrf_token(client, "/"), "decision": "refused"}
        ).status_code
        == 404
    )
    assert client.get("/consent/" + "x" * 43).status_code == 404
    assert client.get("/consent/short").status_code == 404
    assert consents(db_session) == []


def test_before_the_window_opens_there_is_nothing_to_agree_to_yet(client, auth, change, db_session, clock):
    clock.set(kst(2026, 3, 11, 9))  # the window opens 30 days before 2026-04-10 10:00 KST
    auth.login()
    path = f"/consent/{change.token}"
    html = client.get(path).get_data(as_text=True)
    assert decision_buttons(html).buttons == []
    assert "2026년 3월 11일부터 선택하실 수 있으며" in html
    response = client.post(
        path, data={"csrf_token": csrf_token(client, path), "decision": "agreed"}, follow_redirects=True
    )
    assert "변경일 30일 전부터 동의하실 수 있습니다" in response.get_data(as_text=True)
    assert consents(db_session) == []


def test_a_trial_conversion_page_shows_the_free_price_and_the_conversion_date(client, auth, app, db_session, clock):
    user = make_user(db_session, clock)
    clock.set(kst(2026, 3, 9, 10))
    sub = make_subscription(db_session, clock, user, status="trialing")
    clock.set(kst(2026, 3, 12, 10))
    row = consent.open_trial_conversion(db_session, sub, now=clock.now())
    db_session.commit()
    auth.login()
    html = client.get(f"/consent/{row.token}").get_data(as_text=True)
    assert "유료 전환 동의" in html and "유료 전환일" in html and "0원 (무료 체험)" in html and "9,900원" in html
    assert [b["value"] for b in decision_buttons(html).buttons] == ["agreed", "refused"]
