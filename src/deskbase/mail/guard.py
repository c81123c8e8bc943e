"""Where mail may connect: the webhooks' SSRF policy (events/ssrf.py) applied to mailboxes' IMAP and SMTP hosts.

A workspace admin types those hosts, and the server connects to them (fetching, sending, `POST …/test`), so
without a check an admin could reach the server's own loopback services, the private network or a cloud
metadata endpoint, and probe ports with the test's answers. The same rule as webhooks: loopback, private,
link-local (metadata), multicast, reserved and shared addresses are refused unless `webhook_allow_networks`
contains them.

Checked twice. At save (`refusal_at_save`): an address literal, or a name resolved within a short time (a name
that does not resolve then is accepted: it may resolve later, and the connect-time check holds). At connect
(`connect`): the name is resolved once, every address checked, and the socket connected to a checked address
itself, so DNS rebinding cannot slip a private address in after a public one passed. TLS still verifies the
certificate against the typed name (callers pass it as the server name), never the address.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from deskbase.events.ssrf import Network, refusal

SAVE_RESOLVE_SECONDS = 2.0
_resolver = ThreadPoolExecutor(max_workers=2, thread_name_prefix="deskbase-mail-resolve")


class Refused(OSError):
    """The host is, or resolves to, an address mail may not reach."""


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _first_refusal(host: str, addresses: Iterable[str], allowed: Iterable[Network]) -> str | None:
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            return reason if address == host else f"{host} resolves to {reason.replace(' is a', ', a', 1)}"
    return None


def resolve(host: str, port: int, allowed: Iterable[Network]) -> list[str]:
    """The host's addresses, all of them allowed; raises Refused (or socket.gaierror) otherwise."""
    addresses = _addresses(host, port)
    reason = _first_refusal(host, addresses, tuple(allowed))
    if reason is not None:
        raise Refused(f"refused to connect to {host}: {reason} (see webhook_allow_networks)")
    return addresses


def connect(
    host: str,
    port: int,
    timeout: float | None,
    allowed: Iterable[Network],
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A TCP connection to one of the host's checked addresses (tried in the resolver's order)."""
    error: OSError | None = None
    for address in resolve(host, port, allowed):
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error or OSError(f"{host} has no address")


def refusal_at_save(host: str, allowed: Iterable[Network]) -> str | None:
    """Why a mailbox may not name this host, or None. A name is resolved for at most SAVE_RESOLVE_SECONDS;
    one that does not resolve in time is left to the check at connect time."""
    allowed = tuple(allowed)
    try:
        return refusal(host, allowed)
    except ValueError:
        pass  # a name, not an address literal
    try:
        addresses = _resolver.submit(_addresses, host, 0).result(timeout=SAVE_RESOLVE_SECONDS)
    except (OSError, UnicodeError, FutureTimeout):
        return None
    return _first_refusal(host, addresses, allowed)
