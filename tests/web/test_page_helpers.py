"""The pages' helpers that stand in for slower library calls: the memoised `url_for`
(storefront/web/urls.py), the CSRF input of a page of buttons (`csrf_input`) and the footer rendered
once (`site_footer`, storefront/web/filters.py), the session cookie's serializer kept
(storefront/web/session_cookie.py) and Flask-Limiter's per-request check left to the limited routes
(storefront/web/route_limits.py)."""

from __future__ import annotations

import pytest
from flask import Flask, render_template, render_template_string, url_for
from flask.sessions import SecureCookieSessionInterface

from storefront.extensions import limiter
from storefront.web import route_limits
from tests.conftest import csrf_token

from storefront.web.checkout.forms import ActionForm
from storefront.web.filters import csrf_input, hidden_fields


def test_templates_build_the_same_urls_as_flask(app):
    template = (
        "{{ url_for('static', filename='css/site.css') }}|{{ url_for('account.confirm_cancel', subscription_id=7) }}"
        "|{{ url_for('shop.product_detail', slug='daily-english') }}|{{ url_for('account.payments', page=2) }}"
        "|{{ url_for('shop.home', _anchor='top') }}|{{ url_for('shop.home', _external=True) }}"
    )
    with app.test_request_context("/"):
        expected = "|".join(
            [
                url_for("static", filename="css/site.css"),
                url_for("account.confirm_cancel", subscription_id=7),
                url_for("shop.product_detail", slug="daily-english"),
                url_for("account.payments", page=2),
                url_for("shop.home", _anchor="top"),
                url_for("shop.home", _external=True),
            ]
        )
        assert render_template_string(template) == expected
        assert render_template_string(template) == expected  # from the memo this time
        assert "/account/subscriptions/7/cancel" in expected


def test_a_kept_url_follows_the_mount_point(app):
    """Mounted under a prefix (SCRIPT_NAME), a URL built before at the root is not reused."""
    template = "{{ url_for('account.overview') }} {{ url_for('static', filename='css/site.css') }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "/account /static/css/site.css"
    with app.test_request_context("/", base_url="http://localhost/shop"):
        assert url_for("account.overview") == "/shop/account"
        assert render_template_string(template) == "/shop/account /shop/static/css/site.css"
    with app.test_request_context("/"):
        assert render_template_string(template) == "/account /static/css/site.css"


def test_values_of_other_types_are_not_confused(app):
    with app.test_request_context("/"):
        assert render_template_string("{{ url_for('account.payments', page=1) }}") == "/account/payments?page=1"
        assert render_template_string("{{ url_for('account.payments', page=True) }}") == url_for(
            "account.payments", page=True
        )


def test_the_csrf_input_is_the_forms_own(app):
    with app.test_request_context("/"):
        assert str(csrf_input()) == str(hidden_fields(ActionForm()))
        assert 'name="csrf_token"' in csrf_input()


def test_the_footer_shows_each_apps_own_business_and_follows_the_mount_point(app, tmp_path):
    from storefront import create_app
    from tests.conftest import make_config

    with app.test_request_context("/"):
        fresh = render_template("_footer.html", business=app.config["STOREFRONT"].business)
        assert render_template_string("{{ site_footer() }}") == fresh
        assert render_template_string("{{ site_footer() }}") == fresh  # kept this time
        assert 'href="/terms"' in fresh
    with app.test_request_context("/", base_url="http://localhost/shop"):
        assert 'href="/shop/terms"' in render_template_string("{{ site_footer() }}")
    other = create_app(make_config(tmp_path / "other", BUSINESS_NAME="다른상점"))
    with other.test_request_context("/"):
        assert '<dd data-field="name">다른상점</dd>' in render_template_string("{{ site_footer() }}")
    with app.test_request_context("/"):
        assert "다른상점" not in render_template_string("{{ site_footer() }}")


def test_the_session_cookie_is_flasks_own_format_and_a_rotated_key_still_opens_it(app):
    app.config["SECRET_KEY_FALLBACKS"] = []
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    ours = app.session_interface.get_signing_serializer(app)
    assert ours is app.session_interface.get_signing_serializer(app)  # built once
    cookie = stock.dumps({"_user_id": "1:abc"})
    assert ours.loads(cookie) == {"_user_id": "1:abc"}
    assert stock.loads(ours.dumps({"k": "v"})) == {"k": "v"}

    old_key = app.secret_key
    app.secret_key = "a new key, the old one kept as a fallback"
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    rotated = app.session_interface.get_signing_serializer(app)
    assert rotated.loads(cookie) == {"_user_id": "1:abc"}
    new_stock = SecureCookieSessionInterface().get_signing_serializer(app)
    assert new_stock.loads(rotated.dumps({"k": "v"})) == {"k": "v"}  # signed with the new key
    app.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(Exception, match="Signature"):
        app.session_interface.get_signing_serializer(app).loads(cookie)


def test_only_rate_limited_routes_run_the_limiters_check(app, monkeypatch):
    checked = []
    real = limiter.identify_request
    monkeypatch.setattr(limiter, "identify_request", lambda: checked.append(1) or real())
    client = app.test_client()
    assert client.get("/terms").status_code == 200
    assert client.get("/").status_code == 200
    assert checked == []
    attacker = app.test_client()
    codes = [
        attacker.post(
            "/login",
            data={"csrf_token": csrf_token(attacker, "/login"), "email": f"victim{i}@example.com", "password": "wrong"},
            environ_base={"REMOTE_ADDR": "198.51.100.78"},
        ).status_code
        for i in range(6)
    ]
    assert checked and codes[-1] == 429  # the login route's own limit still applies


def test_a_default_or_blueprint_limit_keeps_the_per_request_check(monkeypatch):
    assert not route_limits.needs_request_check()
    monkeypatch.setattr(limiter.limit_manager, "_blueprint_limits", {"shop": [object()]})
    assert route_limits.needs_request_check()
    bare = Flask("bare")
    bare.before_request(limiter._check_request_limit)
    route_limits.register(bare)
    assert limiter._check_request_limit in bare.before_request_funcs[None]
