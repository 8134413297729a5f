"""The SSRF guard: a subscription's URL must lead to the public internet, not into ours.

A URL is checked when a subscription is made or changed, and again at every delivery,
since what a name resolves to can change. The delivery then connects to the very address
that was checked (the name travels in ``Host`` and TLS SNI), so a second lookup cannot
swap in another (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

# Named in the refusal, most specific first (127.0.0.1 is private too, to ipaddress).
_CLASSES = (
    ("unspecified", lambda a: a.is_unspecified),
    ("loopback", lambda a: a.is_loopback),
    ("link-local (cloud metadata)", lambda a: a.is_link_local),
    ("multicast", lambda a: a.is_multicast),
    ("private", lambda a: a.is_private),
    ("reserved", lambda a: a.is_reserved or not a.is_global),
)


class RefusedTarget(Exception):
    """The URL may not be delivered to; the reason says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TargetPolicy:
    """Which targets are allowed: the WEBHOOKS_* settings."""

    allow_private_targets: bool
    allowed_ports: tuple[int, ...]

    @classmethod
    def from_config(cls, config) -> TargetPolicy:
        return cls(
            config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"], tuple(config["WEBHOOKS_ALLOWED_PORTS"])
        )


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL with the checked address in place of the name."""

    url: str
    host: str  # the name, for TLS SNI and certificate checks
    host_header: str  # the name and any port, as the URL gave them
    address: str
    scheme: str
    port: int
    request_target: str  # the path and query, as the request line carries them


def address_class(address: str) -> str | None:
    """The class of address that is refused (None: a public address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, test in _CLASSES:
        if test(ip):
            return name
    return None


def check_url(url: str, policy: TargetPolicy) -> tuple[str, int]:
    """The host and port of an acceptable URL; ``RefusedTarget`` otherwise (no lookup)."""
    parts = urlsplit(url)
    schemes = ("https", "http") if policy.allow_private_targets else ("https",)
    if parts.scheme not in schemes:
        raise RefusedTarget(f"The URL must be {' or '.join(schemes)}.")
    if parts.username or parts.password:
        raise RefusedTarget("The URL must not carry a user name or password.")
    if not parts.hostname:
        raise RefusedTarget("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise RefusedTarget("The URL's port is not a number from 1 to 65535.") from error
    return parts.hostname, port


def _check_addresses(host: str, port: int, addresses: list[str], policy: TargetPolicy) -> str:
    if not addresses:
        raise RefusedTarget(f"{host} resolves to no address.")
    for address in addresses:
        refused = address_class(address)
        if refused == "loopback" and policy.allow_private_targets:
            continue
        if refused:
            raise RefusedTarget(f"{host} resolves to {address}, a {refused} address.")
    loopback = all(address_class(a) == "loopback" for a in addresses)
    if port not in policy.allowed_ports and not loopback:
        allowed = ", ".join(map(str, policy.allowed_ports))
        raise RefusedTarget(f"Port {port} is not allowed (allowed: {allowed}).")
    return addresses[0]


# Bytes a request line may not carry as they are (percent-encoded instead).
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f-\uffff]")


def _request_target(parts) -> str:
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _UNSAFE_IN_PATH.sub(lambda m: quote(m.group(), safe=""), target)


def _target(url: str, host: str, address: str) -> Target:
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rpartition("@")[2]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target(
        urlunsplit(parts._replace(netloc=netloc)),
        host,
        host_header,
        address,
        parts.scheme,
        port,
        _request_target(parts),
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _addresses(infos) -> list[str]:
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve(url: str, policy: TargetPolicy) -> Target:
    """Check ``url`` and every address its host resolves to (blocking lookup)."""
    host, port = check_url(url, policy)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise RefusedTarget(f"{host} does not resolve: {error.strerror}.") from error
    return _target(url, host, _check_addresses(host, port, _addresses(infos), policy))


async def resolve_async(url: str, policy: TargetPolicy) -> Target:
    """``resolve``, with the lookup off the event loop."""
    host, port = check_url(url, policy)
    if _is_address(host):  # nothing to look up (and no thread to hop to)
        return _target(url, host, _check_addresses(host, port, [host], policy))
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise RefusedTarget(f"{host} does not resolve: {error.strerror}.") from error
    return _target(url, host, _check_addresses(host, port, _addresses(infos), policy))


class ResolvedTargets:
    """``resolve_async`` with its answers kept for ``ttl`` seconds, per URL and policy.

    A delivery is still checked against what its name resolved to at most ``ttl`` ago
    and still goes to the very address checked; what is saved is a lookup (a thread
    hop and a DNS query) and the URL's parsing on each of thousands of attempts a
    second. A refusal is kept as long, so a refused target is not looked up each time.
    """

    def __init__(self, policy: TargetPolicy, ttl: float, size: int = 10_000):
        self.policy = policy
        self.ttl = ttl
        self.size = size
        # In the order they were (re)resolved: past ``size`` URLs, the oldest goes.
        self._known: OrderedDict[str, tuple[float, Target | RefusedTarget]] = OrderedDict()

    async def resolve(self, url: str) -> Target:
        now = time.monotonic()
        known = self._known.get(url)
        if known is None or now - known[0] >= self.ttl:
            try:
                found: Target | RefusedTarget = await resolve_async(url, self.policy)
            except RefusedTarget as refused:
                found = refused
            self._known[url] = known = (now, found)
            self._known.move_to_end(url)
            if len(self._known) > self.size:
                self._known.popitem(last=False)
        if isinstance(known[1], RefusedTarget):
            raise RefusedTarget(known[1].reason)
        return known[1]
