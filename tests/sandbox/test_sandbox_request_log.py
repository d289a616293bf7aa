"""The sandbox's request log never shows a billing key (they are as secret there as at Toss)."""

from storefront.toss.sandbox.__main__ import QuietRequestHandler, RedactingRequestHandler

KEY = "mvMasQI-JT6oSZgVDPjo8Jvq5XAZGyasG5lJ_SnOREs%3D"


def _logged(path: str, handler_class: type = RedactingRequestHandler) -> str | None:
    handler = handler_class.__new__(handler_class)
    handler.command, handler.path, handler.request_version = "POST", path, "HTTP/1.1"
    handler.requestline = f"POST {path} HTTP/1.1"
    lines: list[str] = []
    handler.log = lambda _type, message, *args: lines.append(message % args)
    handler.log_request(200, 10)
    handler.log_error("%s", "an error line")
    return lines[0] if len(lines) == 2 else None


def test_charge_path_is_logged_without_the_billing_key():
    line = _logged(f"/v1/billing/{KEY}")
    assert line is not None and KEY not in line and KEY[:12] not in line
    assert "/v1/billing/[billingKey]" in line


def test_other_paths_are_logged_as_they_are():
    assert "/v1/billing/authorizations/issue" in (_logged("/v1/billing/authorizations/issue") or "")


def test_quiet_logs_no_request_line_but_still_its_errors():
    handler = QuietRequestHandler.__new__(QuietRequestHandler)
    handler.command, handler.path, handler.request_version = "POST", f"/v1/billing/{KEY}", "HTTP/1.1"
    handler.requestline = f"POST /v1/billing/{KEY} HTTP/1.1"
    lines: list[str] = []
    handler.log = lambda _type, message, *args: lines.append(message % args)
    handler.log_request(200, 10)
    handler.log_error("%s", "an error line")
    assert lines == ["an error line"]
