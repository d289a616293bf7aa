"""TossClient: the one place that knows Toss's URLs, headers and JSON field names.

One method per endpoint the store uses (billing key issue/charge/delete, payment confirm,
lookups, cancel, and the transaction and settlement look-ups the daily reconciliation reads),
each returning a frozen result from `toss.types` or raising `TossError`
whose `category` says what the caller should do (see `toss.errors`). Every call that moves
money carries the caller's explicit Idempotency-Key; a 409 IDEMPOTENT_REQUEST_PROCESSING is
asked again with the same key a few times before it becomes UNKNOWN_OUTCOME. The secret key
and billing keys never reach a log line, an exception text or a repr. No Flask in here: the
app builds one client from config (`storefront.services`) and hands it to `billing/`.

`on_call(endpoint, code, seconds)`, when given, hears of every HTTP exchange: the method and
path template (``GET /v1/payments/orders/{orderId}``: no key or id), the HTTP status or the
transport code (``TIMEOUT``...), and the seconds it took. The app records Toss latency with it
(`storefront.observability.toss_calls`); a hook that raises is logged and ignored.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar
from collections.abc import Callable, Iterator, Mapping, Sequence
from urllib.parse import quote, urlencode

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from storefront.toss.errors import Category, TossError, classify
from storefront.toss.types import Billing, Payment, Settlement, Transaction

log = logging.getLogger("storefront.toss")

DEFAULT_USER_AGENT = "storefront/1.0 (+python-requests)"
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 30.0)  # (connect, read) seconds
CHARGE_TIMEOUT: tuple[float, float] = (3.05, 65.0)  # Toss: billing approval takes up to 60 s
BUSY_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # sleeps between 409 re-asks
MAX_IDEMPOTENCY_KEY = 300
BUSY = "IDEMPOTENT_REQUEST_PROCESSING"
_BILLING_KEY_GONE = ("ALREADY_REMOVED_BILLING_KEY", "NOT_FOUND_BILLING")
_BILLING_PATH_LABEL = "/v1/billing/{billingKey}"
_BILLING_PATH = re.compile(r"/v1/billing/(?!authorizations/)[^/\s?#\"']+")
# Path templates for `on_call`: the first matching pattern names the endpoint (ids never leave the client).
_ENDPOINTS = (
    (re.compile(r"^/v1/payments/orders/[^/]+$"), "/v1/payments/orders/{orderId}"),
    (re.compile(r"^/v1/payments/(?!confirm$)[^/]+$"), "/v1/payments/{paymentKey}"),
    (re.compile(r"^/v1/payments/[^/]+/cancel$"), "/v1/payments/{paymentKey}/cancel"),
)
# Transactions (limit) and settlements (size) come at most this many to a page (D-REF).
MAX_PAGE = 5_000
DEFAULT_PAGE = 100
SETTLEMENT_DATE_TYPES = ("soldDate", "paidOutDate")
_KST = timezone(timedelta(hours=9))

T = TypeVar("T")


class _Redacted:
    """Holds a secret (string or strings); repr() and str() never show it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class BillingKeyLogFilter(logging.Filter):
    """Rewrites `/v1/billing/<key>` in log records to `/v1/billing/***`.

    Installed on urllib3's connection-pool logger, whose DEBUG lines contain request paths.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _BILLING_PATH.sub("/v1/billing/***", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _install_log_filter() -> None:
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, BillingKeyLogFilter) for f in pool_log.filters):
        pool_log.addFilter(BillingKeyLogFilter())


@dataclass(frozen=True)
class _Call:
    """One request as the client sends it; never logged or shown (path and hide hold keys)."""

    method: str
    path: str = field(repr=False)  # percent-encoded, as sent
    label: str  # the path for log lines and messages, billing key replaced
    money_moving: bool
    timeout: tuple[float, float]
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hide: tuple[str, ...] = field(default=(), repr=False)  # scrubbed from Toss's messages


def _session_for(base_url: str) -> requests.Session:
    """A `requests.Session` with the environment's proxy and CA settings for `base_url` read once.

    requests otherwise re-reads them from `os.environ` on every call (`trust_env`), a measurable
    share of a billing worker's CPU per charge; with `trust_env` off, a `~/.netrc` entry can no
    longer replace our Authorization header either.
    """
    session = requests.Session()
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False
    return session


class TossClient:
    """Toss Payments core API over a `requests.Session` (Basic auth with the secret key).

    `base_url` is Toss's (https://api.tosspayments.com) or the sandbox's. `timeout` is the
    (connect, read) pair for every call except the billing charge, which uses `charge_timeout`
    (read ≥ 60 s, as Toss asks). `sleep` is called between 409 re-asks (tests pass a recorder).
    """

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        charge_timeout: tuple[float, float] = CHARGE_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        busy_retry_delays: Sequence[float] = BUSY_RETRY_DELAYS,
        user_agent: str = DEFAULT_USER_AGENT,
        on_call: Callable[[str, str, float], None] | None = None,
    ) -> None:
        secret = (secret_key or "").strip().lstrip("\ufeff")  # a BOM from an edited .env file
        if not secret or not secret.isascii() or ":" in secret:
            raise ValueError("TossClient: the secret key must be a non-empty ASCII string without ':'")
        if charge_timeout[1] < 60:
            raise ValueError("TossClient: charge_timeout read must be at least 60 s (Toss billing approval)")
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{secret}:".encode("ascii")).decode("ascii")
        self._auth = _Redacted(f"Basic {token}")
        self._secrets = _Redacted((secret, token))
        self._session = session or _session_for(self.base_url)
        self._timeout = timeout
        self._charge_timeout = charge_timeout
        self._sleep = sleep
        self._busy_retry_delays = tuple(busy_retry_delays)
        self._user_agent = user_agent
        self._on_call = on_call
        _install_log_filter()

    def __repr__(self) -> str:
        return f"<TossClient {self.base_url}>"

    # -- billing (자동결제) ------------------------------------------------------------------

    def issue_billing_key(self, auth_key: str, customer_key: str, *, idempotency_key: str) -> Billing:
        """Exchange the one-time `authKey` from the billing successUrl for a billing key.

        `customer_key` must be the signed-in user's (the caller checks the query against it).
        Toss keeps no way to look the key up again: persist the result at once. Raises TossError
        (an UNKNOWN_OUTCOME here is settled by asking again with the same idempotency key).
        """
        _require_text(auth_key=auth_key, customer_key=customer_key)
        call = self._post(
            "/v1/billing/authorizations/issue",
            "/v1/billing/authorizations/issue",
            {"authKey": auth_key, "customerKey": customer_key},
            idempotency_key,
        )
        return self._parse(Billing.from_json, self._request(call), call)

    def charge_billing_key(
        self,
        billing_key: str,
        *,
        customer_key: str,
        amount: int,
        order_id: str,
        order_name: str,
        idempotency_key: str,
        customer_email: str | None = None,
        customer_name: str | None = None,
        customer_ip: str | None = None,
        test_code: str | None = None,
    ) -> Payment:
        """Charge `amount` won to a billing key (자동결제 승인); returns the DONE Payment.

        Send the same `idempotency_key` (and order_id) for every try of one charge: Toss then
        charges at most once. On UNKNOWN_OUTCOME, settle with `get_payment_by_order_id`.
        `test_code` sets TossPayments-Test-Code (test keys only) to make Toss answer that error.
        The billing key travels percent-encoded in the path and never appears in errors or logs.
        """
        _require_text(billing_key=billing_key, customer_key=customer_key, order_id=order_id, order_name=order_name)
        _require_won(amount)
        body: dict[str, Any] = {
            "customerKey": customer_key,
            "amount": amount,
            "orderId": order_id,
            "orderName": order_name,
        }
        optional = {"customerEmail": customer_email, "customerName": customer_name, "customerIp": customer_ip}
        body.update({k: v for k, v in optional.items() if v is not None})
        headers = {"TossPayments-Test-Code": _header_value("test_code", test_code)} if test_code else {}
        call = _Call(
            "POST",
            "/v1/billing/" + quote(billing_key, safe=""),
            _BILLING_PATH_LABEL,
            money_moving=True,
            timeout=self._charge_timeout,
            body=body,
            idempotency_key=_idempotency(idempotency_key),
            headers=headers,
            hide=_forms(billing_key),
        )
        return self._parse(Payment.from_json, self._request(call), call)

    def delete_billing_key(self, billing_key: str) -> bool:
        """Ask Toss to delete a billing key; best effort, never raises for Toss or network trouble.

        True when Toss deleted it or says it is already gone (ALREADY_REMOVED_BILLING_KEY,
        NOT_FOUND_BILLING); False for any other failure (logged with its code, without the key).
        Callers deactivate the key locally whatever this returns.
        """
        _require_text(billing_key=billing_key)
        call = _Call(
            "DELETE",
            "/v1/billing/" + quote(billing_key, safe=""),
            _BILLING_PATH_LABEL,
            money_moving=False,
            timeout=self._timeout,
            hide=_forms(billing_key),
        )
        try:
            self._request(call, want_body=False)
        except TossError as error:
            if error.code in _BILLING_KEY_GONE:
                return True
            log.warning(
                "toss: billing key not deleted: %s (%s, %s)", error.code, error.http_status, error.category.value
            )
            return False
        return True

    # -- payments ---------------------------------------------------------------------------

    def confirm_payment(self, payment_key: str, order_id: str, amount: int, *, idempotency_key: str) -> Payment:
        """Confirm a payment-window payment (결제 승인) within 10 minutes of the redirect.

        The caller has checked `amount` and `order_id` against its own order. Raises TossError;
        ALREADY_PROCESSED_PAYMENT is UNKNOWN_OUTCOME (look the payment up before deciding).
        """
        _require_text(payment_key=payment_key, order_id=order_id)
        _require_won(amount)
        call = self._post(
            "/v1/payments/confirm",
            "/v1/payments/confirm",
            {"paymentKey": payment_key, "orderId": order_id, "amount": amount},
            idempotency_key,
        )
        return self._parse(Payment.from_json, self._request(call), call)

    def get_payment(self, payment_key: str) -> Payment:
        """The payment as Toss has it now. Unknown key: TossError with Category.NOT_FOUND."""
        _require_text(payment_key=payment_key)
        return self._get("/v1/payments/" + quote(payment_key, safe=""))

    def get_payment_by_order_id(self, order_id: str) -> Payment:
        """The payment for our orderId: how UNKNOWN_OUTCOME charges are settled.

        No payment under that orderId: TossError with Category.NOT_FOUND (NOT_FOUND_PAYMENT).
        """
        _require_text(order_id=order_id)
        return self._get("/v1/payments/orders/" + quote(order_id, safe=""))

    def cancel_payment(
        self, payment_key: str, *, reason: str, idempotency_key: str, amount: int | None = None
    ) -> Payment:
        """Cancel (refund) a payment: the whole balance when `amount` is None, else `amount` won.

        Use one idempotency key per refund decision so a retry never refunds twice. Returns the
        Payment with its `cancels`; on UNKNOWN_OUTCOME, `get_payment` shows whether it happened.
        """
        _require_text(payment_key=payment_key, reason=reason)
        if len(reason) > 200:
            raise ValueError("cancel reason must be at most 200 characters")
        body: dict[str, Any] = {"cancelReason": reason}
        if amount is not None:
            _require_won(amount)
            body["cancelAmount"] = amount
        path = f"/v1/payments/{quote(payment_key, safe='')}/cancel"
        call = self._post(path, path, body, idempotency_key)
        return self._parse(Payment.from_json, self._request(call), call)

    # -- transactions and settlements (거래 조회, 정산 조회) -------------------------------------

    def list_transactions(
        self, start: datetime, end: datetime, *, starting_after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> list[Transaction]:
        """One page of the approvals and cancels whose transactionAt is in [start, end].

        `start`/`end` are aware datetimes, sent in Korean time to the second (Toss reads
        `...T23:59:59` as the whole last second). The next page starts after the transaction
        named by `starting_after` (the last transactionKey of the page before); `limit` is
        1–5,000. A `starting_after` Toss does not know: TossError INVALID_TRANSACTION_KEY.
        """
        _require_limit(limit, "limit")
        query: dict[str, Any] = {"startDate": _kst_moment(start), "endDate": _kst_moment(end), "limit": limit}
        if starting_after is not None:
            _require_text(starting_after=starting_after)
            query["startingAfter"] = starting_after
        return self._get_list("/v1/transactions", query, Transaction.from_json)

    def iter_transactions(self, start: datetime, end: datetime, *, page_size: int = MAX_PAGE) -> Iterator[Transaction]:
        """Every transaction in [start, end], page after page until a page comes back short."""
        after: str | None = None
        while True:
            page = self.list_transactions(start, end, starting_after=after, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].transaction_key

    def list_settlements(
        self, start: date, end: date, *, date_type: str = "soldDate", page: int = 1, size: int = DEFAULT_PAGE
    ) -> list[Settlement]:
        """One page (from 1) of the settlements whose soldDate (or paidOutDate) is in [start, end]."""
        if date_type not in SETTLEMENT_DATE_TYPES:
            raise ValueError(f"date_type must be one of {', '.join(SETTLEMENT_DATE_TYPES)}")
        _require_limit(size, "size")
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError("page must be a whole number from 1")
        query = {
            "startDate": start.isoformat(),
            "endDate": end.isoformat(),
            "dateType": date_type,
            "page": page,
            "size": size,
        }
        return self._get_list("/v1/settlements", query, Settlement.from_json)

    def iter_settlements(
        self, start: date, end: date, *, date_type: str = "soldDate", page_size: int = MAX_PAGE
    ) -> Iterator[Settlement]:
        """Every settlement in [start, end], page after page until a page comes back short."""
        page = 1
        while True:
            rows = self.list_settlements(start, end, date_type=date_type, page=page, size=page_size)
            yield from rows
            if len(rows) < page_size:
                return
            page += 1

    # -- plumbing ---------------------------------------------------------------------------

    def _get_list(self, path: str, query: Mapping[str, Any], parse: Callable[[Any], T]) -> list[T]:
        """GET a JSON array (Toss's look-ups take up to 60 s, like a billing charge: D-REF)."""
        call = _Call("GET", f"{path}?{urlencode(query)}", path, money_moving=False, timeout=self._charge_timeout)
        data = self._request(call)
        if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
            raise self._unreadable(call, 200, "an answer that is not a JSON array of objects")
        try:
            return [parse(item) for item in data]
        except ValueError as exc:
            raise self._unreadable(call, 200, str(exc)) from None

    def _post(self, path: str, label: str, body: dict[str, Any], idempotency_key: str) -> _Call:
        return _Call(
            "POST",
            path,
            label,
            money_moving=True,
            timeout=self._timeout,
            body=body,
            idempotency_key=_idempotency(idempotency_key),
        )

    def _get(self, path: str) -> Payment:
        call = _Call("GET", path, path, money_moving=False, timeout=self._timeout)
        return self._parse(Payment.from_json, self._request(call), call)

    def _request(self, call: _Call, *, want_body: bool = True) -> Any:
        """Send `call`, re-asking with the same key while Toss answers 409 IDEMPOTENT_REQUEST_PROCESSING."""
        delays = iter(self._busy_retry_delays if call.idempotency_key else ())
        while True:
            response = self._send(call)
            if response.status_code < 300:
                return self._body(response, call) if want_body else None
            error = self._error(response, call)
            if error.code != BUSY:
                raise error
            delay = next(delays, None)
            if delay is None:
                raise TossError(
                    BUSY,
                    "Toss was still processing the first request after "
                    f"{len(self._busy_retry_delays) + 1} tries; look it up before retrying",
                    409,
                    Category.UNKNOWN_OUTCOME,
                    trace_id=error.trace_id,
                )
            log.info("toss %s %s: still processing, asking again in %ss", call.method, call.label, delay)
            self._sleep(delay)

    def _send(self, call: _Call) -> requests.Response:
        headers = {
            "Authorization": self._auth.value,
            "User-Agent": self._user_agent,
            "Accept": "application/json",
            **call.headers,
        }
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        started = time.perf_counter()
        try:
            response = self._session.request(
                call.method,
                self.base_url + call.path,
                json=call.body,
                headers=headers,
                timeout=call.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            failure = _transport_error(exc, call)
        else:
            log.info(
                "toss %s %s -> %s in %.2fs",
                call.method,
                call.label,
                response.status_code,
                response.elapsed.total_seconds(),
            )
            self._heard(call, str(response.status_code), time.perf_counter() - started)
            return response
        self._heard(call, failure.code, time.perf_counter() - started)
        # Raised outside the except block: requests' exception text holds the URL (a billing key).
        log.warning("toss %s %s -> %s (%s)", call.method, call.label, failure.code, failure.category.value)
        raise failure

    def _heard(self, call: _Call, code: str, seconds: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(f"{call.method} {_endpoint(call.label)}", code, seconds)
        except Exception as exc:  # noqa: BLE001 - a metrics hook never fails a call to Toss
            log.debug("toss: on_call hook failed (%s)", type(exc).__name__)

    def _body(self, response: requests.Response, call: _Call) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._unreadable(call, response.status_code, "an answer that is not JSON") from None

    def _parse(self, parse: Callable[[Any], T], data: Any, call: _Call) -> T:
        if not isinstance(data, Mapping):
            raise self._unreadable(call, 200, "an answer that is not a JSON object")
        try:
            return parse(data)
        except ValueError as exc:
            raise self._unreadable(call, 200, str(exc)) from None

    def _unreadable(self, call: _Call, status: int, what: str) -> TossError:
        category = Category.UNKNOWN_OUTCOME if call.money_moving else Category.TRANSIENT
        log.warning("toss %s %s -> %s with %s", call.method, call.label, status, what)
        return TossError("INVALID_RESPONSE", f"Toss sent {what} to {call.method} {call.label}", status, category)

    def _error(self, response: requests.Response, call: _Call) -> TossError:
        status = response.status_code
        code, message = _error_fields(response)
        if code is None:
            code = f"HTTP_{status}"
            message = message or f"Toss answered HTTP {status} without an error code"
        category = classify(code, status, money_moving=call.money_moving)
        log.warning("toss %s %s -> %s %s (%s)", call.method, call.label, status, code, category.value)
        return TossError(
            code,
            self._scrub(message or code, call),
            status,
            category,
            trace_id=response.headers.get("X-TossPayments-Trace-Id"),
        )

    def _scrub(self, text: str, call: _Call) -> str:
        for secret in (*self._secrets.value, *call.hide):
            if secret:
                text = text.replace(secret, "***")
        return text


def _error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """(code, message) from a v1 `{code, message}` or v2 `{error: {code, message}}` body, if any."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping) and "code" not in body:
        body = body["error"]
    if not isinstance(body, Mapping):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (code if isinstance(code, str) and code else None, message if isinstance(message, str) else None)


def _transport_error(exc: requests.RequestException, call: _Call) -> TossError:
    """No HTTP answer: TRANSIENT if nothing was sent, else UNKNOWN_OUTCOME on money-moving calls."""
    after_sending = Category.UNKNOWN_OUTCOME if call.money_moving else Category.TRANSIENT
    kind = type(exc).__name__
    if isinstance(
        exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
    ):
        return TossError("INVALID_URL", f"the Toss API base URL cannot be requested ({kind})", None, Category.CONFIG)
    if _nothing_sent(exc):
        return TossError(
            "CONNECT_FAILED", f"could not connect to Toss; nothing was sent ({kind})", None, Category.TRANSIENT
        )
    if isinstance(exc, requests.Timeout):
        return TossError(
            "TIMEOUT",
            f"no answer from Toss within {call.timeout[1]}s after sending {call.method} {call.label}",
            None,
            after_sending,
        )
    return TossError(
        "CONNECTION_ERROR",
        f"the connection to Toss failed after sending {call.method} {call.label} ({kind})",
        None,
        after_sending,
    )


def _nothing_sent(exc: requests.RequestException) -> bool:
    """True when the failure happened before any byte of the request left (connect stage)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.exceptions.SSLError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


def _endpoint(label: str) -> str:
    """The path template of a call's label (which already hides billing keys, not payment keys or orderIds)."""
    for pattern, template in _ENDPOINTS:
        if pattern.match(label):
            return template
    return label


def _forms(billing_key: str) -> tuple[str, ...]:
    return (billing_key, quote(billing_key, safe=""))


def _require_text(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")


def _require_won(amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount must be a positive whole number of won")


def _require_limit(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
        raise ValueError(f"{name} must be a whole number from 1 to {MAX_PAGE}")


def _kst_moment(moment: datetime) -> str:
    """An aware datetime as Toss's query wants it: Korean wall time to the second, no offset."""
    if moment.tzinfo is None:
        raise ValueError("transaction look-ups need timezone-aware datetimes")
    return moment.astimezone(_KST).strftime("%Y-%m-%dT%H:%M:%S")


def _header_value(name: str, value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{name} must be printable ASCII")
    return value


def _idempotency(key: str) -> str:
    """Toss accepts up to 300 characters; an HTTP header needs printable ASCII."""
    _require_text(idempotency_key=key)
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValueError(f"idempotency_key must be at most {MAX_IDEMPOTENCY_KEY} characters")
    return _header_value("idempotency_key", key)
