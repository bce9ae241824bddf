"""RSS/Atom feeds: bounded, conditional HTTP fetching and parsing of items into Articles.

Decisions a caller relies on:

- Ids are ``"feed:"`` plus 24 hex digits of a SHA-256 over, in order of preference, the item's
  guid/id (a URL guid is canonicalised first; any other guid is scoped by the site's host so
  that ``"1001"`` in two feeds cannot collide), else the item's canonical link, else its
  headline and text. Tracking parameters, a changed fragment or host case never change an id;
  a guid-less item whose link path changes does get a new id (nothing else identifies it).
- ``published`` is the item's published date, else its updated date, as an aware UTC
  datetime. An item without a usable date gets None, never "now": the store decides what
  first-seen time means (``Feed.fetched_at`` is there for that). A date more than a day after
  ``fetched_at`` is treated as broken and also gives None.
- HTML (titles included) is reduced to plain paragraphs with the stdlib parser: script,
  style and other non-text elements are dropped with their content, block elements and
  ``<br>`` end paragraphs, entities are decoded, whitespace is collapsed, ``h1``-``h6`` become
  subheadings. Items left with neither headline nor text are skipped, and say why.
- Feeds are fetched synchronously; the asyncio job queue calls :func:`fetch_feed_async`,
  which runs :func:`fetch_feed` in a worker thread.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import time
import xml.sax
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import __version__
from bot.errors import SourceError
from bot.models import Article

logger = logging.getLogger(__name__)

USER_AGENT = f"newsbot/{__version__} (RSS/Atom reader)"
MAX_REDIRECTS = 5
ID_PREFIX = "feed:"

_HTTP_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_FUTURE_TOLERANCE = timedelta(days=1)
_HEADLINE_MAX = 160

# Query parameters that only track the click; dropping them keeps links and ids stable.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "cmpid",
        "ncid",
        "ocid",
        "__twitter_impression",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "itm_")


# --- values -------------------------------------------------------------------------------


class Feed(BaseModel):
    """One parsed feed document.

    `articles` keep the feed's order. `skipped` holds one line per item that could not
    become an Article ("item 3: no headline or text"). `warning` is set when the XML was
    malformed but items could still be recovered.
    """

    model_config = ConfigDict(frozen=True)

    url: str | None
    title: str | None
    link: str | None
    fetched_at: datetime
    articles: list[Article] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    warning: str | None = None


class FeedState(BaseModel):
    """What the last fetch of a feed left behind, for the next conditional GET.

    `fetched_at` is the last attempt; `last_success` the last attempt that got a feed or a
    304. `failures` counts failed attempts since then (0 after a success).
    `item_count` is the number of articles in the last feed actually parsed.
    """

    model_config = ConfigDict(frozen=True)

    url: str
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    item_count: int = Field(default=0, ge=0)
    failures: int = Field(default=0, ge=0)

    def failed(self, error: str, at: datetime) -> FeedState:
        """This state after a failed attempt at `at`; ETag and Last-Modified are kept."""
        return self.model_copy(
            update={"fetched_at": at, "last_error": error, "failures": self.failures + 1}
        )


class FetchResult(BaseModel):
    """The outcome of one successful fetch.

    `not_modified` is True on a 304, and then `feed` is None. `final_url` is where the
    document was found after redirects; `moved_to` is set only when every hop was permanent
    (301/308), i.e. when the caller may update the configured URL. `attempts` is at least 1.
    """

    model_config = ConfigDict(frozen=True)

    url: str
    final_url: str
    status: int
    not_modified: bool
    feed: Feed | None
    state: FeedState
    attempts: int = Field(ge=1)
    moved_to: str | None = None


class FeedFetchError(SourceError):
    """A feed could not be fetched or parsed; the message is one line naming the URL."""

    def __init__(self, url: str | None, reason: str, *, attempts: int = 1) -> None:
        self.url = url
        self.reason = _one_line(reason)
        self.attempts = attempts
        super().__init__(f"feed {url or '(no url)'}: {self.reason}")


# --- URLs and ids -------------------------------------------------------------------------


def canonical_url(url: str, *, base: str | None = None) -> str | None:
    """`url` resolved against `base`, without tracking parameters or fragment.

    Scheme and host are lower-cased, a default port and an empty path are normalised; the
    remaining query keeps its order and spelling. Returns None unless the result is an
    absolute http(s) URL (so ``javascript:`` or bare guids never become links).
    """
    url = url.strip()
    if not url:
        return None
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _HTTP_SCHEMES or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        host = f"{userinfo}@{host}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def _is_tracking(pair: str) -> bool:
    name = unquote_plus(pair.split("=", 1)[0]).lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def _site_scope(*urls: str | None) -> str:
    """The host that scopes non-URL guids: the first of `urls` that has one, sans "www."."""
    for url in urls:
        canonical = canonical_url(url) if url else None
        if canonical:
            host = urlsplit(canonical).hostname or ""
            return host.removeprefix("www.")
    return ""


def item_id(*, guid: str | None, url: str | None, scope: str, fallback: str) -> str:
    """The stable Article id for one item (see the module docstring for the rules).

    Args:
        guid: the item's guid/id as given, or None.
        url: the item's canonical link, or None.
        scope: the site host that scopes a non-URL guid ("" when unknown).
        fallback: content used only when there is neither guid nor url.
    """
    key: str
    guid = (guid or "").strip()
    if guid:
        key = canonical_url(guid) or f"guid {scope} {guid}"
    elif url:
        key = url
    else:
        key = f"text {scope} {fallback}"
    return ID_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


# --- HTML to paragraphs ---------------------------------------------------------------------

# Elements whose content is never text for a reader.
_DROP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "applet",
        "svg",
        "math",
        "canvas",
        "audio",
        "video",
        "head",
        "title",
        "select",
        "textarea",
        "button",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "hr",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "nav",
        "main",
        "figure",
        "figcaption",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "caption",
        "address",
        "details",
        "summary",
        "body",
        "html",
        "form",
        "fieldset",
        "center",
    }
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "source", "track", "wbr", "area"})


@dataclass
class TextBlocks:
    """Plain paragraphs in document order; `headings` are those that were h1-h6."""

    paragraphs: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)


class _Paragraphs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks = TextBlocks()
        self._parts: list[str] = []
        self._dropping: list[str] = []
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            if tag not in _VOID:
                self._dropping.append(tag)
        elif not self._dropping and (tag in _BLOCK or tag in _HEADINGS):
            self._flush()
            self._heading = tag in _HEADINGS

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._dropping and (tag in _BLOCK or tag in _HEADINGS):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag in self._dropping:
                # Close the innermost open element of that name (and any unclosed inside it).
                del self._dropping[len(self._dropping) - 1 - self._dropping[::-1].index(tag) :]
        elif tag in _BLOCK or tag in _HEADINGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self._parts.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        text = " ".join("".join(self._parts).split())
        self._parts.clear()
        if text:
            self.blocks.paragraphs.append(text)
            if self._heading:
                self.blocks.headings.append(text)
        self._heading = False


def html_to_blocks(html: str) -> TextBlocks:
    """Clean paragraphs from an HTML fragment (never raises; empty input gives no blocks)."""
    parser = _Paragraphs()
    parser.feed(html)
    parser.close()
    return parser.blocks


def html_to_text(html: str) -> str:
    """An HTML fragment as one line of plain text (for titles)."""
    return " ".join(html_to_blocks(html).paragraphs)


def _detail_blocks(detail: Mapping[str, Any] | None) -> TextBlocks:
    """Blocks from a feedparser text construct; plain text keeps its blank-line breaks."""
    if not detail:
        return TextBlocks()
    value = str(detail.get("value") or "")
    if detail.get("type") == "text/plain":
        # Declared plain text is often HTML in practice, and feedparser does not sanitise
        # it, so it is cleaned like HTML once its paragraph breaks are made explicit.
        value = "".join(f"<p>{chunk}</p>" for chunk in re.split(r"\n\s*\n", value))
    return html_to_blocks(value)


def _first_sentence(text: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]
    if len(sentence) <= _HEADLINE_MAX:
        return sentence
    return sentence[:_HEADLINE_MAX].rsplit(" ", 1)[0] + "…"


# --- parsing --------------------------------------------------------------------------------

_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")
_COMMENT_OR_PI = re.compile(rb"<!--.*?-->|<\?.*?\?>", re.DOTALL)
_ENTITY_DECL = re.compile(rb"<!ENTITY")
# Only short literal values or a single character reference: a value that refers to other
# entities (billion laughs), is long (quadratic blow-up), external or a parameter entity is
# refused. feedparser drops nested declarations but would expand long ones in its fallback
# parser (200 MB from a 300 kB document), so this guard runs before it.
_SAFE_ENTITY_DECL = re.compile(
    rb"""<!ENTITY\s+[\w.-]+\s+(?:"(?:&\#\w{1,8};|[^"&%<]{0,16})"|'(?:&\#\w{1,8};|[^'&%<]{0,16})')\s*>"""
)
_MAX_ENTITY_DECLS = 64


