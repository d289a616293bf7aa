import json


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "http://127.0.0.1:5055" in csp  # the sandbox SDK in sandbox mode
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # development/testing only


def test_production_adds_hsts_and_secure_cookies(tmp_path):
    from storefront import create_app
    from tests.conftest import make_config

    config = make_config(
        tmp_path,
        APP_ENV="production",
        TOSS_ENV="test",
        TOSS_CLIENT_KEY="test_ck_x",
        TOSS_SECRET_KEY="test_sk_x",
        SMTP_URL="smtp://mail.example:587",
    )
    app = create_app(config)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.app_context():
        from storefront.extensions import db

        db.create_all()
    response = app.test_client().get("/", base_url="https://shop.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "https://js.tosspayments.com" in response.headers["Content-Security-Policy"]


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.data)["checks"]["database"] == "ok"


def test_unknown_page_is_404_in_site_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "페이지를 찾을 수 없습니다" in page and "통신판매업 신고번호" in page


def test_server_error_shows_site_page_without_traceback(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in page and "Traceback" not in page
    assert "사업자등록번호" in page


def test_favicon_is_served(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
