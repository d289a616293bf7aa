"""`--as-of` (sandbox only): a sweep or a charge run as if it were another moment.

It travels to the worker as an ISO string and becomes a `FixedClock` there.
"""

from __future__ import annotations

from datetime import datetime, UTC
from typing import Any

from storefront.clock import KST, FixedClock
from storefront.config import Config


class AsOfRefused(ValueError):
    """`--as-of` outside the sandbox, or a moment that cannot be read."""


def parse_as_of(value: str | None, config: Config) -> datetime | None:
    """The moment a sweep pretends it is: ISO-8601, naive values read as Asia/Seoul; sandbox only.

    Raises `AsOfRefused` with a message for the operator when TOSS_ENV is not ``sandbox``
    (pretending it is another day would charge real cards early) or the text is not a date.
    """
    if value in (None, ""):
        return None
    if config.toss_env != "sandbox":
        raise AsOfRefused(
            f"--as-of is only allowed with TOSS_ENV=sandbox (TOSS_ENV is {config.toss_env}): "
            "it would charge real cards as if it were another day"
        )
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AsOfRefused(f"--as-of: {value!r} is not an ISO date-time, e.g. 2026-04-10T10:00+09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    return moment.astimezone(UTC)


def _clock_for(as_of: str | None, found: Any, config: Config) -> Any:
    moment = parse_as_of(as_of, config)
    return FixedClock(moment) if moment is not None else found.clock
