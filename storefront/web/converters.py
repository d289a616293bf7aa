"""URL converters: `<int:...>` accepts only ids the database can hold.

Every `<int:id>` in a URL is a primary key of an INTEGER column (32-bit on PostgreSQL,
64-bit on SQLite). Werkzeug's own converter accepts any run of digits, so
`/subscribe/99999999999999999999` reached the view and the database driver raised
(OverflowError on SQLite): a 500 for a URL anyone can type. `BoundedIntConverter` makes such
a URL match no route at all, so it is a 404 like any other unknown address. The bound is in
the converter's regular expression, not only in `to_python`: Werkzeug checks the method
before converting, so a path refused only by `to_python` would be a 405 for a POST to a
GET-only route instead of a 404. `create_app` installs it as ``int`` before the blueprints
are registered.
"""

from __future__ import annotations

import builtins

from werkzeug.routing import IntegerConverter, Map

# The largest value of PostgreSQL's INTEGER (and below SQLite's 64-bit limit): no row has a larger id.
MAX_ID = 2**31 - 1


def digits_at_most(limit: int) -> str:
    """A regular expression matching exactly the ASCII digit strings whose value is at most `limit`.

    Shorter strings always qualify; a string as long as `limit` qualifies when it is below
    `limit` at its first differing digit, or equal. Leading zeros count as digits.
    """
    text = str(limit)
    parts = [f"[0-9]{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, char in enumerate(text):
        rest = len(text) - i - 1
        if char != "0":
            parts.append(text[:i] + f"[0-{int(char) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(text)
    return "(?:" + "|".join(parts) + ")"


class BoundedIntConverter(IntegerConverter):
    """`int` limited to 0..MAX_ID, ASCII digits only (Python's int() also reads other scripts' digits)."""

    regex = digits_at_most(MAX_ID)

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:
        super().__init__(
            map,
            fixed_digits=fixed_digits,
            min=min,
            max=MAX_ID if max is None else builtins.min(max, MAX_ID),
            signed=signed,
        )
