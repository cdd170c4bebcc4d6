"""Sending a job to a printer: raw TCP, the bytes and nothing else.

Printers sit on the restaurant's network, so private addresses are what they have; but a
manager's host and port must not make the server write bytes to its own services or the
cloud's: only PRINTER_PORTS (9100-9109), and never loopback, link-local, metadata,
multicast or reserved addresses (loopback only with PRINTER_ALLOW_LOOPBACK, for tests). The
name is resolved, checked and connected to as checked, like webhooks (realtime/webhooks/ssrf.py).
"""

from __future__ import annotations

import socket

from django.conf import settings

from ..webhooks.ssrf import Refused, address_class, system_resolver

NETWORK_CLASSES = {None, "private", "not globally routable"}


def printer_address(host: str, port: int, resolver=system_resolver) -> str:
    if port not in settings.PRINTER_PORTS:
        raise Refused(f"port {port} is not a printer port (PRINTER_PORTS)")
    addresses = resolver(host, port)
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    for address in addresses:
        label = address_class(address)
        if label in NETWORK_CLASSES or (label == "loopback" and settings.PRINTER_ALLOW_LOOPBACK):
            continue
        raise Refused(f"{host} is {address}, a {label} address")
    return addresses[0]


def send(host: str, port: int, data: bytes, resolver=system_resolver) -> None:
    """Raises Refused or OSError (down, refused, timed out)."""
    address = printer_address(host, port, resolver)
    with socket.create_connection((address, port), timeout=settings.PRINTER_TIMEOUT) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
