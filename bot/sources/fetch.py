"""A guarded HTTP client for every source: http(s) only, redirects checked, size cap, retries.

Decisions a caller relies on:

- Only ``http`` and ``https`` URLs are fetched, and every redirect is followed by hand so a
  redirect to another scheme (``file:``, ``ftp:``) is refused; at most MAX_REDIRECTS hops, a
  loop is an error.
- A body larger than ``max_bytes`` (declared or received) aborts the download; a whole
  attempt, reading included, is bounded by ``timeout``.
- A 5xx, a connection error or a timeout is retried with exponential back-off; a 4xx is not.
- A conditional GET (ETag / Last-Modified) may answer 304: the Download then has no body.
- Every failure is a FetchError whose message is one line naming the URL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from bot import __version__
from bot.errors import SourceError

logger = logging.getLogger(__name__)

USER_AGENT = f"newsbot/{__version__} (RSS/Atom reader)"
MAX_REDIRECTS = 5
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9"

_HTTP_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})


class FetchError(SourceError):
    """A URL could not be fetched; the message is one line naming the URL."""

    def __init__(self, url: str | None, reason: str, *, attempts: int = 1) -> None:
        self.url = url
        self.reason = one_line(reason)
        self.attempts = attempts
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.url or '(no url)'}: {self.reason}"


@dataclass(frozen=True)
class Download:
    """One successful download.

    `final_url` is where the body was found after redirects; `permanent` is True when every
    hop was a permanent redirect (301/308) or there was none. `body` is empty on a 304.
    `attempts` is at least 1.
    """

    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes
    permanent: bool
    attempts: int

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def moved_to(self) -> str | None:
        """The new address when the caller may update the URL it was given, else None."""
        return self.final_url if self.final_url != self.url and self.permanent else None


class _Retryable(Exception):
    """A failure worth another attempt: 5xx, a connection error or a timeout."""


def one_line(text: str) -> str:
    return " ".join(text.split())


def check_scheme(url: str) -> None:
    """Raise FetchError unless `url` is an http(s) URL."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise FetchError(url, f"invalid URL: {exc}") from exc
    if scheme not in _HTTP_SCHEMES:
        raise FetchError(url, f"only http(s) URLs are fetched, not {scheme or 'no'} scheme")


def fetch(
    url: str,
    *,
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
    accept: str = "*/*",
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    retries: int = 2,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Download:
    """Download `url` with every guard of this module.

    Args:
        url: an http(s) URL; any other scheme is refused.
        client: a shared client (not closed here); else one is made over `transport`.
        transport: an httpx transport for the client made here (tests, proxies).
        accept: the Accept header.
        etag, last_modified: validators of an earlier download; they make the GET
            conditional, so the answer may be a 304.
        timeout: seconds for connecting, for each read, and for a whole attempt.
        max_bytes: the largest (decoded) body accepted; a larger one aborts the download.
        retries: extra attempts after a 5xx, a connection error or a timeout (not a 4xx);
            the n-th retry waits `backoff * 2**(n-1)` seconds via `sleep`.

    Raises:
        FetchError: one line naming `url` and the reason.
    """
    check_scheme(url)
    if max_bytes < 1 or retries < 0 or timeout <= 0:
        raise ValueError("max_bytes and timeout must be positive, retries not negative")
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_client = client is None
    http = client or httpx.Client(transport=transport)
    try:
        for number in range(1, retries + 2):
            try:
                return _download(
                    http, url, headers, timeout=timeout, max_bytes=max_bytes, attempt=number
                )
            except _Retryable as exc:
                if number > retries:
                    plural = "s" if number > 1 else ""
                    raise FetchError(
                        url, f"{exc} (after {number} attempt{plural})", attempts=number
                    ) from exc
                delay = backoff * 2 ** (number - 1)
                logger.info("%s: %s; retrying in %.1f s", url, exc, delay)
                sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own_client:
            http.close()


def fetch_page(
    url: str,
    *,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    retries: int = 1,
) -> Download:
    """Download one web page (HTML) with the same guards as a feed.

    Raises:
        FetchError: one line naming `url` and the reason.
    """
    return fetch(
        url,
        client=client,
        accept=HTML_ACCEPT,
        timeout=timeout,
        max_bytes=max_bytes,
        retries=retries,
    )


def _download(
    http: httpx.Client,
    url: str,
    headers: dict[str, str],
    *,
    timeout: float,
    max_bytes: int,
    attempt: int,
) -> Download:
    """One attempt: follow up to MAX_REDIRECTS redirects by hand, then read the body."""
    deadline = time.monotonic() + timeout
    current, seen, permanent = url, {url}, True
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with http.stream(
                "GET", current, headers=headers, follow_redirects=False, timeout=timeout
            ) as response:
                if response.status_code in _REDIRECT_STATUSES:
                    permanent = permanent and response.status_code in _PERMANENT_REDIRECTS
                    current = _redirect_target(url, current, response, seen)
                    continue
                _check_status(url, response)
                body = _read_capped(url, response, max_bytes=max_bytes, deadline=deadline)
                return Download(
                    url=url,
                    final_url=current,
                    status=response.status_code,
                    headers=response.headers,
                    body=body,
                    permanent=permanent,
                    attempts=attempt,
                )
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {timeout:g} s ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(
                f"connection failed: {one_line(str(exc)) or type(exc).__name__}"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(url, f"HTTP error: {exc or type(exc).__name__}") from exc
    raise FetchError(url, f"too many redirects (more than {MAX_REDIRECTS}), last to {current}")


def _redirect_target(url: str, current: str, response: httpx.Response, seen: set[str]) -> str:
    location: str | None = response.headers.get("location")
    if not location:
        raise FetchError(url, f"HTTP {response.status_code} redirect without a Location")
    target = urljoin(current, location.strip())
    scheme = urlsplit(target).scheme.lower()
    if scheme not in _HTTP_SCHEMES:
        raise FetchError(url, f"refused redirect to a non-http(s) URL: {target}")
    if target in seen:
        raise FetchError(url, f"redirect loop at {target}")
    seen.add(target)
    return target


def _check_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 304 or 200 <= status < 300:
        return
    reason = f"HTTP {status} {response.reason_phrase}".strip()
    if status >= 500:
        raise _Retryable(reason)
    raise FetchError(url, reason)


def _read_capped(url: str, response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    if response.status_code == 304:
        return b""
    too_large = f"response larger than {_size(max_bytes)}"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, f"{too_large} (Content-Length {declared})")
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(url, too_large)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("download too slow", request=response.request)
        chunks.append(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"
