"""End to end: the real Application and NewsDesk over HTTP against the local Bot API server.

Users are played through tests.botapi; the bot is built by build_application, polls over
real HTTP, and answers from a real SQLite store seeded with the bundled articles.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.errors import ConfigError
from bot.service import NewsDesk
from bot.settings import Settings, WebhookSettings
from bot.tg.app import build_application, polling, run
from bot.tg.context import NewsApp
from tests.botapi import BotApiServer, Chat, parse_html

AL_HOL = "Iraq begins closing Al-Hol camp, 19,000 citizens return home"
IRAN = "Iran’s president visits Iraq on first foreign trip"
VOLCANO = {
    "id": "iceland-volcano-2024",
    "headline": "Volcano erupts near Grindavik as lava reaches the town",
    "body": [
        "A volcano erupted on the Reykjanes peninsula on Sunday and lava flowed into "
        "Grindavik, a fishing town evacuated in November.",
        "Residents watched the lava destroy three houses on the edge of the town.",
    ],
    "published": "2024-01-14",
    "url": "https://news.example/iceland-volcano?ref=feed&x=1",
    "source": "Example Wire",
}
VOLCANO_QUESTION = "Grindavik volcano lava"


@pytest.fixture
async def app(settings: Settings, tmp_path: Path) -> AsyncIterator[NewsApp]:
    """The bot, polling; post_init opened the NewsDesk (seeded) and one article with a URL."""
    application = build_application(settings)
    async with polling(application, poll_timeout=1):
        extra = tmp_path / "extra.jsonl"
        extra.write_text(json.dumps(VOLCANO) + "\n", encoding="utf-8")
        assert not desk_of(application).ingest([extra]).problems
        yield application


def desk_of(application: NewsApp) -> NewsDesk:
    desk = application.bot_data.desk
    assert desk is not None
    return desk


def pick(desk: NewsDesk, candidates: Iterable[str], *, found: bool, results: int) -> str:
    """A question the seeds answer as wanted (the retrieval is tuned elsewhere)."""
    for question in candidates:
        answer = desk.ask(question)
        if answer.found is found and len(answer.results) >= results:
            return question
    raise AssertionError(f"no question with found={found} and >= {results} results")


def found_two(desk: NewsDesk) -> str:
    return pick(desk, ["Al-Hol camp", "Al-Hol camp Iraq Iran"], found=True, results=2)


def not_found(desk: NewsDesk) -> str:
    candidates = ["Iraq football", "Iraq elections", "US troops in Iraq", "Baghdad weather"]
    return pick(desk, candidates, found=False, results=1)


def html_of(message: dict[str, Any]) -> tuple[str, list[str]]:
    """The text of a sent message and the substrings it shows in bold."""
    text = message["text"]
    bold = [
        text[e["offset"] : e["offset"] + e["length"]]
        for e in message.get("entities", [])
        if e["type"] == "bold"
    ]
    return text, bold


def buttons(message: dict[str, Any]) -> dict[str, dict[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b for row in rows for b in row}


async def ask(botapi: BotApiServer, chat: Chat, text: str, **kw: Any) -> dict[str, Any]:
    """Send `text` and return the bot's next message in that chat, checking it replies."""
    asked = await chat.send(text, **kw)
    assert asked.delivered
    (reply,) = await botapi.wait_for_messages(chat.id)
    assert reply["reply_to_message"]["message_id"] == asked.message_id
    return reply


# ---------------------------------------------------------------------------------- private


