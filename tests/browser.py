"""Real headless Chromium for browser tests (Debian's `chromium`, driven by Playwright).

`playwright install` would download its own browser, which this machine cannot; the tests
drive /usr/bin/chromium instead, with the flags that keep it off the network. `make test`
installs Chromium (scripts/test_prereqs.sh); when it is missing the tests fail saying so.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]


@pytest.fixture
def page():
    """A fresh Korean-locale page in headless Chromium, with a 30 s default timeout.

    The long timeout is for a loaded 2-core CI machine, which is slow.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing ({CHROMIUM}): run `make test`, which installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="ko-KR")
            context.set_default_timeout(30_000)
            yield context.new_page()
        finally:
            browser.close()


@contextmanager
def serve(build_app: Callable[[str], Any]) -> Iterator[str]:
    """Serve the WSGI app `build_app(url)` returns on a free loopback port (threaded); yields its URL.

    The app is built after the port is known, so its SITE_URL can name it.
    """
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = build_app(url)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http", daemon=True
    )
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
