"""TossClient over real loopback sockets: how broken connections are classified.

`responses` replaces the transport, so it cannot show which exception requests really raises
for a refused connect, a reset after sending, or a truncated answer. These tests run a tiny
socket server on 127.0.0.1 (port 0) that misbehaves on purpose.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
from pathlib import Path
from collections.abc import Callable, Iterator

import pytest

from storefront.toss.client import TossClient
from storefront.toss.errors import Category, TossError
from storefront.toss.types import Payment

SECRET = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"
BILLING_KEY = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0="
CHARGE_BODY = (
    Path(__file__).resolve().parent.parent / "fixtures" / "toss" / "billing-charge.response.json"
).read_bytes()

Handler = Callable[[socket.socket, bytes], None]


class MisbehavingServer:
    """Accepts connections on 127.0.0.1, reads one request each, hands it to `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.release = threading.Event()  # handlers that hang wait on this
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                request = _read_request(conn)
                self.requests.append(request)
                self.handler(conn, request)

    def stop(self) -> None:
        self.release.set()
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], MisbehavingServer]]:
    servers: list[MisbehavingServer] = []

    def start(handler: Handler) -> MisbehavingServer:
        servers.append(MisbehavingServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def charge(toss: TossClient) -> Payment:
    return toss.charge_billing_key(
        BILLING_KEY,
        customer_key="qLKNEQdVbLshykFfzorKz",
        amount=4900,
        order_id="order-000001",
        order_name="월간 구독",
        idempotency_key="order-000001",
    )


def test_refused_connection_is_transient_even_for_a_charge() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]
    toss = TossClient(f"http://127.0.0.1:{closed_port}", SECRET)

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.category) == ("CONNECT_FAILED", Category.TRANSIENT)
    assert BILLING_KEY not in str(caught.value)


def test_connection_closed_after_sending_a_charge_is_unknown_outcome(serve) -> None:
    server = serve(lambda conn, request: None)  # read the whole request, then hang up
    toss = TossClient(server.url, SECRET)

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.category) == ("CONNECTION_ERROR", Category.UNKNOWN_OUTCOME)
    assert b'"orderId": "order-000001"' in server.requests[0]  # Toss had the request


def test_truncated_answer_to_a_charge_is_unknown_outcome(serve) -> None:
    def half_answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(CHARGE_BODY) + CHARGE_BODY[:40]
        )

    toss = TossClient(serve(half_answer).url, SECRET)

    with pytest.raises(TossError) as caught:
        charge(toss)

    assert (caught.value.code, caught.value.category) == ("CONNECTION_ERROR", Category.UNKNOWN_OUTCOME)


def test_no_answer_in_time_after_sending_is_unknown_outcome(serve) -> None:
    server = serve(lambda conn, request: server.release.wait(5))
    toss = TossClient(server.url, SECRET, timeout=(1.0, 0.2))

    with pytest.raises(TossError) as caught:
        toss.confirm_payment("pay-1", "order-000001", 4900, idempotency_key="order-000001")

    assert (caught.value.code, caught.value.category) == ("TIMEOUT", Category.UNKNOWN_OUTCOME)


def test_urllib3_debug_lines_do_not_show_the_billing_key(serve, caplog: pytest.LogCaptureFixture) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(CHARGE_BODY) + CHARGE_BODY
        )

    server = serve(answer)
    toss = TossClient(server.url, SECRET)

    with caplog.at_level(logging.DEBUG):
        payment = charge(toss)

    assert b"/v1/billing/Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0%3D " in server.requests[0]
    pool_lines = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert any('"POST /v1/billing/*** HTTP/1.1" 200' in line for line in pool_lines)
    assert "Rdzk0" not in caplog.text and SECRET not in caplog.text
    assert payment.status == "DONE"


def test_a_netrc_entry_for_the_host_does_not_replace_the_secret_key(serve, tmp_path, monkeypatch) -> None:
    """requests would swap our Authorization header for ~/.netrc's credentials; Toss would answer 401."""

    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(CHARGE_BODY) + CHARGE_BODY
        )

    server = serve(answer)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    charge(TossClient(server.url, SECRET))

    expected = base64.b64encode(f"{SECRET}:".encode()).decode()
    assert f"Authorization: Basic {expected}".encode() in server.requests[0]


def test_proxy_settings_are_read_from_the_environment_once(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    toss = TossClient("https://api.tosspayments.com", SECRET)
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.internal:3128")

    assert toss._session.proxies.get("https") == "http://proxy.internal:3128"
    assert toss._session.trust_env is False  # requests no longer re-reads os.environ on every call
