"""Who may see the service's insides: callers from ``METRICS_ALLOWED_IPS`` only."""

from __future__ import annotations

from ipaddress import IPv6Address, ip_address

from flask import abort, current_app, request


def from_allowed_address() -> bool:
    """Whether the client (as ProxyFix reports it behind Caddy) is on the allow-list."""
    try:
        client = ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(client, IPv6Address) and client.ipv4_mapped:
        client = client.ipv4_mapped  # an IPv4 client of a dual-stack socket
    return any(client in network for network in current_app.config["LJ"].METRICS_ALLOWED_IPS)


def require_allowed_address() -> None:
    """403 for anyone else: metrics and certificate questions are for the operator's machines."""
    if not from_allowed_address():
        abort(403)