def _check_entities(content: bytes, label: str | None) -> None:
    data = content.replace(b"\x00", b"") if b"\x00" in content[:4] else content  # UTF-16/32
    data = _COMMENT_OR_PI.sub(b"", data)  # so "<x" in a comment cannot end the prolog early
    root = _ROOT_ELEMENT.search(data)
    prolog = data[: root.start()] if root else data
    declared = len(_ENTITY_DECL.findall(prolog))
    if not declared:
        return
    safe = len(_SAFE_ENTITY_DECL.findall(prolog))
    if safe < declared or declared > _MAX_ENTITY_DECLS:
        raise FeedFetchError(
            label, "refused: the document declares unsafe XML entities (entity expansion attack?)"
        )


def parse_feed(
    content: bytes,
    *,
    url: str | None,
    fetched_at: datetime,
    content_type: str | None = None,
) -> Feed:
    """Parse an RSS 2.0, RSS 1.0 (RDF) or Atom document into articles. Pure: no I/O.

    Args:
        content: the raw document, any encoding feedparser can detect.
        url: where it came from; resolves relative links and names the feed in errors.
        fetched_at: aware datetime of the download; bounds plausible item dates.
        content_type: the HTTP Content-Type, if any (helps encoding detection).

    Returns:
        The feed with one Article per usable item; unusable items are listed in `skipped`.

    Raises:
        SourceError: empty input, unsafe entity declarations, an HTML page or other non-feed,
            or XML too malformed to recover any item from.
    """
    return _parse(content, url=url, label=url, fetched_at=fetched_at, content_type=content_type)


