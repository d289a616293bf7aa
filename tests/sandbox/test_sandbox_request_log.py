"""The sandbox's request log never shows a billing key (they are as secret there as at Toss)."""

from storefront.toss.sandbox.__main__ import RedactingRequestHandler

KEY = "mvMasQI-JT6oSZgVDPjo8Jvq5XAZGyasG5lJ_SnOREs%3D"


def _logged(path: str) -> str:
    handler = RedactingRequestHandler.__new__(RedactingRequestHandler)
    handler.command, handler.path, handler.request_version = "POST", path, "HTTP/1.1"
    handler.requestline = f"POST {path} HTTP/1.1"
    lines: list[str] = []
    handler.log = lambda _type, message, *args: lines.append(message % args)
    handler.log_request(200, 10)
    return lines[0]


def test_charge_path_is_logged_without_the_billing_key():
    line = _logged(f"/v1/billing/{KEY}")
    assert KEY not in line and KEY[:12] not in line
    assert "/v1/billing/[billingKey]" in line


def test_other_paths_are_logged_as_they_are():
    assert "/v1/billing/authorizations/issue" in _logged("/v1/billing/authorizations/issue")
