"""Crawl the seeded shop like a card-company reviewer: every page reachable from `/` must
answer and carry the full business-information footer with the configured values."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from flask.testing import FlaskClient

from storefront.seed import seed_demo
from tests.conftest import Auth

# Values unlike any default, so a hard-coded footer cannot pass.
BUSINESS = {
    "BUSINESS_NAME": "유한회사 크롤상회",
    "BUSINESS_REPRESENTATIVE": "박대표",
    "BUSINESS_REGISTRATION_NUMBER": "314-86-24680",
    "BUSINESS_MAIL_ORDER_NUMBER": "제2025-부산해운대-0777호",
    "BUSINESS_MAIL_ORDER_OFFICE": "부산광역시 해운대구청",
    "BUSINESS_ADDRESS": "부산광역시 해운대구 센텀중앙로 97, 12층",
    "BUSINESS_PHONE": "051-710-3300",
    "BUSINESS_EMAIL": "cs@crawl-shop.example",
    "BUSINESS_HOSTING_PROVIDER": "크롤클라우드(주)",
    "BUSINESS_PRIVACY_OFFICER": "최정보 (privacy@crawl-shop.example)",
    "BUSINESS_FTC_INFO_URL": "https://www.ftc.go.kr/bizCommPop.do?wrkr_no=3148624680",
}
FOOTER_FIELDS = {
    "name": ["BUSINESS_NAME"],
    "representative": ["BUSINESS_REPRESENTATIVE"],
    "registration_number": ["BUSINESS_REGISTRATION_NUMBER"],
    "mail_order_number": ["BUSINESS_MAIL_ORDER_NUMBER", "BUSINESS_MAIL_ORDER_OFFICE"],
    "address": ["BUSINESS_ADDRESS"],
    "phone": ["BUSINESS_PHONE"],
    "email": ["BUSINESS_EMAIL"],
    "hosting_provider": ["BUSINESS_HOSTING_PROVIDER"],
    "privacy_officer": ["BUSINESS_PRIVACY_OFFICER"],
}
POLICY_LINKS = ("/terms", "/privacy", "/refund-policy")


@dataclass
class Page:
    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    footer_fields: dict[str, str] = field(default_factory=dict)
    footer_links: dict[str, str] = field(default_factory=dict)  # href -> link text
    text: str = ""


class PageParser(HTMLParser):
    """Collects links, images, and the footer's data-field values and links."""

    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._in_footer = False
        self._field: str | None = None
        self._link: str | None = None
        self._chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "footer":
            self._in_footer = True
        if tag == "a" and attrs.get("href"):
            self.page.links.append(attrs["href"])
            if self._in_footer:
                self._link = attrs["href"]
                self.page.footer_links[self._link] = ""
        if tag == "img" and attrs.get("src"):
            self.page.images.append(attrs["src"])
        if self._in_footer and attrs.get("data-field"):
            self._field = attrs["data-field"]
            self.page.footer_fields[self._field] = ""

    def handle_endtag(self, tag):
        if tag == "footer":
            self._in_footer = False
        if tag == "a":
            self._link = None
        if tag == "dd":
            self._field = None

    def handle_data(self, data):
        self._chunks.append(data)
        if self._field:
            self.page.footer_fields[self._field] += data
        if self._link:
            self.page.footer_links[self._link] += data

    def close(self):
        super().close()
        self.page.text = " ".join(" ".join(self._chunks).split())


def parse(html: str) -> Page:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def internal_path(base: str, href: str) -> str | None:
    """The same-site path (with query) an href points to, or None for other sites and schemes."""
    url = urlsplit(urljoin(base, href))
    if url.scheme not in ("http", "https") or url.netloc != "localhost":
        return None
    return url.path + (f"?{url.query}" if url.query else "")


def check_footer(path: str, page: Page) -> None:
    for name, variables in FOOTER_FIELDS.items():
        shown = " ".join(page.footer_fields.get(name, "").split())
        for variable in variables:
            assert BUSINESS[variable] in shown, f"{path}: footer {name} shows {shown!r}"
    assert page.footer_links.get(BUSINESS["BUSINESS_FTC_INFO_URL"], "").strip() == "사업자정보 확인", path
    for link in POLICY_LINKS:
        assert link in page.footer_links, f"{path}: footer has no link to {link}"
    for label in (
        "상호",
        "대표자",
        "사업자등록번호",
        "통신판매업 신고번호",
        "사업장 주소",
        "전화",
        "이메일",
        "호스팅 제공자",
    ):
        assert label in page.text, f"{path}: footer label {label} missing"


def crawl(client: FlaskClient, start: str = "/") -> dict[str, Page]:
    """GET every same-site page linked from `start`, recursively; each must end in a 200 page with the footer."""
    seen: dict[str, Page] = {}
    queue = deque([start])
    queued = {start}
    while queue:
        path = queue.popleft()
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, f"{path} -> {response.status_code}"
        assert response.mimetype == "text/html", path
        final = response.request.path
        page = parse(response.get_data(as_text=True))
        check_footer(path, page)
        seen[path] = page
        if final != path.split("?")[0]:
            seen.setdefault(final, page)
        for href in page.links:
            target = internal_path(f"http://localhost{final}", href)
            if target is not None:
                target = target.split("#")[0] or final
            if target and target not in queued and target not in seen:
                queued.add(target)
                queue.append(target)
    return seen


@pytest.fixture
def seeded(app, db_session, clock) -> list[str]:
    """The demo shop; returns the seed's printed lines (with the reviewer's credentials)."""
    return seed_demo(db_session, now=clock.now(), cheap_hash=True)


def reviewer_credentials(lines: list[str]) -> tuple[str, str]:
    start = next(i for i, line in enumerate(lines) if line.startswith("Toss reviewer account"))
    email = lines[start + 1].split("email:", 1)[1].strip()
    password = lines[start + 2].split("password:", 1)[1].strip()
    return email, password


@pytest.mark.settings(**BUSINESS)
def test_every_page_linked_from_home_answers_with_the_business_footer(client, seeded):
    pages = crawl(client)

    visited = set(pages)
    for path in (
        *POLICY_LINKS,
        "/support",
        "/login",
        "/signup",
        "/categories/classes",
        "/categories/design",
        "/products/daily-english",
        "/products/excel-master",
        "/products/template-library",
        "/products/presentation-pack",
    ):
        assert path in visited, f"{path} is not reachable from /"
    # the category without an active product is nowhere
    assert not any("workshop" in path for path in visited)
    assert all("오프라인 워크숍" not in page.text for page in pages.values())


@pytest.mark.settings(**BUSINESS)
def test_pages_a_signed_in_reviewer_reaches_carry_the_footer_too(client, seeded):
    Auth(client).login(*reviewer_credentials(seeded))
    pages = crawl(client)
    assert "/account" in pages
    assert any(path.startswith("/subscribe/") for path in pages)


@pytest.mark.settings(**BUSINESS)
def test_every_image_on_the_site_is_served_locally(client, seeded):
    images = {src for page in crawl(client).values() for src in page.images}
    assert images, "the demo shop shows product images"
    for src in images:
        assert src.startswith("/static/"), src
        response = client.get(src)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml", src
        response.close()


@pytest.mark.settings(**BUSINESS)
def test_not_found_page_has_the_business_footer(client, seeded):
    for path in ("/no-such-page", "/products/weekend-branding-workshop", "/categories/workshops"):
        response = client.get(path)
        assert response.status_code == 404
        check_footer(path, parse(response.get_data(as_text=True)))