def _parse(
    content: bytes,
    *,
    url: str | None,
    label: str | None,
    fetched_at: datetime,
    content_type: str | None,
) -> Feed:
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    if not content.strip():
        raise FeedFetchError(label, "empty document")
    _check_entities(content, label)
    headers = {"content-type": content_type} if content_type else None
    # Bytes are never fetched or opened as a path by feedparser; no base URL is given so it
    # cannot turn bare guids into fake links (relative links are resolved below instead).
    # Its HTML sanitiser and link rewriter are off: every string goes through html_to_blocks,
    # which keeps text only and drops scripts itself, and they cost ~2/3 of the parse time.
    parsed = feedparser.parse(
        content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    entries = parsed.get("entries") or []
    _check_is_feed(parsed, entries, content, label)

    meta = parsed.get("feed") or {}
    title = html_to_text(str(meta.get("title") or "")) or None
    link = canonical_url(str(meta.get("link") or ""), base=url)
    scope = _site_scope(link, url)
    source = title or scope or None
    # Relative item links are resolved against the site's own address first: it outlives a
    # move of the feed document (and ids derived from links must survive that).
    base = link or url

    articles, skipped = _articles(entries, base=base, scope=scope, source=source, at=fetched_at)
    warning = None
    if parsed.get("bozo") and _is_xml_error(parsed.get("bozo_exception")):
        warning = f"malformed XML, items recovered: {_describe(parsed.get('bozo_exception'))}"
        logger.warning("feed %s: %s", label or "(no url)", warning)
    if skipped:
        logger.info("feed %s: skipped %d item(s): %s", label, len(skipped), "; ".join(skipped))
    return Feed(
        url=url,
        title=title,
        link=link,
        fetched_at=fetched_at,
        articles=articles,
        skipped=skipped,
        warning=warning,
    )


def _articles(
    entries: list[Any], *, base: str | None, scope: str, source: str | None, at: datetime
) -> tuple[list[Article], list[str]]:
    """Usable items as Articles in feed order, and one line per skipped item."""
    articles: list[Article] = []
    skipped: list[str] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        try:
            article = _article(entry, base=base, scope=scope, source=source, at=at)
        except _Skip as skip:
            skipped.append(f"item {number}: {skip}")
            continue
        if article.id in seen:
            skipped.append(f"item {number}: duplicate of item {seen[article.id]}")
            continue
        seen[article.id] = number
        articles.append(article)
    return articles, skipped


def _is_xml_error(exc: object) -> bool:
    # feedparser also flags harmless things (a missing Content-Type, a declared encoding
    # that differs from the header); only real XML errors are worth a warning.
    return isinstance(exc, xml.sax.SAXException)


def _describe(exc: object) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        return f"{exc.getMessage()} at line {exc.getLineNumber()}"
    return str(exc) or type(exc).__name__


def _check_is_feed(
    parsed: Mapping[str, Any], entries: list[Any], content: bytes, label: str | None
) -> None:
    """Raise unless the document is a feed (an empty but well-formed feed is one)."""
    if entries:
        return
    xml_error = parsed.get("bozo") and _is_xml_error(parsed.get("bozo_exception"))
    if not parsed.get("version"):
        if _HTML_MARKER.search(content[:2048]):
            raise FeedFetchError(label, "an HTML page, not an RSS or Atom feed")
        if not xml_error:
            raise FeedFetchError(label, "not an RSS or Atom feed")
    if xml_error:
        raise FeedFetchError(label, f"malformed XML: {_describe(parsed.get('bozo_exception'))}")


_HTML_MARKER = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)


