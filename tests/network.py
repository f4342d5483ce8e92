"""This host's address as a networked sandbox sees it.

A sandbox with network (``coprd/builder/network.py``) reaches the outside but not the
host's loopback, so a test that serves something to such a sandbox (sources for a source
task, a page for an ``enable_net`` build) listens on this address instead of 127.0.0.1.
"""

from __future__ import annotations

import functools
import ipaddress
import socket

import pytest

# Connecting a UDP socket sends nothing; it only asks the kernel which source address the
# route to the target would use. Documentation and private ranges: no packet leaves.
_PROBES = ("192.0.2.1", "10.255.255.254", "172.31.255.254", "192.168.255.254")


@functools.cache
def _find() -> str | None:
    for target in _PROBES:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((target, 9))
            except OSError:
                continue
            address = sock.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback:
            return str(address)
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def host_address() -> str:
    """An IPv4 address of this host that is not loopback; skips the test if it has none."""
    address = _find()
    if address is None:
        pytest.skip("this host has no non-loopback IPv4 address for a sandbox to reach")
    return address
