"""Catalog pages as a shopper (and a card-company reviewer) sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from storefront.models import Category, Plan, Product
from storefront.seed import seed_demo


@dataclass
class Catalog:
    shop: Category
    service: Product
    monthly: Plan
    yearly: Plan
    retired_plan: Plan
    ebook: Product
    empty: Category
    only_inactive: Category
    only_inactive_plans: Category
    hidden_product: Product
    planless_product: Product


def _product(slug: str, name: str, kind: str = "subscription", active: bool = True) -> Product:
    return Product(
        slug=slug,
        name=name,
        kind=kind,
        summary=f"{name} 요약",
        description="첫 문단\n\n둘째 문단",
        provision="결제 즉시 이용 가능, 매월 결제일로부터 1개월",
        image="",
        active=active,
    )


@pytest.fixture
def catalog(db_session) -> Catalog:
    shop = Category(slug="services", name="구독 서비스", position=1)
    service = _product("cloud-notes", "클라우드 노트 프로")
    monthly = Plan(name="월간 플랜", interval="month", amount_won=9_900, position=1)
    yearly = Plan(name="연간 플랜", interval="year", amount_won=99_000, position=2)
    retired_plan = Plan(name="구 요금제", interval="month", amount_won=5_500, active=False, position=3)
    service.plans += [monthly, yearly, retired_plan]
    ebook = _product("style-guide", "문서 스타일 가이드", kind="one_time")
    ebook.plans.append(Plan(name="단품 구매", interval="once", amount_won=19_000))
    shop.products += [service, ebook]

    empty = Category(slug="coming", name="빈카테고리", position=2)
    only_inactive = Category(slug="retired", name="판매종료카테고리", position=3)
    hidden_product = _product("old-box", "단종된 구독", active=False)
    hidden_product.plans.append(Plan(name="월간", interval="month", amount_won=7_700))
    only_inactive.products.append(hidden_product)
    only_inactive_plans = Category(slug="paused", name="요금없는카테고리", position=4)
    planless_product = _product("paused-club", "요금 없는 상품")
    planless_product.plans.append(Plan(name="월간", interval="month", amount_won=3_300, active=False))
    only_inactive_plans.products.append(planless_product)

    db_session.add_all([shop, empty, only_inactive, only_inactive_plans])
    db_session.commit()
    return Catalog(
        shop,
        service,
        monthly,
        yearly,
        retired_plan,
        ebook,
        empty,
        only_inactive,
        only_inactive_plans,
        hidden_product,
        planless_product,
    )


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def text_of(html: str) -> str:
    """The visible text, tags removed and whitespace collapsed (sentences may span template lines)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_home_lists_categories_with_their_active_products(client, catalog):
    html = page(client, "/")
    assert "구독 서비스" in html
    assert 'href="/categories/services"' in html
    assert 'href="/products/cloud-notes"' in html and 'href="/products/style-guide"' in html
    assert "9,900원" in html and "99,000원" in html and "VAT 포함" in html


def test_categories_without_an_active_product_never_appear(client, catalog):
    hidden = [catalog.empty, catalog.only_inactive, catalog.only_inactive_plans]
    pages = [page(client, path) for path in ("/", "/categories/services", "/products/cloud-notes")]
    for category in hidden:
        for html in pages:
            assert category.name not in html
            assert f"/categories/{category.slug}" not in html
        assert client.get(f"/categories/{category.slug}").status_code == 404
    # the category nav on shop pages lists exactly the visible category
    nav = re.search(r'<nav class="category-nav".*?</nav>', pages[1], re.S).group(0)
    assert re.findall(r'href="(/categories/[^"]+)"', nav) == ["/categories/services"]
    assert '<a href="/categories/services" aria-current="page">' in nav


def test_inactive_products_and_products_without_active_plans_are_404(client, catalog):
    assert client.get("/products/old-box").status_code == 404
    assert client.get("/products/paused-club").status_code == 404
    assert client.get("/products/no-such-product").status_code == 404
    assert "단종된 구독" not in page(client, "/")


