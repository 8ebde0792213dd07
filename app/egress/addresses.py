"""The address policy: only public unicast addresses (IANA special-purpose registries, RFC 6890), all or none."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from app.egress.errors import AddressRefused, NameResolutionFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IPv4 ranges that are not globally reachable unicast (IANA IPv4 Special-Purpose Address Registry), plus multicast.
REFUSED_IPV4: dict[IPNetwork, str] = {
    _V4("0.0.0.0/8"): "unspecified ('this network')",
    _V4("10.0.0.0/8"): "private (RFC 1918)",
    _V4("100.64.0.0/10"): "shared address space (CGNAT, RFC 6598)",
    _V4("127.0.0.0/8"): "loopback",
    _V4("169.254.0.0/16"): "link-local (cloud metadata services live here)",
    _V4("172.16.0.0/12"): "private (RFC 1918)",
    _V4("192.0.0.0/24"): "IETF protocol assignments",
    _V4("192.0.2.0/24"): "documentation (TEST-NET-1)",
    _V4("192.88.99.0/24"): "6to4 relay anycast",
    _V4("192.168.0.0/16"): "private (RFC 1918)",
    _V4("198.18.0.0/15"): "benchmarking",
    _V4("198.51.100.0/24"): "documentation (TEST-NET-2)",
    _V4("203.0.113.0/24"): "documentation (TEST-NET-3)",
    _V4("224.0.0.0/4"): "multicast",
    _V4("240.0.0.0/4"): "reserved (incl. broadcast)",
}
# IPv6: every global unicast address lies in 2000::/3 (RFC 4291); anything else is refused unless it embeds IPv4.
GLOBAL_UNICAST_IPV6 = _V6("2000::/3")
REFUSED_IPV6: dict[IPNetwork, str] = {
    _V6("::/128"): "unspecified",
    _V6("::1/128"): "loopback",
    _V6("fc00::/7"): "unique local (RFC 4193; fd00:ec2::254 is a cloud metadata service)",
    _V6("fe80::/10"): "link-local",
    _V6("fec0::/10"): "site-local (deprecated)",
    _V6("ff00::/8"): "multicast",
    _V6("2001::/23"): "IETF protocol assignments (incl. Teredo)",
    _V6("2001:db8::/32"): "documentation",
    _V6("3fff::/20"): "documentation",
}
# IPv6 forms that carry an IPv4 address, judged by the IPv4 address they carry.
_NAT64 = _V6("64:ff9b::/96")  # RFC 6052 well-known prefix
_IPV4_COMPATIBLE = _V6("::/96")  # RFC 4291 §2.5.5.1, deprecated


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast destination, or None when it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        for network, reason in REFUSED_IPV6.items():
            if address in network:
                return reason
        carried = embedded_ipv4(address)
        if carried is not None:
            inner = refusal(carried)
            return None if inner is None else f"{inner}, as an IPv4 address inside IPv6"
        if address not in GLOBAL_UNICAST_IPV6:
            return "reserved (outside 2000::/3)"
        return None
    for network, reason in REFUSED_IPV4.items():
        if address in network:
            return reason
    if not address.is_global:  # the stdlib's registry, in case ours lags behind it
        return "not globally reachable"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for host (no second lookup follows: the caller connects to these)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NameResolutionFailed(f"cannot resolve {host!r}: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise NameResolutionFailed(f"{host!r} has no addresses")
    return addresses


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class AddressPolicy:
    """Public unicast only; `allowed_networks` (tests and development) lets chosen ranges through."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(network, strict=False) for network in networks))

    @property
    def allows_plain_http(self) -> bool:
        """Plain http is for a local test server: only when a loopback range is allowed, and only to it."""
        return any(network.is_loopback for network in self.allowed_networks)

    def refusal(self, address: IPAddress) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # an allowed IPv4 range covers its mapped form too
        if any(address in network for network in self.allowed_networks):
            return None
        return refusal(address)

    def checked_addresses(self, host: str, port: int, *, plain_http: bool = False) -> list[IPAddress]:
        """Resolve host once and return its addresses, refusing them all if any one is refused."""
        addresses = resolve(host.strip("[]"), port)
        refused = {address: reason for address in addresses if (reason := self.refusal(address))}
        if refused:
            reasons = "; ".join(f"{address}: {reason}" for address, reason in refused.items())
            raise AddressRefused(f"{host!r} resolves to {_listed(addresses)}; refused {reasons}")
        if plain_http and not all(_is_loopback(address) for address in addresses):
            raise AddressRefused(
                f"plain http to {host!r} ({_listed(addresses)}) is refused: not loopback", "only https URLs are fetched"
            )
        return addresses


def _listed(addresses: list[IPAddress]) -> str:
    return ", ".join(map(str, addresses))
