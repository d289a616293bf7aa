"""The operations settings: one clear line naming a bad variable, sensible defaults."""

import pytest

from storefront.config import ConfigError, load_config
from tests.conftest import BASE_ENV


def env(**changes: str) -> dict[str, str]:
    return dict(BASE_ENV, DATABASE_URL="sqlite:///x.db", **changes)


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"METRICS_ALLOWED_IPS": "10.0.0.0/8, prometheus.internal"}, "METRICS_ALLOWED_IPS"),
        ({"SENTRY_DSN": "not a dsn"}, "SENTRY_DSN"),
        ({"SENTRY_DSN": "https://sentry.example.com/1"}, "SENTRY_DSN"),  # no key
        ({"BILLING_SWEEP_MINUTES": "0"}, "BILLING_SWEEP_MINUTES"),
    ],
)
def test_bad_operations_settings_name_the_variable(changes, variable):
    with pytest.raises(ConfigError) as exc:
        load_config(env(**changes))
    assert str(exc.value).startswith(variable + ":")


def test_defaults_are_text_logs_admins_only_metrics_and_no_error_reporting():
    config = load_config(env())
    assert (config.log_format, config.metrics_allowed_networks, config.sentry_dsn) == ("text", (), None)
    assert config.billing_sweep_minutes == 5


def test_allowlist_takes_addresses_and_networks():
    config = load_config(
        env(
            METRICS_ALLOWED_IPS=" 10.0.0.0/8,192.0.2.7 ,::1",
            LOG_FORMAT="JSON",
            SENTRY_DSN="https://abc123@o1.ingest.sentry.io/42",
        )
    )
    assert config.metrics_allowed_networks == ("10.0.0.0/8", "192.0.2.7/32", "::1/128")
    assert config.log_format == "json"
    assert "abc123" not in repr(config)
