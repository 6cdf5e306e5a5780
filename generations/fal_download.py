"""Fetching the provider's result files without fetching what we did not mean (part of the FAL client, split
from ``generations.fal`` for size).

Result URLs come from FAL's answers and webhooks, so each URL, and each redirect hop, is checked before anything
is requested:

- the scheme is https; plain http only to a host and port that one of our own ``FAL_*`` URLs names with http (an
  operator's local proxy, the tests' fake);
- the host is in ``FAL_DOWNLOAD_HOSTS`` (``*.fal.media`` matches any subdomain of fal.media) or is the host of a
  ``FAL_*`` URL;
- every address the host resolves to is public: loopback, private, link-local, shared, reserved, multicast and
  unspecified addresses are refused unless they lie in ``FAL_DOWNLOAD_ALLOWED_NETWORKS``;
- the connection goes to the very address that was checked (the name is not resolved a second time), so a name
  that answers a public address to the check and an internal one to the fetch (DNS rebinding) gains nothing; TLS
  still verifies the certificate against the host name.

Redirects are followed here, not by urllib, at most ``MAX_REDIRECTS`` of them, and the body is read only up to the
size limit. Refusals raise ``ProviderRejected`` (final: the job fails and is refunded); connection problems raise
``OSError`` / ``http.client.HTTPException`` for the client's retry loop.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from generations.exceptions import ProviderRejected

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class DownloadPolicy:
    hosts: tuple[str, ...]
    plain_http: frozenset[tuple[str, int]]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def build(cls, *, hosts, own_urls, networks) -> DownloadPolicy:
        own = [urlsplit(url) for url in own_urls]
        patterns = [*hosts, *(parts.hostname for parts in own if parts.hostname)]
        return cls(
            hosts=tuple(p.strip().lower().rstrip(".") for p in patterns if p and p.strip()),
            plain_http=frozenset((parts.hostname, parts.port or 80) for parts in own
                                 if parts.scheme == "http" and parts.hostname),
            networks=tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n and n.strip()),
        )

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                    return True
            elif host == pattern:
                return True
        return False

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip.version == net.version and ip in net for net in self.networks):
            return True
        internal = (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
                    or ip.is_unspecified)
        return ip.is_global and not internal

    def target(self, url: str) -> Target:
        """The checked scheme, host, port and path of ``url`` (no network yet)."""
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in DEFAULT_PORTS or not host:
            raise ProviderRejected(f"refused to download a {scheme or 'relative'}:// URL")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise ProviderRejected("refused to download a URL with a malformed port") from None
        if parts.username is not None or parts.password is not None:
            raise ProviderRejected(f"refused to download from {host!r}: credentials in the URL")
        if not self.host_allowed(host):
            raise ProviderRejected(f"refused to download from {host!r}: not an allowed host (FAL_DOWNLOAD_HOSTS)")
        if scheme == "http" and (host, port) not in self.plain_http:
            raise ProviderRejected(f"refused to download from {host!r} over plain http")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(scheme=scheme, host=host, port=port, path=path)

    def resolve(self, target: Target) -> str:
        """The address to connect to: every address of the host must be allowed, the first one is used."""
        addresses = [info[4][0] for info in socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)]
        if not addresses or not all(self.address_allowed(address) for address in addresses):
            raise ProviderRejected(f"refused to download from {target.host!r}: it resolves to a non-public address")
        return addresses[0]


def fetch(url: str, *, policy: DownloadPolicy, timeout: float, max_bytes: int) -> Response:
    """GET ``url``, following redirects (each hop checked); the final response, whatever its status."""
    for _ in range(MAX_REDIRECTS + 1):
        target = policy.target(url)
        response = _get(target, policy.resolve(target), timeout=timeout, max_bytes=max_bytes)
        if response.status not in REDIRECT_STATUSES:
            return response
        location = (response.headers.get("Location") or "").strip()
        if not location:
            raise ProviderRejected(f"a redirect from {target.host!r} without a Location")
        url = urljoin(url, location)
    raise ProviderRejected(f"more than {MAX_REDIRECTS} redirects")


def _get(target: Target, address: str, *, timeout: float, max_bytes: int) -> Response:
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, address=address, timeout=timeout)
    try:
        try:
            connection.request("GET", target.path, headers={"Accept": "image/*"})
        except http.client.InvalidURL:
            raise ProviderRejected(f"refused to download a malformed URL from {target.host!r}") from None
        response = connection.getresponse()
        if not 200 <= response.status < 300:
            return Response(response.status, response.headers, response.read(4096))
        if _content_length(response.headers) > max_bytes:
            raise ProviderRejected("output file too large")
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise ProviderRejected("output file too large")
        return Response(response.status, response.headers, body)
    finally:
        connection.close()


def _content_length(headers) -> int:
    try:
        return int(headers.get("Content-Length") or 0)
    except ValueError:
        return 0


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked ``address``; the Host header still names the host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked ``address``; SNI and the certificate check use the host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
