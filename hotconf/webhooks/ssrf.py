"""The SSRF guard: which addresses a webhook may connect to.

A subscriber URL names a host; what matters is where a connection would go. The dispatcher
resolves the host at delivery time (``getaddrinfo``, which also reads the odd IPv4 spellings
``2130706433``, ``0x7f.1``, ``0`` and ``127.1`` the way libc's ``inet_aton`` does), refuses the
delivery when ANY resolved address is not globally routable, and then connects to one of the
addresses it checked, never to the name again: a DNS answer that changes between the check and
the connection (DNS rebinding) cannot redirect the request.

"Globally routable" follows the IANA IPv4 and IPv6 Special-Purpose Address Registries: an
address in a block they mark not globally reachable (or N/A: deprecated relays such as 6to4's
``192.88.99.0/24``) is refused, whether or not the running Python's `ipaddress` tables know the
block yet (Python 3.11 calls ``192.0.0.8``, ``192.88.99.1`` and ``3fff::1`` global). Anycast
service addresses that the registries list as reachable inside such a block (``192.0.0.9``,
``2001:1::1``...) are refused with their block: no webhook receiver lives there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4

# The blocks of the IANA special-purpose registries (iana-ipv4-special-registry and
# iana-ipv6-special-registry, as of 2025) whose "Globally Reachable" is False or N/A; the
# ones `_kind` names more precisely (loopback, private...) are checked before these.
_SPECIAL = tuple(
    (ipaddress.ip_network(block), name)
    for block, name in (
        ("0.0.0.0/8", "this network"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("240.0.0.0/4", "reserved"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
        ("100::/64", "discard-only"),
        ("100:0:0:1::/64", "dummy IPv6 prefix"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing (SRv6) SIDs"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
    )
)


class Refused(Exception):
    """The delivery may not connect where its URL leads; retrying will not help."""


def refusal(address: str) -> str | None:
    """Why a webhook must not connect to ``address``, or ``None`` when it is global.

    Args:
        address: an IP address as ``getaddrinfo`` returns it (an IPv6 scope ``%eth0`` is
            allowed).

    Example:
        >>> refusal("127.0.0.1"), refusal("::ffff:10.0.0.1"), refusal("93.184.215.14")
        ('loopback', 'private (in ::ffff:10.0.0.1)', None)
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one is judged by the IPv4 one too: the kernel
        # (IPv4-mapped), a 6to4 relay or a NAT64 gateway would take the packet there.
        inner: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            why = _kind(inner)
            if why is not None:
                return f"{why} (in {address})"
    return _kind(ip)


def _kind(ip: Address) -> str | None:
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.version == 6 and ip.is_site_local, "site-local"),  # fec0::/10: not "private" in 3.11
        (ip.is_multicast, "multicast"),
        (ip.version == 4 and ip in _SHARED, "shared address space"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
    )
    found = next((label for hit, label in checks if hit), None)
    if found is None:
        found = next((f"{name}, {net}" for net, name in _SPECIAL if ip in net), None)
    if found is None and not ip.is_global:
        found = "not globally routable"
    return found


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def check(host: str, port: int, resolve: Resolver, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` and return the addresses to connect to, each one checked.

    Raises:
        Refused: one of the addresses is not global (and ``allow_private`` is off).
        OSError: the name does not resolve (``socket.gaierror``): worth retrying.
    """
    addresses = await resolve(host, port)
    if not addresses:
        raise socket.gaierror(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            why = refusal(address)
            if why is not None:
                raise Refused(
                    f"refused: {host} resolves to {address} ({why}); "
                    "only global addresses are allowed unless the subscriber sets allow_private"
                )
    return addresses
