"""Raw article text and records -> validated `Article` values (pure functions, no I/O).

Two inputs are understood:

- the seed layout (`parse_seed_text`): several articles back to back in one text file, each
  with a header of headline, optional photo caption, optional `Short Url`, `Updated <date>`,
  `Follow` and the headline again, then optional `•` summary bullets and body paragraphs;
- JSON records (`article_from_json`): one object per JSON line, as in `articles.jsonl` or an
  export of `Article.model_dump(mode="json")`.

Article ids are derived from content, never from a file name or position, so ingesting the
same article again updates it instead of duplicating it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from bot.errors import NewsbotError
from bot.models import Article

__all__ = ["ArticleParseError", "SeedParse", "article_from_json", "parse_seed_text"]


class ArticleParseError(NewsbotError):
    """One article cannot be parsed.

    `line` is the 1-based line in the input file where the article (or the faulty part of it)
    starts; `reason` is a one-line explanation; `origin` names the input when known.
    """

    def __init__(self, line: int, reason: str, *, origin: str = "") -> None:
        self.line = line
        self.reason = reason
        self.origin = origin
        where = f"{origin}:{line}" if origin else f"line {line}"
        super().__init__(f"{where}: {reason}")


class SeedParse(NamedTuple):
    """The outcome of one seed text: the articles that parsed, one error per part that did not.

    Both lists are in file order. A text with no articles at all gives two empty lists.
    """

    articles: list[Article]
    errors: list[ArticleParseError]


# -- shared text helpers ----------------------------------------------------------------------

_FOLD = str.maketrans({"‘": "'", "’": "'", "‛": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"'})
_HEADLINE_MAX = 120


def _clean(text: str) -> str:
    """Collapse runs of whitespace (NBSP and tabs included) to one space and strip."""
    return " ".join(text.split())


def _normalise(text: str) -> str:
    """The comparison form of a text: NFKC, straight quotes, case-folded, single spaces."""
    return _clean(unicodedata.normalize("NFKC", text).translate(_FOLD).casefold())


def _stable_id(*parts: str) -> str:
    """20 hex digits of SHA-256 over the normalised parts: stable across re-ingests."""
    joined = "\x1f".join(_normalise(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:20]


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(item) for item in error["loc"]) or "article"
        parts.append(f"{field}: {error['msg']}")
    return "invalid article: " + "; ".join(parts)


# -- datelines ---------------------------------------------------------------------------------

# Paragraphs that open many scraped bodies but say nothing about the article.
_BOILERPLATE = re.compile(
    r"(?:\d+\.\s*)?How relevant is this ad to you|Video player was slow|Sign up for |"
    r"Editor[’']s [Nn]ote|This story is part of |A version of this story",
)

# "CNN —", "New York CNN Business —", "LOUISVILLE, Ky. —": a whole paragraph that is a dateline.
_STANDALONE_DATELINE = re.compile(r"(?P<dateline>[^!?\n]{0,60}?)\s*[—–]")
# "TEHRAN: ", "NEW YORK: ", "LONDON (Reuters): ", "WASHINGTON (CNN) — ", "KYIV, Ukraine — ".
_UPPER_PLACE = r"[A-Z][A-Z'’.\-/]+(?:\s[A-Z][A-Z'’.\-/]*)*"
_REGION = r"(?:,\s[A-Z][A-Za-z.]{1,15}(?:\s[A-Z][A-Za-z.]{1,15})?)?"
_UPPER_DATELINE = re.compile(
    rf"(?P<dateline>{_UPPER_PLACE}{_REGION}(?:\s*\([^()\n]{{1,40}}\))?)"
    r"(?::|\s*[—–]|\s+--?)\s+(?=\S)"
)
# "(CNN) President ...", "New York (CNN Business) The ...": only with a known agency, since a
# mixed-case name in parentheses is otherwise ordinary prose ("Apple (AAPL) shares ...").
_AGENCIES = r"CNN(?:\s?[A-Z][a-z]+)?|Reuters|AP|AFP|Bloomberg|UPI|dpa|Xinhua|Arab News"
_AGENCY_DATELINE = re.compile(
    rf"(?P<dateline>(?:[A-Z][\w.’'-]*(?:,?\s[A-Z][\w.’'-]*){{0,3}}\s)?\((?:{_AGENCIES})\))"
    r"(?:\s*[:—–]|\s+--?)?\s+(?=\S)"
)
_DATELINE_SEARCH = 2  # boilerplate paragraphs skipped to reach the dateline
# All-caps labels that look like a place but are not one.
_NOT_PLACES = frozenset(
    {"BREAKING", "UPDATE", "UPDATED", "WATCH", "LIVE", "EXCLUSIVE", "ANALYSIS", "OPINION"}
    | {"NOTE", "CORRECTION", "FILE", "PHOTO", "PHOTOS", "VIDEO", "READ", "FACT", "CHECK"}
    | {"EDITOR'S", "EDITOR’S", "EDITORS"}
)


def _split_dateline(paragraphs: Sequence[str]) -> tuple[str | None, list[str]]:
    """Find a dateline at the start of the body; return it and the paragraphs without it.

    The dateline is looked for in the first paragraph that is not boilerplate (a newsletter
    sign-up or editor's note may come first). It is cut from the text ("TEHRAN: Iran's ..."
    -> "TEHRAN", "Iran's ..."); a paragraph that is only a dateline ("CNN —") is dropped.
    Returns (None, paragraphs) when there is none.
    """
    body = list(paragraphs)
    index = next((i for i, text in enumerate(body) if not _BOILERPLATE.match(text)), None)
    if index is None or index > _DATELINE_SEARCH:
        return None, body
    first, after = body[index], body[index + 1 :]
    standalone = _STANDALONE_DATELINE.fullmatch(first)
    if standalone and after:
        return _tidy_dateline(standalone["dateline"]), body[:index] + after
    for pattern in (_UPPER_DATELINE, _AGENCY_DATELINE):
        match = pattern.match(first)
        if match and match["dateline"].split()[0].strip(":") not in _NOT_PLACES:
            remainder = first[match.end() :].strip()
            kept = [remainder] if remainder else []
            return _tidy_dateline(match["dateline"]), body[:index] + kept + after
    return None, body


def _tidy_dateline(text: str) -> str | None:
    text = _clean(text)
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1].strip()
    return text or None


# -- headlines from text or URLs ---------------------------------------------------------------

# A sentence ends at . ! or ? (maybe closed by a quote) before a capital, digit or opening quote.
_SENTENCE_END = re.compile(r"[.!?][\"”’]?(?=\s+[\"“‘(]?[A-Z0-9])")
_MIN_SENTENCE = 20  # characters: "1. How ..." or "Dr. Smith" do not end a sentence
# Words whose trailing period is not a sentence end ("U.S." is caught by its capital).
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "no", "v", "vs", "gov", "sen", "rep", "gen"}
    | {"lt", "col", "capt", "sgt", "maj", "adm", "prof", "inc", "corp", "co", "ltd", "mt", "ft"}
    | {"jan", "feb", "aug", "sept", "oct", "nov", "dec", "approx", "est", "dept"}
)
_SLUG_SKIP = frozenset({"index", "default", "story", "article", "amp", "live-news"})
_SLUG_EXTENSION = re.compile(r"\.(?:s?html?|php|aspx?|jsp)$", re.IGNORECASE)


def _shorten(text: str, limit: int = _HEADLINE_MAX) -> str:
    """`text` cut at a word boundary to at most `limit` characters, "…" marking a cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-—–") + "…"


