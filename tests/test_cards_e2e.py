"""Cards that remember, end to end: the real application against the local Bot API server.

A card's buttons name only the card; these tests take away everything else a button could
lean on (the question's message, the process, the ranking of the moment) and check that
More/Back, votes, did-you-mean and expiry still do what the user expects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from bot.tg import render
from bot.tg.app import build_application, polling
from bot.tg.context import NewsApp
from tests.botapi import BotApiServer
from tests.test_tg_e2e import AL_HOL, IRAN, ask, buttons, desk_of, found_two, not_found

# A fresh story that would now rank first for the Al-Hol question.
NEWER = {
    "id": "al-hol-newer",
    "headline": "Al-Hol camp: the last Iraqis leave the camp",
    "body": ["The last Iraqi families left the Al-Hol camp in Syria on Monday, officials said."],
    "url": "https://news.example/al-hol-last",
}


class Clock:
    """The bot's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[NewsApp]:
    async with running(settings, clock) as application:
        yield application


def running(settings: Settings, clock: Clock) -> Any:
    application = build_application(settings)
    application.bot_data.clock = clock
    return polling(application, poll_timeout=1)


JSON = dict[str, Any]


def ingest(app: NewsApp, tmp_path: Path, article: dict[str, Any]) -> None:
    path = tmp_path / f"{article['id']}.jsonl"
    published = datetime.now(UTC).isoformat()
    path.write_text(json.dumps({**article, "published": published}) + "\n", encoding="utf-8")
    assert desk_of(app).ingest([path]).added == 1


# ---------------------------------------------------------------------------------- tests


async def test_more_and_back_work_after_the_question_was_deleted(
    botapi: BotApiServer, app: NewsApp
) -> None:
    dm = botapi.private_chat(botapi.user())
    question = found_two(desk_of(app))
    asked = await dm.send(question)
    (card,) = await botapi.wait_for_messages(dm.id)
    dm.delete(asked)

    query_id = await dm.press(card, "More ▶")
    # what the bot received: the card, with no trace of the deleted question
    assert "reply_to_message" not in botapi.callback_query(query_id)["message"]
    assert (await botapi.wait_for_callback_answer(query_id)).get("text") is None
    (second,) = await botapi.wait_for_edits(dm.id)
    assert second["text"].startswith(IRAN) and "Result 2 of 2" in second["text"]

    await botapi.wait_for_callback_answer(await dm.press(second, "◀ Back"))
    (first,) = await botapi.wait_for_edits(dm.id)
    assert first["text"] == card["text"] and first["text"].startswith(AL_HOL)

    answer = await botapi.wait_for_callback_answer(await dm.press(first, "👍"))
    assert answer["text"].startswith("Thanks")
    (verdict,) = desk_of(app).store.feedback()
    assert (verdict["question"], verdict["rank"], verdict["helpful"]) == (question, 0, True)


async def test_did_you_mean_works_after_the_question_was_deleted(
    botapi: BotApiServer, app: NewsApp
) -> None:
    dm = botapi.private_chat(botapi.user())
    question = not_found(desk_of(app))
    asked = await dm.send(question)
    (reply,) = await botapi.wait_for_messages(dm.id)
    dm.delete(asked)
    suggestion = desk_of(app).ask(question).results[0].headline
    label = next(iter(buttons(reply)))
    assert suggestion.startswith(label.rstrip("…"))

    pressed = await dm.press(reply, label)
    assert "reply_to_message" not in botapi.callback_query(pressed)["message"]
    (opened,) = await botapi.wait_for_messages(dm.id)
    assert opened["text"].startswith(suggestion)
    assert (await botapi.wait_for_callback_answer(pressed)).get("text") is None


