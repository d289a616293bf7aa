"""The product's 청약철회 settings and after-paying how-to: set in the admin, disclosed before buying, shown after.

The admin form edits `cooling_off_days`, `cooling_off_exclusion` and `getting_started`; the product
page and the order screen disclose the 청약철회 terms (전자상거래법 제13조②, 제17조⑥); the result
page and the first receipt email say how to start using what was bought.
"""

from __future__ import annotations

from sqlalchemy import select

from storefront.models import Category, EmailMessage, Product
from tests.conftest import csrf_token
from tests.web.admin_support import login_admin
from tests.web.checkout_support import catalog, shopper, toss  # noqa: F401

HOW_TO = "가입하신 이메일로 강의실 초대 메일을 보내 드립니다.\n메일의 ‘강의실 입장’을 누르세요."


def product_form(client, path: str, category_id: int, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token(client, path),
        "category_id": str(category_id),
        "name": "프리미엄 노트",
        "slug": "premium-notes",
        "kind": "subscription",
        "summary": "요약",
        "description": "설명",
        "provision": "결제 즉시 제공",
        "image": "",
        "position": "0",
        "active": "y",
    }
    return {**data, **overrides}


def test_the_admin_sets_the_window_the_limit_and_the_how_to(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    category = Category(slug="apps", name="앱", description="", position=0)
    db_session.add(category)
    db_session.commit()
    page = client.get("/admin/products/new").get_data(as_text=True)
    for label in ("결제 후 이용 방법", "청약철회 기간", "청약철회 제한", "전자상거래법 제17조 제6항"):
        assert label in page

    response = client.post("/admin/products/new", data=product_form(client, "/admin/products/new", category.id))
    assert response.status_code == 302
    product = db_session.scalars(select(Product)).one()
    assert (product.cooling_off_days, product.cooling_off_exclusion, product.getting_started) == (7, "", "")

    edit = f"/admin/products/{product.id}/edit"
    response = client.post(
        edit,
        data=product_form(
            client,
            edit,
            category.id,
            cooling_off_days="14",
            cooling_off_exclusion="강의를 1편 이상 재생한 때",
            getting_started=HOW_TO,
        ),
    )
    assert response.status_code == 302
    db_session.refresh(product)
    assert (product.cooling_off_days, product.cooling_off_exclusion) == (14, "강의를 1편 이상 재생한 때")
    assert product.getting_started == HOW_TO


def test_a_window_shorter_than_the_law_allows_is_refused_and_nothing_is_saved(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    category = Category(slug="apps", name="앱", description="", position=0)
    product = Product(category=category, slug="notes", name="노트", kind="subscription")
    db_session.add_all([category, product])
    db_session.commit()
    edit = f"/admin/products/{product.id}/edit"
    out_of_range = "청약철회 기간은 7일(법정 최소) 이상 90일 이하여야 합니다"
    for days, message in (
        ("6", out_of_range),
        ("0", out_of_range),
        ("91", out_of_range),
        ("일주일", "올바르지 않은 정수 값입니다"),
    ):
        response = client.post(
            edit, data=product_form(client, edit, category.id, cooling_off_days=days, name="새 이름")
        )
        assert response.status_code == 200 and message in response.get_data(as_text=True), days
    db_session.refresh(product)
    assert (product.name, product.cooling_off_days) == ("노트", 7)


def test_the_product_page_and_the_order_screen_disclose_the_terms(shopper, catalog, db_session):
    page = shopper.client.get(f"/products/{catalog.product.slug}").get_data(as_text=True)
    assert "결제일로부터 <strong>7일 이내</strong>" in page and "내 구독에서 직접 청약철회" in page
    assert "청약철회가 제한됩니다" not in page
    catalog.product.cooling_off_exclusion = "강의를 1편 이상 재생한 때"
    db_session.commit()
    for path in (f"/products/{catalog.product.slug}", f"/subscribe/{catalog.monthly.id}"):
        page = shopper.client.get(path).get_data(as_text=True)
        assert "디지털 콘텐츠의 제공이 개시된 경우 청약철회가 제한됩니다" in page, path
        assert "제공 개시 기준: 강의를 1편 이상 재생한 때" in page, path


def test_after_paying_the_result_page_and_the_receipt_say_how_to_start(shopper, catalog, db_session):
    catalog.product.getting_started = HOW_TO
    db_session.commit()
    response = shopper.subscribe(catalog.monthly)
    page = shopper.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "결제가 완료되었습니다" in page and "<h2>이용 방법</h2>" in page
    assert "<p>가입하신 이메일로 강의실 초대 메일을 보내 드립니다.</p>" in page
    db_session.expire_all()
    [receipt] = db_session.scalars(select(EmailMessage).where(EmailMessage.kind == "payment_receipt")).all()
    assert "이용 방법" in receipt.body_text and "강의실 입장" in receipt.body_text
    assert "2026년 3월 17일까지 마이페이지(내 구독)에서 직접 청약철회" in receipt.body_text
    assert "강의실 입장" in receipt.body_html


def test_a_product_without_a_how_to_shows_no_empty_section(shopper, catalog):
    response = shopper.subscribe(catalog.monthly)
    page = shopper.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "결제가 완료되었습니다" in page and "이용 방법" not in page
