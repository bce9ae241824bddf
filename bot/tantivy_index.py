"""The bot's search on tantivy (the Rust Lucene): segments on disk, memory-mapped, beside the store.

Same analysis and ranking as `bot.retrieval` over our own index, so answers do not depend
on the engine:
- documents are our passages (`bot.passages`), indexed as our terms (`bot.text`, which hands
  Arabic words to `bot.arabic`: stems, aliases, stopwords) joined by spaces under tantivy's
  whitespace tokenizer, the headline's terms counted in every passage; BM25 (k1 1.2, b 0.75)
  is tantivy's. The bindings' search scores every posting of the question's terms (tantivy
  prunes with block-max WAND only for a bare top-k collector, which they never hand it), so
  a search costs in step with its words' postings: docs/benchmarks.md, "Why a question's
  time follows the archive";
- the freshness bonus is added on the candidates: the best CANDIDATE_PASSAGES passages by
  BM25 up to `as_of` and the best of the FADE_DAYS before it (the only ones the bonus
  lifts), grouped by article (best passage), then ranked exactly as `bot.retrieval` ranks;
- misspelled words go through `bot.retrieval._Speller` over the word forms seen at ingest
  (`bot.word_counts`, added to on every save, read on the first unknown word);
- Arabic words are indexed by their stem and their light stem (`bot.arabic.light_terms`,
  weighing LIGHT_WEIGHT), and an Arabic question skips the short-question rule and scores
  each candidate's headline as a field of its own (HEADLINE_WEIGHT; the average headline
  length per language is aggregated from the `head_length` of each article's first
  passage), and its best SENTENCE_CANDIDATES candidates the terms one of their sentences
  holds together (SENTENCE_WEIGHT; each Arabic passage stores its sentences' terms), as in
  `bot.retrieval`;
- the "found" confidence is the calibrated one: the idf share of the question's terms in
  the hit's best passage and headline (the passage's terms are stored), idf from tantivy's
  document frequencies among the passages of the word's language, as `bot.index` weighs
  it. (BM25 inside tantivy weighs words among all passages: in a store of one language the
  same, in a mixed store a small difference in ranking, not in the confidence.)
Writes go through one tantivy writer, taken on the first change and given back on `save`
(its commit), so another process (`newsbot ingest` beside `newsbot run`) can write between.
Large adds commit every COMMIT_PASSAGES passages, so memory stays bounded; such a commit
marks the index unsaved (generation None) until `save`, so a store rollback is noticed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import tantivy

from bot import analysis, arabic, lang, text, word_counts
from bot.analysis import Reading
from bot.index import (
    LIGHT_WEIGHT,
    MAX_QUERY_TERMS,
    N_CODES,
    _term_language,
    article_language,
    language_code,
)
from bot.models import Article, Hit, QueryContext
from bot.passages import split_sentences
from bot.retrieval import (
    ASIDE,
    ASIDE_CANDIDATES,
    ASIDE_MIN_PASSAGES,
    ASIDE_RATIO,
    BONUS_CAP,
    CANDIDATES,
    CONTEXT_BOOST,
    CONTEXT_WEIGHT,
    FADE_DAYS,
    HEADLINE_WEIGHT,
    MIN_CORRECTABLE,
    MISSING_TERM,
    PHANTOM_SHARE,
    SENTENCE_CANDIDATES,
    SENTENCE_WEIGHT,
    SHORT_QUESTION,
    SUBJECT_CANDIDATES,
    Ranking,
    Search,
    _moment,
    _Speller,
    _top,
    context_terms,
    freshness_bonus,
    query_terms,
    settle,
    title_words,
    unranked,
)

logger = logging.getLogger(__name__)

FORMAT = 5  # 2: each article's headline length, for the headline field of Arabic questions;
# 3: the sentences of Arabic passages, for their words together (SENTENCE_WEIGHT);
# 4: each article's headline terms, searchable, for an Arabic word's bare readings;
# 5: each dated passage's day, indexed, for the search of the last FADE_DAYS (`_window`)
SUBDIR = "tantivy"
_ARABIC = language_code("ar")
# Best passages taken from each of the two searches (whole archive, last FADE_DAYS).
CANDIDATE_PASSAGES = 100
# The search up to a question's date first reads WIDER times as many passages of any date
# (see `_up_to`), when that is at most WIDEST passages.
WIDER = 3
WIDEST = 10_000
# Passages of one hit article read to choose its excerpt passage.
ARTICLE_PASSAGES = 1_000
# The aside test (see `_discount_asides`) reads each leading candidate on its best
# ASIDE_PASSAGES passages by full BM25 (the headline's share is about the same in every
# passage of an article, so the best on their own text are among them).
ASIDE_PASSAGES = 3
# Matching passages of all the leading articles asked for at first by the aside test's one
# search (asked again for all when more match: ~50 articles of ~20 passages).
ASIDE_HITS = 5_000
COMMIT_PASSAGES = 200_000
WRITER_HEAP = 64_000_000
STEM_CACHE = 500_000  # word forms whose stems are kept between adds (emptied when passed)
WRITER_WAIT_SECONDS = 60.0  # another process's ingest may hold the writer this long
UNDATED = -(2**62)  # `published` of an undated article: below every date bound
K1, B = 1.2, 0.75  # tantivy's BM25, also used to pick a hit's excerpt passage
_DAY = 86_400


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", stored=True, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("article", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("kind", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field("key", stored=False, indexed=False, fast=True)
    builder.add_integer_field("published", stored=False, indexed=False, fast=True)
    # Days since the epoch, indexed: a range of days reads those days' postings only, where a
    # range of `published` reads every passage's date (see `_window`).
    builder.add_integer_field("day", stored=False, indexed=True, fast=False)
    builder.add_unsigned_field("language", stored=False, indexed=False, fast=True)
    builder.add_unsigned_field("ordinal", stored=True, indexed=False, fast=False)
    builder.add_bytes_field("head", stored=True, indexed=False, fast=False)
    # On an article's first passage only: its headline's term count (see `_headline_averages`).
    builder.add_unsigned_field("head_length", stored=False, indexed=False, fast=True)
    # On an article's first passage only: its headline's terms, to tell a name (see
    # `bot.retrieval.title_readings`).
    builder.add_text_field(
        "head_terms", stored=False, tokenizer_name="whitespace", index_option="basic"
    )
    # On the passages of Arabic articles: the distinct terms of each sentence, space-separated,
    # a line per sentence (see `_add_sentence_scores`).
    builder.add_bytes_field("sentences", stored=True, indexed=False, fast=False)
    return builder.build()


def article_key(article_id: str) -> int:
    """A 63-bit key of an article id, kept as a fast field to group passages by article."""
    return int.from_bytes(hashlib.blake2b(article_id.encode(), digest_size=8).digest()) >> 1


@dataclass
class _Candidate:
    """One article among a question's candidates: its best passage by full BM25."""

    score: float
    days: float  # NaN when undated
    language: int
    address: tantivy.DocAddress
    key: int  # `article_key` of its article
    second: float = 0.0  # the article's second-best passage among those seen
    article_id: str | None = None  # read from its stored passage when first needed


