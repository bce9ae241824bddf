"""The renderer makes valid Telegram HTML, safe buttons and message-sized parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from telegram import InlineKeyboardMarkup

from bot.models import Answer, Article, Card, Result
from bot.tg import render
from tests.botapi import parse_html, utf16_len

ARTICLE_ID = "a" * 40  # the longest ids the store is expected to make
CARD_ID = "Zx8_-q3A"  # what bot.cards.new_card_id makes: 8 URL-safe characters


def result(**changes: object) -> Result:
    fields: dict[str, object] = {
        "article_id": ARTICLE_ID,
        "headline": "Iran’s president visits Iraq on first foreign trip",
        "excerpt": "Iranian President Masoud Pezeshkian visited Iraq on Wednesday.",
        "marks": ((44, 48),),
        "published": datetime(2024, 9, 11, tzinfo=UTC),
        "score": 0.9,
    }
    fields.update(changes)
    return Result.model_validate(fields)


def buttons(markup: InlineKeyboardMarkup | None) -> list[tuple[str, str | None, str | None]]:
    assert markup is not None
    return [(b.text, b.callback_data, b.url) for row in markup.inline_keyboard for b in row]  # type: ignore[misc]


def callback_data(markup: InlineKeyboardMarkup | None) -> list[str]:
    return [data for _, data, _ in buttons(markup) if data]


# ---------------------------------------------------------------------------------- cards


def test_card_is_valid_html_with_bold_headline_date_and_marked_terms() -> None:
    reply = render.card(result(), rank=0, total=3)
    text, entities = parse_html(reply.html)
    assert text.startswith("Iran’s president visits Iraq on first foreign trip\n11 Sep 2024\n")
    assert "Pezeshkian visited Iraq on Wednesday." in text
    bold = [text[e["offset"] : e["offset"] + e["length"]] for e in entities if e["type"] == "bold"]
    assert bold == ["Iran’s president visits Iraq on first foreign trip", "Iraq"]
    assert "Result 1 of 3" in text


def test_card_links_the_headline_and_offers_source_when_a_url_is_known() -> None:
    reply = render.card(result(url="https://news.example/iran?a=1&b=2"), rank=0, total=1)
    _, entities = parse_html(reply.html)
    assert {"type": "text_link", "url": "https://news.example/iran?a=1&b=2"} in [
        {k: e[k] for k in ("type", "url")} for e in entities if e["type"] == "text_link"
    ]
    assert ("Source", None, "https://news.example/iran?a=1&b=2") in buttons(reply.keyboard)


def test_card_without_url_has_no_source_button_or_link() -> None:
    reply = render.card(result(), rank=0, total=1, card_id=CARD_ID)
    assert "<a " not in reply.html
    assert "Source" not in [text for text, _, _ in buttons(reply.keyboard)]


@pytest.mark.parametrize(
    ("rank", "total", "paging"),
    [(0, 1, []), (0, 3, [1]), (1, 3, [0, 2]), (2, 3, [1])],
)
def test_card_paging_buttons(rank: int, total: int, paging: list[int]) -> None:
    reply = render.card(result(), rank=rank, total=total, card_id=CARD_ID)
    data = callback_data(reply.keyboard)
    assert [d for d in data if d.startswith("n:")] == [f"n:{CARD_ID}:{r}" for r in paging]
    assert data[-2:] == [f"v:{CARD_ID}:{rank}:1", f"v:{CARD_ID}:{rank}:0"]
    # without a card there is nothing for buttons to name: no paging, no votes
    assert callback_data(render.card(result(), rank=rank, total=total).keyboard or _EMPTY) == []


_EMPTY = InlineKeyboardMarkup([])


def a_card(**changes: object) -> Card:
    fields: dict[str, object] = {
        "id": CARD_ID,
        "chat_id": 1,
        "kind": "answer",
        "question": "q",
        "topic": "q",
        "asked_at": datetime(2024, 9, 11, tzinfo=UTC),
        "results": [result(), result(article_id="b", headline="Second")],
    }
    fields.update(changes)
    return Card.model_validate(fields)


def test_a_stored_card_renders_the_result_it_shows() -> None:
    shown = render.answer_card(a_card(shown=1))
    assert shown == render.card(a_card().results[1], rank=1, total=2, card_id=CARD_ID)
    # an article opened from a ranking: that result alone, voting on its rank there
    opened = render.answer_card(a_card(kind="article", shown=1))
    assert "Result" not in opened.html
    assert callback_data(opened.keyboard) == [f"v:{CARD_ID}:1:1", f"v:{CARD_ID}:1:0"]


def test_a_follow_up_card_says_what_it_is_about() -> None:
    about = "Iran’s president visits Iraq on first foreign trip, and much more besides that"
    text, _ = parse_html(render.answer_card(a_card(about=about)).html)
    first, headline = text.split("\n")[:2]
    assert first.startswith("about: Iran’s president visits Iraq") and first.endswith("…")
    assert headline == result().headline
    text, _ = parse_html(render.answer_card(a_card(kind="suggestions", about="Volcano")).html)
    assert text.startswith("about: Volcano\nI found nothing")


def test_an_expired_card_offers_to_ask_again() -> None:
    reply = render.expired(CARD_ID, 30)
    assert "30 days" in parse_html(reply.html)[0]
    assert buttons(reply.keyboard) == [("🔄 Ask again", f"a:{CARD_ID}", None)]
    assert "expired" in render.expired_notice(30) and len(render.expired_notice(30)) <= 200


def test_hostile_article_text_is_escaped_and_bounded() -> None:
    hostile = result(
        headline="<script>alert('x')</script> & <b>" + "long " * 500,
        excerpt="a < b && c > d <i>not italic</i>\x00\x07 مرحبا 🙂",
        marks=((0, 1), (0, 3), (400, 900), (5, 2)),  # overlapping, out of range, reversed
        url="javascript:alert(1)",
        source="<Wire>",
    )
    reply = render.card(hostile, rank=0, total=1, card_id=CARD_ID)
    text, entities = parse_html(reply.html)
    assert "<script>alert('x')</script> & <b>" in text
    assert "a < b && c > d <i>not italic</i> مرحبا 🙂" in text
    assert "\x00" not in text and "\x07" not in text
    assert all(e["type"] != "text_link" for e in entities)
    assert utf16_len(text) < 1000
    assert all(url is None for _, _, url in buttons(reply.keyboard))


# ---------------------------------------------------------------------------------- answers


def test_answer_found_is_the_card_of_the_ranked_result() -> None:
    answer = Answer(question="q", found=True, results=[result(), result(article_id="b")])
    assert render.answer(answer, rank=1) == render.card(answer.results[1], rank=1, total=2)
    assert render.answer(answer, rank=9) == render.card(answer.results[1], rank=1, total=2)


def test_nothing_found_offers_up_to_three_suggestions() -> None:
    suggestions = [result(article_id=f"id{n}", headline=f"Headline {n}") for n in range(5)]
    reply = render.answer_card(a_card(kind="suggestions", results=suggestions))
    text, _ = parse_html(reply.html)
    assert "nothing" in text.lower()
    assert buttons(reply.keyboard) == [
        (f"Headline {n}", f"s:{CARD_ID}:{n}", None) for n in range(3)
    ]
    cardless = render.answer(Answer(question="q", found=False, results=suggestions))
    assert callback_data(cardless.keyboard) == ["o:id0", "o:id1", "o:id2"]


def test_nothing_found_without_suggestions_has_no_buttons() -> None:
    reply = render.answer(Answer(question="q", found=False))
    assert reply.keyboard is None
    assert "nothing" in parse_html(reply.html)[0].lower()


def test_headlines_list_numbers_each_with_a_button() -> None:
    articles = [
        Article(id=f"id{n}", headline=f"Story <{n}>", published=datetime(2024, 9, n, tzinfo=UTC))
        for n in (3, 2, 1)
    ]
    reply = render.headlines(articles)
    text, _ = parse_html(reply.html)
    assert "1. Story <3> (03 Sep 2024)" in text and "3. Story <1> (01 Sep 2024)" in text
    assert callback_data(reply.keyboard) == ["o:id3", "o:id2", "o:id1"]
    assert render.headlines([]).keyboard is None


def test_inline_results_carry_headline_date_excerpt_and_a_valid_card() -> None:
    results = [result(article_id=f"id{n}", url="https://x.example/a") for n in range(12)]
    inline = render.inline_results(results)
    assert len(inline) == render.MAX_INLINE_RESULTS
    first = inline[0]
    assert first.id == "id0" and first.title == result().headline
    assert first.description is not None and first.description.startswith("11 Sep 2024 · Iranian")
    parse_html(first.input_message_content.message_text)  # type: ignore[attr-defined]
    assert render.inline_results([result(article_id="x" * 100)])[0].id != "x" * 100


# ---------------------------------------------------------------------------------- buttons


def test_callback_data_fits_and_round_trips() -> None:
    datas = [render.show_data(CARD_ID, 19), render.suggestion_data(CARD_ID, 2)]
    datas += [render.vote_data(CARD_ID, 3, helpful) for helpful in (True, False)]
    datas += [render.again_data(CARD_ID), render.open_data(ARTICLE_ID)]
    assert all(len(d.encode()) <= render.MAX_CALLBACK_DATA for d in datas)
    assert [render.parse_press(d) for d in datas] == [
        render.Press("show", CARD_ID, 19),
        render.Press("suggestion", CARD_ID, 2),
        render.Press("vote", CARD_ID, 3, helpful=True),
        render.Press("vote", CARD_ID, 3, helpful=False),
        render.Press("again", CARD_ID),
        render.Press("open", article_id=ARTICLE_ID),
    ]


@pytest.mark.parametrize("data", ["m:1", "m:0", "f:1:" + ARTICLE_ID, "f:0:x"])
def test_buttons_from_before_cards_are_recognised(data: str) -> None:
    assert render.parse_press(data) == render.Press("old")


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "m:",
        "m:-1",
        "m:x",
        "o:",
        "f:2:id",
        "n:",
        "n:id",
        "n:id:x",
        "n::1",
        "v:id:1:2",
        "v:id:1",
        "s:id:1:1",
        "a:",
        "a:id:1",
        "zzz",
    ],
)
def test_unknown_callback_data_is_ignored(data: str | None) -> None:
    assert render.parse_press(data) is None


def test_ids_too_long_for_callback_data_drop_their_buttons_not_the_reply() -> None:
    long_id = "z" * 70
    assert render.answer(Answer(question="q", found=False, results=[result(article_id=long_id)]))
    assert render.headlines([Article(id=long_id, headline="Long")]).keyboard is None


# ---------------------------------------------------------------------------------- pieces


def test_dates_are_utc_with_time_only_when_known() -> None:
    assert render.date(None) == ""
    assert render.date(datetime(2024, 9, 11, tzinfo=UTC)) == "11 Sep 2024"
    tehran = timezone(timedelta(hours=3, minutes=30))
    assert render.date(datetime(2024, 9, 11, 9, 0, tzinfo=tehran)) == "11 Sep 2024, 05:30 UTC"


def test_dates_show_in_the_chats_timezone_when_a_time_is_known() -> None:
    moment = datetime(2024, 9, 11, 22, 30, tzinfo=UTC)
    assert render.date(moment, "Asia/Baghdad") == "12 Sep 2024, 01:30 +03"
    assert render.date(moment, "Europe/London") == "11 Sep 2024, 23:30 BST"
    # A bare date has no time to convert: it stays the day the source gave.
    assert render.date(datetime(2024, 9, 11, tzinfo=UTC), "America/New_York") == "11 Sep 2024"
    card = render.card(result(published=moment), zone="Asia/Baghdad")
    assert "12 Sep 2024, 01:30 +03" in card.html


def test_plain_strips_tags_and_unescapes() -> None:
    assert render.plain('<b>a &lt; b</b> <a href="https://x">&amp;</a>') == "a < b &"


# ---------------------------------------------------------------------------------- split


def check_parts(markup: str, parts: list[str], limit: int) -> None:
    for part in parts:
        assert utf16_len(part) <= limit
        parse_html(part)  # each part is valid on its own
    whole = "".join(parse_html(markup)[0].split())
    assert "".join("".join(parse_html(p)[0].split()) for p in parts) == whole


def test_short_messages_are_not_split() -> None:
    assert render.split("<b>hi</b>") == ["<b>hi</b>"]
    assert render.split("<b> </b>") == []


def test_split_prefers_paragraphs() -> None:
    paragraphs = [f"<b>Paragraph {n}</b> " + "word " * 150 for n in range(12)]
    markup = "\n\n".join(paragraphs)
    parts = render.split(markup)
    assert len(parts) > 1
    check_parts(markup, parts, render.MAX_MESSAGE)
    assert all(part.rstrip().endswith("word") for part in parts)  # whole paragraphs


def test_split_inside_a_tag_reopens_it_and_never_cuts_entities() -> None:
    markup = '<a href="https://x.example/"><b>' + "tom &amp; jerry. " * 40 + "</b></a>"
    parts = render.split(markup, limit=200)
    check_parts(markup, parts, 200)
    assert all(p.startswith('<a href="https://x.example/"><b>') for p in parts)
    assert all(p.endswith("</b></a>") for p in parts)
    assert all(p.count("&amp;") == p.count("&") for p in parts)


def test_split_counts_utf16_and_survives_one_huge_word() -> None:
    markup = "🙂" * 5000 + " " + "x" * 9000
    parts = render.split(markup)
    check_parts(markup, parts, render.MAX_MESSAGE)
    assert parts[0] == "🙂" * 2048
