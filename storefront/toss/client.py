"""TossClient: the one place that knows Toss's URLs, headers and JSON fields.

(Skeleton: the Toss client issue fills in the methods.)
"""

from __future__ import annotations

import requests


class TossClient:
    def __init__(self, base_url: str, secret_key: str, *, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret_key = secret_key
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"<TossClient {self.base_url}>"
