"""The SDK stub and card window in real headless Chromium, from a merchant page on another port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

pytestmark = pytest.mark.e2e

MERCHANT_JS = """
document.getElementById('register').addEventListener('click', function () {
  var button = this;
  var payment = TossPayments(button.dataset.clientKey).payment({customerKey: button.dataset.customerKey});
  payment.requestBillingAuth({
    method: 'CARD',
    successUrl: button.dataset.successUrl,
    failUrl: button.dataset.failUrl,
    customerName: '김구매'
  }).catch(function (error) {
    document.getElementById('error').textContent = error.name + ' ' + error.code;
  });
});
"""


def _page(sandbox_url: str, client_key: str, success_url: str, fail_url: str) -> str:
    return f"""<!doctype html><html lang="ko"><head><meta charset="utf-8">
<script src="{sandbox_url}/v2/standard"></script></head><body>
<button id="register" data-client-key="{client_key}" data-customer-key="cust-browser-1"
  data-success-url="{success_url}" data-fail-url="{fail_url}">카드 등록하기</button>
<p id="error"></p><script src="/merchant.js"></script></body></html>"""


class Merchant:
    def __init__(self, sandbox) -> None:
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.sandbox = sandbox
        self.success_url = f"{self.url}/billing/success?plan=3"
        self.fail_url = f"{self.url}/billing/fail"

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path == "/merchant.js":
            return Response(MERCHANT_JS, mimetype="application/javascript")
        if request.path.startswith("/billing/"):
            return Response(f"<p id='landed'>{request.path}</p>", mimetype="text/html")
        success = request.args.get("success", self.success_url)
        return Response(
            _page(self.sandbox.url, request.args.get("ck", self.sandbox.client_key), success, self.fail_url),
            mimetype="text/html",
        )


@pytest.fixture
def merchant(sandbox) -> Iterator[Merchant]:
    m = Merchant(sandbox)
    thread = threading.Thread(target=m.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield m
    m.server.shutdown()
    m.server.server_close()


def test_requesting_billing_auth_opens_the_window_and_returns_an_auth_key(sandbox, merchant, page):
    page.goto(merchant.url + "/checkout")
    page.click("#register")
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/billing*")
    assert page.get_by_text("샌드박스").first.is_visible()
    page.fill("input[name=cardNumber]", "4330 1234 1234 1234")
    page.fill("input[name=expiry]", "12/35")
    page.fill("input[name=birth]", "900101")
    page.get_by_role("button", name="카드 등록").click()
    page.wait_for_url(f"{merchant.url}/billing/success*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["plan"] == ["3"] and query["customerKey"] == ["cust-browser-1"]
    issued = requests.post(
        f"{sandbox.url}/v1/billing/authorizations/issue",
        auth=sandbox.auth,
        timeout=10,
        json={"authKey": query["authKey"][0], "customerKey": "cust-browser-1"},
    )
    assert issued.status_code == 200


def test_the_card_window_asks_for_nothing_that_fails(sandbox, merchant, page):
    """No 404 (a favicon, say) and no console error while the window opens: the sandbox's logs stay clean."""
    failed, errors = [], []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(merchant.url + "/checkout")
    page.click("#register")
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/billing*")
    page.wait_for_load_state("load")
    # Headless Chromium may not fetch icons itself: fetch the declared one as a tab would.
    icon = page.evaluate("document.querySelector('link[rel=icon]')?.href")
    assert icon and page.evaluate("href => fetch(href).then(r => r.status)", icon) == 200
    assert failed == [] and errors == []


def test_cancel_in_the_window_lands_on_fail_url(sandbox, merchant, page):
    page.goto(merchant.url + "/checkout")
    page.click("#register")
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/billing*")
    page.get_by_role("button", name="취소").click()
    page.wait_for_url(f"{merchant.url}/billing/fail*")
    assert parse_qs(urlsplit(page.url).query)["code"] == ["PAY_PROCESS_CANCELED"]


def test_bad_parameters_reject_with_the_sdk_error_name(sandbox, merchant, page):
    page.goto(merchant.url + "/checkout?success=/relative/path")
    page.click("#register")
    page.wait_for_function("document.getElementById('error').textContent !== ''")
    assert page.text_content("#error") == "IncorrectSuccessUrlFormatError INCORRECT_SUCCESS_URL_FORMAT"
    assert page.url.startswith(merchant.url)