def test_product_page_shows_each_plan_with_vat_included_price_cycle_and_renewal(client, catalog):
    html = page(client, "/products/cloud-notes")
    text = text_of(html)
    assert "9,900원" in text and "99,000원" in text
    assert text.count("VAT 포함") >= 2
    assert "매월 자동 결제" in text and "매년 자동 결제" in text
    assert "해지하기 전까지 매월 결제일에 9,900원이 자동 결제됩니다" in text
    assert "해지하기 전까지 매년 결제일에 99,000원이 자동 결제됩니다" in text
    assert "마지막 날에 결제됩니다" in text  # month-end rule
    assert "30일 이내" in text and "따로 동의" in text  # price-change consent
    assert "24시간 언제든 온라인으로 해지" in text
    assert 'href="/account"' in html
    assert "제공 방법 및 기간" in text and "매월 결제일로부터 1개월" in text
    # 청약철회 / refund summary with its link
    assert "7일 이내" in text and "3영업일" in text and "일할" in text
    assert 'href="/refund-policy"' in html and 'href="/terms"' in html


def test_subscribe_buttons_link_to_checkout_for_active_plans_only(client, catalog):
    html = page(client, "/products/cloud-notes")
    links = re.findall(r'href="(/subscribe/\d+)"', html)
    assert links == [f"/subscribe/{catalog.monthly.id}", f"/subscribe/{catalog.yearly.id}"]
    assert "5,500원" not in html and "구 요금제" not in html


def test_yearly_plan_shows_its_saving_against_twelve_months(client, catalog):
    text = text_of(page(client, "/products/cloud-notes"))
    # 99,000 / 12 = 8,250; 118,800 - 99,000 = 19,800 = 16.6% -> never overstated: 16%
    assert "월 8,250원꼴" in text and "16% 저렴" in text


def test_trial_plan_explains_that_conversion_needs_a_separate_consent(client, catalog, db_session):
    catalog.monthly.trial_days = 14
    db_session.commit()
    text = text_of(page(client, "/products/cloud-notes"))
    assert "첫 14일 무료" in text
    assert "체험이 끝나는 날 9,900원" in text
    assert "동의하지 않거나 응답하지 않으시면 결제 없이 체험이 끝납니다" in text
    assert "무료 체험으로 구독하기" in text
    assert "14일 무료 체험" in text_of(page(client, "/"))  # badge on the product card


def test_one_time_product_shows_price_and_a_buy_button_not_a_subscription(client, catalog):
    html = page(client, "/products/style-guide")
    text = text_of(html)
    assert "19,000원" in text and "VAT 포함" in text
    assert "자동 결제(정기결제)되지 않습니다" in text
    assert "/subscribe/" not in html
    plan_id = catalog.ebook.plans[0].id
    assert re.search(rf'<a class="button primary" href="/buy/{plan_id}">구매하기</a>', html)
    assert "자동 결제와 해지 안내" not in text


def test_description_paragraphs_are_escaped_paragraphs(client, catalog, db_session):
    catalog.service.description = "좋은 <b>노트</b> 앱\n\n둘째 문단"
    db_session.commit()
    html = page(client, "/products/cloud-notes")
    assert "<p>좋은 &lt;b&gt;노트&lt;/b&gt; 앱</p>" in html and "<p>둘째 문단</p>" in html


def test_empty_shop_says_so_without_error(client):
    text = text_of(page(client, "/"))
    assert "현재 판매 중인 상품이 없습니다" in text


def test_seeded_shop_renders_korean_prices(client, db_session, clock):
    seed_demo(db_session, now=clock.now(), cheap_hash=True)
    home = text_of(page(client, "/"))
    assert "9,900원" in home and "99,000원" in home and "VAT 포함" in home
    assert "오프라인 워크숍" not in home
    assert client.get("/categories/workshops").status_code == 404
    assert client.get("/products/weekend-branding-workshop").status_code == 404
    product = text_of(page(client, "/products/template-library"))
    assert "9,900원 / 월 VAT 포함" in product and "99,000원 / 년 VAT 포함" in product


def test_catalog_pages_have_no_inline_script_or_style(client, catalog):
    for path in ("/", "/categories/services", "/products/cloud-notes", "/products/style-guide"):
        html = page(client, path)
        assert "<script>" not in html and " style=" not in html and "<style" not in html
