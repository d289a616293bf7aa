"""The cancel page says each thing once: one form per action, one refund choice, and words that fit the state.

States walked through on the moved clock: active inside and after the 7-day 청약철회 window,
already 해지 예정 inside and after it, and a free trial.
"""

from __future__ import annotations

import re

from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401
from tests.web.test_account_cancel_now import cancel_page, kst, subscribed


def forms(page: str) -> list[str]:
    """The action paths of the page's POST forms inside <main> (the header's 로그아웃 is left out)."""
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    return [path.rsplit("/", 1)[1] for path in re.findall(r'<form method="post" action="([^"]+)"', main)]


def account_links(shopper: Shopper) -> list[str]:
    page = shopper.client.get("/account").get_data(as_text=True)
    return re.findall(r'class="button equal" href="[^"]+">([^<]+)</a>', page)


def test_an_active_subscription_offers_ending_at_period_end_and_one_refund(shopper, catalog, clock):
    sub = subscribed(shopper, catalog.monthly)
    page = cancel_page(shopper, sub)  # the payment day: inside the window
    assert forms(page) == ["cancel", "withdraw"]
    assert "두 가지 방법 중 하나를" in page and "바로 해지하고" not in page
    clock.set(kst(2026, 3, 20, 9))  # after the window
    page = cancel_page(shopper, sub)
    assert forms(page) == ["cancel", "cancel-now"]
    assert "두 가지 방법 중 하나를" in page and "청약철회하고" not in page


def test_an_already_ending_subscription_says_so_and_offers_only_the_refund(shopper, catalog, clock):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    page = cancel_page(shopper, sub)
    assert forms(page) == ["withdraw"]
    assert "이미 해지를 신청한 구독입니다." in page and "2026년 4월 10일</strong>까지 이용한 뒤 종료" in page
    assert "두 가지 방법" not in page and "이용 기간이 끝나면 해지" not in page
    assert page.count("환불받기</button>") == 1
    # 내 구독 links to the one refund that applies, not to both.
    links = account_links(shopper)
    assert "청약철회 (전액 환불)" in links and "바로 해지하고 환불받기" not in links

    clock.set(kst(2026, 3, 20, 9))
    page = cancel_page(shopper, sub)
    assert forms(page) == ["cancel-now"]
    assert "이미 해지를 신청한 구독입니다." in page and "두 가지 방법" not in page
    links = account_links(shopper)
    assert "바로 해지하고 환불받기" in links and "청약철회 (전액 환불)" not in links


def test_a_trial_is_told_it_will_not_be_charged_with_a_single_choice(shopper, catalog):
    trial = subscribed(shopper, catalog.trial)
    page = cancel_page(shopper, trial)
    assert forms(page) == ["cancel"]
    assert "무료 체험이 끝나면 해지" in page and "무료 체험이 끝나도 결제되지 않습니다." in page
    assert "두 가지 방법" not in page and "다음 결제일부터" not in page


def test_an_ending_subscription_with_nothing_to_refund_now_offers_no_refund_link(shopper, catalog, clock):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    clock.set(kst(2026, 4, 10, 11))  # the period ended at 10:00 KST; the timer has not ended the subscription yet
    shopper.signed_in()
    assert [s.status for s in shopper.subscriptions()] == ["active"]
    links = account_links(shopper)
    assert "바로 해지하고 환불받기" not in links and "청약철회 (전액 환불)" not in links
    assert "해지 취소 (구독 계속하기)" in shopper.client.get("/account").get_data(as_text=True)
