"""Where a predictor's replicas are: a set of base URLs that may change while the router runs.

A ``BackendPool`` asks its ``Endpoints`` source for the current set on every health-check round and adds or
drains replicas to match. Two sources exist:

- ``StaticEndpoints``: the URLs as configured (``http://host:port``); the set never changes.
- ``DnsEndpoints``: ``dns+http://name:port`` (or ``dns+https://``) resolves ``name`` to all its A/AAAA
  records on every round and yields ``http://<address>:port`` for each. A Kubernetes headless Service
  (``clusterIP: None``) answers exactly that: one record per ready pod, so pods that start, stop or move are
  followed without a restart of the router.

``endpoints_from_urls`` turns a setting such as ``ROUTER_ASR_URLS`` (a list mixing both forms) into one
source.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

DNS_SCHEME_PREFIX = "dns+"

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> addresses``: the IP addresses a name stands for (empty when it has none)."""


class Endpoints(Protocol):
    """A source of predictor base URLs (no trailing slash)."""

    def initial(self) -> list[str]:
        """The URLs known without any I/O (used before the first ``current`` call)."""

    async def current(self) -> list[str]:
        """The URLs as of now; raises ``OSError`` when the source cannot be read (the set is then kept)."""

    @property
    def configured(self) -> bool:
        """False for a source that can never yield a URL (nothing configured)."""


class StaticEndpoints:
    """A fixed list of URLs."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = [url.rstrip("/") for url in urls]

    def initial(self) -> list[str]:
        return list(self.urls)

    async def current(self) -> list[str]:
        return list(self.urls)

    @property
    def configured(self) -> bool:
        return bool(self.urls)


async def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver (``getaddrinfo``: DNS, and ``/etc/hosts``), A and AAAA records alike."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return []  # the name exists no more (a headless Service with no ready pod): no replicas
        raise
    return [str(info[4][0]) for info in infos]


def _url(scheme: str, address: str, port: int, path: str) -> str:
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    return f"{scheme}://{host}:{port}{path}"


class DnsEndpoints:
    """Every address a DNS name resolves to, as ``scheme://address:port`` URLs, resolved on each call."""

    def __init__(self, url: str, resolver: Resolver = system_resolver) -> None:
        parts = urlsplit(url)
        if not parts.scheme.startswith(DNS_SCHEME_PREFIX) or not parts.hostname:
            raise ValueError(f"{url!r} is not a dns+http://name:port URL")
        self.scheme = parts.scheme[len(DNS_SCHEME_PREFIX) :]
        if self.scheme not in ("http", "https"):
            raise ValueError(f"{url!r}: the scheme after dns+ must be http or https")
        self.host = parts.hostname
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.path = parts.path.rstrip("/")
        self.resolver = resolver

    def initial(self) -> list[str]:
        return []

    async def current(self) -> list[str]:
        addresses = await self.resolver(self.host, self.port)
        return [_url(self.scheme, address, self.port, self.path) for address in dict.fromkeys(addresses)]

    @property
    def configured(self) -> bool:
        return True


class CombinedEndpoints:
    """The union of several sources, in order (a setting may mix static URLs and DNS names)."""

    def __init__(self, sources: Sequence[Endpoints]) -> None:
        self.sources = list(sources)

    def initial(self) -> list[str]:
        return list(dict.fromkeys(url for source in self.sources for url in source.initial()))

    async def current(self) -> list[str]:
        found = await asyncio.gather(*(source.current() for source in self.sources))
        return list(dict.fromkeys(url for urls in found for url in urls))

    @property
    def configured(self) -> bool:
        return any(source.configured for source in self.sources)


def endpoints_from_urls(urls: Sequence[str], resolver: Resolver = system_resolver) -> Endpoints:
    """One source for a URL setting: ``http(s)://`` entries are static, ``dns+http(s)://`` ones resolved."""
    static = [url for url in urls if not url.startswith(DNS_SCHEME_PREFIX)]
    sources: list[Endpoints] = [StaticEndpoints(static)] if static else []
    sources += [DnsEndpoints(url, resolver) for url in urls if url.startswith(DNS_SCHEME_PREFIX)]
    if len(sources) == 1:
        return sources[0]
    return CombinedEndpoints(sources) if sources else StaticEndpoints([])
