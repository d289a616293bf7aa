"""A smoke run of bench/billing.py: ten subscriptions, two worker processes, the sandbox at 20 ms."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from storefront.config import ROOT


def test_the_billing_bench_charges_every_subscription_once_and_reports_it():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "bench/billing.py", "--n", "10", "--workers", "2", "--latency-ms", "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = {re.split(r"\s{2,}", line.strip())[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert lines["charge jobs"].split()[-2:] == ["10", "paid"], output
    assert lines["double charges"].split()[-1] == "0"
    assert lines["missed charges"].split()[-1] == "0"
    assert float(lines["wall time"].split()[2]) > 0 and "efficiency" in lines["bound N*latency/W"]
    assert "p50" in lines["per-charge latency"] and "p99" in lines["per-charge latency"]


def test_the_drills_report_double_missed_stuck_and_time_to_the_last_payment():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "bench/drills.py", "--drill", "racing-crons", "--n", "10"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    (line,) = [line.split() for line in result.stdout.splitlines() if line.startswith("  racing-crons")]
    assert line[1:4] == ["0", "0", "0"], output  # double, missed, stuck
    assert float(line[4]) > 0 and line[5] == "s" and line[8] == "110", output


def test_the_sweep_bench_enqueues_every_due_period_and_prints_the_ratio():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "bench/sweep.py", "--n", "200", "--due", "20", "--small", "100", "--large", "400"]
        + ["--repeat", "1", "--skip-postgres"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"enqueued / in queue\s+200 / 200", result.stdout), output
    assert re.search(r"SQLite \S+ ratio: select [\d.]+x\s+sweep [\d.]+x", result.stdout), output
