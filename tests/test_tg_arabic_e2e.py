"""End to end in Arabic: the real Application over HTTP against the local Bot API server.

`/language ar`, Arabic questions answered with Arabic cards, the digest in Arabic, menus per
language, and awkward input (only diacritics, emoji, bidi overrides, very long text) answered
politely in the chat's language. The store holds the small Arabic fixture articles.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import FSI, PDI, RLM
from bot.settings import Settings
from bot.tg.app import build_application, polling
from bot.tg.context import NewsApp
from tests.botapi import BotApiServer, Chat
from tests.test_push_e2e import Clock, desk_of

FIXTURE = Path(__file__).parent / "fixtures" / "arabic"
LIBRARY = "Bayt Al-Kutub: افتتاح أكبر مكتبة عامة في الرياض بمليوني كتاب"
RAIN = "أمطار غزيرة على جدة وتعليق الدراسة في المدارس يوم الثلاثاء"
DATES = "مهرجان التمور في بريدة يستقبل 120 ألف زائر في أسبوعه الأول"
_ARABIC = re.compile("[\u0600-\u06ff]")
_LATIN_WORD = re.compile("[A-Za-z]{3,}")


@pytest.fixture
def clock() -> Clock:
    # 04:29:58 UTC is 07:29:58 in Riyadh (UTC+3), two seconds before a 07:30 digest
    return Clock(datetime(2025, 3, 10, 4, 29, 58, tzinfo=UTC))


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[NewsApp]:
    """The bot, polling, over a store seeded with the Arabic fixture articles only."""
    settings.seeds = FIXTURE
    application = build_application(settings)
    application.bot_data.clock = clock
    async with polling(application, poll_timeout=1):
        yield application


async def say(botapi: BotApiServer, chat: Chat, text: str, **kw: Any) -> dict[str, Any]:
    """Send `text`; the bot's reply to it."""
    asked = await chat.send(text, **kw)
    assert asked.delivered
    (reply,) = await botapi.wait_for_messages(chat.id)
    assert reply["reply_to_message"]["message_id"] == asked.message_id
    return reply