async def test_buttons_work_after_a_restart(
    botapi: BotApiServer, settings: Settings, clock: Clock
) -> None:
    dm = botapi.private_chat(botapi.user())
    async with running(settings, clock) as first_run:
        card = await ask(botapi, dm, found_two(desk_of(first_run)))
    async with running(settings, clock):  # a new process: nothing kept but the store
        await botapi.wait_for_callback_answer(await dm.press(card, "More ▶"))
        (second,) = await botapi.wait_for_edits(dm.id)
        assert second["text"].startswith(IRAN) and "Result 2 of 2" in second["text"]
        answer = await botapi.wait_for_callback_answer(await dm.press(second, "👎"))
        assert answer["text"].startswith("Thanks")


async def test_a_card_keeps_its_ranking_when_news_arrives_between_presses(
    botapi: BotApiServer, app: NewsApp, tmp_path: Path
) -> None:
    dm = botapi.private_chat(botapi.user())
    question = found_two(desk_of(app))
    card = await ask(botapi, dm, question)
    await botapi.wait_for_callback_answer(await dm.press(card, "More ▶"))
    (second,) = await botapi.wait_for_edits(dm.id)

    ingest(app, tmp_path, NEWER)
    assert desk_of(app).ask(question).results[0].headline == NEWER["headline"]  # it would lead

    await botapi.wait_for_callback_answer(await dm.press(second, "◀ Back"))
    (first,) = await botapi.wait_for_edits(dm.id)
    assert first["text"] == card["text"]  # the same first result, not the new one
    await botapi.wait_for_callback_answer(await dm.press(first, "More ▶"))
    (again,) = await botapi.wait_for_edits(dm.id)
    assert again["text"] == second["text"] and "Result 2 of 2" in again["text"]


