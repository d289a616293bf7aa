"""Signing up in the browser, as a shopper does: the one place the browser tests fill in the sign-up form."""

from __future__ import annotations

PASSWORD = "correct horse 1"


def sign_up(page, name: str, email: str, password: str = PASSWORD) -> None:
    """Fill in the sign-up form the page is on and send it (its required boxes ticked)."""
    page.get_by_label("이름", exact=True).fill(name)
    page.get_by_label("이메일", exact=True).fill(email)
    page.get_by_label("비밀번호 (10자 이상)", exact=True).fill(password)
    page.get_by_label("비밀번호 확인", exact=True).fill(password)
    page.get_by_label("(필수) 이용약관에 동의합니다.").check()
    page.get_by_label("(필수) 개인정보 수집·이용에 동의합니다.").check()
    page.get_by_role("button", name="가입하기").click()
