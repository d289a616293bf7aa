import subprocess
import sys

import pytest

from storefront.config import ROOT, ConfigError, load_config
from tests.conftest import BASE_ENV


def env(**changes):
    merged = dict(BASE_ENV, DATABASE_URL="sqlite:///x.db")
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"ENCRYPTION_KEY": "abc"}, "ENCRYPTION_KEY"),
        ({"ENCRYPTION_KEY": "zz" * 32}, "ENCRYPTION_KEY"),
        ({"ENCRYPTION_KEY": None}, "ENCRYPTION_KEY"),
        ({"ENCRYPTION_KEYS_OLD": "1234"}, "ENCRYPTION_KEYS_OLD"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        (
            {"TOSS_ENV": "sandbox", "TOSS_SECRET_KEY": "live_sk_abc", "TOSS_CLIENT_KEY": "live_ck_abc"},
            "TOSS_CLIENT_KEY",
        ),
        ({"TOSS_ENV": "sandbox", "TOSS_CLIENT_KEY": "test_ck_a", "TOSS_SECRET_KEY": "live_sk_abc"}, "TOSS_SECRET_KEY"),
        ({"TOSS_ENV": "test", "TOSS_CLIENT_KEY": "live_ck_a", "TOSS_SECRET_KEY": "test_sk_a"}, "TOSS_CLIENT_KEY"),
        ({"TOSS_ENV": "live", "TOSS_CLIENT_KEY": "test_ck_a", "TOSS_SECRET_KEY": "test_sk_a"}, "TOSS_CLIENT_KEY"),
        (
            {
                "TOSS_ENV": "test",
                "TOSS_CLIENT_KEY": "test_ck_a",
                "TOSS_SECRET_KEY": "test_sk_a",
                "TOSS_API_BASE": "http://api.tosspayments.com",
            },
            "TOSS_API_BASE",
        ),
        (
            {
                "TOSS_ENV": "live",
                "TOSS_CLIENT_KEY": "live_ck_a",
                "TOSS_SECRET_KEY": "live_sk_a",
                "TOSS_API_BASE": "https://127.0.0.1:5055",
            },
            "TOSS_API_BASE",
        ),
        ({"TOSS_ENV": "sandbox", "TOSS_API_BASE": "https://api.tosspayments.com"}, "TOSS_API_BASE"),
        ({"TOSS_ENV": "staging"}, "TOSS_ENV"),
        ({"BUSINESS_PHONE": "010-1234-5678"}, "BUSINESS_PHONE"),
        ({"BUSINESS_REGISTRATION_NUMBER": "12345"}, "BUSINESS_REGISTRATION_NUMBER"),
        ({"BUSINESS_NAME": ""}, "BUSINESS_NAME"),
        ({"DATABASE_URL": "postgresql://u@h/db"}, "DATABASE_URL"),
        ({"APP_ENV": "production"}, "TOSS_ENV"),
        (
            {
                "APP_ENV": "production",
                "TOSS_ENV": "test",
                "TOSS_CLIENT_KEY": "test_ck_a",
                "TOSS_SECRET_KEY": "test_sk_a",
            },
            "SMTP_URL",
        ),
        ({"DUNNING_RETRY_DAYS": "3,1"}, "DUNNING_RETRY_DAYS"),
    ],
)
def test_bad_settings_name_the_variable(changes, variable):
    with pytest.raises(ConfigError) as exc:
        load_config(env(**changes))
    assert str(exc.value).startswith(variable + ":")


def test_good_settings_load_with_sandbox_defaults():
    config = load_config(env())
    assert config.toss_env == "sandbox"
    assert config.toss_api_base == "http://127.0.0.1:5055"
    assert config.toss_client_key.startswith("test_ck_")
    assert config.encryption_key == bytes.fromhex("0f" * 32)


def test_test_keys_with_toss_test_environment_use_https_toss():
    config = load_config(env(TOSS_ENV="test", TOSS_CLIENT_KEY="test_ck_x", TOSS_SECRET_KEY="test_sk_x"))
    assert config.toss_api_base == "https://api.tosspayments.com"
    assert config.toss_sdk_url == "https://js.tosspayments.com/v2/standard"


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"ENCRYPTION_KEY": "not-hex"}, "ENCRYPTION_KEY"),
        ({"TOSS_ENV": "sandbox", "TOSS_CLIENT_KEY": "live_ck_1", "TOSS_SECRET_KEY": "live_sk_1"}, "TOSS_CLIENT_KEY"),
    ],
)
def test_app_refuses_to_start_with_one_clear_line(tmp_path, changes, variable):
    """The real entry point (the flask CLI) exits non-zero, printing one line naming the variable."""
    run_env = {
        **env(**changes),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "FLASK_APP": "storefront",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "routes"],
        env=run_env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and variable in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("0f" * 32) not in proc.stderr


def test_config_repr_holds_no_secrets():
    config = load_config(env(SMTP_URL="smtp://mailer:hunter22@mail.example:587", TOSS_SECRET_KEY="test_sk_topsecret"))
    text = repr(config)
    for secret in (BASE_ENV["SECRET_KEY"], "0f" * 32, "test_sk_topsecret", "hunter22", str(config.encryption_key)):
        assert secret not in text