@dataclass
class _Pending:
    """What was written since the last commit: counted so idf and len stay exact meanwhile."""

    passages: int = 0
    df: Counter[str] | None = None
    words: Counter[str] | None = None
    added: set[str] | None = None
    removed: set[str] | None = None
    newest: int = UNDATED

    def __post_init__(self) -> None:
        self.df, self.words = Counter(), Counter()
        self.added, self.removed = set(), set()


@dataclass
class _Passage:
    """A stored passage read back for the question being ranked."""

    doc: tantivy.Document
    terms: list[str]  # its terms, the headline's among them
    head: list[str]  # the headline's terms
    ordinal: int


class TantivyRetriever:
    """Searches articles by question over a tantivy index in `index_dir/tantivy`."""

    def __init__(self, index_dir: Path, index: tantivy.Index, meta: dict[str, int | None]) -> None:
        self._dir = index_dir / SUBDIR
        self._index = index
        self._schema = index.schema
        self._meta = meta
        self._searcher = index.searcher()
        self._writer: tantivy.IndexWriter | None = None
        self._pending = _Pending()
        self._unsaved_words: Counter[str] = Counter()
        self._vocabulary: dict[str, int] | None = None
        self._speller: _Speller | None = None
        self._live: int | None = None
        self._by_code: list[int] | None = None
        self._head_lengths: list[float] | None = None
        # Per reader: stem -> (committed document frequency, its language's code).
        self._seen: dict[str, tuple[int, int]] = {}
        self._titled: dict[str, bool] = {}  # stem -> whether a live headline holds it
        self._stems: dict[str, str | None] = {}  # word form -> stem (None: stopword)
        # Stored passages read for the question being ranked, by (segment, doc): the aside
        # test, the excerpt's passage and the short-question rule read many of the same.
        self._docs: dict[tuple[int, int], _Passage] = {}
        self.candidate_passages = CANDIDATE_PASSAGES

    @classmethod
    def open(cls, index_dir: Path) -> TantivyRetriever:
        """Open the index saved in `index_dir`, or start empty (generation None)."""
        folder = index_dir / SUBDIR
        meta: dict[str, int | None] = {"generation": None, "newest": UNDATED}
        try:
            saved = json.loads((folder / "engine.json").read_text())
            if saved.get("format") != FORMAT:
                raise ValueError(f"index format {saved.get('format')}, not {FORMAT}")
            index = tantivy.Index.open(str(folder))
            meta = {"generation": saved["generation"], "newest": saved["newest"]}
        except (OSError, ValueError, KeyError) as error:
            logger.info("starting an empty index: %s", error)
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(_schema(), path=str(folder), reuse=False)
            _write_meta(folder, {**meta, "format": FORMAT})
        return cls(index_dir, index, meta)

    # -- the contract of bot.search_engine.SearchEngine ------------------------------------

    @property
    def generation(self) -> int | None:
        return self._meta["generation"]

    def __len__(self) -> int:
        if self._live is None:
            lead = tantivy.Query.term_query(self._schema, "kind", "lead")
            self._live = _count(self._searcher, lead)
        pending = self._pending
        assert pending.added is not None and pending.removed is not None
        return self._live + len(pending.added) - len(pending.removed)

    def __contains__(self, article_id: object) -> bool:
        if not isinstance(article_id, str):
            return False
        pending = self._pending
        assert pending.added is not None and pending.removed is not None
        if article_id in pending.added:
            return True
        return article_id not in pending.removed and self._committed(article_id)

    def article_ids(self) -> list[str]:
        """The ids of the articles indexed now (reads one stored document per article)."""
        self._visible()
        lead = tantivy.Query.term_query(self._schema, "kind", "lead")
        hits = self._searcher.search(lead, max(len(self), 1), count=False).hits
        return [str(self._searcher.doc(address).get_first("article")) for _, address in hits]

    def _committed(self, article_id: str) -> bool:
        query = tantivy.Query.term_query(self._schema, "article", article_id)
        return _count(self._searcher, query) > 0

    def add(
        self, articles: Iterable[Article], readings: Mapping[str, Reading] | None = None
    ) -> int:
        """Index (or re-index) articles; returns the number of passages added.

        `readings` are some of the articles' `bot.analysis.read`, by id, when already made.
        """
        batch = list({article.id: article for article in articles}.values())
        if not batch:
            return 0
        self.remove(article.id for article in batch if article.id in self)
        writer = self._writing()
        pending = self._pending
        assert pending.added is not None and pending.df is not None
        if len(self._stems) > STEM_CACHE:
            self._stems = {}
        stems = self._stems
        passages = 0
        for article in batch:
            published = int(article.published.timestamp()) if article.published else UNDATED
            language = language_code(article_language(article))
            arabic_text = language == _ARABIC
            key = article_key(article.id)
            reading = readings.get(article.id) if readings else None
            made = analysis.forms(article) if reading is None else analysis.forms_of(reading)
            headline = self._terms(article.headline, made.headline, stems)
            head = " ".join(headline).encode()
            kind = "lead"
            # An article without passages keeps one empty one, so it still counts (and its
            # headline still matches).
            for ordinal, body, forms in made.passages or [(0, "", [])]:
                terms = self._terms(body, forms, stems) + headline
                doc = tantivy.Document()
                doc.add_text("terms", " ".join(terms))
                doc.add_text("article", article.id)
                doc.add_text("kind", kind)
                doc.add_unsigned("key", key)
                doc.add_integer("published", published)
                if published != UNDATED:
                    doc.add_integer("day", published // _DAY)
                doc.add_unsigned("language", language)
                doc.add_unsigned("ordinal", ordinal)
                doc.add_bytes("head", head)
                if kind == "lead":
                    doc.add_unsigned("head_length", len(headline))
                    doc.add_text("head_terms", " ".join(headline))
                if arabic_text:
                    doc.add_bytes("sentences", self._sentences(body, stems))
                writer.add_document(doc)
                pending.df.update(set(terms))
                kind = "part"
                passages += 1
            pending.added.add(article.id)
            pending.newest = max(pending.newest, published)
        pending.passages += passages
        if pending.passages >= COMMIT_PASSAGES:
            self._commit(saved=False)  # generation None: a store rollback must be seen
        return passages

    def _sentences(self, body: str, stems: dict[str, str | None]) -> bytes:
        """The distinct terms of each sentence of a passage that holds any, a line each."""
        lines = (
            " ".join(sorted(set(self._terms(sentence, text.words(sentence), stems, count=False))))
            for sentence in split_sentences(body)
        )
        return "\n".join(line for line in lines if line).encode()

    def _terms(
        self,
        content: str,
        forms: list[str],
        stems: dict[str, str | None],
        *,
        count: bool = True,
    ) -> list[str]:
        """Index terms of `content`, whose word forms are `forms`, as `bot.index` makes them;
        counts its word forms (unless not `count`)."""
        if count:
            words = self._pending.words
            assert words is not None
            words.update(forms)
        fresh = [form for form in dict.fromkeys(forms) if form not in stems]
        if fresh:
            for form, stemmed in zip(fresh, text.stems(fresh), strict=True):
                stems[form] = None if text.is_stopword(form) else stemmed
        found = [stem for form in forms if (stem := stems[form]) is not None]
        if not content.isascii():  # Arabic words count their light stem too, as in bot.index
            found += arabic.light_terms(forms)
        return found

    def remove(self, article_ids: Iterable[str]) -> int:
        """Drop articles (unknown ids are ignored); returns how many were there."""
        gone = [article_id for article_id in dict.fromkeys(article_ids) if article_id in self]
        if not gone:
            return 0
        writer = self._writing()
        pending = self._pending
        assert pending.added is not None and pending.removed is not None
        for article_id in gone:
            writer.delete_documents_by_term("article", article_id)
            if article_id in pending.added:
                pending.added.discard(article_id)
            else:
                pending.removed.add(article_id)
        return len(gone)

    def save(self, generation: int) -> None:
        """Commit what was written and tag the index with the store's `generation`."""
        self._commit(saved=True, generation=generation)

    def close(self) -> None:
        """Drop what was not saved and give the writer back."""
        if self._writer is not None:
            self._writer.rollback()
            self._writer.wait_merging_threads()
            self._writer = None
            self._pending = _Pending()

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of each stem over the live passages, those not yet committed included."""
        return {term: self._idf(self._df(term), term) for term in terms}

    # -- writing -------------------------------------------------------------------------------

    def _writing(self) -> tantivy.IndexWriter:
        """The writer, taken when first needed (waiting while another process holds it)."""
        if self._writer is None:
            deadline = time.monotonic() + WRITER_WAIT_SECONDS
            while True:
                try:
                    self._writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
                    break
                except ValueError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            self._reload()  # another process may have committed before we took it
        return self._writer

    def _visible(self) -> None:
        """Commit what was written since the last commit, so a search sees it. The store
        already holds it (the desk writes the index after the store, or catches up from
        it), so the saved generation stays; a rebuild is not needed for it."""
        pending = self._pending
        assert pending.added is not None and pending.removed is not None
        if self._writer is not None and (pending.passages or pending.removed):
            self._commit(saved=False, generation=self._meta["generation"], release=True)

    def _commit(self, *, saved: bool, generation: int | None = None, release: bool = False) -> None:
        pending = self._pending
        assert pending.words is not None
        newest = max(self._meta["newest"] or UNDATED, pending.newest)
        if self._writer is not None:
            self._writer.commit()
            self._unsaved_words.update(pending.words)
            self._pending = _Pending()
            if saved or release:
                self._writer.wait_merging_threads()  # gives the lock back
                self._writer = None
            self._reload()
        if saved:
            self._save_words()
        self._meta = {"generation": generation, "newest": newest}
        _write_meta(self._dir, {**self._meta, "format": FORMAT})

    def _save_words(self) -> None:
        """Keep the word forms counted since the last save (`bot.word_counts`)."""
        if not self._unsaved_words:
            return
        word_counts.append(self._dir, self._unsaved_words)
        if self._vocabulary is not None:
            for word, count in self._unsaved_words.items():
                self._vocabulary[word] = self._vocabulary.get(word, 0) + count
        self._unsaved_words = Counter()
        self._speller = None

    def _reload(self) -> None:
        self._index.reload()
        self._searcher = self._index.searcher()
        self._live = None
        self._by_code = None
        self._head_lengths = None
        self._seen = {}
        self._titled = {}
        self._docs = {}

    # -- statistics ---------------------------------------------------------------------------

    def _passages(self, term: str | None = None) -> int:
        """Live passages; for a term, those a word of its language is weighed among: of its
        language and of none (all when the store has none in it), as `LexicalIndex.peers`."""
        everything = max(int(self._searcher.num_docs) + self._pending.passages, 1)
        code = self._term_stats(term)[1] if term is not None else 0
        if not code:
            return everything
        counts = self._codes()
        return max(counts[code] + counts[0], 1) if counts[code] else everything

    def _codes(self) -> list[int]:
        """Committed live passages per language code (one aggregation per reader)."""
        if self._by_code is None:
            counts = [0] * N_CODES
            found = self._searcher.aggregate(
                tantivy.Query.all_query(), {"codes": {"terms": {"field": "language", "size": 64}}}
            )
            for bucket in found["codes"]["buckets"]:
                counts[int(bucket["key"])] += int(bucket["doc_count"])
            self._by_code = counts
        return self._by_code

    def _df(self, term: str) -> int:
        pending = self._pending.df
        assert pending is not None
        return min(self._term_stats(term)[0] + pending[term], self._passages())

    def _term_stats(self, term: str) -> tuple[int, int]:
        """A stem's committed document frequency and its language's code, looked up once
        per reader (`_seen`): story grouping asks `idf` for every new article's words."""
        seen = self._seen.get(term)
        if seen is None:
            frequency = int(self._searcher.doc_freq("terms", term))
            seen = self._seen[term] = (frequency, language_code(_term_language(term)))
        return seen

    def _idf(self, df: int, term: str | None = None) -> float:
        """BM25 idf among the passages `term` is weighed in (see `_passages`)."""
        n = self._passages(term)
        return math.log1p((n - min(df, n) + 0.5) / (min(df, n) + 0.5))

    def _words(self) -> dict[str, int]:
        """Every word form seen with its count (read on the first unknown word)."""
        if self._vocabulary is None:
            words = word_counts.read(self._dir)
            for word, seen in self._unsaved_words.items():
                words[word] = words.get(word, 0) + seen
            self._vocabulary = words
        return self._vocabulary

    # -- searching ----------------------------------------------------------------------------

    def search(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        limit: int = 5,
        context: QueryContext | None = None,
    ) -> Search:
        """Rank articles for `question` as of a date, every hit explained (see
        `bot.retrieval.Retriever.search`)."""
        return self.rank(question, as_of=as_of, limit=limit, context=context).search()

    def rank(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        limit: int = 5,
        context: QueryContext | None = None,
    ) -> Ranking:
        """Rank articles for `question` as of a date; they are explained on demand (see
        `bot.retrieval.Retriever.rank`)."""
        self._visible()
        self._docs = {}
        terms, corrections = self._query_terms(question)
        extra = self._context_terms(context, terms)
        if not (terms or extra) or not self._searcher.num_docs:
            return unranked(question, terms, corrections)
        everything = (terms + extra)[:MAX_QUERY_TERMS]
        boosts = [
            (1.0 if i < len(terms) else CONTEXT_WEIGHT)
            * (LIGHT_WEIGHT if arabic.is_light_term(term) else 1.0)
            for i, term in enumerate(everything)
        ]
        moment = int(_moment(as_of))
        found = self._candidates(everything, boosts, moment)
        weights = self._weights(everything, boosts)
        self._discount_asides(found, everything, boosts, weights)
        if context is not None and context.article_id is not None:
            self._boost(found, everything, boosts, moment, context.article_id)
        limit = max(limit, 1)
        language = lang.detect(question)
        if language == "ar":  # see bot.retrieval.HEADLINE_WEIGHT
            self._add_headline_scores(found, everything, weights)
        own = len(terms)
        cands = list(found.values())
        plain = np.array([c.score for c in cands])
        bonus = freshness_bonus(np.array([c.days for c in cands]))
        fresh = plain + np.minimum(bonus, BONUS_CAP * np.maximum(plain, 0.0))
        if language == "ar":  # see bot.retrieval.SENTENCE_WEIGHT
            chosen = _top(fresh, SENTENCE_CANDIDATES)
            together = self._sentence_scores([cands[i] for i in chosen], everything, weights)
            plain[chosen] += SENTENCE_WEIGHT * together
            fresh[chosen] += SENTENCE_WEIGHT * together
        if language == "ar":  # see bot.retrieval.SUBJECT_CANDIDATES
            factor = self._named_subject(cands, fresh, terms)
            plain, fresh = plain * factor, fresh * factor
        languages = np.array([c.language for c in cands], np.uint8)
        asked, other = _by_language(language, languages, plain, fresh)
        query_set = set(everything)
        whole = language == "ar"  # see bot.retrieval.SHORT_QUESTION

        def ranked(plain: np.ndarray, fresh: np.ndarray) -> list[str]:
            chosen = self._ranked(cands, plain, fresh, limit, query_set, whole=whole)
            return [self._article_id(cands[i]) for i in chosen]

        mine, others = ranked(*asked), ranked(*other)
        by_id = {candidate.article_id: candidate for candidate in cands if candidate.article_id}
        explained: dict[str, Hit] = {}

        def explain(article_ids: Sequence[str]) -> list[Hit]:
            for article_id in article_ids:
                if article_id not in explained:
                    explained[article_id] = self._hit(by_id[article_id], everything, weights, own)
            return [explained[article_id] for article_id in article_ids]

        return settle(question, mine, others, limit, terms + extra, corrections, explain)

    def _query_terms(self, question: str) -> tuple[tuple[str, ...], dict[str, str]]:
        return query_terms(question, self._unknown, self._spell, self._in_headlines)

    def _in_headlines(self, term: str) -> bool:
        """Whether the headline of a live article holds `term` (once per reader)."""
        held = self._titled.get(term)
        if held is None:
            query = tantivy.Query.term_query(self._schema, "head_terms", term)
            held = self._titled[term] = _count(self._searcher, query) > 0
        return held

    def _spell(self) -> _Speller:
        if self._speller is None:
            self._speller = _Speller(self._words())
        return self._speller

    def _unknown(self, form: str) -> bool:
        """Whether a word is worth correcting: letters only, long enough, and unknown."""
        return (
            len(form) >= MIN_CORRECTABLE
            and form.isalpha()
            and not self._df(text.stem(form))
            and form not in self._words()
        )

    def _context_terms(
        self, context: QueryContext | None, terms: tuple[str, ...]
    ) -> tuple[str, ...]:
        return context_terms(context, terms, self._query_terms)

    def _words_query(self, terms: Sequence[str], boosts: Sequence[float]) -> tantivy.Query:
        clauses = []
        for term, boost in zip(terms, boosts, strict=True):
            query = tantivy.Query.term_query(self._schema, "terms", term)
            if boost != 1.0:
                query = tantivy.Query.boost_query(query, boost)
            clauses.append((tantivy.Occur.Should, query))
        return tantivy.Query.boolean_query(clauses)

    def _of_article(self, article_id: str, words: tantivy.Query) -> tantivy.Query:
        """`words` among the article's passages, scored as in the whole archive: the
        article's own term scores nothing (its BM25 would lift every passage of it alike,
        so a second-best passage would read as a match and no aside would be found)."""
        return _filtered(words, tantivy.Query.term_query(self._schema, "article", article_id))

    def _any_article(self, article_ids: Sequence[str]) -> tantivy.Query:
        """The passages of any of these articles."""
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "article", name))
                for name in dict.fromkeys(article_ids)
            ]
        )

    def _dated(self, query: tantivy.Query, low: int | None, high: int | None) -> tantivy.Query:
        if low is None and high is None:
            return query
        dates = tantivy.Query.range_query(
            self._schema, "published", tantivy.FieldType.Integer, low, high, True, True
        )
        return _filtered(query, dates)

    def _candidates(
        self, terms: Sequence[str], boosts: Sequence[float], moment: int
    ) -> dict[str, _Candidate]:
        """Article key -> its best passage among the best passages up to `moment`, and
        among the best of the FADE_DAYS before it (the only ones freshness lifts)."""
        words = self._words_query(terms, boosts)
        newest = self._meta["newest"] or UNDATED
        # No article is later than the question: the date filter would keep everything.
        high = None if moment >= newest else moment
        hits = self._up_to(words, high)
        low = moment - int(FADE_DAYS * _DAY)
        if newest >= low:  # without articles of the last FADE_DAYS, freshness lifts none
            hits += self._window(words, low, moment)
        if not hits:
            return {}
        addresses = [address for _, address in hits]
        keys = self._searcher.fast_field_values("key", addresses)
        published = self._searcher.fast_field_values("published", addresses)
        languages = self._searcher.fast_field_values("language", addresses)
        found: dict[str, _Candidate] = {}
        for (score, address), key, when, language in zip(
            hits, keys, published, languages, strict=True
        ):
            days = _days(moment, when)
            name = str(key)
            if score <= 0:
                continue
            seen = found.get(name)
            if seen is None:
                found[name] = _Candidate(
                    float(score), days, int(language or 0), address, int(key or 0)
                )
            elif address != seen.address:  # the same passage may come from both searches
                if score > seen.score:
                    seen.second, seen.score, seen.address = seen.score, float(score), address
                else:
                    seen.second = max(seen.second, float(score))
        return found

    def _up_to(
        self, words: tantivy.Query, high: int | None
    ) -> list[tuple[float, tantivy.DocAddress]]:
        """The best `candidate_passages` passages for `words` published up to `high` (None:
        any). A date filter costs a look at every matching passage's date, so the best WIDER
        times as many passages of any date are read first: those up to `high` among them, in
        score order, are the best up to `high` when there are enough of them (or no more
        passages match); else once more as many as the share kept says, up to WIDEST; else
        the filtered search."""
        limit = self.candidate_passages
        if high is None:
            return list(self._searcher.search(words, limit, count=False).hits)
        wider = limit * WIDER
        while wider <= WIDEST:
            hits = self._searcher.search(words, wider, count=False).hits
            dates = self._searcher.fast_field_values("published", [a for _, a in hits])
            kept = [hit for hit, when in zip(hits, dates, strict=True) if (when or 0) <= high]
            if len(kept) >= limit or len(hits) < wider:
                return kept[:limit]
            # Too few were old enough: once more, as many as their share says (and half again).
            wider = WIDEST + 1 if not kept else math.ceil(1.5 * wider * limit / len(kept))
        return list(self._searcher.search(self._dated(words, None, high), limit, count=False).hits)

    def _window(
        self, words: tantivy.Query, low: int, high: int
    ) -> list[tuple[float, tantivy.DocAddress]]:
        """The best `candidate_passages` passages for `words` published from `low` to `high`.

        A range of `published` (a fast field) reads every passage's date, a cost that grows
        with the archive; the indexed day finds the passages of the
        days the window touches from their postings alone. Those outside it (earlier on its
        first day, later on its last) are dropped, in score order, and more are read while
        too few are left, so these are the best passages within the window."""
        days = tantivy.Query.range_query(
            self._schema, "day", tantivy.FieldType.Integer, low // _DAY, high // _DAY, True, True
        )
        query = _filtered(words, days)
        limit = wanted = self.candidate_passages
        while True:
            hits = self._searcher.search(query, wanted, count=False).hits
            dates = self._searcher.fast_field_values("published", [a for _, a in hits])
            kept = [
                hit for hit, when in zip(hits, dates, strict=True) if low <= (when or 0) <= high
            ]
            if len(kept) >= limit or len(hits) < wanted:
                return kept[:limit]
            wanted *= 2

    def _discount_asides(
        self,
        found: dict[str, _Candidate],
        terms: Sequence[str],
        boosts: Sequence[float],
        weights: np.ndarray,
    ) -> None:
        """An article of ASIDE_MIN_PASSAGES passages or more whose second-best passage, on
        its own text (the headline's words taken out), scores under ASIDE_RATIO of its best
        one matches in one place only: it scores ASIDE of its best passage (see
        `bot.retrieval.ASIDE_RATIO`). Read for the best ASIDE_CANDIDATES candidates by score
        and by score with freshness (the discount only lowers an article), on their
        ASIDE_PASSAGES best passages: one search for the matching passages of all of them,
        grouped by article (in score order, so each one's first are its best)."""
        cands = list(found.values())
        if not cands:
            return
        plain = np.array([c.score for c in cands])
        bonus = np.minimum(freshness_bonus(np.array([c.days for c in cands])), BONUS_CAP * plain)
        lead = [
            cands[i]
            for i in dict.fromkeys(
                _top(plain, ASIDE_CANDIDATES) + _top(plain + bonus, ASIDE_CANDIDATES)
            )
        ]
        best = self._articles_passages([self._article_id(c) for c in lead], terms, boosts)
        for candidate in lead:
            hits = best.get(candidate.key, [])[:ASIDE_PASSAGES]
            if len(hits) < 2:
                # One passage holds the question's words: an aside if the article is long.
                body = [1.0, 0.0]
            else:
                body = sorted(
                    _body_scores([self._passage(a) for a in hits], terms, weights), reverse=True
                )
            if body[1] >= ASIDE_RATIO * body[0]:
                continue
            every = tantivy.Query.term_query(self._schema, "article", self._article_id(candidate))
            if _count(self._searcher, every) >= ASIDE_MIN_PASSAGES:
                candidate.score *= ASIDE

    def _articles_passages(
        self, article_ids: Sequence[str], terms: Sequence[str], boosts: Sequence[float]
    ) -> dict[int, list[tantivy.DocAddress]]:
        """Article key -> its passages that match `terms`, best first (by full BM25 as in the
        whole archive; ties in index order, as a search of the article alone orders them)."""
        query = _filtered(self._words_query(terms, boosts), self._any_article(article_ids))
        limit = ASIDE_HITS
        while True:
            found = self._searcher.search(query, limit, count=True)
            hits = found.hits
            if len(hits) >= int(found.count or 0):  # type: ignore[attr-defined]
                break
            limit = int(found.count or 0)  # type: ignore[attr-defined]  # all of them
        addresses = [address for _, address in hits]
        grouped: dict[int, list[tantivy.DocAddress]] = {}
        for key, address in zip(
            self._searcher.fast_field_values("key", addresses), addresses, strict=True
        ):
            grouped.setdefault(int(key or 0), []).append(address)
        return grouped

    def _named_subject(
        self, cands: list[_Candidate], fresh: np.ndarray, terms: Sequence[str]
    ) -> np.ndarray:
        """Per candidate, MISSING_TERM per word it never mentions of a headline that the
        question's own `terms` hold whole, for the best SUBJECT_CANDIDATES by `fresh`; 1
        elsewhere (see `bot.retrieval.SUBJECT_CANDIDATES`)."""
        factor = np.ones(len(cands))
        chosen = _top(fresh, SUBJECT_CANDIDATES)
        asked = set(terms)
        subject: set[str] = set()
        for i in chosen:
            title = set(self._passage(cands[i].address).head)
            if title and title <= asked:
                subject |= title
        if not subject:
            return factor
        article_ids = [self._article_id(cands[i]) for i in chosen]
        held = {
            term: {cands[i].key for i in chosen}
            & self._articles_passages(article_ids, [term], [1.0]).keys()
            for term in subject
        }
        for word in title_words(held):
            for i in chosen:
                if not any(cands[i].key in held[term] for term in word):
                    factor[i] *= MISSING_TERM
        return factor

    def _add_headline_scores(
        self, found: dict[str, _Candidate], terms: Sequence[str], weights: np.ndarray
    ) -> None:
        """Each candidate gains HEADLINE_WEIGHT times the BM25 of `terms` (weighing
        `weights`) over its headline as a field of its own, as `LexicalIndex.headline_scores`
        scores it: length normalised against the average headline of its language."""
        averages = self._headline_averages()
        for candidate in found.values():
            head = Counter(self._passage(candidate.address).head)
            if not head:
                continue
            norm = K1 * (1 - B + B * sum(head.values()) / averages[candidate.language])
            score = 0.0
            for term, weight in zip(terms, weights, strict=True):
                if head[term]:
                    score += float(weight) * head[term] * (K1 + 1) / (head[term] + norm)
            candidate.score += HEADLINE_WEIGHT * score

    def _sentence_scores(
        self, chosen: list[_Candidate], terms: Sequence[str], weights: np.ndarray
    ) -> np.ndarray:
        """For each candidate, the weight of `terms` that its best sentence holds together,
        as `LexicalIndex.sentence_scores` finds it (0 for an article without sentences
        kept); one search for the passages of all of them that hold any of the terms."""
        worth: dict[str, float] = {}
        for term, weight in zip(terms, weights.tolist(), strict=True):
            worth[term] = max(weight, worth.get(term, 0.0))
        found = np.zeros(len(chosen))
        if not chosen:
            return found
        at = {
            self._searcher.fast_field_values("key", [c.address])[0]: i for i, c in enumerate(chosen)
        }
        articles = self._any_article([self._article_id(c) for c in chosen])
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, articles),
                (tantivy.Occur.Must, self._words_query(terms, [1.0] * len(terms))),
            ]
        )
        hits = self._searcher.search(query, ARTICLE_PASSAGES, count=False).hits
        addresses = [address for _, address in hits]
        for key, address in zip(
            self._searcher.fast_field_values("key", addresses), addresses, strict=True
        ):
            stored = bytes(self._stored(address).get_first("sentences") or b"").decode()
            for line in stored.splitlines():
                i = at[key]
                found[i] = max(found[i], sum(worth.get(term, 0.0) for term in line.split()))
        return found

    def _headline_averages(self) -> list[float]:
        """Per language code, the average headline length (terms) of the live articles of
        that language and of none; for code 0, of all (one aggregation per reader)."""
        if self._head_lengths is None:
            counts, sums = [0] * N_CODES, [0.0] * N_CODES
            leads = tantivy.Query.term_query(self._schema, "kind", "lead")
            found = self._searcher.aggregate(
                leads,
                {
                    "codes": {
                        "terms": {"field": "language", "size": 64},
                        "aggs": {"length": {"sum": {"field": "head_length"}}},
                    }
                },
            )
            for bucket in found["codes"]["buckets"]:
                code = int(bucket["key"])
                counts[code] += int(bucket["doc_count"])
                sums[code] += float(bucket["length"]["value"] or 0.0)
            averages = []
            for code in range(N_CODES):
                peers = [code, 0] if code else range(N_CODES)
                number = sum(counts[c] for c in peers)
                averages.append(max(sum(sums[c] for c in peers) / number, 1e-9) if number else 1.0)
            self._head_lengths = averages
        return self._head_lengths

    def _boost(
        self,
        found: dict[str, _Candidate],
        terms: Sequence[str],
        boosts: Sequence[float],
        moment: int,
        article_id: str,
    ) -> None:
        """The follow-up's article gains CONTEXT_BOOST, when it matches the question at all."""
        name = str(article_key(article_id))
        if name not in found:
            query = self._of_article(article_id, self._words_query(terms, boosts))
            hits = self._searcher.search(self._dated(query, None, moment), 1, count=False).hits
            if not hits:
                return
            score, address = hits[0]
            when, language = (
                self._searcher.fast_field_values(field, [address])[0]
                for field in ("published", "language")
            )
            found[name] = _Candidate(
                float(score), _days(moment, when), int(language or 0), address, int(name)
            )
        found[name].score += CONTEXT_BOOST

    def _stored(self, address: tantivy.DocAddress) -> tantivy.Document:
        return self._passage(address).doc

    def _passage(self, address: tantivy.DocAddress) -> _Passage:
        at = (address.segment_ord, address.doc)
        passage = self._docs.get(at)
        if passage is None:
            doc = self._searcher.doc(address)
            passage = self._docs[at] = _Passage(
                doc,
                str(doc.get_first("terms")).split(),
                bytes(doc.get_first("head") or b"").decode().split(),
                int(doc.get_first("ordinal") or 0),
            )
        return passage

    def _article_id(self, candidate: _Candidate) -> str:
        if candidate.article_id is None:
            candidate.article_id = str(self._stored(candidate.address).get_first("article"))
        return candidate.article_id

    def _held(self, address: tantivy.DocAddress) -> set[str]:
        return set(self._passage(address).terms)

    def _ranked(
        self,
        cands: list[_Candidate],
        plain: np.ndarray,
        fresh: np.ndarray,
        limit: int,
        terms: set[str],
        *,
        whole: bool,
    ) -> list[int]:
        """As `Retriever._ranked`: by score with freshness; for a short question, articles
        lacking one of its words that another candidate holds lose freshness and
        MISSING_TERM per such word."""
        if whole or len(terms) > SHORT_QUESTION:
            return _top(fresh, limit)
        count = max(limit, CANDIDATES)
        pool = list(dict.fromkeys(_top(fresh, count) + _top(plain, count)))
        if not pool:
            return []
        held = {i: self._held(cands[i].address) & terms for i in pool}
        somewhere = set().union(*held.values())
        strength = {}
        for i in pool:
            missing = len(somewhere - held[i])
            strength[i] = plain[i] * MISSING_TERM**missing if missing else fresh[i]
        return sorted(pool, key=lambda i: -strength[i])[:limit]

    def _weights(self, terms: Sequence[str], boosts: Sequence[float]) -> np.ndarray:
        """Each term's weight in the confidence: idf (times its boost), an unseen one capped
        at the heaviest seen (see `bot.retrieval._term_weights`)."""
        dfs = np.array([self._df(term) for term in terms])
        weights = np.array([self._idf(int(df), t) for df, t in zip(dfs, terms, strict=True)])
        weights *= np.array(boosts)
        unseen = dfs == 0
        if unseen.any() and not unseen.all():
            weights[unseen] = np.minimum(weights[unseen], weights[~unseen].max())
        weighted: np.ndarray = weights
        return weighted

    def _hit(
        self, candidate: _Candidate, terms: Sequence[str], weights: np.ndarray, own: int
    ) -> Hit:
        """The hit of one article, with the passage whose own text (headline aside) matches
        best and the calibrated confidence (see `Retriever._hit`)."""
        article_id = self._article_id(candidate)
        ordinal, held = self._best_passage(candidate.address, article_id, terms, weights)
        matched = [i for i, term in enumerate(terms) if term in held]
        phantom = PHANTOM_SHARE * float(weights.max())
        confidence = float(weights[matched].sum()) / (float(weights.sum()) + phantom)
        if 0 < own < len(terms):
            mine = [i for i in matched if i < own]
            confidence = max(
                confidence, float(weights[mine].sum()) / (float(weights[:own].sum()) + phantom)
            )
        return Hit(
            article_id=article_id,
            passage=ordinal,
            score=min(max(confidence, 0.0), 1.0),
            terms=tuple(terms[i] for i in matched if not arabic.is_light_term(terms[i])),
        )

    def _best_passage(
        self, seed: tantivy.DocAddress, article_id: str, terms: Sequence[str], weights: np.ndarray
    ) -> tuple[int, set[str]]:
        """(ordinal, terms held with the headline's) of the article's passage whose body
        scores best (`seed` is one of its passages); ties to the better full score, then
        the earlier passage."""
        query = self._of_article(article_id, self._words_query(terms, [1.0] * len(terms)))
        hits = self._searcher.search(query, ARTICLE_PASSAGES, count=False).hits
        read = [(float(score), self._passage(address)) for score, address in hits or [(0.0, seed)]]
        bodies = _body_scores([passage for _, passage in read], terms, weights)
        best: tuple[tuple[float, float, int], _Passage] | None = None
        for (score, passage), body in zip(read, bodies, strict=True):
            rank = (body, score, -passage.ordinal)
            if best is None or rank > best[0]:
                best = (rank, passage)
        assert best is not None
        return best[1].ordinal, set(best[1].terms)


