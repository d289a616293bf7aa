"""deploy/: the files production runs from, checked with the real tools where this machine has them.

- gunicorn loads deploy/gunicorn.conf.py and the app (`--check-config`);
- `systemd-analyze verify` accepts the units (paths pointed at this checkout);
- compose.yaml has PostgreSQL, Redis, web, workers and one cron, with the settings the app needs;
- Debian's nginx accepts the site (`nginx -t`, a self-signed certificate) and, running in front of
  a real gunicorn, redirects to HTTPS, sends one HSTS header, refuses webhook bodies over 64 kB,
  passes the real client address (TRUSTED_PROXY_HOPS=1) and a request id that the JSON access
  log shows, without Toss's one-time authKey.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Iterator

import pytest
import yaml
from dotenv import dotenv_values

from storefront.config import ROOT, load_config
from tests.conftest import BASE_ENV
from tests.redis_server import _free_port

DEPLOY = ROOT / "deploy"


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A process environment for the app on a fresh SQLite file (tables created)."""
    from storefront import create_app
    from storefront.extensions import db
    from tests.conftest import make_config

    database_url = f"sqlite:///{tmp_path / 'deploy.db'}"
    app = create_app(make_config(tmp_path, DATABASE_URL=database_url))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_", "REDIS_", "TOSS_"))}
    env.update(BASE_ENV, DATABASE_URL=database_url, PYTHONUNBUFFERED="1", **extra)
    return env


def test_gunicorn_loads_the_config_and_the_app(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", str(DEPLOY / "gunicorn.conf.py")],
        cwd=ROOT,
        env=app_env(tmp_path, LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gunicorn_sizes_workers_from_the_cpus_and_outwaits_a_toss_charge():
    settings: dict = {}
    env_before = {k: os.environ.pop(k) for k in ("GUNICORN_WORKERS", "GUNICORN_BIND") if k in os.environ}
    try:
        exec((DEPLOY / "gunicorn.conf.py").read_text(), settings)
    finally:
        os.environ.update(env_before)
    assert settings["workers"] == os.cpu_count() * 2 + 1
    assert settings["bind"] == "127.0.0.1:8000"
    assert settings["timeout"] > 65 and settings["graceful_timeout"] > 65  # the client's read timeout for a charge


def test_systemd_accepts_the_units(tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    for unit in (DEPLOY / "systemd").iterdir():
        # Point the units at this checkout, whose .venv has gunicorn and flask, as /srv/storefront would.
        (units / unit.name).write_text(unit.read_text().replace("/srv/storefront", str(ROOT)))
    names = [
        "storefront-web.service",
        "storefront-worker@1.service",
        "storefront-worker@2.service",
        "storefront-cron.service",
        "storefront.target",
    ]
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(units / n) if "@" not in n else n for n in names)],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"},
    )
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stdout + result.stderr


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


class TestCompose:
    def test_it_runs_postgresql_redis_web_workers_and_one_timer(self, compose):
        services = compose["services"]
        assert {"postgres", "redis", "web", "worker", "cron", "migrate"} <= set(services)
        assert services["web"]["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
        assert services["worker"]["command"] == ["flask", "worker", "--threads", "4"]  # 4 charges at once each
        assert services["worker"]["deploy"]["replicas"] >= 2
        assert services["cron"]["command"] == ["flask", "cron"]
        assert services["cron"]["deploy"]["replicas"] == 1
        for name in ("web", "worker", "cron"):
            assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
            assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "healthz/web" in " ".join(services["web"]["healthcheck"]["test"])
        assert _seconds(services["worker"]["stop_grace_period"]) > 360  # a charge job's timeout
        assert (DEPLOY / services["web"]["build"]["dockerfile"].removeprefix("deploy/")).exists()

    def test_every_app_process_gets_settings_the_app_accepts(self, compose):
        example = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v is not None}
        for name in ("web", "worker", "cron", "migrate"):
            service = compose["services"][name]
            assert service["env_file"] == "storefront.env"
            env = {k: _interpolate(str(v)) for k, v in service["environment"].items()}
            unknown = set(env) - set(example) - {"FLASK_APP", "GUNICORN_BIND"}
            assert not unknown, f"{name}: settings not in .env.example: {unknown}"
            config = load_config(
                {
                    **example,
                    "SECRET_KEY": "s" * 40,
                    "ENCRYPTION_KEY": "ab" * 32,
                    "TOSS_ENV": "live",
                    "TOSS_CLIENT_KEY": "live_ck_x",
                    "TOSS_SECRET_KEY": "live_sk_x",
                    "SMTP_URL": "smtp://mail.example.com:587",
                    **env,
                }
            )
            assert config.app_env == "production" and config.trusted_proxy_hops == 1
            assert config.database_url == "postgresql+psycopg://storefront:pg-secret@postgres:5432/storefront"
            assert config.redis_url == "redis://:redis-secret@redis:6379/0"


def _interpolate(value: str) -> str:
    values = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret"}
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: values[m.group(1)], value)


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, value
    return int(match.group(1))


