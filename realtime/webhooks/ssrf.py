"""Where a webhook may connect: checked when it is sent, and connected to as checked.

The URL's host is resolved at delivery time and every address it resolves to is checked;
the request then goes to the checked address itself (the URL's host replaced by it, the
name kept in the Host header and as the TLS server name), so that a second lookup cannot
answer differently between the check and the connect (DNS rebinding). Redirects are never
followed (delivery.py), so no other address is ever reached.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable

import httpx

# Cloud metadata services that sit at addresses `ipaddress` does not call private.
METADATA_ADDRESSES = {
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}

Resolver = Callable[[str, int], list[str]]


class Refused(Exception):
    """The URL may not be delivered to; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"{host} does not resolve: {exc.strerror}") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def _ip(address: str):
    """The address (its IPv4 form when an IPv4-mapped IPv6 one, without a zone)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_class(address: str) -> str | None:
    """What kind of non-public address `address` is ("loopback", "private", ...), or None."""
    ip = _ip(address)
    if ip in METADATA_ADDRESSES or ip == ipaddress.ip_address("169.254.169.254"):
        return "cloud metadata"
    for label, refused in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    ):
        if refused:
            return label
    return None


def address_refusal(address: str) -> str | None:
    """Why `address` may not be connected to, or None when it is a public address."""
    label = address_class(address)
    return None if label is None else f"{_ip(address)} is a {label} address"


@dataclass(frozen=True)
class Target:
    """A request to `url` (the host replaced by the checked address) with these headers
    and request extensions."""

    url: httpx.URL
    address: str
    headers: dict
    extensions: dict


def scheme_refusal(url: str, *, require_https: bool) -> str | None:
    scheme = httpx.URL(url).scheme
    if scheme not in {"http", "https"}:
        return f"{scheme or 'no'} scheme: only http and https"
    if require_https and scheme != "https":
        return "HTTPS is required"
    return None


def pinned_target(
    url: str, *, allow_private: bool, require_https: bool, resolver: Resolver = system_resolver
) -> Target:
    """Resolve and check `url`'s host; the request that connects to what was checked."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused(f"invalid URL: {exc}") from exc
    reason = scheme_refusal(url, require_https=require_https)
    if reason:
        raise Refused(reason)
    host = parsed.host
    if not host:
        raise Refused("the URL has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolver(host, port)
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    if not allow_private:
        # Every answer is checked: a name with one public and one private address is refused.
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise Refused(reason if address == host else f"{host} resolves to {reason}")
    address = addresses[0]
    headers = {"Host": parsed.netloc.decode("ascii").rpartition("@")[2]}
    extensions = {}
    if parsed.scheme == "https" and address != host:
        extensions["sni_hostname"] = host
    return Target(parsed.copy_with(host=address), address, headers, extensions)
