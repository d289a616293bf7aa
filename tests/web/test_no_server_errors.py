"""Bad input gets a clear answer, never a 500: every GET page with odd path values and query strings."""

import re

from storefront.models import User
from storefront.seed import seed_demo

ODD_VALUES = ["", "0", "-1", "99999999", "%00", "abc", "'\"<x>", "../../etc/passwd", "a" * 400]
ODD_QUERY = (
    "?next=//evil.example&intent=zz&customerKey=x&authKey=y&code=Z&message=<b>m</b>&orderId=o"
    "&paymentKey=p&amount=-5&status=zz&page=-3&q=%00&back=https://evil.example"
)


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


HUGE = str(10**20)  # past SQLite's and PostgreSQL's 64-bit integers


def test_admin_lists_bound_the_page_number_before_it_reaches_the_database(app, client, auth, db_session, clock):
    """A huge or negative ?page= shows the nearest real page; no query asks for a row past the end."""
    from datetime import timedelta

    from sqlalchemy import event, func, select

    from storefront.extensions import db
    from storefront.models import AuditLog

    seed_demo(db_session, now=clock.now(), cheap_hash=True)
    for i in range(60):
        db_session.add(
            AuditLog(
                at=clock.now() - timedelta(days=1, minutes=-i),
                actor_type="worker",
                actor_id=None,
                action="open_billing_key",
                reason=f"renewal {i:02d}",
                ip="worker",
            )
        )
    auth.signup()
    db_session.query(User).filter_by(email="shopper@example.com").update({"is_admin": True})
    db_session.commit()
    lists = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin") and "GET" in rule.methods and not rule.arguments
    )
    offsets: list[int] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if " OFFSET " in statement.upper():
            values = parameters.values() if isinstance(parameters, dict) else parameters
            offsets.extend(v for v in values if isinstance(v, int))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for path in lists:
            for page in (HUGE, "-" + HUGE, "99999999", "-1", "0", "1e3", "٣"):
                with client.get(f"{path}?page={page}&status=zz") as response:  # closed: CSV downloads stream
                    assert response.status_code < 500, (path, page, response.status_code)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    audit_rows = db_session.scalar(select(func.count(AuditLog.id)))  # each admin view above added one
    assert offsets and max(offsets) < audit_rows  # never past the end of the longest list
    last = client.get(f"/admin/audit?page={HUGE}").get_data(as_text=True)
    assert re.search(r"<span>(\d+) / \1쪽", last) and "renewal 00" in last and "renewal 59" not in last
    first = client.get("/admin/audit?page=-" + HUGE).get_data(as_text=True)
    assert re.search(r"<span>1 / \d+쪽", first) and "renewal 00" not in first