# -- nginx ----------------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=shop.example.co.kr",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def nginx_config(tmp_path: Path, *, http_port: int, https_port: int, upstream_port: int) -> Path:
    """deploy/nginx as installed, with ports, certificate and paths moved into `tmp_path`."""
    cert, key = self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "storefront.conf").read_text()
    for old, new in [
        ("/etc/letsencrypt/live/shop.example.co.kr/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/shop.example.co.kr/privkey.pem", str(key)),
        ("/etc/nginx/snippets/storefront-proxy.conf", str(DEPLOY / "nginx" / "storefront-proxy.conf")),
        ("/var/log/nginx/storefront.access.log", str(tmp_path / "access.log")),
        ("/srv/storefront/static/", f"{ROOT / 'static'}/"),
        ("/var/www/letsencrypt", str(tmp_path)),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
    ]:
        assert old in site, old
        site = site.replace(old, new)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)  # no IPv6 needed here
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "temp"
    temp.mkdir()
    temp.chmod(0o777)
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
        {"user root root;" if os.geteuid() == 0 else ""}
        pid {tmp_path / "nginx.pid"};
        error_log {tmp_path / "error.log"};
        events {{ worker_connections 64; }}
        http {{
            include /etc/nginx/mime.types;
            access_log off;
            client_body_temp_path {temp}/body;
            proxy_temp_path {temp}/proxy;
            fastcgi_temp_path {temp}/fastcgi;
            uwsgi_temp_path {temp}/uwsgi;
            scgi_temp_path {temp}/scgi;
            include {tmp_path / "site.conf"};
        }}
    """)
    return conf


def test_nginx_accepts_the_site(tmp_path):
    conf = nginx_config(tmp_path, http_port=_free_port(), https_port=_free_port(), upstream_port=_free_port())
    result = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def _wait_until(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling a starting server, not timing a result


@pytest.fixture
def behind_nginx(tmp_path) -> Iterator[dict]:
    """gunicorn (deploy config, JSON logs, TRUSTED_PROXY_HOPS=1) behind nginx (deploy site), both real."""
    web_port, http_port, https_port = _free_port(), _free_port(), _free_port()
    env = app_env(
        tmp_path,
        LOG_FORMAT="json",
        TRUSTED_PROXY_HOPS="1",
        METRICS_ALLOWED_IPS="127.0.0.2",
        GUNICORN_BIND=f"127.0.0.1:{web_port}",
        GUNICORN_WORKERS="2",
    )
    with open(tmp_path / "gunicorn.log", "wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        conf = nginx_config(tmp_path, http_port=http_port, https_port=https_port, upstream_port=web_port)
        nginx = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_until(lambda: _get(web_port, "/healthz/web", tls=False)[0] == 200, "gunicorn")
            _wait_until(lambda: _get(https_port, "/healthz/web")[0] == 200, "nginx")
            yield {"http": http_port, "https": https_port, "log": tmp_path / "gunicorn.log"}
        finally:
            nginx.terminate()
            web.terminate()  # gunicorn stops gracefully on SIGTERM
            nginx.wait(timeout=30)
            web.wait(timeout=100)


def _get(
    port: int,
    path: str,
    *,
    tls: bool = True,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict | None = None,
    source: str = "127.0.0.1",
) -> tuple[int, http.client.HTTPMessage, bytes]:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context, source_address=(source, 0))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers={"Host": "shop.example.co.kr", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_behind_nginx_tls_hsts_body_limits_client_address_and_request_ids(behind_nginx):
    status, headers, _ = _get(behind_nginx["http"], "/products/x?y=1", tls=False)
    assert status == 301 and headers["Location"] == "https://shop.example.co.kr/products/x?y=1"

    status, headers, _ = _get(behind_nginx["https"], "/")
    assert status == 200
    assert headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])  # nginx's $request_id, echoed by the app
    assert headers.get_all("Strict-Transport-Security") == _get(behind_nginx["https"], "/static/css/site.css")[
        1
    ].get_all("Strict-Transport-Security")

    # Webhooks: the app's 64 kB, enforced by nginx; an ordinary delivery goes through.
    assert (
        _get(
            behind_nginx["https"],
            "/webhooks/toss",
            method="POST",
            body=b"x" * (65 * 1024),
            headers={"Content-Type": "application/json"},
        )[0]
        == 413
    )
    assert (
        _get(
            behind_nginx["https"],
            "/webhooks/toss",
            method="POST",
            body=b"x" * (60 * 1024),
            headers={"Content-Type": "application/json"},
        )[0]
        == 200
    )
    assert _get(behind_nginx["https"], "/login", method="POST", body=b"x" * (1100 * 1024))[0] == 413

    # The real client: /metrics is allowed from 127.0.0.2 only (METRICS_ALLOWED_IPS).
    assert _get(behind_nginx["https"], "/metrics", source="127.0.0.2")[0] == 200
    assert _get(behind_nginx["https"], "/metrics", source="127.0.0.3")[0] == 403
    assert (
        _get(behind_nginx["https"], "/metrics", source="127.0.0.3", headers={"X-Forwarded-For": "127.0.0.2"})[0] == 403
    )  # a written header is not believed

    status, headers, _ = _get(behind_nginx["https"], "/billing/success?customerKey=c&authKey=bln_ONETIME_SECRET1")
    request_id = headers["X-Request-ID"]

    lines = _log_lines(behind_nginx["log"], lambda record: record.get("request_id") == request_id)
    (access,) = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert access["http_status"] == str(status) and access["http_method"] == "GET"
    assert "authKey=[redacted]" in access["message"]
    assert "bln_ONETIME_SECRET1" not in behind_nginx["log"].read_text()


def _log_lines(path: Path, want) -> list[dict]:
    """The JSON lines gunicorn wrote so far that `want` (waiting a little: the access line follows the answer)."""
    found: list[dict] = []

    def read() -> bool:
        found.clear()
        for line in path.read_text().splitlines():
            record = json.loads(line)  # every line is JSON
            assert {"time", "level", "logger", "message"} <= set(record), line
            if want(record):
                found.append(record)
        return bool(found)

    _wait_until(read, "the access log line")
    return found


@pytest.fixture(autouse=True)
def _tools_present():
    missing = [tool for tool in ("nginx", "systemd-analyze", "openssl") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"deploy tests need {', '.join(missing)}: `make test` installs them (scripts/test_prereqs.sh)")