def buttons(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def in_arabic(text: str) -> bool:
    """Arabic words and no English ones (commands, codes and our story's Latin name aside)."""
    rest = re.sub(r"[/@]\w+|Asia/\w+|Bayt Al-Kutub|HH:MM|UTC|[a-z]{2}\|[a-z]{2}", "", text)
    return bool(_ARABIC.search(text)) and not _LATIN_WORD.search(rest)


async def until(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_an_arabic_conversation(botapi: BotApiServer, app: NewsApp) -> None:
    # an English-speaking Telegram user whose chat chooses Arabic
    dm = botapi.private_chat(botapi.user("Layla", language_code="en"))
    assert (await say(botapi, dm, "/start"))["text"].startswith("Hi, Layla!")
    assert (await say(botapi, dm, "/language ar"))["text"] == "لغة هذه المحادثة: العربية."
    assert desk_of(app).languages.chosen(dm.id) == "ar"
    hello = (await say(botapi, dm, "/start"))["text"]
    assert hello.startswith(f"أهلاً {FSI}Layla{PDI}!") and in_arabic(hello[13:])
    assert in_arabic((await say(botapi, dm, "/help"))["text"])

    # an Arabic question: the Arabic card, its labels and date in Arabic
    card = await say(botapi, dm, "كم كتاباً تضم مكتبة الرياض الجديدة؟")
    lines = card["text"].split("\n")
    assert lines[0] == RLM + LIBRARY  # starts with a Latin name, laid out right to left
    assert lines[1] == "09 مارس 2025، 06:00 UTC · أخبار المثال"  # the default zone
    assert "مليوني كتاب" in card["text"]
    assert {"المصدر", "👍", "👎"} <= set(buttons(card))
    bold = [card["text"][e["offset"] : e["offset"] + e["length"]] for e in card["entities"]]
    assert RLM + LIBRARY in bold

    more = await say(botapi, dm, "كم زائراً حضر مهرجان التمور؟")
    assert more["text"].startswith(DATES)
    assert "النتيجة 1 من" in more["text"] and "المزيد ◀" in buttons(more)
    await dm.press(more, "المزيد ◀")
    (edited,) = await botapi.wait_for_edits(dm.id)
    assert "النتيجة 2 من" in edited["text"] and "▶ السابق" in buttons(edited)

    nothing = await say(botapi, dm, "ما أخبار كرة القدم في البرازيل؟")
    assert nothing["text"].startswith("لم أجد في الأخبار")

    # the digest: subscribed in Arabic, delivered in Arabic two seconds later
    reply = (await say(botapi, dm, "/subscribe 07:30 Asia/Riyadh"))["text"]
    assert reply.startswith(
        f"تم الاشتراك: يصلك موجزك كل يوم في الساعة 07:30 ({FSI}Asia/Riyadh{PDI})."
    )
    (digest,) = await botapi.wait_for_messages(dm.id, timeout=10)
    text = digest["text"]
    assert text.startswith("موجز أخبارك · 10 مارس 2025")
    assert f"1. {RLM}{LIBRARY}" in text and f"2. {RAIN}" in text and f"3. {DATES}" in text
    assert text.split("\n")[-1].startswith("ردّ على هذه الرسالة بسؤال")
    links = [e for e in digest["entities"] if e["type"] == "text_link"]
    assert links[0]["url"] == "https://news.example/ar/riyadh-library"

    # a question replying to the digest is answered from it, in Arabic
    asked = await dm.send("هل عُلّقت الدراسة في جدة؟", reply_to=digest)
    assert asked.delivered
    (answer,) = await botapi.wait_for_messages(dm.id)
    assert answer["text"].startswith(RAIN)

    settings_text = (await say(botapi, dm, "/settings"))["text"]
    assert "الحالة: مفعّل" in settings_text and f"{FSI}Asia/Riyadh{PDI}" in settings_text
    assert settings_text.endswith("اللغة: العربية")

    # and back to English
    assert (await say(botapi, dm, "/language en"))["text"] == "This chat's language: English."
    card = await say(botapi, dm, "كم كتاباً تضم مكتبة الرياض الجديدة؟")
    assert "09 Mar 2025, 09:00 +03" in card["text"] and "Source" in buttons(card)


async def test_the_telegram_language_is_used_until_a_chat_chooses(
    botapi: BotApiServer, app: NewsApp
) -> None:
    arab = botapi.private_chat(botapi.user("Omar", language_code="ar"))
    other = botapi.private_chat(botapi.user("Pia", language_code="pt-br"))
    assert (await say(botapi, arab, "/start"))["text"].startswith(f"أهلاً {FSI}Omar{PDI}!")
    assert (await say(botapi, other, "/start"))["text"].startswith("Hi, Pia!")  # no catalogue
    shown = (await say(botapi, arab, "/language"))["text"]
    assert shown.startswith("أجيب كل شخص بلغة تيليغرام") and "<code>" not in shown
    assert (await say(botapi, arab, "/language en"))["text"] == "This chat's language: English."
    assert (await say(botapi, arab, "/language xx"))["text"].startswith("This chat's language")
    auto = (await say(botapi, arab, "/language auto"))["text"]
    assert auto == "من الآن سأجيب كل شخص بلغة تيليغرام التي يستخدمها."
    assert (await say(botapi, arab, "/help"))["text"].startswith("اسألني عن الأخبار.")


async def test_command_menus_and_descriptions_per_language(
    botapi: BotApiServer, app: NewsApp
) -> None:
    english = {c["command"]: c["description"] for c in botapi.commands}
    arabic = {c["command"]: c["description"] for c in botapi.commands_by_language["ar"]}
    assert english.keys() == arabic.keys() >= {"ask", "language", "subscribe", "help"}
    assert english["ask"].startswith("Ask about the news")
    assert arabic["ask"].startswith("اسأل عن الأخبار")
    assert botapi.descriptions["description"].startswith("Ask me about the news")
    assert botapi.descriptions_by_language["ar"]["description"].startswith("اسألني عن الأخبار")
    assert botapi.descriptions_by_language["ar"]["short_description"]
    assert "en" not in botapi.commands_by_language  # English is the default menu


async def test_only_group_admins_choose_the_groups_language(
    botapi: BotApiServer, app: NewsApp
) -> None:
    admin = botapi.user("Alice", language_code="en")
    member = botapi.user("Badr", language_code="en")
    group = botapi.group("Readers", [admin, member], supergroup=True)
    group.promote(admin)
    refused = await say(botapi, group, "/language ar", user=member)
    assert refused["text"] == "Only this group’s admins can change its language."
    chosen = await say(botapi, group, "/language ar", user=admin)
    assert chosen["text"] == "لغة هذه المحادثة: العربية."
    # the group's choice wins over the member's own Telegram language
    usage = await say(botapi, group, "/ask", user=member)
    assert usage["text"].startswith("اسأل هكذا")
    refused = await say(botapi, group, "/language en", user=member)
    assert refused["text"] == "لا يغيّر لغة هذه المجموعة إلا مشرفوها."


AWKWARD = [
    "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652",  # only diacritics
    "؟!…،؛ ... ???",  # only punctuation
    "🙂🔥💥" * 30,  # only emoji
    "ـــــــ",  # only tatweel
    "\u202e\u061f\u061f\u202c",  # a right-to-left override around question marks
]
ANSWERED = [
    "\u202eمكتبة الرياض\u202c كم كتاباً؟",  # an override around words: still a question
    "Khashoggi خاشقجي 🙂 مكتبة Riyadh",  # mixed scripts and emoji
    "مكتبة الرياض " * 300,  # very long Arabic (3,900 characters)
]


async def test_awkward_input_gets_a_polite_arabic_reply_and_only_the_usual_log_line(
    botapi: BotApiServer, app: NewsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    dm = botapi.private_chat(botapi.user("Omar", language_code="ar"))
    for text in AWKWARD:
        reply = (await say(botapi, dm, text))["text"]
        assert reply == "اكتب سؤالك بالكلمات من فضلك، مثلاً: من زار العراق؟", text
    for text in ANSWERED:
        reply = (await say(botapi, dm, text))["text"]
        assert len(reply) < 2000 and "\u202e" not in reply
        assert reply.startswith((RLM + LIBRARY, "لم أجد في الأخبار")), text
        assert in_arabic(reply.replace(LIBRARY, "")), reply

    def bot_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith("bot")]

    # the last update's line is written just after its reply is sent
    await until(lambda: len(bot_lines()) >= len(AWKWARD) + len(ANSWERED), "the log lines")
    await asyncio.sleep(0.2)
    usual = re.compile(r"update \d+ chat=private kind=message command=- latency_ms=[\d.]+")
    assert len(bot_lines()) == len(AWKWARD) + len(ANSWERED)
    assert all(usual.fullmatch(r.getMessage()) for r in bot_lines()), [
        r.getMessage() for r in bot_lines()
    ]


async def test_inline_answers_speak_the_askers_language(botapi: BotApiServer, app: NewsApp) -> None:
    omar = botapi.user("Omar", language_code="ar")
    answer = await botapi.wait_for_inline_answer(botapi.inline_query(omar, "مكتبة الرياض"))
    first = answer["results"][0]
    assert first["title"] == LIBRARY
    assert first["description"].startswith("09 مارس 2025")
    assert first["reply_markup"]["inline_keyboard"][0][0]["text"] == "المصدر"
    amy = botapi.user("Amy", language_code="en")
    answer = await botapi.wait_for_inline_answer(botapi.inline_query(amy, "مكتبة الرياض"))
    assert answer["results"][0]["description"].startswith("09 Mar 2025")