async def test_an_expired_card_says_so_and_asks_again(
    botapi: BotApiServer, app: NewsApp, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.tg.jobs")
    dm = botapi.private_chat(botapi.user())
    question = found_two(desk_of(app))
    card = await ask(botapi, dm, question)
    clock.now += timedelta(days=31)

    answer = await botapi.wait_for_callback_answer(await dm.press(card, "More ▶"))
    assert "expired" in answer["text"] and "30 days" in answer["text"]
    (edited,) = await botapi.wait_for_edits(dm.id)
    assert edited["text"] == card["text"]  # the answer stays readable
    assert list(buttons(edited)) == ["🔄 Ask again"]

    await botapi.wait_for_callback_answer(await dm.press(edited, "🔄 Ask again"))
    (fresh,) = await botapi.wait_for_messages(dm.id)
    assert (
        fresh["text"].startswith(AL_HOL)
        and fresh["reply_to_message"]["message_id"] == (card["message_id"])
    )
    assert "More ▶" in buttons(fresh)  # a new card, with working buttons

    assert app.job_queue is not None
    (retention,) = app.job_queue.get_jobs_by_name("retention")
    await retention.run(app)
    assert "retention: deleted 1 expired cards" in caplog.text
    answer = await botapi.wait_for_callback_answer(await dm.press(edited, "🔄 Ask again"))
    assert answer["text"] == render.EXPIRED  # pruned: nothing left to re-ask


async def test_ask_again_on_an_expired_follow_up_asks_what_it_was_about(
    botapi: BotApiServer, app: NewsApp, clock: Clock
) -> None:
    dm = botapi.private_chat(botapi.user())
    await ask(botapi, dm, "Pezeshkian visit")
    follow = await ask(botapi, dm, "when?")
    assert follow["text"].startswith("about: Iran’s president visits Iraq")
    clock.now += timedelta(days=31)

    await botapi.wait_for_callback_answer(await dm.press(follow, "👍"))
    (edited,) = await botapi.wait_for_edits(dm.id)
    await botapi.wait_for_callback_answer(await dm.press(edited, "🔄 Ask again"))
    (fresh,) = await botapi.wait_for_messages(dm.id)
    assert fresh["text"].startswith(IRAN)  # not "found nothing" for "when?" alone


async def test_buttons_from_before_cards_get_a_polite_answer(
    botapi: BotApiServer, app: NewsApp
) -> None:
    dm = botapi.private_chat(botapi.user())
    old_keyboard = {
        "inline_keyboard": [
            [{"text": "More ▶", "callback_data": "m:1"}],
            [{"text": "👍", "callback_data": "f:1:some-article"}],
        ]
    }
    async with httpx.AsyncClient() as client:  # as an older version of the bot sent it
        sent = await client.post(
            f"{botapi.base_url}/bot{botapi.token}/sendMessage",
            json={"chat_id": dm.id, "text": "An old answer", "reply_markup": old_keyboard},
        )
    old = sent.json()["result"]
    for button in ("More ▶", "👍"):
        answer = await botapi.wait_for_callback_answer(await dm.press(old, button))
        assert "older version" in answer["text"]
    assert not [c for c in botapi.calls if c.status >= 400]


async def test_a_forged_card_id_gets_the_expired_answer(botapi: BotApiServer, app: NewsApp) -> None:
    dm, other = botapi.private_chat(botapi.user()), botapi.private_chat(botapi.user("Eve"))
    card = await ask(botapi, dm, found_two(desk_of(app)))
    more = buttons(card)["More ▶"]["callback_data"]
    keyboard = {"inline_keyboard": [[{"text": "steal", "callback_data": more}]]}
    async with httpx.AsyncClient() as client:
        sent = await client.post(
            f"{botapi.base_url}/bot{botapi.token}/sendMessage",
            json={"chat_id": other.id, "text": "bait", "reply_markup": keyboard},
        )
    answer = await botapi.wait_for_callback_answer(
        await other.press(sent.json()["result"], "steal")
    )
    assert "expired" in answer["text"]  # another chat's card is not shown there
    assert not botapi.calls_to("editMessageText", other.id)


# ---------------------------------------------------------------------------------- follow-ups


async def test_a_private_follow_up_is_answered_in_context_and_says_so(
    botapi: BotApiServer, app: NewsApp, clock: Clock
) -> None:
    dm = botapi.private_chat(botapi.user())
    first = await ask(botapi, dm, "Pezeshkian visit")
    assert first["text"].startswith(IRAN)
    assert not desk_of(app).ask("when?").found  # alone it means nothing

    clock.now += timedelta(minutes=3)
    follow = await ask(botapi, dm, "when?")
    about, headline = follow["text"].split("\n")[:2]
    assert about.startswith("about: Iran’s president visits Iraq") and headline == IRAN

    standalone = await ask(botapi, dm, "Al-Hol camp")  # names its own subject: unchanged
    assert (
        standalone["text"]
        == (await ask(botapi, botapi.private_chat(botapi.user()), "Al-Hol camp"))["text"]
    )
    assert standalone["text"].startswith(AL_HOL)

    follow = await ask(botapi, dm, "and when?")  # now about the Al-Hol answer
    assert follow["text"].startswith("about: Iraq begins closing Al-Hol camp")
    await botapi.wait_for_callback_answer(await dm.press(follow, "More ▶"))
    (second,) = await botapi.wait_for_edits(dm.id)  # paging keeps saying what it is about
    assert second["text"].startswith("about: Iraq begins closing Al-Hol camp")
    assert "Result 2 of 2" in second["text"]

    clock.now += timedelta(minutes=11)  # past followup.window_minutes
    late = await ask(botapi, dm, "when?")
    assert not late["text"].startswith("about:") and "found nothing" in late["text"]


async def test_in_a_group_a_reply_to_a_card_is_a_follow_up(
    botapi: BotApiServer, app: NewsApp
) -> None:
    alice, bob = botapi.user("Alice"), botapi.user("Bob")
    group = botapi.group("Readers", [alice, bob], supergroup=True)
    card = await ask(botapi, group, "/ask Pezeshkian visit")
    follow = await ask(botapi, group, "when?", user=bob, reply_to=card)
    assert follow["text"].startswith("about: Iran’s president visits Iraq")
    assert follow["text"].split("\n")[1] == IRAN
    unrelated = await ask(botapi, group, "/ask when?")  # not a reply: no context
    assert not unrelated["text"].startswith("about:")
