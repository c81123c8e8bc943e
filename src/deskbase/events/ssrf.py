"""Where webhooks may connect (pure): deny by default what is not on the public internet.

Refused unless an allowed network (`webhook_allow_networks`) contains the address: loopback, private
(RFC 1918, unique-local), link-local (cloud metadata lives there), multicast, unspecified, reserved and
shared/carrier-grade addresses. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry. The check
runs on each resolved address at connect time (see `sender._Connection.connect`), so DNS rebinding cannot slip a
private address in after a public one was checked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SHARED = ipaddress.ip_network("100.64.0.0/10")

RULES: tuple[tuple[str, str], ...] = (
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_unspecified", "unspecified"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


def parse_networks(text: str) -> tuple[Network, ...]:
    """`"127.0.0.0/8, ::1/128"` → networks; raises ValueError on a malformed entry."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip())


def refusal(address: str, allowed: Iterable[Network] = ()) -> str | None:
    """Why a connection to `address` is refused, or None when it may go ahead."""
    ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == n.version and ip in n for n in allowed):
        return None
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return f"{ip} is a shared (carrier-grade NAT) address"
    for attribute, name in RULES:  # the most specific name first: most of these are also "private"
        if getattr(ip, attribute):
            return f"{ip} is a {name} address"
    return None
