"""The one place that says which address a request came from.

Every IP the application writes (consent rows, the audit log, the access record of an admin
view) and every per-address rate limit reads `client_ip()`. It is the address of the peer
that connected to us, unless `TRUSTED_PROXY_HOPS` says that many reverse proxies stand in
front: then `create_app` wraps the app in Werkzeug's ProxyFix with that many hops, and the
address is the one the nearest trusted proxy saw (the right-most X-Forwarded-For entries
it appended, never a value the client wrote). With the default of 0 no X-Forwarded-* header
is believed, so a client that reaches the app directly cannot choose its own address.
"""

from __future__ import annotations

import ipaddress

from flask import request

UNKNOWN = "unknown"


def client_ip() -> str:
    """The client's address in canonical form, or ``unknown`` when there is none or it is not an IP address."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ""))
    except ValueError:
        return UNKNOWN
