"""CIDR lists from the configuration, and whether the client's address is in one."""

import ipaddress

from flask import request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: str) -> tuple[Network, ...]:
    """The networks of a comma- or space-separated CIDR list (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(cidr, strict=False) for cidr in cidrs.replace(",", " ").split()
    )


def client_in(networks: tuple[Network, ...]) -> bool:
    """True when the client's IP (after ProxyFix) belongs to one of the networks."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in networks)
