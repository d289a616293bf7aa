"""Account basics in real headless Chromium, with every email captured by a real SMTP server.

A guest goes from 구독하기 to sign-up (told why), ticks 전체 동의 (static/js/agree-all.js),
opens the emailed link and lands back on 주문 확인; later the shopper forgets the password,
gets the 비밀번호 찾기 link by email, sets a new one, and signs in with it. Emails leave the
outbox the way the pending sweep sends them (`Notifier.deliver_pending`) over SMTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import pytest
from flask import Flask

from storefront import create_app
from storefront.extensions import db
from tests.browser import serve
from tests.conftest import make_config
from tests.smtp_server import SmtpServer
from tests.web.checkout_support import make_catalog

pytestmark = pytest.mark.e2e

EMAIL = "browser-account@example.com"


@dataclass
class Store:
    url: str
    app: Flask
    monthly_id: int
    product_slug: str


@pytest.fixture
def store(sandbox, clock, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Store]:
    built: list = []

    def build(url: str):
        config = make_config(
            tmp_path,
            TOSS_API_BASE=sandbox.url,
            TOSS_SDK_URL=f"{sandbox.url}/v2/standard",
            SITE_URL=url,
            SMTP_URL=smtp_server.url,
            MAIL_FROM="notice@test-shop.example",
        )
        app = create_app(config, clock=clock)
        with app.app_context():
            db.create_all()
            catalog = make_catalog(db.session)
            built.append((app, catalog.monthly.id, catalog.product.slug))
            db.session.remove()
        return app

    with serve(build) as url:
        app, monthly_id, slug = built[0]
        yield Store(url, app, monthly_id, slug)
    with built[0][0].app_context():
        db.session.remove()
        db.engine.dispose()


def deliver(store: Store) -> None:
    """Send what the outbox holds over SMTP, as the worker's pending sweep does."""
    found = store.app.extensions["storefront"]
    with store.app.app_context():
        found.notifier.deliver_pending(db.session, now=found.clock.now())


def deliver_and_read_link(store: Store, smtp_server: SmtpServer, subject: str) -> str:
    """Deliver the outbox and return the link in the newest mail to EMAIL whose subject has `subject`."""
    deliver(store)
    mails = [m for m in smtp_server.messages if subject in m["Subject"] and m["To"] == EMAIL]
    assert mails, f"no mail {subject!r} to {EMAIL}: {[m['Subject'] for m in smtp_server.messages]}"
    text = mails[-1].get_body(("plain",)).get_content()
    return re.search(rf"{re.escape(store.url)}/[\w/-]+/[\w-]{{20,}}", text).group(0)


def test_a_guest_signs_up_from_the_order_and_later_resets_the_password_by_email(store, smtp_server, page):
    from playwright.sync_api import expect

    csp_errors: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and csp_errors.append(message.text))

    # 구독하기 as a guest: the sign-up page says why, and 전체 동의 ticks every item
    page.goto(f"{store.url}/products/{store.product_slug}")
    page.locator(f'a[href="/subscribe/{store.monthly_id}"]').click()
    expect(page.get_by_text("구독하려면 로그인이 필요합니다.")).to_be_visible()
    page.get_by_label("이름", exact=True).fill("김브라우저")
    page.get_by_label("이메일", exact=True).fill(EMAIL)
    page.get_by_label("비밀번호 (10자 이상)", exact=True).fill("correct horse 1")
    page.get_by_label("비밀번호 확인", exact=True).fill("correct horse 1")
    items = [
        page.get_by_label(label)
        for label in (
            "(필수) 이용약관에 동의합니다.",
            "(필수) 개인정보 수집·이용에 동의합니다.",
            "(필수) 만 14세 이상입니다.",
            "(선택) 이벤트·혜택 정보를 이메일로 받겠습니다.",
        )
    ]
    agree_all = page.get_by_label("전체 동의 (필수 항목과 선택 항목 모두)")
    agree_all.check()
    for item in items:
        expect(item).to_be_checked()
    items[3].uncheck()  # the optional item can still be refused; 전체 동의 follows
    expect(agree_all).not_to_be_checked()
    page.get_by_role("button", name="가입하기").click()
    expect(page.get_by_role("heading", name="메일을 확인해 주세요")).to_be_visible()

    # the emailed link, opened in this browser, signs in and returns to the order
    page.goto(deliver_and_read_link(store, smtp_server, "회원가입 확인"))
    page.wait_for_url(f"{store.url}/subscribe/{store.monthly_id}")
    expect(page.get_by_role("heading", name="구독 신청")).to_be_visible()

    # forgot the password: 로그아웃, 비밀번호 찾기, the emailed link, a new password, sign in with it
    page.get_by_role("button", name="로그아웃").click()
    page.goto(f"{store.url}/login")
    page.get_by_role("link", name="비밀번호를 잊으셨나요?").click()
    page.get_by_label("가입한 이메일").fill(EMAIL)
    page.get_by_role("button", name="재설정 링크 받기").click()
    expect(page.get_by_text("가입된 계정이 있으면 비밀번호를 새로 정하는 링크를 보냈습니다")).to_be_visible()
    link = deliver_and_read_link(store, smtp_server, "비밀번호 재설정 안내")
    page.goto(link)
    page.get_by_label("새 비밀번호 (10자 이상)").fill("a new passphrase 2")
    page.get_by_label("새 비밀번호 확인").fill("a new passphrase 2")
    page.get_by_role("button", name="비밀번호 저장").click()
    expect(page.get_by_text("비밀번호를 새로 정했습니다")).to_be_visible()
    expect(page.get_by_label("이메일", exact=True)).to_have_value(EMAIL)
    page.get_by_label("비밀번호", exact=True).fill("a new passphrase 2")
    page.get_by_role("button", name="로그인").click()
    page.get_by_role("link", name="내 구독").first.click()
    expect(page.get_by_role("heading", name="내 구독")).to_be_visible()

    # the link was single use; the owner was told the password changed
    page.goto(link)
    expect(page.get_by_role("heading", name="링크를 쓸 수 없습니다")).to_be_visible()
    deliver(store)
    assert any("비밀번호 변경 안내" in m["Subject"] for m in smtp_server.messages)
    assert csp_errors == []