class _Skip(Exception):
    """An item that cannot become an Article; the message says why."""


def _article(
    entry: Mapping[str, Any], *, base: str | None, scope: str, source: str | None, at: datetime
) -> Article:
    summary, body, headings = _texts(entry)
    text = " ".join([*summary, *body])
    headline = html_to_text(str(entry.get("title") or ""))
    if not headline:
        if not text:
            raise _Skip("no headline or text")
        headline = _first_sentence(text)
    url = _item_url(entry, base)
    guid = entry.get("id")
    article_id = item_id(
        guid=str(guid) if guid else None, url=url, scope=scope, fallback=f"{headline}\n{text}"
    )
    try:
        return Article(
            id=article_id,
            headline=headline,
            published=_published(entry, at),
            summary=summary,
            body=body,
            subheadings=headings,
            source=source,
            url=url,
        )
    except ValidationError as exc:
        raise _Skip(f"invalid ({exc.error_count()} error(s))") from exc


def _item_url(entry: Mapping[str, Any], base: str | None) -> str | None:
    link = str(entry.get("link") or "")
    if entry.get("guidislink") and not canonical_url(link):
        return None  # feedparser copied a bare guid into `link`; it is no address
    return canonical_url(link, base=base) if link else None


def _texts(entry: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(summary, body, subheadings): full content is the body, the description its summary.

    With no full content the description is the body. A summary that merely repeats the
    start of the body is dropped so that `Article.text` holds no duplicate.
    """
    contents: Iterable[Mapping[str, Any]] = entry.get("content") or []
    content = TextBlocks()
    for detail in contents:
        blocks = _detail_blocks(detail)
        content.paragraphs += blocks.paragraphs
        content.headings += blocks.headings
    described = _detail_blocks(entry.get("summary_detail"))
    if not content.paragraphs:
        return [], described.paragraphs, described.headings
    summary = described.paragraphs
    teaser = " ".join(summary).rstrip(".…[] ")
    if " ".join(content.paragraphs).startswith(teaser):
        summary = []
    return summary, content.paragraphs, content.headings


def _published(entry: Mapping[str, Any], at: datetime) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        # Plain dict access: FeedParserDict maps a missing `updated_parsed` to
        # `published_parsed` with a DeprecationWarning.
        parsed = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if parsed:
            # feedparser normalises every date to a UTC struct_time.
            moment = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            return moment if moment <= at + _FUTURE_TOLERANCE else None
    return None


# --- fetching -------------------------------------------------------------------------------


class _Retryable(Exception):
    """A failure worth another attempt: 5xx, a connection error or a timeout."""


@dataclass
class _Download:
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes
    permanent: bool


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _check_scheme(url: str, label: str) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise FeedFetchError(label, f"invalid URL: {exc}") from exc
    if scheme not in _HTTP_SCHEMES:
        raise FeedFetchError(label, f"only http(s) URLs are fetched, not {scheme or 'no'} scheme")


def fetch_feed(
    url: str,
    *,
    state: FeedState | None = None,
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    retries: int = 2,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = _utcnow,
) -> FetchResult:
    """Download a feed (conditionally, if `state` allows) and parse it.

    Args:
        url: an http(s) feed URL; any other scheme is refused.
        state: the previous state of this URL; its ETag / Last-Modified make the GET
            conditional. A state for another URL is ignored.
        client: a shared client (not closed here); else one is made over `transport`.
        transport: an httpx transport for the client made here (tests, proxies).
        timeout: seconds for connecting, for each read, and for a whole attempt.
        max_bytes: the largest (decoded) body accepted; a larger one aborts the download.
        retries: extra attempts after a 5xx, a connection error or a timeout (not a 4xx);
            the n-th retry waits `backoff * 2**(n-1)` seconds via `sleep`.
        clock: the current aware time (tests pin it).

    Returns:
        The result with the new state; a 304 gives `not_modified` and no feed.

    Raises:
        SourceError: (a FeedFetchError) one line naming `url` and the reason.
    """
    _check_scheme(url, url)
    if max_bytes < 1 or retries < 0 or timeout <= 0:
        raise ValueError("max_bytes and timeout must be positive, retries not negative")
    previous = state if state is not None and state.url == url else None
    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT}
    if previous and previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous and previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified

    own_client = client is None
    http = client or httpx.Client(transport=transport)
    try:
        download, attempts = _with_retries(
            lambda: _download(http, url, headers, timeout=timeout, max_bytes=max_bytes),
            url,
            retries=retries,
            backoff=backoff,
            sleep=sleep,
        )
    finally:
        if own_client:
            http.close()
    return _result(url, download, attempts, previous, clock())


def fetch_page(
    url: str,
    *,
    client: httpx.Client,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    retries: int = 1,
) -> bytes:
    """Download one web page with the same guards as a feed (http(s) only, redirects checked
    by hand, size cap, timeout, bounded retries).

    Raises:
        SourceError: (a FeedFetchError) one line naming `url` and the reason.
    """
    _check_scheme(url, url)
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html, application/xhtml+xml;q=0.9"}
    download, _ = _with_retries(
        lambda: _download(client, url, headers, timeout=timeout, max_bytes=max_bytes),
        url,
        retries=retries,
        backoff=0.5,
        sleep=time.sleep,
    )
    return download.body


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


def _with_retries(
    attempt: Callable[[], _Download],
    url: str,
    *,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> tuple[_Download, int]:
    for number in range(1, retries + 2):
        try:
            return attempt(), number
        except _Retryable as exc:
            if number > retries:
                plural = "s" if number > 1 else ""
                raise FeedFetchError(
                    url, f"{exc} (after {number} attempt{plural})", attempts=number
                ) from exc
            delay = backoff * 2 ** (number - 1)
            logger.info("feed %s: %s; retrying in %.1f s", url, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _download(
    http: httpx.Client, url: str, headers: dict[str, str], *, timeout: float, max_bytes: int
) -> _Download:
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
                return _Download(current, response.status_code, response.headers, body, permanent)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {timeout:g} s ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(
                f"connection failed: {_one_line(str(exc)) or type(exc).__name__}"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FeedFetchError(url, f"HTTP error: {exc or type(exc).__name__}") from exc
    raise FeedFetchError(url, f"too many redirects (more than {MAX_REDIRECTS}), last to {current}")


def _redirect_target(url: str, current: str, response: httpx.Response, seen: set[str]) -> str:
    location: str | None = response.headers.get("location")
    if not location:
        raise FeedFetchError(url, f"HTTP {response.status_code} redirect without a Location")
    target = urljoin(current, location.strip())
    scheme = urlsplit(target).scheme.lower()
    if scheme not in _HTTP_SCHEMES:
        raise FeedFetchError(url, f"refused redirect to a non-http(s) URL: {target}")
    if target in seen:
        raise FeedFetchError(url, f"redirect loop at {target}")
    seen.add(target)
    return target


def _check_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 304 or 200 <= status < 300:
        return
    reason = f"HTTP {status} {response.reason_phrase}".strip()
    if status >= 500:
        raise _Retryable(reason)
    raise FeedFetchError(url, reason)


def _read_capped(url: str, response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    if response.status_code == 304:
        return b""
    too_large = f"response larger than {_size(max_bytes)}"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FeedFetchError(url, f"{too_large} (Content-Length {declared})")
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise FeedFetchError(url, too_large)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("download too slow", request=response.request)
        chunks.append(chunk)
    return b"".join(chunks)


def _result(
    url: str, download: _Download, attempts: int, previous: FeedState | None, now: datetime
) -> FetchResult:
    moved_to = download.final_url if download.final_url != url and download.permanent else None
    if download.status == 304:
        old = previous or FeedState(url=url)
        state = old.model_copy(
            update={
                "etag": download.headers.get("etag") or old.etag,
                "last_modified": download.headers.get("last-modified") or old.last_modified,
                "fetched_at": now,
                "last_success": now,
                "last_error": None,
                "failures": 0,
            }
        )
        return FetchResult(
            url=url,
            final_url=download.final_url,
            status=304,
            not_modified=True,
            feed=None,
            state=state,
            attempts=attempts,
            moved_to=moved_to,
        )
    feed = _parse(
        download.body,
        url=download.final_url,
        label=url,
        fetched_at=now,
        content_type=download.headers.get("content-type"),
    )
    state = FeedState(
        url=url,
        etag=download.headers.get("etag"),
        last_modified=download.headers.get("last-modified"),
        fetched_at=now,
        last_success=now,
        item_count=len(feed.articles),
    )
    return FetchResult(
        url=url,
        final_url=download.final_url,
        status=download.status,
        not_modified=False,
        feed=feed,
        state=state,
        attempts=attempts,
        moved_to=moved_to,
    )
