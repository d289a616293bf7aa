"""Demo data: a believable shop, an admin, and the Toss reviewer account.

(Skeleton: the storefront issue fills in the catalog.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterator

from sqlalchemy.orm import Session


def seed_demo(session: Session, *, now: datetime, cheap_hash: bool = False) -> Iterator[str]:
    yield "nothing to seed yet"
