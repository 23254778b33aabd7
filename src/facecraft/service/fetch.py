"""Safe fetching of user-given URLs: http(s) only, public addresses only, size, type and time limits.

The host is resolved before connecting and every resolved address must be public (unless the
deployment allows private targets); after connecting, the peer address is checked again so that a DNS
answer that changes between the two steps cannot reach an internal service. Redirects are followed by
hand so that each hop passes the same checks.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from facecraft.errors import FacecraftError, InputError

__all__ = ["FetchError", "FetchLimits", "FetchResult", "check_url", "fetch_to_file", "is_public_address"]

log = logging.getLogger(__name__)
MAX_REDIRECTS = 5


class FetchError(FacecraftError):
    """A URL could not be fetched safely; ``error_id`` names the API error (download_link, file_size, ...)."""

    default_error_id = "download_link"


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout_s: float
    allow_private: bool = False
    # Accepted Content-Type prefixes; application/octet-stream is always accepted (many hosts send it).
    content_types: tuple[str, ...] = ()
    link_error: str = "download_link"
    size_error: str = "file_size"
    type_error: str = "video_format"


@dataclass(frozen=True)
class FetchResult:
    path: Path
    url: str
    content_type: str
    size_bytes: int


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool, error_id: str = "download_link") -> None:
    """Raise InputError unless ``url`` is http(s) with a host that resolves to allowed addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"only http(s) URLs with a host can be fetched: {url!r}", error_id=error_id)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise InputError(f"the host of {url!r} cannot be resolved", error_id=error_id) from exc
    if allow_private:
        return
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            raise InputError(
                f"refusing to fetch {url!r}: it points to a private, loopback or link-local address "
                f"({address})",
                error_id=error_id,
            )


def fetch_to_file(url: str, dest: Path, *, limits: FetchLimits) -> FetchResult:
    """Stream ``url`` to ``dest`` within ``limits``; raises FetchError/InputError with the API error id."""
    deadline = time.monotonic() + limits.timeout_s
    timeout = httpx.Timeout(min(30.0, limits.timeout_s), connect=min(10.0, limits.timeout_s))
    dest.parent.mkdir(parents=True, exist_ok=True)
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=limits.allow_private, error_id=limits.link_error)
            try:
                with client.stream("GET", current, headers={"User-Agent": "facecraft-fetch/1"}) as resp:
                    _check_peer(resp, current, limits)
                    if resp.is_redirect and "location" in resp.headers:
                        current = urljoin(current, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise FetchError(
                            f"{url!r} answered HTTP {resp.status_code}", error_id=limits.link_error
                        )
                    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    _check_type(ctype, url, limits)
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                        raise FetchError(_too_big(url, limits), error_id=limits.size_error)
                    size = _stream(resp, dest, url, limits, deadline)
                    log.info("fetched %s (%d bytes)", url, size)
                    return FetchResult(dest, current, ctype, size)
            except httpx.TimeoutException as exc:
                raise FetchError(f"fetching {url!r} timed out", error_id=limits.link_error) from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"fetching {url!r} failed: {exc}", error_id=limits.link_error) from exc
    raise FetchError(f"too many redirects from {url!r}", error_id=limits.link_error)


def _check_peer(resp: httpx.Response, url: str, limits: FetchLimits) -> None:
    if limits.allow_private:
        return
    stream = resp.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public_address(str(peer[0])):
        raise InputError(
            f"refusing to fetch {url!r}: connected to a private address", error_id=limits.link_error
        )


def _check_type(ctype: str, url: str, limits: FetchLimits) -> None:
    if not limits.content_types or ctype in ("", "application/octet-stream", "binary/octet-stream"):
        return
    if not any(ctype.startswith(prefix) for prefix in limits.content_types):
        raise FetchError(f"{url!r} is {ctype!r}, not an accepted media type", error_id=limits.type_error)


def _stream(resp: httpx.Response, dest: Path, url: str, limits: FetchLimits, deadline: float) -> int:
    size = 0
    try:
        with dest.open("wb") as out:
            for chunk in resp.iter_bytes(1 << 16):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise FetchError(_too_big(url, limits), error_id=limits.size_error)
                if time.monotonic() > deadline:
                    raise FetchError(f"fetching {url!r} took too long", error_id=limits.link_error)
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return size


def _too_big(url: str, limits: FetchLimits) -> str:
    return f"{url!r} is larger than the limit of {limits.max_bytes // (1024 * 1024)} MB"
