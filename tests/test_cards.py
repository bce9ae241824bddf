"""CardDesk on a real store: cards are saved as shown, found again, expire and are pruned;
feedback keeps the card's question and rank; follow-ups lean on the card before."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cards import SHOWN, CardDesk, CardExpired
from bot.service import NewsDesk
from bot.settings import Settings
from bot.store import SCHEMA_VERSION, Store
from tests.test_cli import newsbot

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
AL_HOL = "Iraq begins closing Al-Hol camp, 19,000 citizens return home"
IRAN = "Iran’s president visits Iraq on first foreign trip"


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[NewsDesk]:
    opened = NewsDesk.open(Settings(db=tmp_path / "news.db"))
    yield opened
    opened.close()


@pytest.fixture
def cards(desk: NewsDesk) -> CardDesk:
    return CardDesk(desk)


def test_a_card_is_stored_as_shown_and_found_by_id_and_message(cards: CardDesk) -> None:
    card = cards.ask(7, "Al-Hol camp Iraq Iran", now=NOW)
    assert card.kind == "answer" and [r.headline for r in card.results] == [AL_HOL, IRAN]
    assert card.asked_at == NOW and card.question == "Al-Hol camp Iraq Iran"
    assert len(card.id) == 8
    sent = cards.sent(card, 42)
    assert cards.card(card.id, 7, now=NOW) == sent
    assert cards._store.card_by_message(7, 42) == sent
    assert cards.card(card.id, 8, now=NOW) is None  # another chat's card is not found


def test_more_and_back_move_within_the_stored_ranking(cards: CardDesk) -> None:
    card = cards.ask(7, "Al-Hol camp Iraq Iran", now=NOW)
    second = cards.show(card, 1)
    assert second is not None and second.focus is not None and second.focus.headline == IRAN
    assert cards.card(card.id, 7, now=NOW) == second  # remembered: follow-ups lean on it
    assert cards.show(card, 2) is None and cards.show(card, -1) is None


def test_nothing_found_keeps_the_suggestions_and_opens_one_as_a_card(cards: CardDesk) -> None:
    card = cards.ask(7, "Iraq football", now=NOW)
    assert card.kind == "suggestions" and card.results
    opened = cards.open(card, 0, now=NOW)
    assert opened is not None and opened.kind == "article" and opened.id != card.id
    assert opened.question == card.question and opened.shown == 0
    assert cards.open(card, 9, now=NOW) is None


def test_votes_record_the_cards_question_and_rank(cards: CardDesk, desk: NewsDesk) -> None:
    card = cards.ask(7, "Al-Hol camp Iraq Iran", now=NOW)
    assert cards.vote(card, 1, helpful=False)
    assert not cards.vote(card, 5, helpful=True)
    (verdict,) = desk.store.feedback()
    assert verdict["question"] == "Al-Hol camp Iraq Iran" and verdict["rank"] == 1
    assert verdict["helpful"] is False and verdict["chat_id"] == 7
    assert verdict["card_id"] == card.id


def test_cards_expire_after_keep_days_and_retention_prunes_them(
    cards: CardDesk, desk: NewsDesk
) -> None:
    old = cards.ask(7, "Al-Hol camp", now=NOW - timedelta(days=31))
    fresh = cards.ask(7, "Al-Hol camp", now=NOW - timedelta(days=29))
    with pytest.raises(CardExpired) as expired:
        cards.card(old.id, 7, now=NOW)
    assert expired.value.card.question == "Al-Hol camp"
    assert cards.card(fresh.id, 7, now=NOW) is not None
    assert cards.prune(NOW) == 1
    assert desk.store.card(old.id) is None and desk.store.card(fresh.id) is not None


def test_keep_days_is_a_setting(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "n.db", cards={"keep_days": 2})  # type: ignore[arg-type]
    desk = NewsDesk.open(settings)
    try:
        card = CardDesk(desk).ask(1, "Al-Hol camp", now=NOW - timedelta(days=3))
        with pytest.raises(CardExpired):
            CardDesk(desk).card(card.id, 1, now=NOW)
    finally:
        desk.close()
    assert Settings().cards.keep_days == 30 and Settings().followup.window_minutes == 10


def test_a_chat_that_moves_keeps_its_cards(cards: CardDesk, desk: NewsDesk) -> None:
    card = cards.sent(cards.ask(-5, "Al-Hol camp", now=NOW), 3)
    desk.store.move_chat(-5, -100)
    assert cards.card(card.id, -100, now=NOW) is not None
    assert desk.store.card_by_message(-100, 3) is not None


# ---------------------------------------------------------------------------------- follow-ups


def test_a_short_leaning_question_follows_the_last_card(cards: CardDesk) -> None:
    first = cards.ask(7, "Pezeshkian visit", now=NOW, private=True)
    assert first.results[0].headline == IRAN
    assert not cards._desk.ask("when?").found  # alone it means nothing
    follow = cards.ask(7, "when?", now=NOW + timedelta(minutes=3), private=True)
    assert follow.kind == "answer" and follow.results[0].headline == IRAN
    assert follow.about == IRAN
    assert "pezeshkian" in follow.topic.lower() and follow.question == "when?"


def test_a_follow_up_leans_on_the_result_on_display(cards: CardDesk) -> None:
    first = cards.ask(7, "Al-Hol camp Iraq Iran", now=NOW, private=True)
    cards.show(first, 1)  # the user moved on to the second result
    follow = cards.ask(7, "and when?", now=NOW + timedelta(minutes=1), private=True)
    assert follow.about == IRAN


def test_a_follow_up_to_nothing_found_leans_on_the_question_not_a_suggestion(
    cards: CardDesk,
) -> None:
    first = cards.ask(7, "Pezeshkian football", now=NOW, private=True)
    assert first.kind == "suggestions"
    follow = cards.ask(7, "and when?", now=NOW, private=True)
    assert follow.about == "Pezeshkian football"  # says what it leaned on: the question


def test_questions_that_stand_alone_or_come_late_are_not_changed(cards: CardDesk) -> None:
    cards.ask(7, "Pezeshkian visit", now=NOW, private=True)
    alone = cards.ask(7, "Al-Hol camp", now=NOW + timedelta(minutes=1), private=True)
    assert alone.about is None and alone.topic == "Al-Hol camp"
    assert alone.results == cards._desk.ask("Al-Hol camp", excerpts=SHOWN).results
    late = cards.ask(7, "when?", now=NOW + timedelta(minutes=12), private=True)
    assert late.about is None and late.kind == "suggestions"


def test_in_groups_only_a_reply_to_a_card_is_a_follow_up(cards: CardDesk) -> None:
    first = cards.sent(cards.ask(-5, "Pezeshkian visit", now=NOW), 10)
    assert cards.ask(-5, "when?", now=NOW).about is None  # not a reply: no context
    follow = cards.ask(-5, "when?", now=NOW + timedelta(hours=5), reply_to=first.message_id)
    assert follow.about == IRAN and follow.results[0].headline == IRAN


def test_a_follow_up_to_a_card_asked_within_a_digest_stays_within_it(
    cards: CardDesk, desk: NewsDesk
) -> None:
    al_hol = next(r.article_id for r in desk.ask("Al-Hol camp Iraq Iran").results)
    desk.store.finish_delivery(-5, "2026-11-30", "sent", article_ids=[al_hol], message_ids=[41])
    asked = cards.ask(-5, "how many families returned?", now=NOW, reply_to=41)
    first = cards.sent(asked, 50)
    assert first.scope is not None and first.scope.digest_message_id == 41
    follow = cards.ask(-5, "and Iraq?", now=NOW, reply_to=first.message_id)
    assert follow.about == AL_HOL and follow.scope == first.scope
    assert [r.article_id for r in follow.results] == [al_hol]  # not the Iran story outside it


# ---------------------------------------------------------------------------------- store, CLI


def test_feedback_from_before_cards_survives_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = Store.open(path)
    store.close()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO feedback (chat_id, question, article_id, helpful, at)"
        " VALUES (1, 'q', 'a', 1, '2024-01-01')"
    )
    db.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        (verdict,) = store.feedback()
        assert verdict["rank"] is None and verdict["question"] == "q"
    finally:
        store.close()


def test_feedback_export_leaves_chat_ids_out_unless_asked(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    desk = NewsDesk.open(Settings(db=db))
    try:
        cards = CardDesk(desk)
        card = cards.ask(123456789, "Al-Hol camp Iraq Iran", now=NOW)
        cards.vote(card, 1, helpful=True)
    finally:
        desk.close()
    run = newsbot(db, "feedback", "--json")
    assert run.returncode == 0, run.stderr
    (line,) = run.stdout.splitlines()
    verdict = json.loads(line)
    assert verdict["question"] == "Al-Hol camp Iraq Iran" and verdict["rank"] == 1
    assert verdict["helpful"] is True and "chat_id" not in verdict
    assert "123456789" not in run.stdout
    with_chats = json.loads(newsbot(db, "feedback", "--json", "--with-chats").stdout)
    assert with_chats["chat_id"] == 123456789
    assert "#2" in newsbot(db, "feedback").stdout


def test_a_card_reads_the_result_it_shows_and_the_next_when_more_shows_it(
    cards: CardDesk, desk: NewsDesk
) -> None:
    card = cards.ask(7, "Al-Hol camp Iraq Iran", now=NOW)
    first, second = card.results
    assert first.pending is None and "Al-Hol" in first.excerpt
    assert second.pending is not None and second.excerpt == ""
    at_once = desk.ask("Al-Hol camp Iraq Iran").results  # every excerpt built at once
    shown = cards.show(card, 1)
    assert shown is not None and shown.results == at_once
    assert cards.card(card.id, 7, now=NOW) == shown  # kept: Back and More read it again


def test_a_suggestion_opened_as_a_card_gets_its_excerpt(cards: CardDesk) -> None:
    card = cards.ask(7, "Iraq football", now=NOW)
    assert card.kind == "suggestions" and len(card.results) > 1
    assert card.results[1].pending is not None
    opened = cards.open(card, 1, now=NOW)
    assert opened is not None and opened.focus is not None
    assert opened.focus.pending is None and opened.focus.excerpt
