"""The development runner behind `make run`: every Procfile process, restarted when it exits; Ctrl-C stops all.

    .venv/bin/python scripts/devrun.py                # the Procfile in the current directory
    .venv/bin/python scripts/devrun.py -f Procfile.dev

honcho (what `make run` used before) stops every process as soon as one of them exits, so a
worker that died with Redis took the web server, the timer and the sandbox down with it. This
runner keeps the others up and starts the one that exited again after a pause: 1 s, doubling
up to 30 s while it keeps failing, back to 1 s once it has run for 30 s. Each line a process
prints is shown with the time and its name, as honcho did; `.env` is loaded into the
processes' environment (values already set win), as honcho did.

Ctrl-C (SIGINT) or SIGTERM stops everything: each process group gets SIGTERM (an RQ worker
finishes its job first), the first Procfile line (the embedded Redis) last, and whatever still
runs 10 s after its SIGTERM gets SIGKILL. When a process exits, what it left in its process
group (an RQ worker's scheduler) gets SIGTERM before it is started again. Each process runs in
its own process group, so a terminal's Ctrl-C reaches the runner only and the shutdown is
orderly. For development only: production runs each process under systemd (Restart=always).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
_COLORS = (36, 33, 32, 35, 34, 31)


@dataclass
class Process:
    name: str
    command: str
    color: int
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    pause: float = 0.0
    reader: threading.Thread | None = field(default=None, repr=False)


def read_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise SystemExit(f"devrun: {path}:{number}: expected 'name: command', got {raw!r}")
        entries.append((match.group(1), match.group(2)))
    if not entries:
        raise SystemExit(f"devrun: {path} lists no processes")
    return entries


def load_env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    if path.exists():
        from dotenv import dotenv_values

        for key, value in dotenv_values(path).items():
            if value is not None:
                env.setdefault(key, value)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Runner:
    def __init__(
        self,
        entries: list[tuple[str, str]],
        env: dict[str, str],
        *,
        first_pause: float,
        max_pause: float,
        steady_after: float,
        grace: float,
        color: bool,
    ) -> None:
        self.procs = [Process(name, command, _COLORS[i % len(_COLORS)]) for i, (name, command) in enumerate(entries)]
        self.env = env
        self.first_pause, self.max_pause, self.steady_after, self.grace = first_pause, max_pause, steady_after, grace
        self.color = color
        self.width = max(len(p.name) for p in self.procs)
        self.stopping = threading.Event()
        self._print_lock = threading.Lock()

    # -- output ----------------------------------------------------------------------------------

    def say(self, proc: Process | None, text: str) -> None:
        name = proc.name if proc else "devrun"
        prefix = f"{datetime.now():%H:%M:%S} {name:<{self.width}} | "
        if self.color and proc is not None:
            prefix = f"\033[{proc.color}m{prefix}\033[0m"
        elif self.color:
            prefix = f"\033[1m{prefix}\033[0m"
        with self._print_lock:
            sys.stdout.write(prefix + text.rstrip("\n") + "\n")
            sys.stdout.flush()

    def _pump(self, proc: Process, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(proc, raw.decode("utf-8", errors="replace"))
        stream.close()

    # -- processes -------------------------------------------------------------------------------

    def start(self, proc: Process) -> None:
        proc.popen = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {proc.command}"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        proc.started_at = time.monotonic()
        proc.reader = threading.Thread(target=self._pump, args=(proc, proc.popen.stdout), daemon=True)
        proc.reader.start()
        self.say(proc, f"started with pid {proc.popen.pid}")

    def check(self, proc: Process, now: float) -> None:
        if proc.popen is None:
            if now >= proc.restart_at:
                self.start(proc)
            return
        code = proc.popen.poll()
        if code is None:
            return
        ran = now - proc.started_at
        _signal_group(proc.popen, signal.SIGTERM)  # what it left behind (an RQ worker's scheduler process)
        proc.pause = (
            self.first_pause if ran >= self.steady_after or not proc.pause else min(proc.pause * 2, self.max_pause)
        )
        proc.restart_at = now + proc.pause
        proc.popen = None
        self.say(proc, f"exited with code {code} after {ran:.1f} s; restarting in {proc.pause:g} s")

    def run(self) -> int:
        for proc in self.procs:
            self.start(proc)
        while not self.stopping.wait(0.1):
            now = time.monotonic()
            for proc in self.procs:
                self.check(proc, now)
        return self.stop_all()

    def stop_all(self) -> int:
        self.say(None, f"stopping every process (SIGTERM; SIGKILL after {self.grace:g} s)")
        first, rest = self.procs[0], self.procs[1:]
        self._stop(rest)
        self._stop([first])  # the first line (the embedded Redis) last, so the others can finish with it
        for proc in self.procs:
            if proc.reader is not None:
                proc.reader.join(timeout=2)
        self.say(None, "all stopped")
        return 0

    def _stop(self, procs: list[Process]) -> None:
        running = [p for p in procs if p.popen is not None and p.popen.poll() is None]
        for proc in running:
            _signal_group(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for proc in running:
            try:
                proc.popen.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                self.say(proc, "did not stop; SIGKILL")
                _signal_group(proc.popen, signal.SIGKILL)
                proc.popen.wait()
        for proc in procs:  # whatever a process left behind in its group
            if proc.popen is not None:
                _signal_group(proc.popen, signal.SIGKILL)


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devrun", description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--procfile", default="Procfile")
    parser.add_argument("-e", "--env", default=".env", help="dotenv file loaded into the processes (default .env)")
    parser.add_argument("--first-pause", type=float, default=1.0, help="seconds before the first restart (default 1)")
    parser.add_argument("--max-pause", type=float, default=30.0, help="longest pause between restarts (default 30)")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL (default 10)")
    args = parser.parse_args(argv)
    runner = Runner(
        read_procfile(Path(args.procfile)),
        load_env(Path(args.env)),
        first_pause=args.first_pause,
        max_pause=args.max_pause,
        steady_after=30.0,
        grace=args.grace,
        color=sys.stdout.isatty(),
    )

    def request_stop(signum, _frame) -> None:
        runner.stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
