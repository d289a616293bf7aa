"""Which address a request came from: X-Forwarded-For only counts behind TRUSTED_PROXY_HOPS proxies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storefront.config import ROOT, ConfigError
from storefront.models import AuditLog
from tests.conftest import make_config
from tests.web.admin_support import login_admin

SPOOF = {"X-Forwarded-For": "198.51.100.66"}


def _admin_view_ip(client, db_session, **kwargs) -> str:
    client.get("/admin/customers", **kwargs)
    return db_session.scalars(select(AuditLog.ip).order_by(AuditLog.id.desc())).first()


def test_by_default_no_forwarded_header_is_believed(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    ip = _admin_view_ip(client, db_session, headers=SPOOF, environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert ip == "203.0.113.5"


@pytest.mark.settings(TRUSTED_PROXY_HOPS="1")
def test_behind_one_proxy_the_address_it_appended_is_used(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    # The client wrote the first entry itself; nginx appended the address it saw.
    headers = {"X-Forwarded-For": "198.51.100.66, 203.0.113.7"}
    ip = _admin_view_ip(client, db_session, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert ip == "203.0.113.7"


@pytest.mark.settings(TRUSTED_PROXY_HOPS="1")
def test_a_forwarded_value_that_is_not_an_address_is_recorded_as_unknown(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    ip = _admin_view_ip(
        client, db_session, headers={"X-Forwarded-For": "<script>"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert ip == "unknown"


def _wrong_logins(client, forwarded_for: list[str]) -> list[int]:
    codes = []
    for value in forwarded_for:
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
        response = client.post(
            "/login",
            headers={"X-Forwarded-For": value},
            data={"csrf_token": token, "email": f"{value}@example.com", "password": "wrong password"},
        )
        codes.append(response.status_code)
    return codes


def test_a_spoofed_header_does_not_escape_the_per_address_login_limit(client):
    codes = _wrong_logins(client, [f"198.51.100.{i}" for i in range(1, 8)])
    assert 429 in codes  # one peer, whatever it claims: the per-IP limit still applies


@pytest.mark.settings(TRUSTED_PROXY_HOPS="1")
def test_behind_a_proxy_each_forwarded_address_has_its_own_login_limit(client):
    assert _wrong_logins(client, [f"198.51.100.{i}" for i in range(1, 8)]) == [200] * 7


@pytest.mark.settings(toss_webhook_allowed_ips=("13.124.18.147",))
def test_the_webhook_allowlist_cannot_be_passed_with_a_header(client):
    response = client.post(
        "/webhooks/toss",
        data=b"{}",
        content_type="application/json",
        headers={"X-Forwarded-For": "13.124.18.147", "tosspayments-webhook-transmission-id": "t1"},
    )
    assert response.status_code == 403


def test_trusted_proxy_hops_must_be_a_small_whole_number(tmp_path):
    for bad in ("one", "-1", "9"):
        with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
            make_config(tmp_path, TRUSTED_PROXY_HOPS=bad)


def test_only_client_ip_reads_the_peer_address_or_forwarded_headers():
    readers = re.compile(
        r"\.remote_addr|\.access_route|[\"'](?:REMOTE_ADDR|HTTP_X_FORWARDED_\w+|X-Forwarded-[\w-]+)[\"']"
    )
    found = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "storefront").rglob("*.py")
        if readers.search(path.read_text(encoding="utf-8"))
    ]
    assert found == ["storefront/web/client_ip.py"]
