"""Parsing: seed layout and JSON records -> Article (pure functions, offline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import NewsbotError
from bot.models import Article
from bot.parsing import ArticleParseError, SeedParse, article_from_json, parse_seed_text

FIXTURES = Path(__file__).parent / "fixtures" / "seeds"
REAL_SEED = Path(__file__).parents[1] / "seeds" / "000_b8d8923356cbb90d.txt"
MODIFIED = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def parse_fixture(name: str, *, modified: datetime = MODIFIED) -> SeedParse:
    text = (FIXTURES / name).read_bytes().decode("utf-8")
    return parse_seed_text(text, modified=modified, origin=name)


def only_article(name: str) -> Article:
    articles, errors = parse_fixture(name)
    assert errors == []
    assert len(articles) == 1
    return articles[0]


def seed(headline: str, date: str, *body: str) -> str:
    """One article in the seed layout, without caption or bullets."""
    return "\n".join([headline, "", f"Updated {date}", "Follow", "", headline, "", *body, "", ""])


# -- the real seed file -----------------------------------------------------------------------


def test_real_seed_file() -> None:
    articles, errors = parse_seed_text(
        REAL_SEED.read_text(encoding="utf-8"), modified=MODIFIED, origin=str(REAL_SEED)
    )

    assert errors == []
    assert [article.headline for article in articles] == [
        "Iran’s president visits Iraq on first foreign trip",
        "Iraq begins closing Al-Hol camp, 19,000 citizens return home",
    ]
    iran, camp = articles
    assert iran.published == datetime(2024, 9, 11, tzinfo=UTC)
    assert iran.dateline == "TEHRAN"
    assert iran.body[0].startswith("Iranian President Masoud Pezeshkian visited Iraq")
    assert iran.summary == [
        "Baghdad is a strategic ally of both Iran and US",
        "Visit signals desire to strengthen ties with Iraq",
    ]
    assert iran.subheadings == ["Relations with US"]
    assert iran.body[iran.body.index("Relations with US") + 1].startswith("The United States")
    assert iran.caption is not None
    assert iran.caption.startswith("Iraqi President Abdul Latif Rashid meets")
    assert iran.url is None
    assert iran.source is None

    assert camp.published == MODIFIED - timedelta(seconds=8)
    assert camp.dateline == "DUBAI"
    assert camp.caption is None
    assert len(camp.summary) == 2
    assert camp.subheadings == []
    assert camp.body[-1].endswith("Ministry of Foreign Affairs.")


# -- layout variants --------------------------------------------------------------------------


def test_no_caption() -> None:
    article = only_article("no_caption.txt")

    assert article.headline == "Harbour ferry returns to service after storm repairs"
    assert article.caption is None
    assert article.published == datetime(2025, 3, 3, tzinfo=UTC)
    assert article.summary == [
        "Crossings resume every 20 minutes from Monday",
        "Repairs to the landing stage cost 4 million shillings",
    ]
    assert article.dateline == "MOMBASA"
    assert article.body[0].startswith("The Likoni harbour ferry returned")
    assert len(article.body) == 3


def test_no_bullets_no_short_url() -> None:
    article = only_article("no_bullets.txt")

    assert article.summary == []
    assert article.caption is not None
    assert article.caption.startswith("Readers sit at long tables")
    assert article.dateline == "NEW YORK"
    assert article.body[0].startswith("The central library opened")
    assert article.subheadings == []


def test_relative_date_resolves_against_modified() -> None:
    article = only_article("relative_date.txt")

    assert article.published == MODIFIED - timedelta(hours=2)
    assert article.dateline == "LONDON (Reuters)"
    assert article.body[0].startswith("A national rail strike")


def test_several_subheadings_stay_in_body() -> None:
    article = only_article("subheadings.txt")

    assert article.subheadings == ["Local talent", "Next year"]
    assert article.body == [
        "The desert film festival closed on Sunday after its busiest edition, with organisers"
        " reporting more than 40,000 tickets sold.",
        "Screenings were held in a restored open-air cinema on the edge of the city.",
        "Local talent",
        "Two films by first-time directors from the region won the festival’s main prizes.",
        "“We wanted to show stories from here, told by people from here,” said jury head"
        " Laila Hassan.",
        "Next year",
        "Organisers said the festival would add a second venue and a programme for schools.",
        "A date for the next edition will be announced in June.",
    ]
    assert article.caption == (
        "A crowd watches an open-air screening on the first night of the festival. (AN photo)"
    )
    assert len(article.summary) == 2


def test_crlf_and_bom_parse_like_plain_text() -> None:
    raw = (FIXTURES / "crlf_bom.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw  # the fixture must keep its CRLF (see .gitattributes)

    article = only_article("crlf_bom.txt")
    plain = raw.decode("utf-8-sig").replace("\r\n", "\n")
    (same,), _ = parse_seed_text(plain, modified=MODIFIED, origin="plain")

    assert article.headline == "Old footbridge reopens to walkers"
    assert article == same
    assert not any("\r" in text or "\ufeff" in text for text in [article.headline, *article.body])


def test_trailing_text_without_final_newline() -> None:
    assert not (FIXTURES / "no_final_newline.txt").read_bytes().endswith(b"\n")

    article = only_article("no_final_newline.txt")

    assert article.body[-1] == "The association said prices would stay stable this autumn."


def test_three_articles_in_one_file() -> None:
    articles, errors = parse_fixture("three_articles.txt")

    assert errors == []
    assert [article.headline for article in articles] == [
        "Mountain road closed by rockfall",
        "Chess prodigy, 11, wins national title",
        "Tram line extension approved",
    ]
    road, chess, tram = articles
    assert road.published == MODIFIED - timedelta(minutes=1)
    assert chess.published == datetime(2024, 10, 20, tzinfo=UTC)
    assert tram.published == MODIFIED - timedelta(days=5)
    assert chess.caption == "A young player studies the board during the final round. (Supplied)"
    assert road.body[-1] == "Drivers were sent on a detour through the valley."
    assert [article.dateline for article in articles] == ["INNSBRUCK", "OSLO", "ZAGREB"]
    assert len({article.id for article in articles}) == 3


def test_broken_article_between_two_good_ones() -> None:
    articles, errors = parse_fixture("broken_between.txt")

    assert [article.headline for article in articles] == [
        "Lighthouse gets a new keeper",
        "Island school celebrates centenary",
    ]
    # the broken article's text must not leak into the one before it
    assert articles[0].body[-1] == "He will live on the island from April to October."
    assert len(errors) == 1
    assert errors[0].line == 13
    assert "Ferry timetable changes announced" in errors[0].reason
    assert str(errors[0]).startswith("broken_between.txt:13: incomplete article header")


def test_unrecognised_date_is_an_error_for_that_article_only() -> None:
    text = (
        seed("First story", "1 May 2024", "OSLO: One.")
        + seed("Second story", "sometime soon", "OSLO: Two.")
        + seed("Third story", "3 May 2024", "OSLO: Three.")
    )

    articles, errors = parse_seed_text(text, modified=MODIFIED, origin="dates.txt")

    assert [article.headline for article in articles] == ["First story", "Third story"]
    assert [(error.line, error.reason) for error in errors] == [
        (12, "unrecognised date 'sometime soon'")
    ]


def test_article_without_body_is_an_error() -> None:
    text = seed("Empty story", "1 May 2024") + seed("Full story", "2 May 2024", "Text.")

    articles, errors = parse_seed_text(text, modified=MODIFIED, origin="x")

    assert [article.headline for article in articles] == ["Full story"]
    assert [error.line for error in errors] == [1]
    assert "no body" in errors[0].reason


def test_text_before_the_first_article_is_reported() -> None:
    text = "Stray note\n\n" + seed("Story", "1 May 2024", "Text.")

    articles, errors = parse_seed_text(text, modified=MODIFIED, origin="x")

    assert [article.headline for article in articles] == ["Story"]
    assert [error.line for error in errors] == [1]
    assert "outside any article" in errors[0].reason


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff"])
def test_empty_text_has_no_articles_and_no_errors(text: str) -> None:
    assert parse_seed_text(text, modified=MODIFIED, origin="x") == ([], [])


def test_text_without_any_header_is_one_error() -> None:
    articles, errors = parse_seed_text(
        "Just a note.\nAnother line.\n", modified=MODIFIED, origin="x"
    )

    assert articles == []
    assert [error.line for error in errors] == [1]


def test_naive_modified_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_seed_text("", modified=datetime(2025, 1, 1), origin="x")


@pytest.mark.parametrize(
    ("when", "age"),
    [
        ("8 sec ago", timedelta(seconds=8)),
        ("1 min ago", timedelta(minutes=1)),
        ("25 mins ago", timedelta(minutes=25)),
        ("an hour ago", timedelta(hours=1)),
        ("2 hours ago", timedelta(hours=2)),
        ("3 days ago", timedelta(days=3)),
        ("1 week ago", timedelta(weeks=1)),
        ("just now", timedelta(0)),
        ("yesterday", timedelta(days=1)),
    ],
)
def test_relative_dates(when: str, age: timedelta) -> None:
    (article,), _ = parse_seed_text(seed("Story", when, "Text."), modified=MODIFIED, origin="x")

    assert article.published == MODIFIED - age


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("11 September 2024", datetime(2024, 9, 11, tzinfo=UTC)),
        ("11 Sep 2024", datetime(2024, 9, 11, tzinfo=UTC)),
        ("September 11, 2024", datetime(2024, 9, 11, tzinfo=UTC)),
        ("2024-09-11", datetime(2024, 9, 11, tzinfo=UTC)),
        ("11 September 2024 14:05", datetime(2024, 9, 11, 14, 5, tzinfo=UTC)),
    ],
)
def test_absolute_dates(when: str, expected: datetime) -> None:
    (article,), _ = parse_seed_text(seed("Story", when, "Text."), modified=MODIFIED, origin="x")

    assert article.published == expected


# -- ids ----------------------------------------------------------------------------------------


def test_seed_ids_do_not_depend_on_mtime_origin_or_position() -> None:
    later = MODIFIED + timedelta(days=30)
    first, _ = parse_fixture("three_articles.txt")
    again, _ = parse_seed_text(
        (FIXTURES / "three_articles.txt").read_text(encoding="utf-8"),
        modified=later,
        origin="elsewhere/copy.txt",
    )
    alone = only_article("no_caption.txt")
    moved, _ = parse_seed_text(
        seed("Other", "1 May 2024", "Text.") + (FIXTURES / "no_caption.txt").read_text("utf-8"),
        modified=later,
        origin="y",
    )

    assert [a.id for a in first] == [a.id for a in again]  # relative dates included
    assert moved[1].id == alone.id


def test_seed_id_follows_headline_and_lead_not_the_date() -> None:
    def one_id(headline: str, date: str, lead: str = "Text.") -> str:
        (article,), _ = parse_seed_text(seed(headline, date, lead), modified=MODIFIED, origin="")
        return article.id

    assert one_id("Story", "1 May 2024") == one_id("  story ", "May 1, 2024")
    # The same story re-crawled with an absolute date instead of "2 hours ago" is the same.
    assert one_id("Story", "2 hours ago") == one_id("Story", "2 May 2024")
    assert one_id("Story", "1 May 2024") != one_id("Other story", "1 May 2024")
    assert one_id("Story", "1 May 2024") != one_id("Story", "1 May 2024", "Another lead.")


# -- JSON records -------------------------------------------------------------------------------


def test_json_record_with_all_basic_keys() -> None:
    article = article_from_json(
        {
            "id": "rtqa-7",
            "url": "https://news.example/a",
            "headline": "Snow closes passes",
            "published": "2025-01-10",
            "body": "DENVER (CNN) — Heavy snow closed three passes.\n\nCrews will reopen them.",
        },
        line=1,
    )

    assert article.id == "rtqa-7"
    assert article.published == datetime(2025, 1, 10, tzinfo=UTC)
    assert article.dateline == "DENVER (CNN)"
    assert article.body == ["Heavy snow closed three passes.", "Crews will reopen them."]
    assert article.url == "https://news.example/a"


@pytest.mark.parametrize(
    ("body", "dateline", "first"),
    [
        ("CNN —\n\nFlood warnings were lifted.", "CNN", "Flood warnings were lifted."),
        ("Washington CNN —\n\nThe Senate voted.", "Washington CNN", "The Senate voted."),
        ("WASHINGTON (CNN) — The Senate voted.", "WASHINGTON (CNN)", "The Senate voted."),
        ("(CNN) President Biden spoke.", "CNN", "President Biden spoke."),
        ("New York (CNN Business) Stocks fell.", "New York (CNN Business)", "Stocks fell."),
        ("TEHRAN: Iran said.", "TEHRAN", "Iran said."),
        ("LONDON (Reuters): Talks ended.", "LONDON (Reuters)", "Talks ended."),
        ("LOUISVILLE, Ky. — A race was run.", "LOUISVILLE, Ky.", "A race was run."),
        ("Sign up for our newsletter.\n\nCNN —\n\nText.", "CNN", "Sign up for our newsletter."),
        ("BREAKING: A thing happened.", None, "BREAKING: A thing happened."),
        ("Editor’s Note: This is old.", None, "Editor’s Note: This is old."),
        ("Apple (AAPL) shares fell.", None, "Apple (AAPL) shares fell."),
        ("US officials said so.", None, "US officials said so."),
    ],
)
def test_json_datelines(body: str, dateline: str | None, first: str) -> None:
    article = article_from_json({"headline": "H", "body": body}, line=1)

    assert article.dateline == dateline
    assert article.body[0] == first
    assert "CNN —" not in article.body


def test_json_body_splits_on_single_and_blank_lines() -> None:
    article = article_from_json({"headline": "H", "body": "One.\nTwo.\n\n\n  Three.  \r\n"}, line=1)

    assert article.body == ["One.", "Two.", "Three."]


def test_json_empty_headline_becomes_first_sentence() -> None:
    long_sentence = "Word " * 40 + "end. Second sentence."
    short = article_from_json(
        {"headline": "", "body": "A bakery in the old town won the U.S. bread award. It is old."},
        line=1,
    )
    trimmed = article_from_json({"headline": None, "body": long_sentence}, line=1)

    assert short.headline == "A bakery in the old town won the U.S. bread award"
    assert trimmed.headline.endswith("Word…")
    assert len(trimmed.headline) <= 120


def test_json_empty_headline_skips_boilerplate_and_datelines() -> None:
    body = "1. How relevant is this ad to you?\n\nCNN —\n\nThe river rose overnight. Roads closed."

    article = article_from_json({"body": body}, line=1)

    assert article.headline == "The river rose overnight"


def test_json_empty_headline_and_body_uses_url_slug() -> None:
    article = article_from_json(
        {
            "headline": " ",
            "body": "",
            "url": "https://x.example/2022/06/12/squid-game-season-2/index.html",
        },
        line=3,
    )

    assert article.headline == "Squid game season 2"


def test_json_nothing_to_name_the_article_is_an_error() -> None:
    with pytest.raises(ArticleParseError) as caught:
        article_from_json({"headline": "", "body": ""}, line=7)

    assert caught.value.line == 7
    assert "headline" in caught.value.reason
    assert isinstance(caught.value, NewsbotError)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2022-06-12", datetime(2022, 6, 12, tzinfo=UTC)),
        ("2022-06-12T08:30:00", datetime(2022, 6, 12, 8, 30, tzinfo=UTC)),
        ("2022-06-12T08:30:00Z", datetime(2022, 6, 12, 8, 30, tzinfo=UTC)),
        ("2022-06-12T10:30:00+02:00", datetime(2022, 6, 12, 8, 30, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_json_published(published: str | None, expected: datetime | None) -> None:
    article = article_from_json({"headline": "H", "published": published}, line=1)

    assert article.published == expected


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"headline": "H", "published": "12/06/2022"}, "not an ISO date"),
        ({"headline": "H", "published": 20220612}, "'published' must be a string"),
        ({"headline": 5}, "'headline' must be a string"),
        ({"headline": "H", "body": 5}, "'body' must be"),
        ({"headline": "H", "summary": "not a list"}, "'summary' must be a list"),
        ({"headline": "H", "id": ["x"]}, "'id' must be a string"),
        ({"headline": "H", "id": "x" * 201}, "invalid article: id"),
    ],
)
def test_json_invalid_fields(record: dict[str, object], reason: str) -> None:
    with pytest.raises(ArticleParseError, match=reason) as caught:
        article_from_json(record, line=4)

    assert caught.value.line == 4


def test_json_ids() -> None:
    url = "https://news.example/2025/01/12/flood"
    by_url = article_from_json({"headline": "A", "body": "x", "url": url}, line=1)
    by_url_again = article_from_json({"headline": "B", "body": "y", "url": url + "#top"}, line=9)
    by_text = article_from_json({"headline": "A", "body": "x"}, line=1)
    by_text_again = article_from_json({"headline": "A ", "body": "x\n"}, line=2)
    numeric = article_from_json({"headline": "A", "id": 42}, line=1)

    assert by_url.id == by_url_again.id
    assert by_text.id == by_text_again.id
    assert by_text.id != by_url.id
    assert numeric.id == "42"


def test_json_optional_keys() -> None:
    article = article_from_json(
        {"headline": "H", "body": "Text.", "summary": ["One", " "], "source": "Example News"},
        line=1,
    )

    assert article.summary == ["One"]
    assert article.source == "Example News"


def test_json_export_round_trips() -> None:
    (original,), _ = parse_fixture("subheadings.txt")
    exported = original.model_dump(mode="json")

    assert article_from_json(exported, line=1) == original


def test_json_round_trip_keeps_absent_dateline_absent() -> None:
    original = Article(id="x", headline="H", body=["TEHRAN: kept as text."], dateline=None)

    assert article_from_json(original.model_dump(mode="json"), line=1) == original


def test_header_missing_its_repeated_headline_is_cut_out_of_the_article_before() -> None:
    text = (
        seed("Good one", "1 May 2024", "OSLO: First.", "Last line of the good one.")
        + "Lost headline\n\nA caption for it.\nShort Url\nUpdated 2 May 2024\nFollow\n\n"
        + "OSLO: Its body.\n\n\n"
        + seed("Good two", "3 May 2024", "OSLO: Third.")
    )

    articles, errors = parse_seed_text(text, modified=MODIFIED, origin="x")

    assert [article.headline for article in articles] == ["Good one", "Good two"]
    assert articles[0].body == ["First.", "Last line of the good one."]
    assert [error.line for error in errors] == [11]
    assert "'Lost headline'" in errors[0].reason


def test_last_article_broken_keeps_the_one_before() -> None:
    text = seed("Good one", "1 May 2024", "OSLO: First.") + "Half story\n\nUpdated 8 sec ago\n"

    articles, errors = parse_seed_text(text, modified=MODIFIED, origin="x")

    assert [article.body for article in articles] == [["First."]]
    assert [error.line for error in errors] == [10]


def test_body_line_starting_with_updated_is_just_text() -> None:
    text = seed("Story", "1 May 2024", "OSLO: First.", "Updated guidance is due", "More text.")

    (article,), errors = parse_seed_text(text, modified=MODIFIED, origin="x")

    assert errors == []
    assert article.body == ["First.", "Updated guidance is due", "More text."]
    assert article.subheadings == ["Updated guidance is due"]


def test_seed_url_after_short_url_is_kept() -> None:
    text = (
        "Story with a link\n\nA caption.\nShort Url\nhttps://arab.news/abc12\n"
        "Updated 1 May 2024\nFollow\n\nStory with a link\n\nOSLO: Text.\n"
    )

    (article,), errors = parse_seed_text(text, modified=MODIFIED, origin="x")

    assert errors == []
    assert article.url == "https://arab.news/abc12"
    assert article.caption == "A caption."
