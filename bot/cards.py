"""Answer cards that remember: what a card showed, so its buttons need nothing else.

A card is one answer message as the user first got it: the question, the moment it was
asked (the `as_of` of its search), the digest it was asked about if any, and the ranked
results shown. Buttons carry only the card's id and a rank, so they work after a restart,
without the question message (deleted, or not sent along by the client), and show the
same ranking however much news arrived since. Cards are kept `cards.keep_days`.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from bot import followup
from bot.models import Answer, Card, CardKind, QueryContext, Scope
from bot.service import NewsDesk, clean_question
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)

CARD_ID_BYTES = 6  # 8 URL-safe characters: unguessable enough, short in callback data
# Results of a new card whose excerpt is built at once: the one it shows. The others' are
# built when More (or a did-you-mean button) shows them, and kept in the card.
SHOWN = 1


class CardExpired(Exception):
    """A button of a card older than `cards.keep_days` (kept until retention prunes it)."""

    def __init__(self, card: Card) -> None:
        super().__init__(card.id)
        self.card = card


class CardDesk:
    """Asks questions as cards, and answers their buttons from the store alone.

    Time is always passed in (`now`, the bot's clock), so tests pin it: it dates cards, for
    expiry and the follow-up window. Searches are as of the present, as every answer is;
    outside tests the two are the same moment. Every card is saved before it is sent, so
    its buttons can name it.
    """

    def __init__(self, desk: NewsDesk) -> None:
        self._desk = desk
        self._store: Store = desk.store
        self._settings: Settings = desk.settings

    # -- asking ---------------------------------------------------------------------------

    def ask(
        self,
        chat_id: int,
        question: str,
        *,
        now: datetime,
        reply_to: int | None = None,
        story: int | None = None,
        private: bool = False,
    ) -> Card:
        """Answer `question` as a new card in `chat_id`.

        Args:
            reply_to: the id of the bot's message the question replies to: a card (the
                question may then be a follow-up to it), a digest (asked within it), or
                another message of the bot.
            story: a digest story number ("/ask 2 ..."), asked within the latest digest.
            private: a private chat, where a short question leaning on the chat's last card
                within `followup.window_minutes` is a follow-up to it.
        """
        replied = self._store.card_by_message(chat_id, reply_to) if reply_to else None
        previous = replied
        if previous is None and private and reply_to is None and story is None:
            previous = self._store.latest_card(chat_id)
            window = timedelta(minutes=self._settings.followup.window_minutes)
            if previous is not None and not followup.within(previous.asked_at, now, window):
                previous = None
        leaning = previous is not None and followup.leans_on_previous(question)
        if previous is not None and leaning:
            return self._follow_up(chat_id, question, previous, now)
        if replied is None and (reply_to is not None or story is not None):
            answer = self._desk.digests.ask(
                chat_id, question, message_id=reply_to, number=story, excerpts=SHOWN
            )
            scope = Scope(digest_message_id=reply_to, story=story)
            return self._save(chat_id, question, question, answer, now, scope=scope)
        answer = self._desk.ask(question, excerpts=SHOWN)
        return self._save(chat_id, question, question, answer, now)

    def _follow_up(self, chat_id: int, question: str, previous: Card, now: datetime) -> Card:
        """`question` in the context of `previous`: its topic's words, and the article it
        shows. A did-you-mean card answered nothing: only its question's words count. A
        card asked within a digest keeps its follow-ups within that digest (not its story
        number: the follow-up asks something new about it)."""
        focus = previous.focus if previous.kind != "suggestions" else None
        topic = clean_question(f"{previous.topic} {question}")
        context = QueryContext(text=previous.topic, article_id=focus.article_id if focus else None)
        about = focus.headline if focus else previous.question or None
        if previous.scope is None:
            answer = self._desk.ask(question, context=context, excerpts=SHOWN)
            return self._save(chat_id, question, topic, answer, now, about=about)
        digest = previous.scope.digest_message_id
        answer = self._desk.digests.ask(
            chat_id, question, message_id=digest, context=context, excerpts=SHOWN
        )
        scope = Scope(digest_message_id=digest)
        return self._save(chat_id, question, topic, answer, now, scope=scope, about=about)

    def _save(
        self,
        chat_id: int,
        question: str,
        topic: str,
        answer: Answer,
        now: datetime,
        *,
        scope: Scope | None = None,
        about: str | None = None,
    ) -> Card:
        kind: CardKind = "answer" if answer.found and answer.results else "suggestions"
        card = Card(
            id=new_card_id(),
            chat_id=chat_id,
            kind=kind,
            question=clean_question(question),
            topic=topic,
            asked_at=now,
            scope=scope,
            results=answer.results,
            about=about,
        )
        self._store.save_card(card)
        return card

    def open_article(self, chat_id: int, article_id: str, *, now: datetime) -> Card | None:
        """A card of one article (a headline's button); None when the article is gone."""
        result = self._desk.result(article_id)
        if result is None:
            return None
        card = Card(
            id=new_card_id(),
            chat_id=chat_id,
            kind="article",
            question="",
            topic=result.headline,
            asked_at=now,
            results=[result],
        )
        self._store.save_card(card)
        return card

    def sent(self, card: Card, message_id: int) -> Card:
        """Remember which message shows the card (so a reply to it can find it)."""
        self._store.set_card_message(card.id, message_id)
        return card.model_copy(update={"message_id": message_id})

    # -- buttons --------------------------------------------------------------------------

    def card(self, card_id: str, chat_id: int, *, now: datetime) -> Card | None:
        """The card a button names, if it exists in this chat.

        Raises:
            CardExpired: it is older than `cards.keep_days`.
        """
        card = self._store.card(card_id)
        if card is None or card.chat_id != chat_id:
            return None  # pruned, forged, or a button carried to another chat
        if card.expired(now, self._settings.cards.keep_days):
            raise CardExpired(card)
        return card

    def show(self, card: Card, rank: int) -> Card | None:
        """The card showing result `rank` (More/Back); None when it has no such result."""
        if card.kind != "answer" or not 0 <= rank < len(card.results):
            return None
        shown = self._completed(card, rank).model_copy(update={"shown": rank})
        if shown.results is card.results:
            self._store.set_card_shown(card.id, rank)
        else:
            self._store.save_card(shown)
        return shown

    def open(self, card: Card, rank: int, *, now: datetime) -> Card | None:
        """A new card for suggestion `rank` of `card` (did-you-mean); None if out of range."""
        if not 0 <= rank < len(card.results):
            return None
        opened = self._completed(card, rank).model_copy(
            update={"id": new_card_id(), "kind": "article", "shown": rank, "message_id": None}
        )
        self._store.save_card(opened)
        return opened

    def _completed(self, card: Card, rank: int) -> Card:
        """`card` with result `rank`'s excerpt built, if it was left for when it is shown
        (the same card, results and all, when it was not)."""
        result = card.results[rank]
        if result.pending is None:
            return card
        results = list(card.results)
        results[rank] = self._desk.complete(result)
        return card.model_copy(update={"results": results})

    def vote(self, card: Card, rank: int, helpful: bool) -> bool:
        """Record 👍/👎 on result `rank` of `card` with its question; False if out of range."""
        if not 0 <= rank < len(card.results):
            return False
        self._store.add_feedback(
            card.chat_id,
            card.question,
            card.results[rank].article_id,
            helpful,
            card_id=card.id,
            rank=rank,
        )
        return True

    def prune(self, now: datetime) -> int:
        """Delete cards older than `cards.keep_days`; returns how many."""
        return self._store.delete_cards_before(now - timedelta(days=self._settings.cards.keep_days))


def new_card_id() -> str:
    return secrets.token_urlsafe(CARD_ID_BYTES)
