"""Ranking: question -> ranked article hits with a calibrated confidence (no I/O but the index).

The ranking, per article: the BM25 score of its best passage (headline terms count in every
passage, see `bot.index`; halved for an article that matches in that one passage only, read
on the passages' own text, an aside such as an item of a roundup), plus a bounded freshness
bonus on the days between publication and the question's date (relevance first, recency
for near-ties); for an Arabic question, plus a share of its headline's own BM25 (see
HEADLINE_WEIGHT) and of the question's terms its best sentence holds together (see
SENTENCE_WEIGHT). One order: the first N hits are the same whatever the limit asked for.
Misspelled question words (not in the index vocabulary) are corrected first.
In a store of articles in several languages, the articles in the question's language come
first, so an Arabic question is answered from Arabic articles, unless only articles in another
language answer it (their first hit is confident and the question language's is not).
The confidence of a hit is the idf-weighted share of the question's content terms found in
its best passage or headline, which stays meaningful on a store of two articles where BM25
magnitudes do not; a question is found when the first hit's confidence reaches
FOUND_THRESHOLD.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot import arabic, lang, text
from bot.analysis import Reading
from bot.index import IndexFormatError, LexicalIndex, Match, language_code
from bot.models import Article, Hit, QueryContext

logger = logging.getLogger(__name__)

# Recency: a fresh article's score (the BM25 of its best passage) gains up to
# RECENCY_WEIGHT * log((TAU + FADE) / TAU) points, falling with age to nothing at FADE_DAYS
# (see `freshness_bonus`): freshness orders near-ties, and past FADE_DAYS age costs nothing
# more. The bonus is at most BONUS_CAP times the article's own score, so a match weaker than
# half of another is never lifted over it by freshness alone; an undated article gets none.
RECENCY_WEIGHT = 10.0
RECENCY_TAU_DAYS = 3.0
FADE_DAYS = 30.0
BONUS_CAP = 1.0
# A question of at most SHORT_QUESTION terms ("US troops in Iraq") names what it is about in
# every word: an article that lacks one of them, which another candidate holds, is clearly
# weaker. It gets no freshness bonus and its score is scaled by MISSING_TERM per such term.
# Not for an Arabic question: Arabic writes one word in forms its stems do not join ("يقع" and
# "تقع", is located; "ذكر" and "الذكور", male and males), so the article a question is about
# often "lacks" one of its words (on the tune half of ARCD dev, article@1 0.816 -> 0.824
# without the rule).
SHORT_QUESTION = 4
MISSING_TERM = 0.7
# An article of ASIDE_MIN_PASSAGES passages or more whose second-best passage scores under
# ASIDE_RATIO of its best one touches the question in one place only: an item of a roundup
# ("5 things to know", a news quiz that quotes the question) or an aside in a story about
# something else. The article that reports the event matches in several of its passages
# (its headline's words count in every one). Such an aside scores ASIDE of its best
# passage. A shorter article (ARCD's encyclopedia pages are 4-8 passages) is about one
# subject even where a fact is told in one paragraph: from 3 passages on, ARCD's article@1
# fell 0.858 -> 0.839; from 6, it is unchanged. On the tuning part of newsqa dev
# (benchmarks/bench_retrieval.py) ratios 0.2-0.4 and factors 0.5-0.7 all gain article@1
# and @5; the best of them there is kept, and the held-out part gains with it. The passages
# are compared on their own text (see ASIDE_CANDIDATES).
ASIDE_MIN_PASSAGES = 6
ASIDE_RATIO = 0.3
ASIDE = 0.5
# The headline's words count in every passage (see `bot.index`), so on full scores every
# passage of an article whose headline holds a question word seems to match: a roundup titled
# with its item's words, or an article whose headline shares a common question word ("US",
# "week"), hid its single matching passage. The test reads the passages on their own text,
# the headline's words taken out, as the excerpt's passage is chosen: newsqa dev article@5
# 0.917 -> 0.927 (held-out part 0.844 -> 0.875, tuning part unchanged), ARCD unchanged. The
# discount only lowers an article, so it is read for the ASIDE_CANDIDATES leading articles by
# score and by score with freshness (as many as CANDIDATES).
ASIDE_CANDIDATES = 30
# An Arabic question often names its subject only as the article's title does ("ما هو
# الاسد؟", what is the lion?), and an encyclopedia page's or a profile's title is its subject.
# The headline's words count in every passage (see `bot.index`), where a long passage dilutes
# them and a short headline that the question fills weighs no more than a long one it
# touches. For an Arabic question an article therefore also scores HEADLINE_WEIGHT times the
# BM25 of its headline as a field of its own (BM25F-like, normalised by headline length), so
# "أسد" outranks "بشار الأسد" for the lion. On ARCD dev (benchmarks/bench_arabic.py) article@1
# went 0.869 -> 0.883 (tune half 0.854 -> 0.866, held out half 0.884 -> 0.901); weights
# 0.4-1.0 all gain on both halves, 2.0 loses (the title outweighs the passage that answers).
# Not for English: newsqa headlines are sentences about an event, and its figures stand.
HEADLINE_WEIGHT = 0.5
# An Arabic question's words often meet in one sentence of the article it was asked of
# ("آسيا أكبر قارة في الأرض" for "ما اكبر قارة فى الارض؟") while the passage BM25 of another
# article holds them as often, apart (Europe's page says "القارة" four times). For an Arabic
# question, each of the best SENTENCE_CANDIDATES articles by score also scores
# SENTENCE_WEIGHT times the idf mass of the question's terms that one of its sentences holds
# together (`LexicalIndex.sentence_scores`). On the tune half of ARCD dev article@1
# 0.870 -> 0.874 (held out 0.901 -> 0.910); weights 0.25-0.4 score the same, 0.15 gains
# nothing; sliding windows of 5-12 content words instead of sentences score as sentences do.
# The bonus orders the first few: over the best 5, 10 or 30 the figures are the same.
SENTENCE_WEIGHT = 0.25
SENTENCE_CANDIDATES = 10
# An Arabic question that holds the whole headline of one of its candidates names that
# article's subject ("هل كانت دولة الأندلس مستقلة إثر تأسسها؟" names "الأندلس"; an encyclopedia
# page's or a profile's title is its subject). A candidate that never mentions such a word,
# in its headline or any passage, in either of its forms (`title_words`), is about something
# else however well its other words match (the United Nations' page holds "دولة", "مستقلة"
# and "تأسست" together): it scores
# MISSING_TERM per such word, as a short question's article lacking one of its words does.
# Unlike that rule it reads the whole article, not the best passage (Arabic writes a word in
# forms its stems do not join, see SHORT_QUESTION; a title's own words are its most
# repeated). On ARCD dev article@1 0.896 -> 0.898 (held out half 0.914 -> 0.918, tune half
# unchanged), with factors 0.5-0.85 alike. Not for English: a news headline is a sentence,
# which a question holds whole only by chance.
SUBJECT_CANDIDATES = 30
# Articles ranked in full (confidence, terms held): the best CANDIDATES by score with
# freshness and the best by score alone. The same whatever the caller's limit up to it, so
# the first results never depend on how many are asked for.
CANDIDATES = 30
# Confidence: the share of the question's idf mass found in the best passage (headline
# included), the denominator padded with PHANTOM_SHARE of the question's heaviest term, so
# that a question of one matched word reaches at most 2/3 and is not deemed answered on that
# alone. (Padding with the store's rarest idf, as before, kept a short question that a
# two-article store answers word for word below the threshold: its words are in every
# passage there, so their idf is small against the rarest.)
PHANTOM_SHARE = 0.5
# Calibrated with benchmarks/bench_retrieval.py: the top hit's confidence for answerable
# questions (dev and chat-style questions whose top hit is right, on the mixed store, on
# small stores of 31 articles, and the seeds' chat questions on the seeds alone) against
# unanswerable ones (off-topic questions on the mixed store and the seeds alone, dev and
# chat questions on small stores without their article). Balanced accuracy peaks at 0.45
# (0.805); see docs/benchmarks.md for the table.
FOUND_THRESHOLD = 0.45
# Typo correction of words the index does not know: words of MIN_CORRECTABLE letters or
# more, within one edit (OSA: a swap of neighbours is one edit), two from LONG_WORD letters.
MIN_CORRECTABLE = 4
LONG_WORD = 7
MAX_EDITS = 2
# Follow-ups (see bot.followup): the earlier question's terms count at CONTEXT_WEIGHT of
# their BM25 weight, and the article its card showed gains CONTEXT_BOOST, so "and when?"
# stays with that story while "and in Syria?" may move to another one about Syria. On the
# dev half of benchmarks/followups.jsonl (bench_followups.py --grid) weights 0.3-1.0 and
# boosts 0-8 all score within one exchange of each other; the middle of that plateau is kept.
CONTEXT_WEIGHT = 0.5
CONTEXT_BOOST = 4.0
# Explaining hits (best passage, confidence) is one numpy pass whose cost is mostly fixed
# for a few articles: the first pass (the first hit's, for `found`) explains the first
# EXPLAIN_AHEAD too, the results a card shows unless its story spread reorders them.
EXPLAIN_AHEAD = 5
_DAY = 86_400.0


class Search(BaseModel):
    """The outcome of one question.

    `hits` are the best articles, at most `limit`, in rank order (a longer limit only adds
    hits after these), each with a confidence in [0, 1]. `found` says whether the first one
    clears FOUND_THRESHOLD; when it does not, the hits are only suggestions
    (`did_you_mean`). `terms` are the query stems used; `corrections` maps misspelled
    question words to the index words used instead (two, space-separated, for an Arabic
    word read as two words typed without a space).
    """

    model_config = ConfigDict(frozen=True)

    question: str
    found: bool
    hits: list[Hit] = Field(default_factory=list)
    terms: tuple[str, ...] = ()
    corrections: dict[str, str] = Field(default_factory=dict)

    @property
    def did_you_mean(self) -> list[Hit]:
        """The closest articles when nothing was found (empty when something was)."""
        return [] if self.found else self.hits


@dataclass(frozen=True)
class Ranking:
    """A question's articles in rank order, before they are explained.

    `article_ids` are the best articles, at most the limit asked for, in the order of
    `Search.hits` (the same order whatever the limit); `found` says whether the first is an
    answer. Explaining an article (its best passage, its confidence, the terms it holds) is
    most of a search's cost, and a card shows a few of the articles ranked for its story
    spread, so only those are explained (`search`). `explain` is the engine's, over the
    index as it was ranked: call `search` before the index changes (`NewsDesk` holds its
    index lock across both).
    """

    question: str
    found: bool
    article_ids: tuple[str, ...]
    terms: tuple[str, ...]
    corrections: dict[str, str]
    explain: Callable[[Sequence[str]], list[Hit]] = field(repr=False, compare=False)

    def search(self, article_ids: Sequence[str] | None = None) -> Search:
        """The Search of these ranked articles (None: all), explained, in the order given."""
        chosen = self.article_ids if article_ids is None else article_ids
        return Search(
            question=self.question,
            found=self.found,
            hits=self.explain(chosen) if chosen else [],
            terms=self.terms,
            corrections=self.corrections,
        )


def unranked(question: str, terms: tuple[str, ...], corrections: dict[str, str]) -> Ranking:
    """The Ranking of a question that finds nothing (no terms, or an empty index)."""
    return Ranking(question, False, (), terms, corrections, lambda ids: [])


class Retriever:
    """Searches articles by question; owns the lexical index and its directory."""

    def __init__(self, index: LexicalIndex | None = None, index_dir: Path | None = None) -> None:
        self._index = index if index is not None else LexicalIndex()
        self._index_dir = index_dir
        self._speller: _Speller | None = None

    @classmethod
    def open(cls, index_dir: Path) -> Retriever:
        """Load the index saved in `index_dir`, or start empty (generation None) if none is."""
        try:
            index = LexicalIndex.load(index_dir)
        except IndexFormatError as error:
            logger.info("starting an empty index: %s", error)
            index = LexicalIndex()
        return cls(index, index_dir)

    @property
    def generation(self) -> int | None:
        """The generation given to the last `save`, or None for an index never saved."""
        return self._index.generation

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._index

    def article_ids(self) -> list[str]:
        """The ids of the articles indexed now."""
        return self._index.article_ids()

    def add(
        self, articles: Iterable[Article], readings: Mapping[str, Reading] | None = None
    ) -> int:
        """Index (or re-index) articles; returns the number of passages added.

        `readings` are some of the articles' `bot.analysis.read`, by id, when already made.
        """
        self._speller = None
        return self._index.add(articles, readings)

    def remove(self, article_ids: Iterable[str]) -> int:
        """Drop articles from the index; returns how many were there."""
        return self._index.remove(article_ids)

    def save(self, generation: int) -> None:
        """Persist the index to its directory, tagged with the caller's `generation`."""
        if self._index_dir is None:
            raise ValueError("this retriever has no index directory")
        self._index.save(self._index_dir, generation)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """How specific each stem is in the indexed articles (BM25 idf, > 0; rarer is higher)."""
        return self._index.idf(terms)

    def close(self) -> None:
        """Nothing to give back: the index lives in this process's memory."""

    def search(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        limit: int = 5,
        context: QueryContext | None = None,
    ) -> Search:
        """Rank articles for `question` as of a date, every hit explained (see `rank`).

        Returns:
            The hits in rank order with their confidence, and whether the first is an answer.
        """
        return self.rank(question, as_of=as_of, limit=limit, context=context).search()

    def rank(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        limit: int = 5,
        context: QueryContext | None = None,
    ) -> Ranking:
        """Rank articles for `question` as of a date; they are explained on demand.

        Args:
            question: free text.
            as_of: the moment the question is asked; articles published later are left out.
                None means now. A naive datetime is taken as UTC.
            limit: at most this many articles (values below 1 count as 1).
            context: what a follow-up question leans on (None for a question on its own):
                its text's terms join the query at CONTEXT_WEIGHT, its article gains
                CONTEXT_BOOST, and both count in the confidence.

        Returns:
            The articles in rank order, whether the first is an answer, and the means to
            explain any of them (`Ranking.search`) while the index stays as it is.
        """
        terms, corrections = self._query_terms(question)
        extra = self._context_terms(context, terms)
        if not (terms or extra) or not len(self._index):
            return unranked(question, terms, corrections)
        match = self._match(terms, extra)
        language = lang.detect(question)
        titled = language == "ar"  # see HEADLINE_WEIGHT
        plain, fresh = self._article_scores(match, _moment(as_of), titled=titled)
        if context is not None and context.article_id is not None:
            plain = self._boost(plain, context.article_id)
            fresh = self._boost(fresh, context.article_id)
        if titled:  # see SUBJECT_CANDIDATES
            plain, fresh = self._named_subject(match, terms, plain, fresh)
        limit = max(limit, 1)
        asked, other = self._by_language(language, plain, fresh)
        own, terms = len(terms), terms + extra
        whole = language == "ar"  # see SHORT_QUESTION
        mine = self._ranked(match, *asked, limit, whole=whole)
        others = self._ranked(match, *other, limit, whole=whole)
        slot_of = {self._index.slot_article(slot): slot for slot in mine + others}
        explained: dict[int, Hit] = {}

        def explain(article_ids: Sequence[str]) -> list[Hit]:
            slots = [slot_of[article_id] for article_id in article_ids]
            # One pass costs about the same for one article or a few (see EXPLAIN_AHEAD).
            ahead = mine[:EXPLAIN_AHEAD] if not explained else []
            todo = [slot for slot in dict.fromkeys(slots + ahead) if slot not in explained]
            if todo:
                explained.update(zip(todo, self._hits(todo, match, terms, own), strict=True))
            return [explained[slot] for slot in slots]

        ids = [self._index.slot_article(slot) for slot in mine]
        foreign = [self._index.slot_article(slot) for slot in others]
        return settle(question, ids, foreign, limit, terms, corrections, explain)

    def _by_language(
        self, language: lang.Language | None, plain: np.ndarray, fresh: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """(plain, fresh) scores of the articles in the question's language, then of the others.

        Articles left out of a side score -inf there. Without a question language, or when
        every candidate is in it or none is, all articles are on the first side.
        """
        nothing = np.full_like(plain, -np.inf)
        if language is None:
            return (plain, fresh), (nothing, nothing)
        mine = self._index.slot_language == language_code(language)
        candidates = np.isfinite(plain)
        if not (candidates & ~mine).any() or not (candidates & mine).any():
            return (plain, fresh), (nothing, nothing)
        return (
            (np.where(mine, plain, -np.inf), np.where(mine, fresh, -np.inf)),
            (np.where(mine, -np.inf, plain), np.where(mine, -np.inf, fresh)),
        )

    def _query_terms(self, question: str) -> tuple[tuple[str, ...], dict[str, str]]:
        return query_terms(question, self._unknown, self._spell, self._index.in_headlines)

    def _context_terms(
        self, context: QueryContext | None, terms: tuple[str, ...]
    ) -> tuple[str, ...]:
        return context_terms(context, terms, self._query_terms)

    def _match(self, terms: tuple[str, ...], extra: tuple[str, ...]) -> Match:
        """The question's terms at full weight and the context's at CONTEXT_WEIGHT, as one
        match: scaling a term's idf scales its BM25 score and its share of the confidence."""
        match = self._index.match(terms)
        if not extra:
            return match
        other = self._index.match(extra)
        return Match(
            scores=match.scores + CONTEXT_WEIGHT * other.scores,
            idf=np.concatenate([match.idf, CONTEXT_WEIGHT * other.idf]),
            term_ids=match.term_ids + other.term_ids,
            postings=match.postings + other.postings,
        )

    def _named_subject(
        self, match: Match, terms: tuple[str, ...], plain: np.ndarray, fresh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`plain` and `fresh` with each of the best SUBJECT_CANDIDATES articles that never
        mentions a word of a headline the question's own `terms` hold whole scaled by
        MISSING_TERM per such word (see SUBJECT_CANDIDATES)."""
        index = self._index
        asked = {
            term_id: term
            for term_id, term in zip(match.term_ids[: len(terms)], terms, strict=True)
            if term_id is not None
        }
        slots = _top(fresh, SUBJECT_CANDIDATES)
        subject: set[int] = set()
        for slot in slots:
            title = index.headline_term_ids(slot)
            if title and title <= asked.keys():
                subject |= title
        if not subject:
            return plain, fresh
        chosen = np.array(slots, np.int64)
        held = {
            asked[term_id]: np.isin(chosen, index.passage_slot[docs])
            for term_id, (docs, _) in zip(match.term_ids, match.postings, strict=True)
            if term_id in subject
        }
        factor = np.ones(len(chosen))
        for word in title_words(held):
            factor[~np.logical_or.reduce([held[term] for term in word])] *= MISSING_TERM
        plain, fresh = plain.copy(), fresh.copy()
        plain[chosen] *= factor
        fresh[chosen] *= factor
        return plain, fresh

    def _boost(self, scores: np.ndarray, article_id: str) -> np.ndarray:
        slot = self._index.slot(article_id)
        if slot is not None and np.isfinite(scores[slot]):
            scores = scores.copy()
            scores[slot] += CONTEXT_BOOST
        return scores

    def _unknown(self, form: str) -> bool:
        """Whether a word is worth correcting: letters only, long enough, and unknown."""
        return (
            len(form) >= MIN_CORRECTABLE
            and form.isalpha()
            and form not in self._index.words
            and self._index.term_id(text.stem(form)) is None
        )

    def _spell(self) -> _Speller:
        if self._speller is None:
            self._speller = _Speller(self._index.words)
        return self._speller

    def _ranked(
        self, match: Match, plain: np.ndarray, fresh: np.ndarray, limit: int, *, whole: bool
    ) -> list[int]:
        """The best `limit` slots, in an order that does not depend on `limit`.

        By score with freshness; for a short question (unless `whole`), articles lacking
        one of its words that another candidate holds lose their freshness and MISSING_TERM
        per such word.
        """
        if whole or len(match.term_ids) > SHORT_QUESTION:
            return _top(fresh, limit)
        count = max(limit, CANDIDATES)
        slots = np.array(list(dict.fromkeys(_top(fresh, count) + _top(plain, count))), np.int64)
        if not len(slots):
            return []
        held = self._held(match, slots)
        missing = (held.any(axis=0) & ~held).sum(axis=1)
        strength = np.where(missing > 0, plain[slots] * MISSING_TERM**missing, fresh[slots])
        order = np.argsort(-strength, kind="stable")[:limit]
        return [int(slot) for slot in slots[order]]

    def _held(self, match: Match, slots: np.ndarray) -> np.ndarray:
        """Which query terms (columns) the best passage of each slot (rows) holds.

        A passage holds its headline's terms too (see `bot.index`).
        """
        index = self._index
        bounds = np.append(index.slot_start, index.n_passages)
        starts, ends = bounds[slots], bounds[slots + 1]
        best = np.array(
            [
                start + int(np.argmax(match.scores[start:end]))
                for start, end in zip(starts, ends, strict=True)
            ]
        )
        columns = []
        for docs, _ in match.postings:
            position = np.minimum(np.searchsorted(docs, best), max(len(docs) - 1, 0))
            columns.append(docs[position] == best if len(docs) else np.zeros(len(best), bool))
        return np.column_stack(columns)

    def _article_scores(
        self, match: Match, moment: float, *, titled: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per slot: the best passage's BM25 (an aside's discounted), with `titled` plus
        HEADLINE_WEIGHT times the headline's own BM25 and, for the best SENTENCE_CANDIDATES,
        plus SENTENCE_WEIGHT times what their best sentence holds (see SENTENCE_WEIGHT); and
        that plus the freshness bonus.

        The aside test reads the passages on their own text (see ASIDE_CANDIDATES).
        Articles gone, published after `moment` or matching nothing score -inf.
        """
        index = self._index
        best = np.maximum.reduceat(match.scores, index.slot_start)
        head = HEADLINE_WEIGHT * index.headline_scores(match) if titled else 0.0
        days = (moment - index.slot_published) / _DAY
        eligible = index.slot_alive & ~(days < 0) & (best > 0)
        ages = freshness_bonus(days)

        def rated(best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            scores = best + head
            plain = np.where(eligible, scores, -np.inf)
            return plain, plain + np.minimum(ages, BONUS_CAP * np.maximum(scores, 0.0))

        # The aside discount only lowers an article: read for the leading ones.
        plain, fresh = rated(best)
        lead = np.array(
            list(dict.fromkeys(_top(plain, ASIDE_CANDIDATES) + _top(fresh, ASIDE_CANDIDATES))),
            np.int64,
        )
        top, second, sizes = index.body_top_two(match, lead)
        # Shorter than ASIDE_MIN_PASSAGES: never an aside (read all the same: the best
        # passages of the leading articles are those of most hits).
        best[lead[(sizes >= ASIDE_MIN_PASSAGES) & (second < ASIDE_RATIO * top)]] *= ASIDE
        plain, fresh = rated(best)
        if titled:  # see SENTENCE_WEIGHT
            slots = _top(fresh, SENTENCE_CANDIDATES)
            together = SENTENCE_WEIGHT * index.sentence_scores(match, slots)
            plain[slots] += together
            fresh[slots] += together
        return plain, fresh

    def _hits(self, slots: list[int], match: Match, terms: tuple[str, ...], own: int) -> list[Hit]:
        """The hits of these articles, in order; `own` is how many of `terms` are the
        question's own (the rest came from a follow-up's context). A hit's confidence is the
        share of the weighted terms its best passage holds, of all terms or of the question's
        own, whichever is higher: the context must not make an article that answers the
        question itself fall short.
        """
        index = self._index
        weights = _term_weights(match)
        # The heaviest term sets the padding; a follow-up's context terms weigh
        # CONTEXT_WEIGHT of their idf, so a question of context only ("when?") is padded
        # as lightly as its terms weigh.
        phantom = PHANTOM_SHARE * float(weights.max()) if len(weights) else 0.0
        whole, mine_whole = float(weights.sum()) + phantom, float(weights[:own].sum()) + phantom
        shown = [not arabic.is_light_term(term) for term in terms]
        best, present = index.best_passages(match, slots)
        hits = []
        for slot, ordinal, held in zip(
            slots, index.passage_ordinal[best].tolist(), present.tolist(), strict=True
        ):
            matched = [i for i, term_held in enumerate(held) if term_held]
            confidence = float(weights[matched].sum()) / whole
            if 0 < own < len(terms):
                mine = [i for i in matched if i < own]
                confidence = max(confidence, float(weights[mine].sum()) / mine_whole)
            # Built without validation: every field is made here, in range.
            hits.append(
                Hit.model_construct(
                    article_id=index.slot_article(slot),
                    passage=ordinal,
                    score=min(max(confidence, 0.0), 1.0),
                    terms=tuple(terms[i] for i in matched if shown[i]),
                )
            )
        return hits


def query_terms(
    question: str,
    unknown: Callable[[str], bool],
    speller: Callable[[], _Speller],
    titled: Callable[[str], bool] | None = None,
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Distinct stems (and Arabic light terms) of the question's content words, the words
    `unknown` to the engine corrected by its `speller` first (an Arabic word that is two
    known words typed without a space is read as those two); also the corrections made.

    An Arabic word that, read bare (`arabic.bare_readings`: a fused particle or a nisba or
    pronoun ending off), has a stem that is `titled` (an article's headline holds it) adds
    that stem too (see `title_readings`).
    """
    corrections: dict[str, str] = {}
    forms: list[str] = []

    def known(form: str) -> bool:
        return len(form) >= MIN_CORRECTABLE and not unknown(form)

    for form in text.words(question):
        if text.is_stopword(form):
            continue
        if unknown(form):
            parts = None if form.isascii() else arabic.split_joined(form, known)
            if parts is not None:
                corrections[form] = " ".join(parts)
                forms.extend(part for part in parts if not text.is_stopword(part))
                continue
            fixed = speller().correct(form)
            if fixed is not None:
                corrections[form] = fixed
                if text.is_stopword(fixed):
                    continue
                form = fixed
        forms.append(form)
    stems = [*text.stems(forms), *arabic.light_terms(forms)]
    if titled is not None:
        stems += title_readings(forms, stems, titled)
    return tuple(dict.fromkeys(stems)), corrections


# Wikipedia's Arabic questions, and a reader's, name an article's subject as its title does,
# but inflected: with a fused particle ("ما هي اللغة الرسمية لكندا؟", of Canada's page
# "كندا") or as an adjective ("الفلسطينيين", the Palestinians, of "فلسطين"). Snowball keeps
# "ل" and "ك" on a word without the article, and takes one suffix off where a nisba
# adjective has two, so the stems do not meet ("لكند" and "كند"; "لسطيني" and "لسط"), and
# the light stem that joins them weighs 0.2. A question word whose bare reading
# (`arabic.bare_readings`) has the stem of a headline's word also counts that stem, in full:
# on ARCD dev article@1 0.892 -> 0.896 (tune half 0.874 -> 0.879, held out 0.910 -> 0.914),
# no question lost. The headline is the evidence that the bare word is a name and not a
# guess ("لبنان" is not "ل" + "بنان"): read bare whenever the bare word is in the index, 35
# questions change their terms instead of 12 ("الولايات" as "آيات", verses), for the same
# two gained.
def title_readings(
    forms: Sequence[str], stems: Sequence[str], titled: Callable[[str], bool]
) -> list[str]:
    """The stems of the bare readings of the Arabic `forms` (see `query_terms`) that are
    `titled` and not among `stems` already."""
    found: list[str] = []
    for form in forms:
        if form.isascii() or not lang.has_arabic(form):
            continue
        for bare in arabic.bare_readings(form):
            stem = text.stem(bare)
            if stem not in stems and stem not in found and titled(stem):
                found.append(stem)
    return found


def title_words(terms: Iterable[str]) -> list[frozenset[str]]:
    """A headline's index terms grouped by the word that gives them: an Arabic word's light
    term with its stem ("~اندلس" with "اندلس"), so that an article holding either form
    mentions the word ("لحلب" gives "~حلب" but the stem "لحلب"); any other term alone."""
    given = set(terms)
    words = []
    for term in sorted(given):
        if arabic.is_light_term(term):
            stem = arabic.stem(term.removeprefix(arabic.LIGHT_MARK))
            words.append(frozenset({term} | ({stem} & given)))
    paired = set().union(*words)
    return words + [frozenset({term}) for term in sorted(given - paired)]


def context_terms(
    context: QueryContext | None,
    terms: tuple[str, ...],
    analyse: Callable[[str], tuple[tuple[str, ...], dict[str, str]]],
) -> tuple[str, ...]:
    """The follow-up context's terms (by the engine's own `analyse`) the question lacks."""
    if context is None or not context.text:
        return ()
    extra, _ = analyse(context.text)
    return tuple(term for term in extra if term not in terms)


def settle(
    question: str,
    ranked: list[str],
    foreign: list[str],
    limit: int,
    terms: tuple[str, ...],
    corrections: dict[str, str],
    explain: Callable[[Sequence[str]], list[Hit]],
) -> Ranking:
    """The Ranking of articles ranked in the question's language and in the others: the
    question's language first, unless only the others answer it; whether the first is an
    answer (the first of each side is explained for its confidence)."""
    heads = explain([side[0] for side in (ranked, foreign) if side])
    confidence = {hit.article_id: hit.score for hit in heads}
    if foreign and confidence[foreign[0]] >= FOUND_THRESHOLD > (
        confidence[ranked[0]] if ranked else 0.0
    ):
        ranked, foreign = foreign, ranked
    ids = tuple([*ranked, *foreign][:limit])
    found = bool(ids) and confidence[ids[0]] >= FOUND_THRESHOLD
    shown = tuple(term for term in terms if not arabic.is_light_term(term))
    return Ranking(question, found, ids, shown, corrections, explain)


class _Speller:
    """Corrects a word to the closest index word, the most frequent among equals.

    Words are bucketed by length and by their first and by their second letter. A word
    within the allowed edits of a typo shares with it the first letter, or has as first or
    second letter the typo's first or second one (an edit at the front shifts or swaps
    them), so four buckets per length hold every candidate of a single edit, and the
    search reads about a sixth of the vocabulary instead of all of it.
    """

    def __init__(self, vocabulary: dict[str, int]) -> None:
        grouped: dict[tuple[int, int, str], list[str]] = {}
        for word in vocabulary:
            if word.isalpha() and len(word) >= 2:
                grouped.setdefault((len(word), 0, word[0]), []).append(word)
                grouped.setdefault((len(word), 1, word[1]), []).append(word)
        self._buckets = {
            key: (words, np.array([vocabulary[w] for w in words], np.float64))
            for key, words in grouped.items()
        }

    def _candidates(self, word: str, length: int) -> Iterable[tuple[list[str], np.ndarray]]:
        keys = {(length, 0, word[0]), (length, 0, word[1]), (length, 1, word[0])}
        keys.add((length, 1, word[1]))
        empty: tuple[list[str], np.ndarray] = ([], np.zeros(0))
        return (self._buckets.get(key, empty) for key in keys)

    def correct(self, word: str) -> str | None:
        """The closest, then most frequent, known word; None when none is close enough."""
        edits = MAX_EDITS if len(word) >= LONG_WORD else 1
        best: tuple[int, float, str] | None = None
        for length in range(len(word) - edits, len(word) + edits + 1):
            for words, counts in self._candidates(word, length):
                for candidate, distance, position in process.extract(
                    word, words, scorer=OSA.distance, score_cutoff=edits, limit=None
                ):
                    key = (int(distance), -float(counts[position]), candidate)
                    if best is None or key < best:
                        best = key
        return best[2] if best is not None else None


def _term_weights(match: Match) -> np.ndarray:
    """Each question term's weight in the confidence: its idf, an unseen word's capped.

    A word no passage holds has the highest idf there is, as if it were the question's most
    specific word. In a small store that is mostly an ordinary word the articles happen not
    to use ("stationed"), so it weighs no more than the question's rarest known word; a
    question of unseen words only keeps the full weight, and so scores nothing.
    """
    weights = match.idf.copy()
    unseen = np.array([len(docs) == 0 for docs, _ in match.postings], bool)
    if unseen.any() and not unseen.all():
        weights[unseen] = np.minimum(weights[unseen], weights[~unseen].max())
    return weights


def freshness_bonus(days: np.ndarray) -> np.ndarray:
    """Points a fresh article gains for its age in days (NaN: undated), in [0, ~24].

    RECENCY_WEIGHT * log((TAU + FADE) / (TAU + days)): largest on the day of publication,
    halved within about a week, 0 from FADE_DAYS on and for undated articles.
    """
    ages = np.minimum(np.nan_to_num(np.maximum(days, 0.0), nan=FADE_DAYS), FADE_DAYS)
    bonus: np.ndarray = RECENCY_WEIGHT * np.log(
        (RECENCY_TAU_DAYS + FADE_DAYS) / (RECENCY_TAU_DAYS + ages)
    )
    return bonus


def _moment(as_of: datetime | None) -> float:
    if as_of is None:
        return datetime.now(UTC).timestamp()
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    return as_of.timestamp()


def _top(scores: np.ndarray, limit: int) -> list[int]:
    candidates = np.flatnonzero(np.isfinite(scores))
    if len(candidates) > limit:
        part = np.argpartition(-scores[candidates], limit - 1)[:limit]
        candidates = candidates[part]
    order = np.argsort(-scores[candidates], kind="stable")
    return [int(slot) for slot in candidates[order]]
