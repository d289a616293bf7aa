"""An id in a URL that no row can have (beyond PostgreSQL's INTEGER, or SQLite's 64 bits) is a 404, never a 500."""

from __future__ import annotations

import re

from storefront.web.converters import MAX_ID, digits_at_most
from tests.web.admin_support import login_admin

HUGE = [MAX_ID + 1, 2**63 - 1, 2**63, 99999999999999999999, 10**400]
INT_ARG = re.compile(r"<int(?:\([^)]*\))?:[a-z_]+>")
OTHER_ARG = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?[a-z_]+>")


def _int_rules(app):
    rules = [rule for rule in app.url_map.iter_rules() if INT_ARG.search(rule.rule)]
    assert len(rules) >= 20, "the walk must find the routes that take an id"
    return rules


def _path(rule, value: int) -> str:
    return OTHER_ARG.sub("x", INT_ARG.sub(str(value), rule.rule))


def _answers(app, client, value: int) -> dict[str, int]:
    codes = {}
    for rule in _int_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = _path(rule, value)
            with client.open(path, method=method) as response:
                codes[f"{method} {path}"] = response.status_code
    return codes


def test_every_route_with_an_id_answers_404_to_an_id_out_of_range(app, client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())  # an admin reaches every view, so only the URL decides
    for value in HUGE:
        answers = _answers(app, client, value)
        assert {path: code for path, code in answers.items() if code != 404} == {}


def test_the_largest_id_still_reaches_the_views(app, client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    answers = _answers(app, client, MAX_ID)
    assert [path for path, code in answers.items() if code >= 500] == []
    reached = [path for path, code in answers.items() if path.startswith("POST") and code == 400]
    assert reached, "POSTs with an in-range id reach CSRF protection (400), so the route matched"


def test_digits_of_other_scripts_are_not_ids(client):
    assert client.get("/subscribe/\u0661").status_code == 404  # ARABIC-INDIC DIGIT ONE, which int() reads as 1


def test_the_id_pattern_matches_exactly_the_numbers_up_to_the_limit():
    pattern = re.compile(digits_at_most(MAX_ID))
    for n in [0, 1, 9, 10, 99, 2**31 - 2, MAX_ID, 999_999_999, 1_999_999_999, 2_099_999_999, 2_147_483_639]:
        assert pattern.fullmatch(str(n)), n
    for n in [
        MAX_ID + 1,
        2_147_483_650,
        2_147_483_700,
        2_148_000_000,
        2_200_000_000,
        3_000_000_000,
        9_999_999_999,
        10**10,
        2**63,
    ]:
        assert not pattern.fullmatch(str(n)), n
    small = re.compile(digits_at_most(205))
    assert [n for n in range(1000) if small.fullmatch(str(n))] == list(range(206))
