"""The admin's subscription page in Korean: consent kinds and what was agreed, why it ended, and only the
consents this subscription's shopper gave for it."""

from __future__ import annotations

import re

from storefront import accounts
from storefront.models import Consent
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401
from tests.web.test_account_cancel_now import kst
from tests.web.test_admin_actions import admin, subscribed  # noqa: F401


def consent_rows(page: str) -> list[str]:
    rows = re.findall(r'<tr data-consent="\d+">(.*?)</tr>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_consents_are_this_shoppers_for_this_subscription_with_korean_labels(
    shopper, catalog, admin, db_session, clock
):
    sub = subscribed(shopper, catalog.monthly)
    path = f"/account/subscriptions/{sub.id}/plan"
    shopper.post(path, form_page=path, plan_id=str(catalog.premium.id), agree="y")
    other = accounts.create_user(
        db_session,
        accounts.NewUser(email="bob@example.com", password="pw bob 12345", name="밥"),
        now=clock.now(),
        cheap_hash=True,
    )
    db_session.flush()
    db_session.add_all(
        [
            Consent(user_id=other.id, kind="terms", decision="agreed", text_version="v", ip="10.0.0.9", at=clock.now()),
            Consent(
                user_id=shopper.user.id,
                kind="order_terms",
                decision="agreed",
                text_version="v",
                ip="10.0.0.8",
                at=clock.now(),
            ),
        ]
    )
    db_session.commit()

    page = admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)

    rows = consent_rows(page)
    assert [row.split(" ")[4] for row in rows] == ["요금제", "자동갱신", "이용약관"]  # newest first, 3 rows
    assert "월간 베이직 (9,900원) → 월간 프리미엄 (19,900원), 2026년 4월 10일 결제부터" in rows[0]
    assert "월간 베이직 9,900원 매월 자동결제, 첫 결제 2026년 3월 10일" in rows[1]
    assert "10.0.0.9" not in page and "10.0.0.8" not in page and "1회 구매 약관" not in page
    assert "plan_change" not in page and "auto_renewal" not in page


def test_an_ended_subscription_says_why_in_korean(shopper, catalog, admin, db_session, clock):
    sub = subscribed(shopper, catalog.monthly)
    clock.set(kst(2026, 3, 20, 9))
    shopper.post(f"/account/subscriptions/{sub.id}/cancel-now", form_page=f"/account/subscriptions/{sub.id}/cancel")
    page = admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert "(회원 바로 해지 (일할 환불))" in page and "canceled_now_by_customer" not in page
    assert "비활성 (회원이 구독을 바로 해지함)" in page and "by the customer" not in page


def test_an_ending_subscription_shows_no_next_charge(shopper, catalog, admin, db_session, clock):
    sub = subscribed(shopper, catalog.monthly)
    fact = re.compile(r'<dd data-fact="next-charge">(.*?)</dd>', re.S)
    page = admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert re.sub(r"<[^>]+>", "", fact.search(page).group(1)) == "2026년 4월 10일 10:00"
    shopper.post(f"/account/subscriptions/{sub.id}/cancel")
    page = admin.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert re.sub(r"<[^>]+>", "", fact.search(page).group(1)) == "없음 — 2026년 4월 10일 10:00에 해지"
