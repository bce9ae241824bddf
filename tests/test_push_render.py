"""Digest and subscription markup: valid Telegram HTML, links, numbering, length limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.digest import Digest, DigestItem
from bot.models import FeedSource, FeedStatus, Subscription
from bot.tg import render
from tests.botapi import parse_html, utf16_len


def item(number: int, headline: str = "Headline", **kw: object) -> DigestItem:
    return DigestItem(
        number=number,
        article_id=f"a{number}",
        headline=headline,
        summary=str(kw.pop("summary", "One line of summary.")),
        **kw,  # type: ignore[arg-type]
    )


def test_digest_is_a_numbered_list_with_links_and_summaries() -> None:
    digest = Digest(
        chat_id=1,
        day=date(2024, 9, 11),
        items=[
            item(1, "Iraq & <Iran>", url="https://news.example/a?x=1&y=2"),
            item(2, "No link here", summary="Second <b>summary</b>."),
        ],
    )
    text, entities = parse_html(render.digest(digest).html)
    assert text.startswith("Your news digest · 11 Sep 2024\n\n1. Iraq & <Iran>\n")
    assert "2. No link here\nSecond <b>summary</b>." in text  # escaped, not markup
    links = [e for e in entities if e["type"] == "text_link"]
    assert [e["url"] for e in links] == ["https://news.example/a?x=1&y=2"]
    assert "/ask" in text


def test_unsafe_urls_are_not_linked() -> None:
    digest = Digest(chat_id=1, day=date(2024, 9, 11), items=[item(1, url="javascript:alert(1)")])
    _, entities = parse_html(render.digest(digest).html)
    assert not [e for e in entities if e["type"] == "text_link"]


def test_an_empty_digest_is_one_short_line() -> None:
    reply = render.digest(Digest(chat_id=1, day=date(2024, 9, 11)))
    text, _ = parse_html(reply.html)
    assert text == "Your news digest · 11 Sep 2024\nNo new stories since your last digest."


def test_a_long_digest_splits_into_valid_messages_under_the_limit() -> None:
    long = "🙂 " + "word " * 300
    digest = Digest(
        chat_id=1,
        day=date(2024, 9, 11),
        items=[item(n, long, summary=long, url=f"https://x.example/{n}") for n in range(1, 21)],
    )
    parts = render.split(render.digest(digest).html)
    assert len(parts) > 1
    texts = [parse_html(part)[0] for part in parts]  # each part is valid on its own
    assert all(utf16_len(t) <= render.MAX_MESSAGE for t in texts)
    assert "20. " in texts[-1] and texts[0].startswith("Your news digest")


def test_subscription_replies_show_local_times() -> None:
    subscription = Subscription(chat_id=1, at="07:30", timezone="Asia/Baghdad")
    next_at = datetime(2024, 9, 11, 4, 30, tzinfo=UTC)
    text, _ = parse_html(render.subscribed(subscription, next_at, now=False).html)
    assert "every day at 07:30 (Asia/Baghdad)" in text and "Wed 11 Sep, 07:30" in text
    text, _ = parse_html(render.subscribed(subscription, next_at, now=True).html)
    assert "on its way now" in text
    shown, _ = parse_html(render.digest_settings(subscription, next_at).html)
    assert "Time: 07:30" in shown and "Status: active" in shown and "Wed 11 Sep" in shown
    stopped = subscription.model_copy(update={"active": False})
    assert "stopped" in parse_html(render.digest_settings(stopped, None).html)[0]
    assert "/subscribe" in parse_html(render.digest_settings(None, None).html)[0]


def test_schedule_errors_are_escaped_with_an_example() -> None:
    text, _ = parse_html(render.schedule_error("“<25:99>” is not a time of day").html)
    assert text.startswith("“<25:99>” is not a time of day\nFor example: /subscribe 07:30")


def test_feeds_list_configured_and_fetched() -> None:
    status = FeedStatus(
        url="https://a.example/rss",
        name="A & B",
        last_success=datetime(2024, 9, 11, 8, 0, tzinfo=UTC),
        last_error="HTTP 500 <oops>",
        last_error_at=datetime(2024, 9, 11, 9, 0, tzinfo=UTC),
        items=12,
        added=30,
    )
    configured = [
        FeedSource(url="https://a.example/rss", origin="config"),
        FeedSource(url="https://new/rss"),
    ]
    text, _ = parse_html(render.feeds(configured, [status]).html)
    assert "A & B" in text and "items 12, added 30" in text and "HTTP 500 <oops>" in text
    assert "11 Sep 2024, 08:00 UTC" in text and "https://new/rss\nnot fetched yet" in text
    assert "A & B (config file)" in text and "https://new/rss (added)" in text
    assert parse_html(render.feeds([], []).html)[0].startswith("No feeds yet.")


def test_the_menu_has_the_digest_commands() -> None:
    names = [c.command for c in render.commands()]
    assert {"subscribe", "unsubscribe", "settings"} <= set(names)
    assert "/subscribe" in parse_html(render.help_text("bot").html)[0]
