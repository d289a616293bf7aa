"""Signing up in the browser, as a shopper does: the one place the browser tests fill in the sign-up form."""

from __future__ import annotations

from typing import Any

from tests.e2e.mailbox import signup_link

PASSWORD = "correct horse 1"


def sign_up(page, store: Any, name: str, email: str, password: str = PASSWORD) -> None:
    """Fill in the sign-up form the page is on (its required boxes ticked), send it, and open the link of
    the 가입 확인 email; `store` has the site's `url` and its Flask `app` (whose outbox holds the email)."""
    page.get_by_label("이름", exact=True).fill(name)
    page.get_by_label("이메일", exact=True).fill(email)
    page.get_by_label("비밀번호 (10자 이상)", exact=True).fill(password)
    page.get_by_label("비밀번호 확인", exact=True).fill(password)
    page.get_by_label("(필수) 이용약관에 동의합니다.").check()
    page.get_by_label("(필수) 개인정보 수집·이용에 동의합니다.").check()
    page.get_by_label("(필수) 만 14세 이상입니다.").check()
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_url(f"{store.url}/signup/sent")
    page.goto(store.url + signup_link(store.app, email))