def _headline_from_text(paragraphs: Sequence[str]) -> str | None:
    """The first sentence of the first informative paragraph, shortened; None if none."""
    for paragraph in paragraphs:
        text = _clean(paragraph)
        if text and not _BOILERPLATE.match(text):
            sentence = _first_sentence(text)
            if sentence.endswith(".") and not sentence.endswith(".."):
                sentence = sentence[:-1]
            return _shorten(sentence)
    return None


def _first_sentence(text: str) -> str:
    for end in _SENTENCE_END.finditer(text):
        before = text[: end.start()]
        last_word = before.rsplit(None, 1)[-1] if before.strip() else ""
        if len(before) < _MIN_SENTENCE or last_word[-1:].isupper():
            continue
        if text[end.start()] == "." and last_word.casefold() in _ABBREVIATIONS:
            continue
        return text[: end.end()]
    return text


def _headline_from_url(url: str) -> str | None:
    """The URL's last meaningful path segment made readable ("squid-game-season-2" ->
    "Squid game season 2"); None when the path has no such segment."""
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    for segment in reversed(segments):
        stem = _SLUG_EXTENSION.sub("", unquote(segment))
        if stem.casefold() in _SLUG_SKIP or not any(char.isalpha() for char in stem):
            continue
        words = _clean(re.sub(r"[-_+]+", " ", stem))
        if words:
            return _shorten(words[:1].upper() + words[1:])
    return None


