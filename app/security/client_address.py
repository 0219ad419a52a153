"""The client's address behind a proxy: only ever a valid IP address.

``ProxyFix`` takes the client's address from ``X-Forwarded-For`` as the proxy
wrote it. Behind a misconfigured proxy, or reached around it, that header is
whatever the client typed: a 100-character string would break the audit log's
column and mislead rate limits, devices and the internal allow-list alike. So
a forwarded value that is not an IP address is ignored, and the address of the
peer that actually connected is kept instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Where ProxyFix keeps the environment values it replaced.
PROXY_FIX_ORIGINAL = "werkzeug.proxy_fix.orig"


def valid_ip_address(value: str | None) -> str | None:
    """``value`` as a canonical IP address, or None if it is not one.

    An IPv6 zone (``fe80::1%eth0``) names an interface of the sender's machine: it is
    meaningless here and unbounded in length, so an address carrying one is refused."""
    if not value or "%" in value:
        return None
    try:
        return str(ip_address(value))
    except ValueError:
        return None


class ValidClientAddress:
    """WSGI middleware, run inside ``ProxyFix``: ``REMOTE_ADDR`` is an IP address or the peer's."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        forwarded = valid_ip_address(environ.get("REMOTE_ADDR"))
        peer = environ.get(PROXY_FIX_ORIGINAL, {}).get("REMOTE_ADDR")
        environ["REMOTE_ADDR"] = forwarded or peer
        return self.app(environ, start_response)
