"""Where a print job may be sent: printer ports only, the restaurant's network, never the
server's own services or the cloud's."""

from __future__ import annotations

import pytest

from realtime.printers.transport import printer_address
from realtime.webhooks.ssrf import Refused


@pytest.fixture(autouse=True)
def _printer_ports(settings):
    settings.PRINTER_PORTS = [9100]
    settings.PRINTER_ALLOW_LOOPBACK = False


@pytest.mark.parametrize("host", ["192.168.1.50", "10.0.0.7", "172.16.4.2", "100.64.1.9"])
def test_printers_on_the_restaurants_network_are_reached(host):
    assert printer_address(host, 9100) == host


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.3.3", "link-local"),
        ("224.0.0.9", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.1.1.1", "reserved"),
    ],
)
def test_the_servers_own_and_the_clouds_addresses_are_refused(host, reason):
    with pytest.raises(Refused, match=reason):
        printer_address(host, 9100)


def test_only_printer_ports(settings):
    with pytest.raises(Refused, match="port 6379 is not a printer port"):
        printer_address("192.168.1.50", 6379)


def test_loopback_only_when_allowed(settings):
    settings.PRINTER_ALLOW_LOOPBACK = True
    assert printer_address("127.0.0.1", 9100) == "127.0.0.1"
    with pytest.raises(Refused, match="cloud metadata"):
        printer_address("169.254.169.254", 9100)
