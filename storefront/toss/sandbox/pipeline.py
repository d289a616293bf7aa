"""Everything a `/v1/*` request goes through before and after its handler.

Order: rate limit → Basic auth → Idempotency-Key format → injected 5xx (money requests)
→ Idempotency-Key (replay, 409 while running, or claim) → latency → test gate →
`TossPayments-Test-Code` → handler → remember the answer under the key → injected timeout
or dropped connection. Injected 5xx answers happen before anything is done and are not
remembered, so a retry with the same key can succeed; timeouts and drops happen after the
work is committed. A test-code answer is an answer like any other: it is remembered under
the Idempotency-Key, so the same key without the header replays it instead of charging.

Every `/v1/*` answer is JSON and carries an `X-TossPayments-Trace-Id` header (what Toss
asks merchants to quote to support); messages are English for `Accept-Language: en-US`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import socket
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from collections.abc import Callable

from flask import Response, current_app, request

from .errors import CATALOGUE, NOT_TOSS_CODES, ApiError, accepts_test_code
from .runtime import SandboxRuntime
from .store import iso

IDEMPOTENCY_TTL = timedelta(days=15)
MAX_IDEMPOTENCY_KEY = 300
TRACE_HEADER = "X-TossPayments-Trace-Id"
# What a secret key looks like (API 개별 연동 test_sk_/live_sk_, widget test_gsk_/live_gsk_).
SECRET_KEY_FORMAT = re.compile(r"^(test|live)_g?sk_[A-Za-z0-9_]+$")

Handler = Callable[..., tuple[int, Any]]


def runtime() -> SandboxRuntime:
    return current_app.extensions["toss_sandbox"]


def json_response(status: int, body: Any) -> Response:
    text = "" if body is None else json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, content_type="application/json; charset=utf-8")


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(language()))


def language() -> str:
    """ "en" when the request's first preference is English (`Accept-Language: en-US`), else "ko"."""
    first = request.headers.get("Accept-Language", "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "ko"


def new_trace_id() -> str:
    return secrets.token_hex(16)


def toss_endpoint(endpoint: str) -> Callable[[Handler], Callable[..., Response]]:
    """Wrap a handler returning (status, body) into Toss's request pipeline.

    `endpoint` names the API for the test-code table (`errors.ENDPOINT_CODES`).
    """

    def decorate(view: Handler) -> Callable[..., Response]:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            return _pipeline(endpoint, view, kwargs)

        return wrapper

    return decorate


def _pipeline(endpoint: str, view: Handler, kwargs: dict[str, Any]) -> Response:
    rt = runtime()
    settings = rt.settings
    try:
        _check_rate(rt)
        _check_auth(settings.secret_key)
        key = _idempotency_key()
    except ApiError as error:
        return error_response(error)
    fault = rt.dice.fault(settings) if request.method in ("POST", "DELETE") else None
    if fault == "fail":
        return error_response(ApiError("FAILED_INTERNAL_SYSTEM_PROCESSING"))
    scope = _scope(key, settings.secret_key) if key else None
    if scope:
        replay = _claim(rt, scope)
        if replay is not None:
            return _deliver(rt, fault, json_response(*replay))
    try:
        rt.pause(rt.dice.latency_seconds(settings))
        if rt.gate is not None:
            rt.gate.arrive(rt.stopping)
        status, body = _run(endpoint, view, kwargs)
    except BaseException:
        if scope:
            _release(rt, scope)
        raise
    if scope:
        _remember(rt, scope, status, body)
    return _deliver(rt, fault, json_response(status, body))


def _run(endpoint: str, view: Handler, kwargs: dict[str, Any]) -> tuple[int, Any]:
    try:
        _check_test_code(endpoint)
        return view(**kwargs)
    except ApiError as error:
        return error.status, error.body(language())


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST", "요청 본문은 JSON 객체여야 합니다.")
    return body


# ---------------------------------------------------------------- checks


def _check_rate(rt: SandboxRuntime) -> None:
    settings = rt.settings
    if not settings.rate_limit:
        return
    endpoint = f"{request.method} {request.url_rule.rule if request.url_rule else request.path}"
    if not rt.limiter.allow(endpoint, rt.clock.now(), settings.rate_limit_per_minute):
        raise ApiError("TOO_MANY_REQUESTS")


def _check_auth(secret_key: str) -> None:
    """No key: 401 UNAUTHORIZED_KEY; a malformed one: 400 INVALID_API_KEY; no ':' after it:
    INCORRECT_BASIC_AUTH_FORMAT; a well-formed key that is not ours: 401 UNAUTHORIZED_KEY (D-ERR)."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise ApiError("UNAUTHORIZED_KEY")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("INVALID_API_KEY") from None
    if ":" not in decoded:
        raise ApiError("INCORRECT_BASIC_AUTH_FORMAT")
    username = decoded.split(":", 1)[0]
    if not SECRET_KEY_FORMAT.match(username):
        raise ApiError("INVALID_API_KEY")
    if not hmac.compare_digest(username.encode(), secret_key.encode()):
        raise ApiError("UNAUTHORIZED_KEY")


def _check_test_code(endpoint: str) -> None:
    """`TossPayments-Test-Code: CODE` answers CODE, if this API can answer it (D-AUTH, §7)."""
    code = request.headers.get("TossPayments-Test-Code")
    if code is None:
        return
    if code in NOT_TOSS_CODES or code not in CATALOGUE or not accepts_test_code(endpoint, code):
        raise ApiError(
            "INVALID_TEST_CODE",
            f"이 API에서 쓸 수 없는 테스트 코드입니다: {code[:64]}",
            f"This API cannot answer the test code {code[:64]}.",
        )
    raise ApiError(code)


def _idempotency_key() -> str | None:
    if request.method != "POST":
        return None  # Toss ignores the header on GET; DELETE is idempotent by nature
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError("INVALID_IDEMPOTENCY_KEY")
    return key


# ---------------------------------------------------------------- idempotency


def _scope(key: str, secret_key: str) -> str:
    """Toss matches on (key, API key, URL, method); the body is not part of it."""
    material = "\0".join((key, secret_key, request.method, request.path))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _claim(rt: SandboxRuntime, scope: str) -> tuple[int, Any] | None:
    """None when this request now owns the key; else the answer to give instead."""
    now = rt.clock.now()
    with rt.store.write() as conn:
        row = conn.execute("SELECT * FROM idempotency WHERE scope = ?", (scope,)).fetchone()
        if row is not None and datetime.fromisoformat(row["created_at"]) + IDEMPOTENCY_TTL > now:
            if row["state"] == "processing":
                error = ApiError("IDEMPOTENT_REQUEST_PROCESSING")
                return error.status, error.body()
            return row["status"], (json.loads(row["body"]) if row["body"] else None)
        conn.execute(
            "INSERT OR REPLACE INTO idempotency (scope, state, status, body, created_at) "
            "VALUES (?, 'processing', NULL, NULL, ?)",
            (scope, iso(now)),
        )
    return None


def _remember(rt: SandboxRuntime, scope: str, status: int, body: Any) -> None:
    with rt.store.write() as conn:
        conn.execute(
            "UPDATE idempotency SET state = 'done', status = ?, body = ? WHERE scope = ?",
            (status, None if body is None else json.dumps(body, ensure_ascii=False), scope),
        )


def _release(rt: SandboxRuntime, scope: str) -> None:
    with rt.store.write() as conn:
        conn.execute("DELETE FROM idempotency WHERE scope = ? AND state = 'processing'", (scope,))


# ---------------------------------------------------------------- faults after the work


def _deliver(rt: SandboxRuntime, fault: str | None, response: Response) -> Response:
    if fault == "timeout":
        rt.pause(rt.settings.timeout_delay_ms / 1000.0)
    elif fault == "drop":
        return _cut(response)
    return response


def _cut(response: Response) -> Response:
    """Close the connection without an answer (werkzeug), or send half a body (other servers)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return response  # werkzeug's write fails quietly (connection_dropped)
    body = response.get_data()
    truncated = Response(body[: len(body) // 2], status=response.status_code, content_type=response.content_type)
    truncated.headers["Content-Length"] = str(len(body) + 64)
    return truncated
