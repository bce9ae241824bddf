"""The test Bot API server refuses what Telegram refuses, so the e2e tests can trust it."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from tests.botapi import BotApiServer, TelegramHTMLError, parse_html

# ------------------------------------------------------------------------------ HTML


def test_html_gives_text_and_utf16_entities() -> None:
    text, entities = parse_html('🙂 <b>Iraq</b> &amp; <a href="https://x.test/a">Iran</a> &#39;')
    assert text == "🙂 Iraq & Iran '"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 4},  # the emoji is two UTF-16 units
        {"type": "text_link", "url": "https://x.test/a", "offset": 10, "length": 4},
    ]


def test_html_nesting_spoiler_pre_and_blockquote() -> None:
    source = (
        '<b>a <i>b</i></b><span class="tg-spoiler">c</span><tg-spoiler>d</tg-spoiler>'
        '<pre><code class="language-python">e</code></pre><blockquote expandable>f</blockquote>'
    )
    text, entities = parse_html(source)
    assert text == "a bcdef"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "spoiler",
        "spoiler",
        "pre",
        "expandable_blockquote",
    ]
    assert entities[4]["language"] == "python"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<b>open", 'end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<p>para</p>", 'Unsupported start tag "p"'),
        ("line<br>break", 'Unsupported start tag "br"'),
        ("a < b", "Unsupported start tag"),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ("<!-- hidden -->", "Unsupported start tag"),
    ],
)
def test_html_refuses_what_telegram_refuses(source: str, reason: str) -> None:
    with pytest.raises(TelegramHTMLError, match=r"byte offset|corresponding") as caught:
        parse_html(source)
    assert reason in str(caught.value)


# ------------------------------------------------------------------------------ raw HTTP


async def _call(server: BotApiServer, method: str, *, form: bool = False, **params: Any) -> Any:
    url = f"{server.base_url}/bot{server.token}/{method}"
    async with httpx.AsyncClient() as client:
        if form:
            data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
            response = await client.post(url, data=data)
        else:
            response = await client.post(url, json=params)
    return response.json()


async def test_wrong_token_and_unknown_method(botapi: BotApiServer) -> None:
    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"{botapi.base_url}/bot1:nope/getMe")
    assert wrong.status_code == 401
    assert (await _call(botapi, "noSuchMethod"))["error_code"] == 404
    assert (await _call(botapi, "getMe"))["result"]["username"] == botapi.bot["username"]


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
async def test_send_message_json_and_form_bodies(botapi: BotApiServer, form: bool) -> None:
    chat = botapi.private_chat(botapi.user())
    markup = {"inline_keyboard": [[{"text": "More", "callback_data": "m:1"}]]}
    reply = await _call(
        botapi,
        "sendMessage",
        form=form,
        chat_id=chat.id,
        text="<b>42</b>",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert reply["ok"], reply
    assert reply["result"]["text"] == "42"  # stays a string although it looks like JSON
    assert reply["result"]["reply_markup"] == markup
    assert (await botapi.wait_for_messages(chat.id))[0]["entities"][0]["type"] == "bold"


async def test_bad_html_is_refused_over_http(botapi: BotApiServer) -> None:
    chat = botapi.private_chat(botapi.user())
    reply = await _call(botapi, "sendMessage", chat_id=chat.id, text="<b>x", parse_mode="HTML")
    assert reply["error_code"] == 400
    assert reply["description"].startswith("Bad Request: can't parse entities: ")
    plain = await _call(botapi, "sendMessage", chat_id=chat.id, text="<b>x")
    assert plain["ok"]  # without parse_mode the same text is fine


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 4096, True),
        ("a" * 4097, False),
        ("<b>" + "a" * 4096 + "</b>", True),  # the limit applies after entity parsing
        ("&amp;" * 4096, True),
        ("😀" * 2048, True),  # 4096 UTF-16 code units
        ("😀" * 2049, False),
    ],
)
async def test_length_limit_counts_utf16_after_parsing(
    botapi: BotApiServer, text: str, ok: bool
) -> None:
    chat = botapi.private_chat(botapi.user())
    reply = await _call(botapi, "sendMessage", chat_id=chat.id, text=text, parse_mode="HTML")
    assert reply["ok"] is ok
    if not ok:
        assert reply["description"] == "Bad Request: message is too long"


@pytest.mark.parametrize(("data", "ok"), [("x" * 64, True), ("x" * 65, False), ("é" * 33, False)])
async def test_callback_data_limit_is_64_bytes(botapi: BotApiServer, data: str, ok: bool) -> None:
    chat = botapi.private_chat(botapi.user())
    markup = {"inline_keyboard": [[{"text": "b", "callback_data": data}]]}
    reply = await _call(botapi, "sendMessage", chat_id=chat.id, text="t", reply_markup=markup)
    assert reply["ok"] is ok
    if not ok:
        assert reply["description"] == "Bad Request: BUTTON_DATA_INVALID"


# ------------------------------------------------------------------------------ updates


async def test_get_updates_offset_and_long_poll(botapi: BotApiServer) -> None:
    chat = botapi.private_chat(botapi.user())
    first = await chat.send("one")
    second = await chat.send("two")
    updates = (await _call(botapi, "getUpdates"))["result"]
    assert [u["update_id"] for u in updates] == [first.update_id, second.update_id]
    assert (await _call(botapi, "getUpdates", limit=1))["result"][0]["message"]["text"] == "one"
    assert second.update_id is not None
    confirmed = await _call(botapi, "getUpdates", offset=second.update_id)
    assert [u["message"]["text"] for u in confirmed["result"]] == ["two"]
    assert (await _call(botapi, "getUpdates", offset=second.update_id + 1))["result"] == []

    poll = asyncio.create_task(_call(botapi, "getUpdates", offset=second.update_id + 1, timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()  # long polling waits ...
    await chat.send("three")
    woke = await asyncio.wait_for(poll, 2)  # ... and returns as soon as an update arrives
    assert [u["message"]["text"] for u in woke["result"]] == ["three"]


async def test_a_newer_poll_terminates_the_older_one(botapi: BotApiServer) -> None:
    old = asyncio.create_task(_call(botapi, "getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    assert (await _call(botapi, "getUpdates"))["ok"]
    assert (await asyncio.wait_for(old, 2))["error_code"] == 409


@pytest.mark.parametrize(
    ("text", "delivered"),
    [
        ("just chatting about Iraq", False),
        ("/ask Iraq", True),
        (f"/ask@{'newsdesk_test_bot'} Iraq", True),
        ("/ask@some_other_bot Iraq", False),
        ("hey @newsdesk_test_bot what about Iraq?", True),
        ("hey @someone_else what about Iraq?", False),
    ],
)
async def test_privacy_mode_decides_what_the_bot_receives(
    botapi: BotApiServer, text: str, delivered: bool
) -> None:
    alice = botapi.user()
    group = botapi.group("Readers", [alice])
    assert (await group.send(text)).delivered is delivered
    everything = botapi.group("Open", [alice], privacy=False)
    assert (await everything.send(text)).delivered


async def test_replies_to_the_bot_arrive_in_groups(botapi: BotApiServer) -> None:
    alice, bob = botapi.user("Alice"), botapi.user("Bob")
    group = botapi.group("Readers", [alice, bob])
    said = await group.send("hello")
    bot_message = await _call(botapi, "sendMessage", chat_id=group.id, text="news")
    assert (await group.send("more?", user=bob, reply_to=bot_message["result"])).delivered
    assert not (await group.send("me too", user=bob, reply_to=said)).delivered


async def test_forum_topics_keep_the_thread(botapi: BotApiServer) -> None:
    forum = botapi.group("Forum", [botapi.user()], forum=True)
    topic = forum.create_topic("Middle East")
    asked = await forum.send("/ask Iraq", thread_id=topic)
    assert asked.message["message_thread_id"] == topic and asked.message["is_topic_message"]
    assert asked.message["reply_to_message"]["forum_topic_created"]["name"] == "Middle East"
    reply = await _call(
        botapi,
        "sendMessage",
        chat_id=forum.id,
        text="answer",
        message_thread_id=topic,
        reply_parameters={"message_id": asked.message_id},
    )
    assert reply["result"]["message_thread_id"] == topic
    missing = await _call(botapi, "sendMessage", chat_id=forum.id, text="x", message_thread_id=999)
    assert missing["description"] == "Bad Request: message thread not found"


# ------------------------------------------------------------------------------ with PTB's Bot


@pytest.fixture
async def bot(botapi: BotApiServer) -> Any:
    async with Bot(botapi.token, base_url=f"{botapi.base_url}/bot") as bot:
        yield bot


async def test_ptb_sees_telegram_errors(botapi: BotApiServer, bot: Bot) -> None:
    alice, bob = botapi.user("Alice"), botapi.user("Bob")
    blocked, flooded = botapi.private_chat(alice), botapi.private_chat(bob)
    group = botapi.group("Old group", [alice])
    botapi.fail_chat(blocked.id, "blocked", times=None)
    botapi.fail_chat(flooded.id, "flood", retry_after=3)
    supergroup = group.upgrade()

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(blocked.id, "hi")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(flooded.id, "hi")
    assert flood.value.retry_after == dtm.timedelta(seconds=3)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(group.id, "hi")
    assert migrated.value.new_chat_id == supergroup.id
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(flooded.id, "<b>x", parse_mode=ParseMode.HTML)

    assert (await bot.send_message(flooded.id, "again")).text == "again"  # one fault only
    await bot.send_message(supergroup.id, "hi")
    botapi.clear_faults(blocked.id)
    await bot.send_message(blocked.id, "unblocked")
    assert [c.status for c in botapi.calls_to("sendMessage", blocked.id)] == [403, 200]


async def test_edits_callbacks_and_inline_answers(botapi: BotApiServer, bot: Bot) -> None:
    alice = botapi.user()
    chat = botapi.private_chat(alice)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="m:1")]])
    sent = await bot.send_message(chat.id, "first", reply_markup=keyboard)
    query_id = await chat.press(sent.to_dict(), "More")
    updates = await bot.get_updates()
    assert updates[-1].callback_query is not None
    assert updates[-1].callback_query.data == "m:1"

    await bot.edit_message_text("second", chat_id=chat.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("second", chat_id=chat.id, message_id=sent.message_id)
    assert [e["text"] for e in await botapi.wait_for_edits(chat.id)] == ["second"]

    assert await bot.answer_callback_query(query_id, text="ok")
    assert (await botapi.wait_for_callback_answer(query_id))["text"] == "ok"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)  # a query is answered once

    inline_id = botapi.inline_query(alice, "iraq")
    await bot.answer_inline_query(inline_id, [])
    assert (await botapi.wait_for_inline_answer(inline_id))["results"] == []


async def test_waiting_for_nothing_fails_clearly(botapi: BotApiServer) -> None:
    chat = botapi.private_chat(botapi.user())
    with pytest.raises(AssertionError, match="timed out"):
        await botapi.wait_for_messages(chat.id, timeout=0.1)


async def test_edits_and_channel_posts_arrive_only_when_asked_for() -> None:
    for harsh in (False, True):
        async with BotApiServer(ignore_allowed_updates=harsh) as server:
            chat = server.private_chat(server.user())
            posted = await chat.send("one")
            await chat.edit(posted, "one, edited")
            await server.channel().send("news")
            kinds = ["message", "callback_query", "inline_query"]
            updates = (await _call(server, "getUpdates", allowed_updates=kinds))["result"]
            received = [next(k for k in u if k != "update_id") for u in updates]
            if harsh:  # every kind, although the bot asked for fewer
                assert received == ["message", "edited_message", "channel_post"]
                assert updates[1]["edited_message"]["text"] == "one, edited"
                assert "from" not in updates[2]["channel_post"]
            else:  # as Telegram: only what allowed_updates names
                assert received == ["message"]


async def test_a_press_after_the_question_was_deleted_has_no_reply_to_message(
    botapi: BotApiServer, bot: Bot
) -> None:
    chat = botapi.private_chat(botapi.user())
    question = await chat.send("who?")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="m:1")]])
    sent = await bot.send_message(
        chat.id, "card", reply_markup=keyboard, reply_to_message_id=question.message_id
    )
    await chat.press(sent.to_dict(), "More")
    await chat.press(sent.to_dict(), "More", question_deleted=True)
    updates = await bot.get_updates(offset=(question.update_id or 0) + 1)
    messages = [u.callback_query.message for u in updates if u.callback_query]
    assert [m.reply_to_message is not None for m in messages] == [True, False]  # type: ignore[union-attr]
    callbacks, inline = botapi.unanswered()
    assert len(callbacks) == 2 and inline == []


async def test_the_flood_limit_is_a_sliding_window_not_a_refilling_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter with a timedelta, no warning
    async with BotApiServer(messages_per_second=3) as server:
        chat = server.private_chat(server.user("Carol"))
        async with Bot(server.token, base_url=f"{server.base_url}/bot") as bot:
            for n in range(3):
                await bot.send_message(chat.id, f"burst {n}")
            await asyncio.sleep(0.5)  # a bucket refilling 3/s would hold a message again
            with pytest.raises(RetryAfter) as flood:
                await bot.send_message(chat.id, "one more within the second")
            assert flood.value.retry_after == dtm.timedelta(seconds=1)
            await asyncio.sleep(1.0)  # the burst has left the window
            await bot.send_message(chat.id, "next second")
    statuses = [c.status for c in server.calls_to("sendMessage", chat.id)]
    assert statuses == [200, 200, 200, 429, 200]
