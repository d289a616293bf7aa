"""The pages' template helpers that stand in for slower library calls: the memoised `url_for`
(storefront/web/urls.py) and the CSRF input of a page of buttons (`csrf_input`, storefront/web/filters.py)."""

from __future__ import annotations

from flask import render_template_string, url_for

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