# -- subheadings -------------------------------------------------------------------------------

_SUBHEADING_MAX_CHARS = 80
_SUBHEADING_MAX_WORDS = 12
_SENTENCE_PUNCTUATION = tuple(".!?,;:…\"”’'")


def _is_subheading_like(paragraph: str) -> bool:
    return (
        len(paragraph) <= _SUBHEADING_MAX_CHARS
        and len(paragraph.split()) <= _SUBHEADING_MAX_WORDS
        and paragraph[:1].isalnum()
        and paragraph[:1] == paragraph[:1].upper()
        and not paragraph.endswith(_SENTENCE_PUNCTUATION)
    )


def _find_subheadings(body: Sequence[str]) -> list[str]:
    """Body paragraphs that are subheadings: short, capitalised, without final punctuation,
    neither the first paragraph nor the last (a subheading introduces text after it)."""
    return [
        paragraph
        for index, paragraph in enumerate(body)
        if 0 < index < len(body) - 1 and _is_subheading_like(paragraph)
    ]


# -- dates -------------------------------------------------------------------------------------

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_MONTHS |= {name[:3]: number for name, number in _MONTHS.items()} | {"sept": 9}

_TIME = r"(?:,?\s+(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:\s*(?:UTC|GMT))?)?"
_DAY_MONTH_YEAR = re.compile(
    rf"(?P<day>\d{{1,2}})\s+(?P<month>[A-Za-z]+)\.?,?\s+(?P<year>\d{{4}}){_TIME}"
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}}){_TIME}"
)
_ISO_DAY = re.compile(rf"(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}}){_TIME}")
_RELATIVE = re.compile(
    r"(?P<count>\d+|an?|one)\s+"
    r"(?P<unit>sec|second|min|minute|hr|hour|day|week|month|year)s?\s+ago",
    re.IGNORECASE,
)
_UNITS = {
    "sec": timedelta(seconds=1),
    "second": timedelta(seconds=1),
    "min": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "hr": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),  # the layout gives no calendar, so approximate
    "year": timedelta(days=365),
}


class _SeedDate(NamedTuple):
    when: datetime
    relative: bool


def _parse_seed_date(text: str, modified: datetime) -> _SeedDate:
    """Resolve the text after `Updated`: absolute dates as UTC, relative ones against
    `modified`. Raises ValueError for a text in no known form."""
    text = _clean(text)
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR, _ISO_DAY):
        match = pattern.fullmatch(text)
        if match:
            return _SeedDate(_absolute_date(match), relative=False)
    lowered = text.casefold()
    if lowered == "just now":
        return _SeedDate(modified, relative=True)
    if lowered == "yesterday":
        return _SeedDate(modified - timedelta(days=1), relative=True)
    relative = _RELATIVE.fullmatch(text)
    if relative:
        count = relative["count"]
        amount = int(count) if count.isdigit() else 1
        try:
            return _SeedDate(modified - amount * _UNITS[relative["unit"].lower()], relative=True)
        except OverflowError:  # "99999 years ago" is before year 1
            raise ValueError(f"date out of range {text!r}") from None
    raise ValueError(f"unrecognised date {text!r}")


def _absolute_date(match: re.Match[str]) -> datetime:
    month_text = match["month"]
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text.casefold())
    if month is None:
        raise ValueError(f"unknown month {month_text!r}")
    hour, minute = int(match["hour"] or 0), int(match["minute"] or 0)
    return datetime(int(match["year"]), month, int(match["day"]), hour, minute, tzinfo=UTC)


