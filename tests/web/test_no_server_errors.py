"""Bad input gets a clear answer, never a 500: every GET page with odd path values and query strings."""

import re

from storefront.models import User
from storefront.seed import seed_demo

ODD_VALUES = ["", "0", "-1", "99999999", "%00", "abc", "'\"<x>", "../../etc/passwd", "a" * 400]
ODD_QUERY = ("?next=//evil.example&intent=zz&customerKey=x&authKey=y&code=Z&message=<b>m</b>&orderId=o"
             "&paymentKey=p&amount=-5&status=zz&page=-3&q=%00&back=https://evil.example")


def _server_errors(app, client) -> list[tuple[str, int]]:
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        for value in ODD_VALUES:
            path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", value or "x", rule.rule)
            for query in ("", ODD_QUERY):
                with client.get(path + query) as response:
                    if response.status_code >= 500:
                        found.append((path + query, response.status_code))
    return found


def test_no_page_answers_500_to_a_guest_a_shopper_or_an_admin(app, client, auth, db_session):
    seed_demo(db_session, now=app.extensions["storefront"].clock.now(), cheap_hash=True)
    assert _server_errors(app, client) == []
    auth.signup()
    assert _server_errors(app, client) == []
    db_session.query(User).filter_by(email="shopper@example.com").update({"is_admin": True})
    db_session.commit()
    assert _server_errors(app, client) == []
