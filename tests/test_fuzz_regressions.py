"""Every input a fuzzer once broke a parser with stays fixed; the fuzz checks themselves can fail.

Inputs live in tests/fixtures/fuzz/<target>/ (benchmarks/fuzz.py finds new ones); each is
replayed through the same check the fuzzer ran (tests/fuzzing.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.models import Result
from bot.parsing import ArticleParseError, article_from_json, parse_seed_text
from bot.sources.feeds import html_to_blocks, parse_feed
from bot.tg import render
from tests.botapi import TelegramHTMLError
from tests.fuzzing import MODIFIED, TARGETS, BadMarkup, check_telegram_html

FIXTURES = Path(__file__).parent / "fixtures"
KEPT = sorted(p for p in (FIXTURES / "fuzz").glob("*/*") if not p.name.startswith("."))
CORPUS = sorted((FIXTURES / "seeds").glob("*.*")) + sorted((FIXTURES / "feeds").glob("*.xml"))


@pytest.mark.parametrize("path", KEPT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_kept_fuzz_input_passes_its_check(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_the_fixture_corpus_passes_the_checks(path: Path) -> None:
    target = "feed" if path.suffix == ".xml" else "seed"
    TARGETS[target](path.read_bytes())


def test_there_are_kept_inputs_for_every_target() -> None:
    assert {p.parent.name for p in KEPT} == set(TARGETS)


# ------------------------------------------------------------------------ what was fixed


def test_a_feed_item_link_with_a_malformed_host_is_no_link() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
        b"<link>http://[news.example/a</link><description>Text.</description></item>"
        b"</channel></rss>",
        url="https://news.example/feed.xml",
        fetched_at=MODIFIED,
    )
    (article,) = feed.articles
    assert article.headline == "A" and article.url is None


@pytest.mark.parametrize("encoding", [b"UT\xad\xadF-8", b"UTF\x00-8"])
def test_a_feed_with_an_undecodable_encoding_name_is_refused_in_one_line(encoding: bytes) -> None:
    document = b'<?xml version="1.0" encoding="' + encoding + b'"?><rss version="2.0"></rss>'
    with pytest.raises(SourceError, match="unreadable document") as caught:
        parse_feed(document, url="https://news.example/feed.xml", fetched_at=MODIFIED)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("when", ["99999 years ago", "9999999999999999999999 days ago"])
def test_a_relative_seed_date_out_of_range_is_an_error_on_its_line(when: str) -> None:
    text = f"Headline here\n\nUpdated {when}\n\nFollow\n\nHeadline here\n\nBody text.\n"
    articles, errors = parse_seed_text(text, modified=MODIFIED, origin="x.txt")
    assert articles == []
    assert [(e.line, "out of range" in e.reason) for e in errors] == [(3, True)]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00"])
def test_a_json_date_out_of_range_is_an_article_error(when: str) -> None:
    with pytest.raises(ArticleParseError, match="out of range"):
        article_from_json({"headline": "x", "body": "y", "published": when}, line=4)


def _result(**changes: object) -> Result:
    fields: dict[str, object] = {"article_id": "a1", "headline": "H", "excerpt": "", "score": 0.5}
    return Result.model_validate(fields | changes)


def test_a_date_at_the_end_of_the_calendar_shows_in_utc() -> None:
    last = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
    assert render.date(last, "Pacific/Kiritimati") == "31 Dec 9999, 23:30 UTC"
    check_telegram_html(render.card(_result(published=last), zone="Pacific/Kiritimati").html)


def test_a_headline_with_nothing_printable_is_shown_as_untitled() -> None:
    shown = _result(headline="\x01\x02", excerpt="")
    assert check_telegram_html(render.card(shown).html) == render.UNTITLED
    (inline,) = render.inline_results([shown])
    assert inline.title == render.UNTITLED


def test_a_card_with_a_hostile_excerpt_source_and_url_still_fits_one_message() -> None:
    hostile = _result(
        headline="&" * 1000,
        excerpt="<&>" * 3000,
        marks=tuple((n, n + 1) for n in range(0, 9000, 2)),
        source="&" * 5000,
        url="https://news.example/?" + "&" * 3000,
    )
    reply = render.card(hostile, rank=0, total=2)
    assert render.split(reply.html) == [reply.html]
    shown = check_telegram_html(reply.html)
    assert "Result 1 of 2" in shown and "<&>" in shown  # the excerpt was cut, not dropped


# ------------------------------------------------------------------------ the validator bites


@pytest.mark.parametrize(
    "markup",
    [
        "",
        "  ",
        "a & b",
        "1 < 2",
        "<b>bold",
        "<b>x</i>",
        "<p>x</p>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="https://a.example"><a href="https://b.example">x</a></a>',
        "<code><b>x</b></code>",
        "bell\x07",
        "x" * 4097,
        "<b></b>",
        "&#0;",
    ],
)
def test_the_strict_validator_refuses_what_telegram_would(markup: str) -> None:
    with pytest.raises((BadMarkup, TelegramHTMLError)):
        check_telegram_html(markup)


def test_the_strict_validator_returns_the_visible_text() -> None:
    markup = '<a href="https://a.example/?x=1&amp;y=2"><b>R&amp;D</b></a>\n<i>1 &lt; 2</i> &#233;'
    assert check_telegram_html(markup) == "R&D\n1 < 2 é"


@pytest.mark.parametrize("url", ["http://[news.example/a", "https://news\x00.example/a"])
def test_a_malformed_or_unprintable_url_is_neither_linked_nor_a_button(url: str) -> None:
    reply = render.card(_result(headline="H", excerpt="Text.", url=url), card_id="c1")
    assert "<a " not in reply.html
    assert reply.keyboard is not None
    assert all(b.url is None for row in reply.keyboard.inline_keyboard for b in row)


def test_a_malformed_marked_section_in_item_html_is_read_as_text() -> None:
    blocks = html_to_blocks("<p>Before.</p><![CDA3A[odd]]><p>After.</p>")
    assert blocks.paragraphs == ["Before.", "<![CDA3A[odd]]>", "After."]