# -- the seed layout ---------------------------------------------------------------------------

_UPDATED = re.compile(r"(?:Updated|Published)\s+(?P<when>\S.*)")
_BULLET = re.compile(r"[•·▪●‣◦*]\s*(?P<text>\S.*)")
_URL = re.compile(r"https?://\S+")
_HEADER_EXTRA_LINES = 4  # caption, `Short Url`, a URL: lines allowed between headline and date
_REPEAT_WINDOW = 4  # non-blank lines within which a repeated line marks an article header


@dataclass(frozen=True)
class _Header:
    """Where one article's header lies, as 0-based line indexes."""

    headline: int  # the first headline line
    updated: int  # the `Updated <date>` line
    body: int  # the first line after the repeated headline


def parse_seed_text(text: str, *, modified: datetime, origin: str) -> SeedParse:
    """Parse a seed text holding one or more articles back to back.

    An article starts at a headline line followed, within a few lines, by `Updated <date>`,
    `Follow` and the same headline again; everything up to the next such header is that
    article's summary bullets and body. Text that looks like a header but lacks part of it
    (say `Follow`) is reported as an error and kept out of the neighbouring articles.

    Args:
        text: the whole file; CRLF or CR line ends and a leading BOM are accepted.
        modified: aware time the text was last modified, for relative dates ("2 hours ago").
        origin: where the text came from (a path), used in error messages only.

    Returns:
        `SeedParse(articles, errors)`: every article that parsed, and one
        `ArticleParseError` (with the 1-based line) for each part that did not.

    Raises:
        ValueError: `modified` is naive.
    """
    if modified.tzinfo is None:
        raise ValueError("modified must be timezone-aware")
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    headers = _find_headers(lines)
    articles: list[Article] = []
    errors: list[ArticleParseError] = []
    first = headers[0].headline if headers else len(lines)
    errors.extend(_stray_text(lines, 0, first, origin))
    for index, header in enumerate(headers):
        end = headers[index + 1].headline if index + 1 < len(headers) else len(lines)
        broken = _first_header_fragment(lines, header.body, end)
        if broken is not None:
            errors.extend(_stray_text(lines, broken, end, origin))
            end = broken
        try:
            articles.append(_seed_article(lines, header, end, modified))
        except ArticleParseError as exc:
            errors.append(ArticleParseError(exc.line, exc.reason, origin=origin))
    return SeedParse(articles, sorted(errors, key=lambda error: error.line))


def _next_filled(lines: Sequence[str], start: int) -> int | None:
    for index in range(start, len(lines)):
        if lines[index].strip():
            return index
    return None


def _find_headers(lines: Sequence[str]) -> list[_Header]:
    headers: list[_Header] = []
    floor = 0  # lines before it belong to an earlier header
    for updated in range(len(lines)):
        if updated < floor or not _UPDATED.fullmatch(lines[updated].strip()):
            continue
        follow = _next_filled(lines, updated + 1)
        if follow is None or lines[follow].strip().casefold() != "follow":
            continue
        repeated = _next_filled(lines, follow + 1)
        if repeated is None:
            continue
        headline = _headline_above(lines, updated, _normalise(lines[repeated]), floor)
        if headline is None:
            continue
        headers.append(_Header(headline=headline, updated=updated, body=repeated + 1))
        floor = repeated + 1
    return headers


def _headline_above(lines: Sequence[str], updated: int, wanted: str, floor: int) -> int | None:
    """The line above `updated` equal to the repeated headline, within the header window."""
    others = 0
    for index in range(updated - 1, floor - 1, -1):
        if not lines[index].strip():
            continue
        if _normalise(lines[index]) == wanted:
            return index
        others += 1
        if others > _HEADER_EXTRA_LINES:
            return None
    return None


def _is_header_line(line: str) -> bool:
    """`Follow`, `Short Url`, or `Updated` with a date we read (not "Updated guidance ...")."""
    text = _clean(line)
    if text.casefold() in {"follow", "short url"}:
        return True
    updated = _UPDATED.fullmatch(text)
    if updated is None:
        return False
    try:
        _parse_seed_date(updated["when"], datetime.now(UTC))
    except ValueError:
        return False
    return True


