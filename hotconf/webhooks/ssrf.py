"""The SSRF guard: which addresses a webhook may connect to.

A subscriber URL names a host; what matters is where a connection would go. The dispatcher
resolves the host at delivery time (``getaddrinfo``, which also reads the odd IPv4 spellings
``2130706433``, ``0x7f.1``, ``0`` and ``127.1`` the way libc's ``inet_aton`` does), refuses the
delivery when ANY resolved address is not globally routable, and then connects to one of the
addresses it checked, never to the name again: a DNS answer that changes between the check and
the connection (DNS rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4


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
        (not ip.is_global, "not globally routable"),
    )
    return next((label for hit, label in checks if hit), None)


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