def _body_scores(
    passages: Sequence[_Passage], terms: Sequence[str], weights: np.ndarray
) -> list[float]:
    """BM25 of passages of one article on their own text (the headline's terms taken out),
    `weights` per term; the length norm against the average of these passages, as only
    they are compared."""
    average = max(sum(len(p.terms) for p in passages) / max(len(passages), 1), 1.0)
    weighed = list(zip(terms, weights.tolist(), strict=True))
    scores = []
    for passage in passages:
        full, head = passage.terms, passage.head
        norm = K1 * (1 - B + B * len(full) / average)
        body = 0.0
        for term, weight in weighed:
            own_count = full.count(term) - head.count(term)
            if own_count > 0:  # a term the passage's own text lacks adds nothing
                body += weight * own_count * (K1 + 1) / (own_count + norm)
        scores.append(body)
    return scores


def _by_language(
    language: lang.Language | None, codes: np.ndarray, plain: np.ndarray, fresh: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(plain, fresh) of the candidates in the question's language, then of the others
    (-inf where left out); all on the first side without a question language, or when every
    candidate is in it or none is (see `Retriever._by_language`)."""
    nothing = np.full_like(plain, -np.inf)
    if language is None:
        return (plain, fresh), (nothing, nothing)
    mine = codes == language_code(language)
    if mine.all() or not mine.any():
        return (plain, fresh), (nothing, nothing)
    return (
        (np.where(mine, plain, -np.inf), np.where(mine, fresh, -np.inf)),
        (np.where(mine, -np.inf, plain), np.where(mine, -np.inf, fresh)),
    )


def _write_meta(folder: Path, meta: dict[str, int | None]) -> None:
    """Write engine.json atomically: a reader sees the old or the new, never half."""
    partial = folder / f"engine.json.{os.getpid()}.partial"
    partial.write_text(json.dumps(meta))
    partial.replace(folder / "engine.json")


def _count(searcher: tantivy.Searcher, query: tantivy.Query) -> int:
    """Live documents matching `query` (deleted ones are not counted)."""
    found = searcher.search(query, 1, count=True)
    return int(found.count or 0)  # type: ignore[attr-defined]  # missing from the stubs


def _filtered(query: tantivy.Query, condition: tantivy.Query) -> tantivy.Query:
    """`query` among the passages that meet `condition`, scored by `query` alone."""
    return tantivy.Query.boolean_query(
        [
            (tantivy.Occur.Must, query),
            (tantivy.Occur.Must, tantivy.Query.const_score_query(condition, 0.0)),
        ]
    )


def _days(moment: int, published: int | float | None) -> float:
    """Days from publication to `moment`; NaN for an undated article."""
    if published is None or published == UNDATED:
        return math.nan
    return (moment - published) / _DAY
