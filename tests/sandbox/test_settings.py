"""Sandbox settings from the environment, and the `python -m storefront.toss.sandbox` process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from storefront.config import ROOT, SANDBOX_CLIENT_KEY, SANDBOX_SECRET_KEY
from storefront.toss.sandbox import SandboxSettings, SettingsError


def test_defaults_are_the_well_known_sandbox_keys_and_no_faults():
    settings = SandboxSettings.from_env({})
    assert (settings.secret_key, settings.client_key) == (SANDBOX_SECRET_KEY, SANDBOX_CLIENT_KEY)
    assert settings.db_path == str(ROOT / "instance" / "sandbox.db")
    assert (settings.fail_rate, settings.timeout_rate, settings.drop_rate, settings.latency_ms) == (0, 0, 0, 0)
    assert settings.rate_limit is False and settings.webhook_url is None


def test_environment_variables_set_every_knob():
    settings = SandboxSettings.from_env(
        {
            "SANDBOX_DB": "/tmp/x/sandbox.db",
            "SANDBOX_LATENCY_MS": "20",
            "SANDBOX_JITTER_MS": "5",
            "SANDBOX_FAIL_RATE": "0.1",
            "SANDBOX_TIMEOUT_RATE": "0.05",
            "SANDBOX_TIMEOUT_DELAY_MS": "61000",
            "SANDBOX_DROP_RATE": "0.02",
            "SANDBOX_SEED": "42",
            "SANDBOX_RATE_LIMIT": "1",
            "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:5000/webhooks/toss",
            "SANDBOX_WEBHOOK_TIME_FACTOR": "60000",
        }
    )
    assert (settings.db_path, settings.latency_ms, settings.jitter_ms, settings.seed) == (
        "/tmp/x/sandbox.db",
        20,
        5,
        42,
    )
    assert (settings.fail_rate, settings.timeout_rate, settings.drop_rate) == (0.1, 0.05, 0.02)
    assert settings.timeout_delay_ms == 61000 and settings.rate_limit is True
    assert settings.webhook_url == "http://127.0.0.1:5000/webhooks/toss" and settings.webhook_time_factor == 60000


def test_the_stores_sandbox_keys_and_site_url_are_reused():
    env = {
        "TOSS_ENV": "sandbox",
        "TOSS_SECRET_KEY": "test_sk_mine",
        "TOSS_CLIENT_KEY": "test_ck_mine",
        "SITE_URL": "http://127.0.0.1:5000/",
    }
    settings = SandboxSettings.from_env(env)
    assert (settings.secret_key, settings.client_key) == ("test_sk_mine", "test_ck_mine")
    assert settings.webhook_url == "http://127.0.0.1:5000/webhooks/toss"
    assert SandboxSettings.from_env({**env, "SANDBOX_WEBHOOK_URL": "off"}).webhook_url is None
    # With real Toss test keys the store is not in sandbox mode: the sandbox keeps its own keys.
    assert SandboxSettings.from_env({**env, "TOSS_ENV": "test"}).secret_key == SANDBOX_SECRET_KEY


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SANDBOX_FAIL_RATE": "lots"}, "SANDBOX_FAIL_RATE"),
        ({"SANDBOX_FAIL_RATE": "2"}, "fail_rate"),
        ({"SANDBOX_LATENCY_MS": "1.5"}, "SANDBOX_LATENCY_MS"),
        ({"SANDBOX_RATE_LIMIT": "sometimes"}, "SANDBOX_RATE_LIMIT"),
        ({"SANDBOX_SECRET_KEY": "live_sk_x"}, "secret_key"),
        ({"SANDBOX_WEBHOOK_TIME_FACTOR": "0"}, "webhook_time_factor"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(env, name):
    with pytest.raises(SettingsError, match=name):
        SandboxSettings.from_env(env)


def test_the_module_runs_a_server_on_the_port_it_is_given(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "TOSS_"))}
    env.update(PYTHONPATH=str(ROOT), SANDBOX_WEBHOOK_URL="off")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storefront.toss.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(tmp_path / "cli.db"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("Toss sandbox on http://127.0.0.1:"), first_line
        url = first_line.split()[3]
        response = requests.get(f"{url}/v1/payments/orders/order-cli-1", auth=(SANDBOX_SECRET_KEY, ""), timeout=10)
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND_PAYMENT")
        assert (tmp_path / "cli.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_a_bad_setting_stops_the_process_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "TOSS_"))}
    env.update(PYTHONPATH=str(ROOT), SANDBOX_FAIL_RATE="lots")
    result = subprocess.run(
        [sys.executable, "-m", "storefront.toss.sandbox", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "sandbox: configuration error: SANDBOX_FAIL_RATE: fail_rate: invalid value 'lots'"


def test_the_secret_key_stays_out_of_reprs_and_the_settings_endpoint(sandbox):
    assert sandbox.secret_key not in repr(sandbox.runtime.settings)
    assert sandbox.secret_key not in requests.get(f"{sandbox.url}/_sandbox/settings", timeout=10).text


def test_the_procfile_process_stays_idle_when_the_store_uses_real_toss(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "TOSS_"))}
    env.update(PYTHONPATH=str(ROOT), TOSS_ENV="test")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storefront.toss.sandbox",
            "--port",
            "0",
            "--only-if-sandbox",
            "--db",
            str(tmp_path / "idle.db"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "Toss sandbox not started: TOSS_ENV=test talks to Toss itself"
        assert process.poll() is None  # still running, so honcho keeps the other processes up
        assert not (tmp_path / "idle.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
