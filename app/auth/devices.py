"""What the "Your devices" page and the new-browser email say about a session.

Browsers and systems are named from the user agent by ``ua-parser`` (the uap-core rules).
A place is only ever the IP's own network, worked out here ("network 192.0.2.0/24",
"a local network"): no look-up service is asked, so no one else learns who signs in from where.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from ua_parser import parse

from app.auth.sessions import DEVICE_KEY, SHARED_COMPUTER_KEY, end_session_of, sessions_of

USER_AGENT_KEPT = 400  # characters of the User-Agent kept with a session

# Addresses that say nothing about where someone is beyond "not on the internet".
_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",  # carrier-grade NAT: shared by a provider's customers
        "fc00::/7",
        "fe80::/10",
    )
)


@dataclass(frozen=True)
class Browser:
    name: str  # "Firefox"
    system: str  # "Windows"

    def __str__(self) -> str:
        return f"{self.name} on {self.system}"


@lru_cache(maxsize=1024)
def browser_of(user_agent: str) -> Browser:
    """The browser and system a User-Agent names, "Unknown ..." for what it does not say."""
    found = parse(user_agent[:USER_AGENT_KEPT])
    name = found.user_agent.family if found.user_agent else "Unknown browser"
    system = found.os.family if found.os else "an unknown system"
    return Browser(name, system)


def network_of(address: str | None) -> str:
    """Roughly where an address is, from nothing but the address itself, as words that fit
    after "from" ("network 192.0.2.0/24", "a local network")."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "an unknown network"
    if ip.is_loopback:
        return "this computer"
    if getattr(ip, "ipv4_mapped", None):
        return network_of(str(ip.ipv4_mapped))  # type: ignore[union-attr]
    if any(ip in network for network in _LOCAL_NETWORKS):
        return "a local network"
    # The block a provider gives one line or site: a /24 of IPv4, a /48 of IPv6.
    prefix = 24 if ip.version == 4 else 48
    return f"network {ipaddress.ip_network(f'{ip}/{prefix}', strict=False)}"


def session_ref(sid: str) -> str:
    """What a page may show of a session id: names it, but cannot be used as a cookie."""
    return hashlib.sha256(sid.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Device:
    """One signed-in session of the person, as their devices page shows it."""

    ref: str
    browser: Browser
    network: str
    signed_in_at: datetime
    last_active: datetime
    shared_computer: bool
    this_device: bool


def moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def devices_of(slug: str, user_id: int, this_sid: str) -> list[Device]:
    """Every device signed in to the account, this one first, then the newest first."""
    found = [
        Device(
            ref=session_ref(stored.sid),
            browser=browser_of(stored.values.get(DEVICE_KEY, {}).get("user_agent", "")),
            network=network_of(stored.values.get(DEVICE_KEY, {}).get("ip")),
            signed_in_at=moment(stored.created),
            last_active=moment(stored.seen),
            shared_computer=bool(stored.values.get(SHARED_COMPUTER_KEY)),
            this_device=stored.sid == this_sid,
        )
        for stored in sessions_of(slug, user_id)
    ]
    return sorted(
        found, key=lambda device: (not device.this_device, -device.signed_in_at.timestamp())
    )


def sign_out_device(slug: str, user_id: int, ref: str) -> bool:
    """End the account's session ``ref`` names; False when there is none (any more)."""
    for stored in sessions_of(slug, user_id):
        if session_ref(stored.sid) == ref:
            return end_session_of(slug, user_id, stored.sid)
    return False


def device_record(user_agent: str, address: str | None) -> dict[str, str | None]:
    """What a new session keeps about its device, for the page above."""
    return {"user_agent": user_agent[:USER_AGENT_KEPT], "ip": address}