async def test_start_help_and_the_bot_describes_itself(
    botapi: BotApiServer, app: NewsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.tg")
    dm = botapi.private_chat(botapi.user("Alice"))
    assert (await ask(botapi, dm, "/start"))["text"].startswith("Hi, Alice!")
    assert "/headlines" in (await ask(botapi, dm, "/help"))["text"]
    # one chat's updates are handled one after another, so /start's log line is written
    assert "chat=private kind=message command=/start latency_ms=" in caplog.text
    assert "Ask me about the news" in (await ask(botapi, dm, "/nonsense"))["text"]
    assert {c["command"] for c in botapi.commands} >= {"start", "help", "ask", "headlines"}
    assert botapi.descriptions["description"] and botapi.descriptions["short_description"]


async def test_a_private_question_gets_the_answer_card(botapi: BotApiServer, app: NewsApp) -> None:
    desk = desk_of(app)
    question = found_two(desk)
    expected = desk.ask(question).results[0]
    dm = botapi.private_chat(botapi.user())
    reply = await ask(botapi, dm, question)
    (call,) = botapi.calls_to("sendMessage", dm.id)
    assert call.params["parse_mode"] == "HTML"  # and the server parsed it: valid markup
    text, bold = html_of(reply)
    assert text.startswith(expected.headline) and expected.headline == AL_HOL
    assert bold[0] == AL_HOL
    assert expected.excerpt in text
    marked = [expected.excerpt[start:end] for start, end in expected.marks]
    assert marked and set(marked) <= set(bold[1:])
    assert {"More ▶", "👍", "👎"} <= buttons(reply).keys()
    assert "Source" not in buttons(reply)  # the seeds have no URL


@pytest.mark.parametrize(
    ("question", "headline", "answer"),
    [
        ("How many US troops are in Iraq?", IRAN, "2,500"),
        ("What did Iran and Iraq sign?", IRAN, "14 memoranda of understanding"),
        ("How many Iraqis still remain in Al-Hol?", AL_HOL, "3,000"),
    ],
)
async def test_reader_questions_get_the_headline_and_the_answer(
    botapi: BotApiServer, app: NewsApp, question: str, headline: str, answer: str
) -> None:
    reply = await ask(botapi, botapi.private_chat(botapi.user()), question)
    text, bold = html_of(reply)
    assert text.startswith(headline)
    assert bold[0] == headline
    assert answer in text
    assert parse_html(botapi.calls_to("sendMessage")[-1].params["text"])  # valid HTML


async def test_more_and_back_edit_the_same_message(botapi: BotApiServer, app: NewsApp) -> None:
    dm = botapi.private_chat(botapi.user())
    card = await ask(botapi, dm, found_two(desk_of(app)))
    pressed = await dm.press(card, "More ▶")
    assert (await botapi.wait_for_callback_answer(pressed)).get("text") is None
    (second,) = await botapi.wait_for_edits(dm.id)
    assert second["message_id"] == card["message_id"]
    assert second["text"].startswith(IRAN) and "Result 2 of 2" in second["text"]
    assert "More ▶" not in buttons(second)

    await botapi.wait_for_callback_answer(await dm.press(second, "◀ Back"))
    (first,) = await botapi.wait_for_edits(dm.id)
    assert first["text"] == card["text"] and first["message_id"] == card["message_id"]


async def test_source_button_and_linked_headline(botapi: BotApiServer, app: NewsApp) -> None:
    question = pick(desk_of(app), [VOLCANO_QUESTION, "volcano"], found=True, results=1)
    reply = await ask(botapi, botapi.private_chat(botapi.user()), question)
    assert reply["text"].startswith(VOLCANO["headline"])
    assert buttons(reply)["Source"]["url"] == VOLCANO["url"]
    links = [e for e in reply["entities"] if e["type"] == "text_link"]
    assert links[0]["url"] == VOLCANO["url"] and links[0]["offset"] == 0


async def test_feedback_buttons_are_recorded(botapi: BotApiServer, app: NewsApp) -> None:
    dm = botapi.private_chat(botapi.user())
    card = await ask(botapi, dm, found_two(desk_of(app)))
    answer = await botapi.wait_for_callback_answer(await dm.press(card, "👍"))
    assert answer["text"].startswith("Thanks")
    await botapi.wait_for_callback_answer(await dm.press(card, "👎"))
    assert desk_of(app).store.feedback_counts() == (1, 1)


async def test_nothing_found_offers_did_you_mean(botapi: BotApiServer, app: NewsApp) -> None:
    desk = desk_of(app)
    question = not_found(desk)
    dm = botapi.private_chat(botapi.user())
    reply = await ask(botapi, dm, question)
    assert "found nothing" in reply["text"]
    suggestions = [r.headline for r in desk.ask(question).results][:3]
    assert list(buttons(reply)) == suggestions

    pressed = await dm.press(reply, suggestions[0])
    (opened,) = await botapi.wait_for_messages(dm.id)
    await botapi.wait_for_callback_answer(pressed)
    assert opened["text"].startswith(suggestions[0])
    assert opened["reply_to_message"]["message_id"] == reply["message_id"]
    # its 👍/👎 know the question from the card, and the rank the suggestion had
    await botapi.wait_for_callback_answer(await dm.press(opened, "👎"))
    (verdict,) = desk.store.feedback()
    assert (verdict["question"], verdict["rank"], verdict["helpful"]) == (question, 0, False)


async def test_headlines_open_their_cards(botapi: BotApiServer, app: NewsApp) -> None:
    dm = botapi.private_chat(botapi.user())
    newest = [a.headline for a in desk_of(app).headlines(20)]
    listed = await ask(botapi, dm, "/headlines")
    labels = list(buttons(listed))  # long headlines are cut with an ellipsis
    assert len(labels) == len(newest)
    for number, (label, headline) in enumerate(zip(labels, newest, strict=True), start=1):
        assert f"{number}. {headline}".startswith(label.rstrip("…"))
    assert len(buttons(await ask(botapi, dm, "/headlines 1"))) == 1
    assert len(buttons(await ask(botapi, dm, "/headlines 999"))) == len(newest)

    await dm.press(listed, next(iter(buttons(listed))))
    (opened,) = await botapi.wait_for_messages(dm.id)
    assert opened["text"].startswith(newest[0])


async def test_inline_mode(botapi: BotApiServer, app: NewsApp) -> None:
    alice = botapi.user()
    answer = await botapi.wait_for_inline_answer(botapi.inline_query(alice, "Al-Hol camp"))
    titles = [r["title"] for r in answer["results"]]
    assert titles[0] == AL_HOL and len(titles) <= 10
    first = answer["results"][0]
    assert first["type"] == "article" and first["description"]
    text, _ = parse_html(first["input_message_content"]["message_text"])
    assert text.startswith(AL_HOL)

    latest = await botapi.wait_for_inline_answer(botapi.inline_query(alice, "  "))
    expected = [a.headline for a in desk_of(app).headlines(10)]
    assert [r["title"] for r in latest["results"]] == expected


# ---------------------------------------------------------------------------------- groups


async def test_group_ask_is_answered_and_chatter_ignored(
    botapi: BotApiServer, app: NewsApp
) -> None:
    alice, bob = botapi.user("Alice"), botapi.user("Bob")
    group = botapi.group("Readers", [alice, bob])
    name = botapi.bot["username"]
    assert not (await group.send("anyone seen the news about Al-Hol camp?")).delivered
    reply = await ask(botapi, group, f"/ask@{name} Al-Hol camp")
    assert reply["text"].startswith(AL_HOL)
    assert "Ask like this" in (await ask(botapi, group, "/ask", user=bob))["text"]

    # Privacy mode off (e.g. the bot is an admin): chatter arrives, the bot stays silent.
    # Updates of one chat are handled in order, so the next reply is to the /ask.
    open_group = botapi.group("Admins", [alice, bob], privacy=False)
    assert (await open_group.send("lunch at noon? Al-Hol camp", user=bob)).delivered
    assert (await ask(botapi, open_group, "/ask Al-Hol camp"))["text"].startswith(AL_HOL)


async def test_replies_and_mentions_in_groups_are_answered(
    botapi: BotApiServer, app: NewsApp
) -> None:
    alice, bob = botapi.user("Alice"), botapi.user("Bob")
    group = botapi.group("Readers", [alice, bob], supergroup=True)
    first = await ask(botapi, group, "/ask Al-Hol camp")
    follow_up = await ask(botapi, group, "Pezeshkian visit Baghdad", user=bob, reply_to=first)
    assert follow_up["text"].startswith(IRAN)
    mention = await ask(botapi, group, f"@{botapi.bot['username']} Al-Hol camp")
    assert mention["text"].startswith(AL_HOL)

    # More works in groups too, from the card alone.
    await dm_press_more(botapi, group, first)


async def dm_press_more(botapi: BotApiServer, chat: Chat, card: dict[str, Any]) -> None:
    await botapi.wait_for_callback_answer(await chat.press(card, "More ▶"))
    (edited,) = await botapi.wait_for_edits(chat.id)
    assert edited["text"].startswith(IRAN)


async def test_forum_topics_are_answered_in_the_topic(botapi: BotApiServer, app: NewsApp) -> None:
    forum = botapi.group("Newsroom", [botapi.user()], forum=True)
    topic = forum.create_topic("Middle East")
    reply = await ask(botapi, forum, "/ask Al-Hol camp", thread_id=topic)
    assert reply["message_thread_id"] == topic and reply["is_topic_message"]
    (call,) = botapi.calls_to("sendMessage", forum.id)
    assert call.params["message_thread_id"] == topic  # sent there, not just placed there
    # A plain message in a topic "replies" to the topic's first message, not to the bot.
    assert not (await forum.send("thanks!", thread_id=topic)).delivered


# ---------------------------------------------------------------------------------- robustness


HOSTILE = [
    "x" * 5000,
    "<script>alert('x')</script> <b>bold?</b> &amp; &nbsp;",
    "🙂🔥💥" * 40,
    "ما هي آخر الأخبار عن مخيم الهول؟",
    "\u202eevil rtl\u202c \x00\x01\x1b[31m red \x7f",
    "/headlines lots",
    "/ask",
    "\u200b",
]


async def test_hostile_input_gets_short_safe_replies(
    botapi: BotApiServer, app: NewsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    dm = botapi.private_chat(botapi.user())
    for text in HOSTILE:
        reply = await ask(botapi, dm, text)
        assert len(reply["text"]) < 2000
    sticker = await dm.send_sticker()
    photo = await dm.send_photo()
    captioned = await dm.send_photo("<b>Al-Hol camp</b>")
    replies = await botapi.wait_for_messages(dm.id, 3)
    assert [r["reply_to_message"]["message_id"] for r in replies] == [
        sticker.message_id,
        photo.message_id,
        captioned.message_id,
    ]
    assert all("text" in r["text"] for r in replies)
    assert (await ask(botapi, dm, "Al-Hol camp"))["text"].startswith(AL_HOL)  # still fine

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert botapi.token not in caplog.text
    assert "Al-Hol camp" not in "".join(r.getMessage() for r in caplog.records)  # no text


async def test_flood_limit_is_waited_out_and_retried(botapi: BotApiServer, app: NewsApp) -> None:
    dm = botapi.private_chat(botapi.user())
    botapi.fail_chat(dm.id, "flood", retry_after=1)
    assert (await ask(botapi, dm, "Al-Hol camp"))["text"].startswith(AL_HOL)
    assert [c.status for c in botapi.calls_to("sendMessage", dm.id)] == [429, 200]


async def test_a_blocked_chat_does_not_affect_others(
    botapi: BotApiServer, app: NewsApp, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = botapi.private_chat(botapi.user("Mallory"))
    others = [botapi.private_chat(botapi.user(name)) for name in ("Alice", "Bob")]
    old_group = botapi.group("Old", [botapi.user("Carol")])
    old_group.upgrade()
    botapi.fail_chat(blocked.id, "blocked", times=None)

    await blocked.send("Al-Hol camp")
    await old_group.send("/ask Al-Hol camp")
    for chat in others:
        assert (await ask(botapi, chat, "Al-Hol camp"))["text"].startswith(AL_HOL)
    await botapi.wait_for_calls(lambda c: c.status == 403)
    await botapi.wait_for_calls(lambda c: c.chat_id == old_group.id and c.status == 400)
    assert not botapi.sent(blocked.id)  # nobody was sent a trace ...

    botapi.clear_faults(blocked.id)  # unblocked: the bot answers there again
    assert (await ask(botapi, blocked, "Al-Hol camp"))["text"].startswith(AL_HOL)
    assert "Forbidden" in caplog.text  # ... and the failure before was logged


async def test_refused_markup_is_resent_as_plain_text(botapi: BotApiServer, app: NewsApp) -> None:
    dm = botapi.private_chat(botapi.user())
    botapi.fail_method("sendMessage", 400, "Bad Request: can't parse entities: test")
    reply = await ask(botapi, dm, "Al-Hol camp")
    assert reply["text"].startswith(AL_HOL) and "entities" not in reply
    refused, resent = botapi.calls_to("sendMessage", dm.id)
    assert refused.status == 400 and refused.params["parse_mode"] == "HTML"
    assert "parse_mode" not in resent.params and "<b>" not in resent.params["text"]


async def test_a_refused_description_does_not_stop_the_bot(
    botapi: BotApiServer, settings: Settings
) -> None:
    botapi.fail_method("setMyCommands", 400, "Bad Request: BOT_COMMAND_INVALID")
    async with polling(build_application(settings), poll_timeout=1):
        reply = await ask(botapi, botapi.private_chat(botapi.user()), "/start")
        assert reply["text"].startswith("Hi")
    assert botapi.descriptions["description"]  # the other calls still went through


# ---------------------------------------------------------------------------------- settings


def test_a_missing_token_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        build_application(Settings(db=tmp_path / "n.db", telegram_bot_token=None))


def test_a_webhook_needs_a_secret_token(tmp_path: Path) -> None:
    settings = Settings(
        db=tmp_path / "n.db",
        telegram_bot_token=SecretStr("1:x"),
        webhook=WebhookSettings(url="https://bot.example/hook"),
    )
    with pytest.raises(ConfigError, match="secret_token"):
        run(settings)


def test_run_serves_a_webhook_or_polls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, dict[str, Any]] = {}
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kw: served.update(hook=kw))
    monkeypatch.setattr(Application, "run_polling", lambda self, **kw: served.update(poll=kw))
    secret = "s3cret_-token"
    hook = WebhookSettings(url="https://bot.example/tg/hook", port=8443, secret_token=secret)
    run(Settings(db=tmp_path / "n.db", telegram_bot_token=SecretStr("1:x"), webhook=hook))
    assert served["hook"]["webhook_url"] == "https://bot.example/tg/hook"
    assert served["hook"]["url_path"] == "tg/hook"
    assert served["hook"]["secret_token"] == secret
    assert served["hook"]["drop_pending_updates"] is False

    run(Settings(db=tmp_path / "n.db", telegram_bot_token=SecretStr("1:x")))
    assert served["poll"]["drop_pending_updates"] is False
