"""RSS/Atom feeds: a feed document's bytes into Articles, and the state of conditional GETs.

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
- Fetching is :mod:`bot.sources.fetch`'s (schemes, redirects, size cap, retries);
  :func:`fetch_feed` only adds the feed's conditional-GET state and the parse.
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

from bot.models import Article
from bot.sources.fetch import Download, FetchError, fetch

logger = logging.getLogger(__name__)

ID_PREFIX = "feed:"

_HTTP_SCHEMES = frozenset({"http", "https"})
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


class FeedFetchError(FetchError):
    """A feed could not be fetched or parsed; the message is one line naming the URL."""

    def describe(self) -> str:
        return f"feed {super().describe()}"


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
    try:  # urljoin and urlsplit refuse a malformed host ("http://[x") with ValueError
        if base:
            url = urljoin(base, url)
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


# "<!" opening anything but a comment: a declaration or marked section ("<![CDATA[").
_DECLARATION = re.compile(r"<!(?!--)")


def html_to_blocks(html: str) -> TextBlocks:
    """Clean paragraphs from an HTML fragment (never raises; empty input gives no blocks)."""
    try:
        return _blocks(html)
    except AssertionError:
        # The stdlib parser (before Python 3.13) asserts on a malformed declaration or
        # marked section ("<![CDA3A[", "<!DOCTYPE x ["): read those as text instead.
        return _blocks(_DECLARATION.sub("&lt;!", html))


def _blocks(html: str) -> TextBlocks:
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
    try:
        parsed = feedparser.parse(
            content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except (ValueError, LookupError) as exc:
        # feedparser's encoding sniffing raises on some malformed XML declarations
        # (undecodable bytes or a NUL in the declared encoding, an unknown codec)
        raise FeedFetchError(label, "unreadable document: " + " ".join(str(exc).split())) from None
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

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
    """Download a feed with the guarded client (conditionally, if `state` allows) and parse it.

    Args:
        url: an http(s) feed URL; any other scheme is refused.
        state: the previous state of this URL; its ETag / Last-Modified make the GET
            conditional. A state for another URL is ignored.
        client, transport, timeout, max_bytes, retries, backoff, sleep: as for
            :func:`bot.sources.fetch.fetch`.
        clock: the current aware time (tests pin it).

    Returns:
        The result with the new state; a 304 gives `not_modified` and no feed.

    Raises:
        SourceError: (a FeedFetchError) one line naming `url` and the reason.
    """
    previous = state if state is not None and state.url == url else None
    try:
        download = fetch(
            url,
            client=client,
            transport=transport,
            accept=FEED_ACCEPT,
            etag=previous.etag if previous else None,
            last_modified=previous.last_modified if previous else None,
            timeout=timeout,
            max_bytes=max_bytes,
            retries=retries,
            backoff=backoff,
            sleep=sleep,
        )
    except FetchError as exc:
        raise FeedFetchError(url, exc.reason, attempts=exc.attempts) from exc
    return fetch_result(url, download, previous, clock())


def fetch_result(
    url: str, download: Download, previous: FeedState | None, now: datetime
) -> FetchResult:
    """A download of `url` as a FetchResult: parsed (unless a 304) with the new state.

    Raises:
        SourceError: (a FeedFetchError) the body is not a feed.
    """
    moved_to = download.moved_to
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
            attempts=download.attempts,
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
        attempts=download.attempts,
        moved_to=moved_to,
    )
