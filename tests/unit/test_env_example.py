""".env.example is what `make run` copies into .env: it must load as it stands (plus the generated secrets)."""

from dotenv import dotenv_values

from storefront.config import ROOT, load_config
from storefront.toss.sandbox.settings import SandboxSettings


def _example() -> dict[str, str]:
    values = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v is not None}
    return {**values, "SECRET_KEY": "s" * 40, "ENCRYPTION_KEY": "ab" * 32}


def test_env_example_loads_as_a_development_config():
    config = load_config(_example())
    assert config.app_env == "development" and config.toss_env == "sandbox"
    assert config.business.phone.startswith("02-")


def test_env_example_loads_as_sandbox_settings_with_webhooks_to_the_store():
    settings = SandboxSettings.from_env(_example())
    assert settings.webhook_url == "http://127.0.0.1:5000/webhooks/toss"
    assert (settings.fail_rate, settings.rate_limit) == (0.0, False)


def test_every_setting_the_code_reads_is_listed_in_env_example():
    import re

    listed = set(_example())
    read = set()
    for path in (ROOT / "storefront").rglob("*.py"):
        # os.environ and the `env` mappings the settings are read from; a WSGI `environ` is a request's
        read.update(
            re.findall(r'\b(?:os\.environ|env)\.get\("([A-Z][A-Z0-9_]*[A-Z0-9])"', path.read_text(encoding="utf-8"))
        )
    assert read and read - listed == set()
