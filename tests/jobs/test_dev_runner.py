"""`make run`'s runner (scripts/devrun.py): a process that exits is started again, the others stay up,
and Ctrl-C stops all of them (SIGKILL for one that ignores SIGTERM)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storefront.config import ROOT

PY = sys.executable


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


class Output:
    """The runner's stdout, line by line, read in a thread so a test can wait for a line with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30.0) -> list[re.Match]:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in (re.search(pattern, line) for line in self.lines) if m]
            if len(found) >= count:
                return found
            try:
                self.lines.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                if time.monotonic() > deadline:
                    pytest.fail(f"no {count} line(s) matching {pattern!r}; output so far:\n" + "\n".join(self.lines))


def test_a_crashing_process_is_restarted_the_others_stay_up_and_ctrl_c_stops_everything(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"steady: {PY} -c \"import os, time; print('steady pid', os.getpid(), flush=True); time.sleep(600)\"\n"
        f"crashy: {PY} -c \"import os, sys; print('crashy pid', os.getpid(), flush=True); sys.exit(3)\"\n"
        f'stubborn: {PY} -c "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
        f"print('stubborn pid', os.getpid(), flush=True); time.sleep(600)\"\n"
    )
    runner = subprocess.Popen(
        [
            PY,
            str(ROOT / "scripts" / "devrun.py"),
            "-f",
            str(procfile),
            "-e",
            str(tmp_path / "none.env"),
            "--first-pause",
            "0.1",
            "--max-pause",
            "0.4",
            "--grace",
            "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = Output(runner.stdout)
    try:
        crashes = out.wait_for(r"crashy \s*\| crashy pid (\d+)", count=4)
        assert len({m.group(1) for m in crashes}) == 4  # started again each time, as new processes
        assert out.wait_for(r"crashy \s*\| exited with code 3 after [\d.]+ s; restarting in ([\d.]+) s", count=4)
        pauses = [float(m.group(1)) for m in out.wait_for(r"crashy .*restarting in ([\d.]+) s", count=4)]
        assert pauses[:4] == [0.1, 0.2, 0.4, 0.4]  # backing off, capped
        (steady,) = out.wait_for(r"steady \s*\| steady pid (\d+)")
        (stubborn,) = out.wait_for(r"stubborn \s*\| stubborn pid (\d+)")
        steady_pid, stubborn_pid = int(steady.group(1)), int(stubborn.group(1))
        assert alive(steady_pid) and alive(stubborn_pid)
        assert not [line for line in out.lines if re.search(r"(steady|stubborn) .*exited", line)]

        runner.send_signal(signal.SIGINT)  # Ctrl-C
        assert runner.wait(timeout=30) == 0
        out.wait_for(r"stubborn \s*\| did not stop; SIGKILL")
        out.wait_for(r"all stopped")
        assert not alive(steady_pid) and not alive(stubborn_pid)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
        runner.stdout.close()