def _first_header_fragment(lines: Sequence[str], start: int, end: int) -> int | None:
    """The first line of a damaged article header inside [start, end), or None.

    A header fragment is a `Follow`, `Short Url` or `Updated <date>` line, or a short line
    repeated within a few lines (a headline and its repeat without the lines between); the
    fragment is taken to begin at its headline, found by walking back to the paragraph
    group before it.
    """
    for index in range(start, end):
        line = lines[index]
        if not line.strip():
            continue
        if _is_header_line(line):
            return _fragment_start(lines, index, start)
        if _repeats_soon(lines, index, end):
            return index
    return None


def _repeats_soon(lines: Sequence[str], index: int, end: int) -> bool:
    text = _clean(lines[index])
    if len(text) > 150 or text.endswith(tuple(".!?")):
        return False
    wanted, seen = _normalise(text), 0
    for later in range(index + 1, end):
        if not lines[later].strip():
            continue
        if _normalise(lines[later]) == wanted:
            return True
        seen += 1
        if seen >= _REPEAT_WINDOW:
            return False
    return False


def _fragment_start(lines: Sequence[str], marker: int, floor: int) -> int:
    """Walk back from a header line over its group (caption, `Short Url`) and, past a blank
    line, over a one-line group (the headline)."""
    start = marker
    while start - 1 >= floor and lines[start - 1].strip() and marker - start < 3:
        start -= 1
    above = start - 1
    while above >= floor and not lines[above].strip():
        above -= 1
    single_line_group = above >= floor and (above == floor or not lines[above - 1].strip())
    if above < start - 1 and single_line_group:
        return above
    return start


def _stray_text(lines: Sequence[str], start: int, end: int, origin: str) -> list[ArticleParseError]:
    """One error for non-blank text in [start, end) that belongs to no complete header."""
    first = _next_filled(lines, start)
    if first is None or first >= end:
        return []
    text = _shorten(_clean(lines[first]), 60)
    if any(_is_header_line(line) for line in lines[first:end]) or _repeats_soon(lines, first, end):
        reason = (
            f"incomplete article header at {text!r}: expected the headline, "
            "'Updated <date>', 'Follow' and the headline again"
        )
    else:
        reason = f"text outside any article at {text!r}: no article header before it"
    return [ArticleParseError(first + 1, reason, origin=origin)]


def _seed_article(lines: Sequence[str], header: _Header, end: int, modified: datetime) -> Article:
    headline = _clean(lines[header.headline])
    caption_parts: list[str] = []
    url: str | None = None
    for line in lines[header.headline + 1 : header.updated]:
        text = _clean(line)
        if not text or text.casefold() == "short url":
            continue
        if _URL.fullmatch(text):
            url = text
        else:
            caption_parts.append(text)
    when = _UPDATED.fullmatch(lines[header.updated].strip())
    assert when is not None  # _find_headers matched this line
    try:
        published = _parse_seed_date(when["when"], modified)
    except ValueError as exc:
        raise ArticleParseError(header.updated + 1, str(exc)) from None

    summary, paragraphs = _split_bullets([_clean(line) for line in lines[header.body : end]])
    if not paragraphs:
        raise ArticleParseError(header.headline + 1, "article has no body paragraphs")
    dateline, body = _split_dateline(paragraphs)
    # Not the date: a relative one moves with the file's mtime, and the same story re-crawled
    # later shows an absolute date instead; headline and lead name it either way.
    article_id = _stable_id(headline, paragraphs[0])
    try:
        return Article(
            id=article_id,
            headline=headline,
            published=published.when,
            summary=summary,
            dateline=dateline,
            body=body,
            subheadings=_find_subheadings(body),
            caption=" ".join(caption_parts) or None,
            url=url,
        )
    except ValidationError as exc:
        raise ArticleParseError(header.headline + 1, _validation_reason(exc)) from None


