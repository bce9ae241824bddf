"""Fuzz targets: hostile bytes into the parsers users and feeds reach, with the invariants each
must keep. benchmarks/fuzz.py drives them with atheris; tests/test_fuzz_regressions.py replays
every input that once broke one (tests/fixtures/fuzz/<target>/).

A target takes raw bytes and returns normally when the code under test behaved: it parsed the
input or refused it with the error it documents. Any other exception, or an AssertionError
from a broken invariant, is a finding.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from pydantic import ValidationError
from telegram import InlineKeyboardMarkup, InlineQueryResultArticle

from bot import answer, digest, text
from bot.errors import SourceError
from bot.i18n import languages, translator
from bot.models import Answer, Article, Result
from bot.parsing import ArticleParseError, article_from_json, parse_seed_text
from bot.passages import split_passages
from bot.sources.feeds import parse_feed
from bot.tg import render
from tests.botapi.html import parse_html, utf16_len

MODIFIED = datetime(2024, 9, 12, 8, 30, tzinfo=UTC)  # a seed file's mtime
FETCHED = datetime(2024, 9, 12, 8, 30, tzinfo=UTC)
FEED_URL = "https://news.example/feeds/world.xml"
MAX_MESSAGE = 4096  # UTF-16 units, Telegram's limit on a message's text
MAX_CALLBACK_DATA = 64  # bytes
SEPARATOR = "\x1e"  # splits a render input into its fields (see `render_fields`)
# Timezones a chat may have, the extremes included (UTC+14, UTC-12, half-hour offsets).
ZONES = ("UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kolkata", "America/St_Johns")


def _valid_article(article: Article) -> None:
    """What every parser promises of an Article, and that it splits into passages."""
    assert article.id and article.headline.strip(), article
    assert article.published is None or article.published.tzinfo is not None
    passages = split_passages(article)
    assert passages and all(p.text.strip() for p in passages), article


# ------------------------------------------------------------------------------ seed files


def check_seed(data: bytes) -> None:
    """A seed text file or a JSON lines file: articles and one-line problems, nothing else."""
    content = data.decode("utf-8", errors="replace")
    articles, errors = parse_seed_text(content, modified=MODIFIED, origin="fuzz.txt")
    lines = content.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for article in articles:
        _valid_article(article)
    for error in errors:
        assert 1 <= error.line <= len(lines), (error.line, len(lines))
        assert error.reason and "\n" not in error.reason, error.reason
    for line in content.splitlines():
        _check_json_line(line)


def _check_json_line(line: str) -> None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return  # the loader reports "malformed JSON" for these
    if not isinstance(obj, dict):
        return
    try:
        article = article_from_json(obj, line=1)
    except ArticleParseError as exc:
        assert exc.reason and "\n" not in exc.reason, exc.reason
        return
    _valid_article(article)


# ------------------------------------------------------------------------------ feeds


def check_feed(data: bytes) -> None:
    """RSS/Atom bytes: a Feed of valid, distinct articles, or a SourceError saying why not."""
    try:
        feed = parse_feed(data, url=FEED_URL, fetched_at=FETCHED)
    except SourceError as exc:
        assert str(exc).strip(), "a refusal must say why"
        return
    ids = [article.id for article in feed.articles]
    assert len(ids) == len(set(ids)), ids
    for article in feed.articles:
        _valid_article(article)
        assert article.published is None or article.published <= FETCHED + timedelta(days=1)


# ------------------------------------------------------------------------------ Telegram HTML

_TAGS = frozenset({"b", "i", "u", "s", "code", "pre", "blockquote"})
_TOKEN = re.compile(
    r'<a href="(?P<href>[^"<>]*)">'
    r"|<(?P<close>/?)(?P<tag>[a-z-]+)>"
    r"|&(?:(?P<named>lt|gt|amp|quot)|#(?P<dec>[0-9]{1,7})|#x(?P<hex>[0-9a-fA-F]{1,6}));"
    r"|(?P<bad>[<>&])"
)
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


class BadMarkup(AssertionError):
    """The renderer made something Telegram would refuse or show wrongly."""


def check_telegram_html(markup: str, *, limit: int = MAX_MESSAGE) -> str:
    """Validate `markup` strictly against Telegram's HTML subset; return its visible text.

    Stricter than Telegram: only the tags the renderer may use, written exactly (`<b>`,
    `<a href="...">` with an http(s) URL), every `<`, `>` and `&` of the text escaped, no
    control characters or lone surrogates, proper nesting (no link in a link, nothing in
    code or pre), some visible text, and at most `limit` UTF-16 units of markup (so of text
    too). The test server's parser (Telegram's rules) must accept it and agree on the text.

    Raises:
        BadMarkup: saying what is wrong.
    """
    if not markup.strip():
        raise BadMarkup("empty message")
    if utf16_len(markup) > limit:
        raise BadMarkup(f"{utf16_len(markup)} UTF-16 units of markup, over {limit}")
    stack: list[str] = []
    visible: list[str] = []
    position = 0
    for match in _TOKEN.finditer(markup):
        visible.append(markup[position : match.start()])
        position = match.end()
        if match["bad"]:
            raise BadMarkup(f"unescaped {match['bad']!r} at {match.start()}: {markup!r}")
        if match["href"] is not None:
            _check_href(html.unescape(match["href"]))
            _open(stack, "a")
        elif match["tag"]:
            _tag(stack, match["tag"], closing=bool(match["close"]))
        else:
            visible.append(html.unescape(match[0]))
            code = int(match["dec"] or match["hex"] or "0", 16 if match["hex"] else 10)
            if (match["dec"] or match["hex"]) and not (0 < code <= 0x10FFFF):
                raise BadMarkup(f"bad character reference {match[0]!r}")
    visible.append(markup[position:])
    if stack:
        raise BadMarkup(f"unclosed <{stack[-1]}>")
    shown = "".join(visible)
    if _FORBIDDEN_CHARS.search(shown):
        raise BadMarkup(f"control character or lone surrogate in {shown!r}")
    if not shown.strip():
        raise BadMarkup(f"no visible text in {markup!r}")
    parsed, _ = parse_html(markup)  # TelegramHTMLError (a ValueError) if Telegram refuses
    if parsed != shown:
        raise BadMarkup(f"Telegram reads {parsed!r}, we meant {shown!r}")
    return shown


def _check_href(url: str) -> None:
    if not re.fullmatch(r"https?://\S+", url) or _FORBIDDEN_CHARS.search(url):
        raise BadMarkup(f"link to {url!r}")


def _open(stack: list[str], tag: str) -> None:
    if stack and stack[-1] in ("code", "pre"):
        raise BadMarkup(f"<{tag}> inside <{stack[-1]}>")
    if tag == "a" and "a" in stack:
        raise BadMarkup("a link inside a link")
    stack.append(tag)


def _tag(stack: list[str], tag: str, *, closing: bool) -> None:
    if tag not in _TAGS and not (closing and tag == "a"):
        raise BadMarkup(f"tag <{'/' if closing else ''}{tag}> is not in Telegram's subset")
    if not closing:
        _open(stack, tag)
    elif not stack or stack.pop() != tag:
        raise BadMarkup(f"</{tag}> closes nothing open")


def check_keyboard(markup: InlineKeyboardMarkup | None) -> None:
    """Buttons Telegram accepts: a label, one action, data of 1-64 bytes, an http(s) URL."""
    if markup is None:
        return
    for row in markup.inline_keyboard:
        for button in row:
            if not button.text.strip() or _FORBIDDEN_CHARS.search(button.text):
                raise BadMarkup(f"button label {button.text!r}")
            if button.callback_data is not None:
                size = len(str(button.callback_data).encode())
                if not 1 <= size <= MAX_CALLBACK_DATA:
                    raise BadMarkup(f"callback data of {size} bytes")
                if render.parse_press(str(button.callback_data)) is None:
                    raise BadMarkup(f"callback data {button.callback_data!r} does not decode")
            elif button.url is not None:
                _check_href(button.url)
            else:
                raise BadMarkup(f"button {button.text!r} does nothing")


def check_reply(reply: render.Reply, *, one_message: bool) -> None:
    """A reply as the handlers send it: split into parts, each valid; one part if promised."""
    check_keyboard(reply.keyboard)
    parts = render.split(reply.html)
    if one_message and len(parts) != 1:
        raise BadMarkup(f"promised one message, made {len(parts)}")
    if not parts:
        raise BadMarkup(f"nothing to send from {reply.html!r}")
    for part in parts:
        check_telegram_html(part)


def check_inline(results: Iterable[InlineQueryResultArticle]) -> None:
    ids = []
    for result in results:
        ids.append(result.id)
        if not 1 <= len(result.id.encode()) <= 64:
            raise BadMarkup(f"inline result id {result.id!r}")
        if not result.title.strip() or _FORBIDDEN_CHARS.search(result.title):
            raise BadMarkup(f"inline result title {result.title!r}")
        content = result.input_message_content
        check_telegram_html(content.message_text)  # type: ignore[union-attr]
        check_keyboard(result.reply_markup)
    if len(ids) != len(set(ids)):
        raise BadMarkup(f"duplicate inline result ids {ids}")


def render_fields(data: bytes) -> list[str]:
    """The fields of a render input: text split at SEPARATOR, at least 8 of them."""
    try:  # lone surrogates as JSON's "\ud800" makes them, else the replacement character
        fields = data.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        fields = data.decode("utf-8", errors="replace")
    return [*fields.split(SEPARATOR), *[""] * 8]


def _numbers(field: str) -> list[int]:
    return [ord(char) for char in field] or [0]


def _published(numbers: list[int]) -> datetime | None:
    """A publication time: none, ordinary, or at either end of what datetime holds."""
    choice = numbers[0] % 5
    if choice == 0:
        return None
    if choice == 1:
        return datetime.max.replace(tzinfo=UTC) - timedelta(minutes=numbers[-1] % 600)
    if choice == 2:
        return datetime.min.replace(tzinfo=UTC) + timedelta(minutes=numbers[-1] % 600)
    return MODIFIED - timedelta(minutes=sum(numbers) % 100_000)


def check_render(data: bytes) -> None:
    """Any article text or question in, valid Telegram HTML and buttons out.

    Fields (see `render_fields`): headline, excerpt, source, url, question, body (lines are
    paragraphs), a user's first name, and numbers (each character's code point) choosing
    marks, rank, date and timezone. Two paths: the article through excerpt and answer as the
    bot does, and a Result made directly (so excerpts and marks the core never makes).
    """
    headline, excerpt, source, url, question, body, name, numbers_field = render_fields(data)[:8]
    numbers = _numbers(numbers_field)
    zone = ZONES[numbers[0] % len(ZONES)]
    published = _published(numbers)
    marks = tuple(zip(numbers[1::2], numbers[2::2], strict=False))

    codes = languages()  # every catalogue: English and Arabic
    tr = translator(codes[numbers[-1] % len(codes)])
    card_id = f"c{numbers[0]:x}"
    about = question or None  # the headline a follow-up leaned on
    check_reply(render.start(name or None, tr=tr), one_message=True)
    check_reply(render.schedule_error(question or "?", tr=tr), one_message=True)

    results = []
    article = _article(headline, body, source, url, published)
    if article is not None:
        snippet, found = answer.excerpt(article, numbers[-1] % 4, text.term_set(question))
        results.append(_result(article.id, headline, snippet, found, source, url, published))
        check_reply(
            render.headlines([article] * (1 + numbers[0] % 3), zone=zone, tr=tr),
            one_message=False,
        )
        day = date(2024, 9, 12)
        many = [article] * (1 + numbers[-1] % 20)
        check_reply(render.digest(digest.compose(1, day, many), tr=tr), one_message=False)
    direct = _result("fuzz:" + str(numbers[0]), headline, excerpt, marks, source, url, published)
    if direct is not None:
        results.append(direct)
    for result in filter(None, results):
        total = 1 + numbers[-1] % 5
        rank = numbers[0] % total
        ranked_card = render.card(
            result, rank=rank, total=total, zone=zone, card_id=card_id, about=about, tr=tr
        )
        check_reply(ranked_card, one_message=True)
        check_reply(render.card(result, zone=zone, tr=tr), one_message=True)
        ranked = [
            result.model_copy(update={"article_id": f"{n}{result.article_id}"})
            for n in range(total)
        ]
        found_answer = Answer(question=question, found=True, results=ranked)
        check_reply(render.answer(found_answer, rank=rank, zone=zone, tr=tr), one_message=True)
        check_reply(
            render.nothing_found(ranked, card_id=card_id, about=about, tr=tr), one_message=True
        )
        check_inline(render.inline_results(ranked, zone=zone, tr=tr))


def _article(
    headline: str, body: str, source: str, url: str, published: datetime | None
) -> Article | None:
    try:
        return Article(
            id="fuzz",
            headline=headline,
            body=[line for line in body.split("\n") if line.strip()],
            source=source or None,
            url=url or None,
            published=published,
        )
    except ValidationError:
        return None


def _result(
    article_id: str,
    headline: str,
    excerpt: str,
    marks: Iterable[tuple[int, int]],
    source: str,
    url: str,
    published: datetime | None,
) -> Result | None:
    try:
        return Result(
            article_id=article_id,
            headline=headline,
            excerpt=excerpt,
            marks=tuple(marks),
            published=published,
            url=url or None,
            source=source or None,
            score=0.5,
        )
    except ValidationError:
        return None


TARGETS: dict[str, Callable[[bytes], None]] = {
    "seed": check_seed,
    "feed": check_feed,
    "render": check_render,
}