def _split_bullets(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Leading `•` bullets (the summary) and the paragraphs after them; blanks dropped."""
    summary: list[str] = []
    paragraphs: list[str] = []
    for text in texts:
        if not text:
            continue
        bullet = _BULLET.fullmatch(text) if not paragraphs else None
        if bullet:
            summary.append(bullet["text"])
        else:
            paragraphs.append(text)
    return summary, paragraphs


# -- JSON records ------------------------------------------------------------------------------


def article_from_json(obj: Mapping[str, object], *, line: int) -> Article:
    """Build an article from one JSON object.

    Keys: `headline`, `body` (text with paragraphs on separate lines, or a list of
    paragraphs), `published` ("YYYY-MM-DD" or an ISO datetime; naive means UTC), and
    optionally `id`, `url`, `summary`, `source`, plus every other `Article` field, so an
    export of `Article.model_dump(mode="json")` reads back equal. Unknown keys are ignored.

    A given `id` is kept; otherwise it is a hash of the URL (fragment dropped), or of
    headline and body. A leading dateline ("CNN —", "WASHINGTON (CNN) —", "TEHRAN: ") is
    moved out of the body unless the object has a `dateline` key. An empty headline becomes
    the body's first sentence, else the URL's slug made readable.

    Args:
        obj: the decoded JSON object.
        line: its 1-based line in the input, for the error.

    Raises:
        ArticleParseError: a field has the wrong type or value, or nothing can serve as a
            headline (no headline, body, summary or URL).
    """
    try:
        return _article_from_record(obj)
    except ValidationError as exc:
        raise ArticleParseError(line, _validation_reason(exc)) from None
    except ValueError as exc:
        raise ArticleParseError(line, str(exc)) from None


def _article_from_record(obj: Mapping[str, object]) -> Article:
    url = _optional_text(obj, "url")
    summary = _text_list(obj, "summary")
    paragraphs = _paragraphs(obj.get("body"))
    if "dateline" in obj:
        dateline, body = _optional_text(obj, "dateline"), paragraphs
    else:
        dateline, body = _split_dateline(paragraphs)
    headline = (
        _optional_text(obj, "headline")
        or _headline_from_text(body)
        or _headline_from_text(summary)
        or (_headline_from_url(url) if url else None)
    )
    if headline is None:
        raise ValueError("no headline, and no body, summary or URL to make one from")
    subheadings = _text_list(obj, "subheadings")
    return Article(
        id=_record_id(obj, url, headline, paragraphs),
        headline=headline,
        published=_published(obj.get("published")),
        summary=summary,
        dateline=dateline,
        body=body,
        subheadings=subheadings,
        caption=_optional_text(obj, "caption"),
        source=_optional_text(obj, "source"),
        url=url,
    )


def _record_id(
    obj: Mapping[str, object], url: str | None, headline: str, paragraphs: Sequence[str]
) -> str:
    given = obj.get("id")
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given)
    if given is not None and not isinstance(given, str):
        raise ValueError(f"'id' must be a string, got {type(given).__name__}")
    if given and given.strip():
        return given.strip()
    if url:
        return _stable_id("url", url.split("#", 1)[0])
    return _stable_id(headline, "\n".join(paragraphs))


def _optional_text(obj: Mapping[str, object], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string, got {type(value).__name__}")
    return _clean(value) or None


def _text_list(obj: Mapping[str, object], key: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key!r} must be a list of strings")
    return [text for text in (_clean(item) for item in value) if text]


def _paragraphs(body: object) -> list[str]:
    """Body text split at line breaks (blank lines or not), or a list of paragraphs."""
    if body is None:
        return []
    if isinstance(body, str):
        return [text for text in (_clean(line) for line in body.splitlines()) if text]
    if isinstance(body, list) and all(isinstance(item, str) for item in body):
        return [text for text in (_clean(item) for item in body) if text]
    raise ValueError("'body' must be a string or a list of strings")


def _published(value: object) -> datetime | None:
    """An aware UTC datetime from "YYYY-MM-DD" or ISO text (naive means UTC), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'published' is not an ISO date: {value!r}") from None
    else:
        raise ValueError(f"'published' must be a string, got {type(value).__name__}")
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+01:00" is before year 1 in UTC
        raise ValueError(f"'published' is out of range: {value!r}") from None
