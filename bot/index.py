"""The lexical index: BM25 postings of passages (headline included), kept in one .npz file.

Layout. Every `add` of an article takes a new *slot*; its passages get consecutive ids, so
the slots tile the passage array in order (that is what lets per-article maxima be taken
with one `reduceat`). Removing or re-adding an article only marks its old slot dead; dead
slots are dropped when the index is saved. Postings are term-major sparse matrices kept as
a large *main* segment plus a small *delta* segment for recent additions, merged into main
when the delta grows past an eighth of it (or on save), so an add never re-tokenises or
re-sorts the whole collection. Document frequencies are kept up to date for BM25 idf, and
the vocabulary of word forms with their frequencies is kept for typo correction.

The headline's terms are counted in every passage of its article (as if prepended to each):
it names the topic that the passage's sentences often only imply, and for the articles
whose body is missing or boilerplate it is all there is to match.

Arabic words are indexed twice: by their stem and by a light stem (`bot.arabic.light_terms`),
the latter weighing LIGHT_WEIGHT of its idf.

The sentences of an Arabic article are kept too, each as the set of its term ids (stems and
light stems, no counts or positions), so that retrieval can tell an article whose one sentence
holds the question's words together from one that holds them apart (`sentence_scores`).

Each article's language (`bot.lang`, from its headline and first lines) is kept per slot, so
retrieval can prefer articles in the asker's language. Document frequencies and the average
passage length are kept per language too: a question is scored with the statistics of its own
language's passages (and those of no language), so adding English articles to a store does
not change how an Arabic question ranks the Arabic ones (in a store of both, every Arabic term
would otherwise look rare, flattening the weights that tell its words apart), and the reverse.
"""

from __future__ import annotations

import logging
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from bot import arabic, lang, text
from bot.analysis import Reading, read
from bot.models import Article
from bot.passages import split_sentences

logger = logging.getLogger(__name__)

FORMAT_VERSION = 8  # 4: Arabic text processing (bot.arabic); 5: language per article;
# 6: document frequencies per language; 7: Arabic light stems; 8: sentences of Arabic articles
INDEX_FILE = "index.npz"
# BM25 parameters (the Robertson/Lucene defaults).
K1 = 1.2
B = 0.75
# Weight of a light-stem term against a stem (`bot.arabic.light_terms`): on the tune half of
# ARCD dev, 0.1-0.3 give the same article@1 and 0.5 less; a word's stem stays what matches.
LIGHT_WEIGHT = 0.2
# A query keeps at most this many distinct terms.
MAX_QUERY_TERMS = 64
_NOTHING = (np.zeros(0, np.int32), np.zeros(0, np.uint16))
# Word forms kept for typo correction: plain letters, of a length worth correcting.
_MIN_WORD, _MAX_WORD = 2, 30
NO_DATE = np.nan
_SEPARATOR = "\x00"
_STOPWORD = -1
# Word form -> term id is remembered across adds (term ids never change) up to this many
# forms: news repeats its words, and stemming each anew was a good part of indexing.
_MAX_CACHED_FORMS = 200_000
# Language codes: 0 for none, else 1 + the language's place in lang.LANGUAGES.
N_CODES = 1 + len(lang.LANGUAGES)

Ints = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.uint16]  # term frequencies in postings


class IndexFormatError(Exception):
    """The index file is missing, unreadable or from another format version."""


class _Postings:
    """Term-major sparse matrix: for each term id, the documents holding it and its counts."""

    def __init__(self, indptr: Ints, docs: Ints, tfs: npt.NDArray[np.uint16]) -> None:
        self.indptr = indptr
        self.docs = docs
        self.tfs = tfs

    @classmethod
    def empty(cls) -> Self:
        return cls(np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0, np.uint16))

    @classmethod
    def from_pairs(cls, term_ids: Ints, docs: Ints, tfs: Ints, n_terms: int) -> Self:
        """Build from (term, doc, count) triples given in ascending doc order."""
        order = np.argsort(term_ids, kind="stable")
        counts = np.bincount(term_ids, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, np.int32)
        np.cumsum(counts, out=indptr[1:])
        clipped = np.minimum(tfs[order], np.iinfo(np.uint16).max).astype(np.uint16)
        return cls(indptr, docs[order].astype(np.int32), clipped)

    @property
    def nnz(self) -> int:
        return len(self.docs)

    def pairs(self) -> tuple[Ints, Ints, Ints]:
        term_ids = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int32), np.diff(self.indptr))
        return term_ids, self.docs, self.tfs.astype(np.int32, copy=False)

    def lookup(self, term_id: int) -> tuple[Ints, Counts]:
        if term_id + 1 >= len(self.indptr):
            return self.docs[:0], self.tfs[:0]
        start, end = self.indptr[term_id], self.indptr[term_id + 1]
        return self.docs[start:end], self.tfs[start:end]


class _Field:
    """The passages as BM25 documents: postings, lengths, languages and document frequencies.

    `codes` holds the language code of each passage (see `language_code`) and `df` the
    document frequency of each term (columns) among the passages of each code (rows).
    """

    def __init__(self) -> None:
        self.main = _Postings.empty()
        self.delta = _Postings.empty()
        self.pending: list[tuple[Ints, Ints, Ints]] = []
        self.lengths: Floats = np.zeros(0)
        self.codes: npt.NDArray[np.uint8] = np.zeros(0, np.uint8)
        self.df: Ints = np.zeros((N_CODES, 0), np.int32)
        self._norm: Floats | None = None

    def norm(self, alive: npt.NDArray[np.bool_]) -> Floats:
        """BM25 length normalisation K1 * (1 - B + B * length / average live length), the
        average taken over the passages of the passage's language and of no language (a
        passage of no language: over all)."""
        if self._norm is None:
            averages = np.ones(N_CODES)
            for code in range(N_CODES):
                peers = alive & ((self.codes == code) | (self.codes == 0)) if code else alive
                live = self.lengths[peers]
                averages[code] = max(float(live.mean()), 1e-9) if len(live) else 1.0
            self._norm = K1 * (1.0 - B + B * self.lengths / averages[self.codes])
        return self._norm

    def append(
        self,
        pairs: tuple[Ints, Ints, Ints],
        lengths: Floats,
        codes: npt.NDArray[np.uint8],
        n_terms: int,
    ) -> None:
        """Add documents: their (term, doc, count) triples, lengths and language codes; doc
        ids follow on from those already held."""
        term_ids, docs, _ = pairs
        pair_codes = codes[docs - len(self.lengths)]
        self.pending.append(pairs)
        self._norm = None
        self.lengths = np.concatenate([self.lengths, lengths])
        self.codes = np.concatenate([self.codes, codes])
        self.df = _grow(self.df, n_terms)
        np.add.at(self.df, (pair_codes, term_ids), 1)

    def flush(self, n_terms: int, *, into_main: bool = False) -> None:
        """Fold pending additions into delta, and delta into main when it grew too big."""
        # Doc ids only grow, so main, then delta, then pending is ascending doc order.
        fresh = [self.delta.pairs(), *self.pending] if self.pending else []
        self.pending = []
        size = sum(len(part[0]) for part in fresh) or self.delta.nnz
        if size and (into_main or size * 8 > self.main.nnz):
            parts = [self.main.pairs(), *(fresh or [self.delta.pairs()])]
            self.main = _Postings.from_pairs(*_concat(parts), n_terms)
            self.delta = _Postings.empty()
        elif fresh:
            self.delta = _Postings.from_pairs(*_concat(fresh), n_terms)

    def lookup(self, term_id: int) -> tuple[Ints, Counts]:
        main_docs, main_tfs = self.main.lookup(term_id)
        delta_docs, delta_tfs = self.delta.lookup(term_id)
        if not len(delta_docs):
            return main_docs, main_tfs
        return np.concatenate([main_docs, delta_docs]), np.concatenate([main_tfs, delta_tfs])

    def recount(self, alive: npt.NDArray[np.bool_], n_terms: int) -> None:
        """Recompute document frequencies over the live documents only."""
        self.flush(n_terms)
        df = np.zeros((N_CODES, n_terms), np.int32)
        for segment in (self.main, self.delta):
            term_ids, docs, _ = segment.pairs()
            live = alive[docs]
            df += _count_by_code(term_ids[live], self.codes[docs[live]].astype(np.int64), n_terms)
        self.df = df
        self._norm = None

    def compact(self, keep: npt.NDArray[np.bool_], n_terms: int) -> None:
        """Drop the documents not in `keep` and renumber the others densely."""
        self.flush(n_terms, into_main=True)
        new_ids = np.cumsum(keep) - 1
        term_ids, docs, tfs = self.main.pairs()
        kept = keep[docs]
        self.main = _Postings.from_pairs(term_ids[kept], new_ids[docs[kept]], tfs[kept], n_terms)
        self.lengths = self.lengths[keep]
        self.codes = self.codes[keep]
        self._norm = None


@dataclass(frozen=True)
class Match:
    """How the terms of one query match the passages.

    `scores` are BM25 scores by passage id (dead passages are not masked here: combine with
    `LexicalIndex.slot_alive`); `idf` holds the idf of each query term (a term the index
    never saw counts as the rarest); `postings` the ascending passage ids holding each term.
    """

    scores: Floats
    idf: Floats
    term_ids: tuple[int | None, ...]
    postings: tuple[tuple[Ints, Counts], ...]
    # Per slot, its best passage on its own text and the terms it holds, once worked out
    # (`LexicalIndex.body_top_two` reads the leading articles' passages, `best_passages`
    # explains hits, mostly of those same articles).
    best: dict[int, tuple[int, npt.NDArray[np.bool_]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def counts(self, first: int, end: int) -> npt.NDArray[np.int32]:
        """Counts of each query term (columns) in passages first..end-1 (rows)."""
        counts = np.zeros((end - first, len(self.postings)), np.int32)
        for i, (docs, tfs) in enumerate(self.postings):
            low, high = np.searchsorted(docs, (first, end))
            counts[docs[low:high] - first, i] = tfs[low:high]
        return counts


class LexicalIndex:
    """BM25 postings of the passages of a set of articles; incremental and persistent."""

    def __init__(self) -> None:
        self.generation: int | None = None
        self._terms: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._words: Counter[str] = Counter()
        self._slot_article: list[str] = []
        self._slot_start: Ints = np.zeros(0, np.int32)
        self._slot_published: Floats = np.zeros(0)
        # Language of each slot's article: 0 none, else 1 + its place in lang.LANGUAGES.
        self._slot_language: npt.NDArray[np.uint8] = np.zeros(0, np.uint8)
        self._slot_alive: npt.NDArray[np.bool_] = np.zeros(0, bool)
        self._live: dict[str, int] = {}
        self._p_slot: Ints = np.zeros(0, np.int32)
        # Headline term counts of each slot, CSR-like: slot s owns entries indptr[s]:indptr[s+1].
        self._h_indptr: Ints = np.zeros(1, np.int32)
        self._h_terms: Ints = np.zeros(0, np.int32)
        self._h_tfs: Ints = np.zeros(0, np.int32)
        self._p_ordinal: Ints = np.zeros(0, np.int32)
        # Sentences of the Arabic articles, CSR-like twice: slot s owns sentences
        # s_slot[s]:s_slot[s+1], and sentence k owns the distinct term ids
        # s_terms[s_indptr[k]:s_indptr[k+1]] (sorted; a sentence of stopwords only is left out).
        self._s_slot: Ints = np.zeros(1, np.int32)
        self._s_indptr: Ints = np.zeros(1, np.int32)
        self._s_terms: Ints = np.zeros(0, np.int32)
        self._passages = _Field()
        self._stale_df = False
        self._alive: npt.NDArray[np.bool_] | None = None  # live passages, cached
        self._n_live: int | None = None
        self._n_live_by_code: Ints | None = None
        # The headline field, cached until articles change: each headline entry's slot, and
        # each slot's BM25 length normalisation (see `headline_scores`).
        self._headline_field: tuple[Ints, Floats] | None = None
        self._headline_terms: frozenset[int] | None = None  # of live headlines, cached
        self._form_terms: dict[str, int] = {}
        self._form_light: dict[str, int] = {}

    # ----------------------------------------------------------------- introspection

    def __len__(self) -> int:
        """Number of live articles."""
        return len(self._live)

    def article_ids(self) -> list[str]:
        return list(self._live)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._live

    @property
    def n_passages(self) -> int:
        """Passage ids run over 0..n_passages-1, dead ones included."""
        return len(self._p_slot)

    @property
    def slot_start(self) -> Ints:
        """First passage id of each slot; the slots tile the passage ids in order."""
        return self._slot_start

    @property
    def slot_alive(self) -> npt.NDArray[np.bool_]:
        return self._slot_alive

    @property
    def slot_published(self) -> Floats:
        """Publication time of each slot in POSIX seconds; NaN when unknown."""
        return self._slot_published

    @property
    def slot_language(self) -> npt.NDArray[np.uint8]:
        """Language code of each slot's article (see `language_code`; 0 when it has none)."""
        return self._slot_language

    @property
    def passage_slot(self) -> Ints:
        return self._p_slot

    @property
    def passage_ordinal(self) -> Ints:
        return self._p_ordinal

    def slot_article(self, slot: int) -> str:
        return self._slot_article[slot]

    def slot(self, article_id: str) -> int | None:
        """The live slot of an article; None when it is not indexed."""
        return self._live.get(article_id)

    @property
    def words(self) -> Counter[str]:
        """Word forms seen in indexed text (stopwords included) with their frequencies.

        Frequencies are counted on add and not decreased on remove: they only rank typo
        corrections, for which a slightly stale count does no harm.
        """
        return self._words

    def term_id(self, term: str) -> int | None:
        return self._term_ids.get(term)

    def rarest_idf(self) -> float:
        """The idf a term held by no live passage gets: the ceiling of every query term's idf."""
        self._refresh()
        return float(np.log1p((self._live_passages() + 0.5) / 0.5))

    def peers(self, language: lang.Language | None) -> npt.NDArray[np.bool_]:
        """Which language codes make up the collection a word in `language` is weighed in:
        its own and none; all when `language` is None or no live passage is in it (so a
        word in a language the store lacks is weighed as before: against everything)."""
        codes = np.ones(N_CODES, bool)
        if language is not None:
            code = language_code(language)
            counts = self._live_by_code()
            if counts[code]:
                codes[1:] = False
                codes[code] = True
        return codes

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of each stem over the live passages of its language, as `match` weighs
        it; an unknown stem gets the highest idf there.

        Reads the document frequencies as they stand, without flushing pending postings
        (an ingest asks between batches; flushing each time would grow the index's peak
        memory); after a removal they may still count the removed passages until the
        next search.
        """
        df, live_by_code = self._passages.df, self._live_by_code()
        by_language: dict[lang.Language | None, list[str]] = {}
        for term in terms:
            by_language.setdefault(_term_language(term), []).append(term)
        result: dict[str, float] = {}
        for language, group in by_language.items():  # one array operation per language
            peers = self.peers(language)
            n_live = max(int(live_by_code[peers].sum()), 1)
            ids = np.array([self._term_ids.get(term, -1) for term in group], np.int64)
            known = (ids >= 0) & (ids < df.shape[1])
            counts = np.zeros(len(group), np.int64)
            counts[known] = df[:, ids[known]][peers].sum(axis=0)  # copies these columns only
            idf = np.log1p((n_live - counts + 0.5) / (counts + 0.5))
            result.update(zip(group, idf.tolist(), strict=True))
        return result

    def document_frequency(self, term: str) -> int:
        """Number of live passages holding `term` (a stem)."""
        term_id = self._term_ids.get(term)
        self._refresh()
        return 0 if term_id is None else int(self._passages.df[:, term_id].sum())

    # ----------------------------------------------------------------- updates

    def add(
        self, articles: Iterable[Article], readings: Mapping[str, Reading] | None = None
    ) -> int:
        """Index `articles`; an article whose id is already indexed is replaced.

        `readings` are some of the articles' `bot.analysis.read`, by id, when already made.

        Returns:
            The number of passages added.
        """
        batch = list({article.id: article for article in articles}.values())
        self.remove(article.id for article in batch if article.id in self._live)
        first_slot, first_passage = len(self._slot_article), self.n_passages
        if len(self._form_terms) > _MAX_CACHED_FORMS:  # stays bounded in a long-running bot
            self._form_terms, self._form_light = {}, {}
        p_rows = _Rows()
        h_rows = _Rows()
        p_slot: list[int] = []
        p_ordinal: list[int] = []
        starts: list[int] = []
        s_counts: list[int] = []  # sentences kept per article
        s_sizes: list[int] = []  # distinct terms per sentence
        s_terms: list[int] = []
        found: list[int] = []  # language code of each article
        for offset, article in enumerate(batch):
            slot = first_slot + offset
            starts.append(first_passage + len(p_slot))
            reading = readings.get(article.id) if readings else None
            if reading is None:
                reading = read(article)
            forms: list[str] = []  # every word form the article's fields hold, in order
            headline = self._count(article.headline, reading.headline.split(), forms)
            h_rows.add(slot, headline)
            # Added to each passage's counts as a list: Counter counts one in C, while
            # updating from a Counter runs a Python loop (and + builds a third Counter).
            headline_ids = list(headline.elements())
            found.append(language_code(article_language(article)))
            arabic_text = found[-1] == _ARABIC
            kept = len(s_sizes)
            for ordinal, passage, passage_forms in reading.passages:
                counts = self._count(passage, passage_forms.split(), forms)
                counts.update(headline_ids)
                p_rows.add(first_passage + len(p_slot), counts)
                p_slot.append(slot)
                p_ordinal.append(ordinal)
                if arabic_text:
                    for sentence in split_sentences(passage):
                        held = sorted(self._count(sentence, text.words(sentence), []))
                        if held:
                            s_sizes.append(len(held))
                            s_terms += held
            s_counts.append(len(s_sizes) - kept)
            self._words.update(forms)  # once per article rather than once per passage
            self._slot_article.append(article.id)
            self._live[article.id] = slot
        n_terms = len(self._terms)
        languages = np.array(found, np.uint8)
        codes = languages[np.array(p_slot, np.int64) - first_slot]
        self._passages.append(*p_rows.arrays(), codes, n_terms)
        self._slot_start = np.concatenate([self._slot_start, np.array(starts, np.int32)])
        published = [_timestamp(article) for article in batch]
        self._slot_published = np.concatenate([self._slot_published, published])
        self._slot_language = np.concatenate([self._slot_language, languages])
        (h_terms, _, h_tfs), _ = h_rows.arrays()
        h_ends = self._h_indptr[-1] + np.cumsum(h_rows.sizes(), dtype=np.int32)
        self._h_indptr = np.concatenate([self._h_indptr, h_ends.astype(np.int32)])
        self._h_terms = np.concatenate([self._h_terms, h_terms])
        self._h_tfs = np.concatenate([self._h_tfs, h_tfs])
        s_ends = self._s_slot[-1] + np.cumsum(s_counts, dtype=np.int32)
        self._s_slot = np.concatenate([self._s_slot, s_ends.astype(np.int32)])
        t_ends = self._s_indptr[-1] + np.cumsum(s_sizes, dtype=np.int32)
        self._s_indptr = np.concatenate([self._s_indptr, t_ends.astype(np.int32)])
        self._s_terms = np.concatenate([self._s_terms, np.array(s_terms, np.int32)])
        self._slot_alive = np.concatenate([self._slot_alive, np.ones(len(batch), bool)])
        self._p_slot = np.concatenate([self._p_slot, np.array(p_slot, np.int32)])
        self._p_ordinal = np.concatenate([self._p_ordinal, np.array(p_ordinal, np.int32)])
        self._alive = None
        return len(p_slot)

    def _count(self, content: str, forms: list[str], seen: list[str]) -> Counter[int]:
        """Term ids of `content`, whose word forms are `forms`, with their counts; new terms
        join the vocabulary.

        The word forms are appended to `seen` (for the typo vocabulary).
        """
        seen += forms
        known = self._form_terms
        try:
            counts = Counter(map(known.__getitem__, forms))
        except KeyError:  # a form not met before: learn them in order (term ids follow it)
            for form in forms:
                if form not in known:
                    known[form] = self._learn(form)
            counts = Counter(map(known.__getitem__, forms))
        counts.pop(_STOPWORD, None)
        if not content.isascii() and lang.has_arabic(content):  # curly quotes are not Arabic
            counts.update(self._light_ids(forms))
        return counts

    def _light_ids(self, forms: list[str]) -> list[int]:
        """Term ids of the light stems of the Arabic content words among `forms`."""
        known = self._form_light
        for form in forms:
            if form not in known and not form.isascii():
                light = arabic.light_terms([form])
                known[form] = self._term_id(light[0]) if light else _STOPWORD
        return [known[form] for form in forms if known.get(form, _STOPWORD) != _STOPWORD]

    def _term_id(self, term: str) -> int:
        """The id of a term; a new term joins the vocabulary."""
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[term] = len(self._terms)
            self._terms.append(term)
        return term_id

    def _learn(self, form: str) -> int:
        """The term id of a new word form (_STOPWORD for a stopword)."""
        if text.is_stopword(form):
            return _STOPWORD
        return self._term_id(text.stem(form))

    def remove(self, article_ids: Iterable[str]) -> int:
        """Forget these articles (unknown ids are ignored); returns how many were removed."""
        slots = [
            self._live.pop(article_id) for article_id in article_ids if article_id in self._live
        ]
        if slots:
            self._slot_alive[slots] = False
            self._stale_df = True
            self._alive = None
        return len(slots)

    def _passage_alive(self) -> npt.NDArray[np.bool_]:
        if self._alive is None:
            self._alive = self._slot_alive[self._p_slot]
            self._n_live = None
            self._n_live_by_code = None
            self._headline_field = None
            self._headline_terms = None
        return self._alive

    def _live_by_code(self) -> Ints:
        """Number of live passages of each language code."""
        alive = self._passage_alive()
        if self._n_live_by_code is None:
            codes = self._passages.codes[alive]
            self._n_live_by_code = np.bincount(codes, minlength=N_CODES).astype(np.int32)
        return self._n_live_by_code

    def _refresh(self) -> None:
        n_terms = len(self._terms)
        self._passages.flush(n_terms)
        if self._stale_df:
            self._passages.recount(self._passage_alive(), n_terms)
            self._stale_df = False

    # ----------------------------------------------------------------- scoring

    def match(self, terms: Sequence[str]) -> Match:
        """BM25 scores of every passage for `terms`, with what is needed to explain them.

        Each term's idf is read among the passages of its own script's language (see
        `peers`): an Arabic word is as rare as it is among Arabic passages, an English word
        among English ones, a number among all. A light-stem term (`bot.arabic.light_terms`)
        weighs LIGHT_WEIGHT of its idf, in the scores and in `Match.idf` alike.

        Args:
            terms: distinct query stems, at most MAX_QUERY_TERMS (later ones are ignored).
        """
        self._refresh()
        field = self._passages
        alive = self._passage_alive()
        live_by_code = self._live_by_code()
        norm = field.norm(alive)
        terms = terms[:MAX_QUERY_TERMS]
        term_ids = [self._term_ids.get(term) for term in terms]
        known = [term_id is not None and term_id < field.df.shape[1] for term_id in term_ids]
        # Each term's peers (language codes, see `peers`) as a row; its df among them.
        languages = [_term_language(term) for term in terms]
        peers_of = {language: self.peers(language) for language in set(languages)}
        peers = np.array([peers_of[language] for language in languages], bool)
        peers = peers.reshape(len(terms), N_CODES)
        columns = [
            term_id if term_id is not None and ok else 0
            for term_id, ok in zip(term_ids, known, strict=True)
        ]
        df = np.where(known, (field.df[:, columns].T * peers).sum(axis=1), 0).astype(np.float64)
        n_live = np.maximum((live_by_code * peers).sum(axis=1), 1)
        # A term the index never saw still weighs in idf (as the rarest of all).
        idf = np.log1p((n_live - df + 0.5) / (df + 0.5))
        idf[[arabic.is_light_term(term) for term in terms]] *= LIGHT_WEIGHT
        postings: list[tuple[Ints, Counts]] = []
        weights: list[Floats] = []
        for i, term_id in enumerate(term_ids):
            docs, tfs = field.lookup(term_id) if term_id is not None and known[i] else _NOTHING
            postings.append((docs, tfs))
            weights.append(idf[i] * tfs * (K1 + 1.0) / (tfs + norm[docs]))
        scores = np.bincount(
            np.concatenate([np.zeros(0, np.int32), *(docs for docs, _ in postings)]),
            weights=np.concatenate([np.zeros(0), *weights]),
            minlength=len(alive),
        ).astype(np.float64, copy=False)  # weighted counts are float64 already: no copy
        return Match(scores, idf, tuple(term_ids), tuple(postings))

    def in_headlines(self, term: str) -> bool:
        """Whether the headline of a live article holds `term` (a stem)."""
        term_id = self._term_ids.get(term)
        if term_id is None:
            return False
        self._passage_alive()  # drops the cache when articles changed
        if self._headline_terms is None:
            live = np.repeat(self._slot_alive, np.diff(self._h_indptr))
            self._headline_terms = frozenset(self._h_terms[live].tolist())
        return term_id in self._headline_terms

    def headline_term_ids(self, slot: int) -> frozenset[int]:
        """The term ids of a slot's headline (its light stems included)."""
        return frozenset(self._h_terms[self._h_indptr[slot] : self._h_indptr[slot + 1]].tolist())

    def headline_scores(self, match: Match) -> Floats:
        """BM25 of the query terms over each slot's headline read as a field of its own.

        A term weighs its idf among passages (`match.idf`, light stems included at their
        weight); a headline's length is normalised against the average headline of the live
        articles of its language (and of none), as passages are. Dead slots are not masked.

        Returns:
            One score >= 0 per slot (0 for a headline that holds none of the terms).
        """
        entry_slot, norm = self._headline_norm()
        scores = np.zeros(len(self._slot_start))
        for i, term_id in enumerate(match.term_ids):
            if term_id is None:
                continue
            entries = np.flatnonzero(self._h_terms == term_id)
            slots = entry_slot[entries]
            tfs = self._h_tfs[entries].astype(np.float64)
            np.add.at(scores, slots, match.idf[i] * tfs * (K1 + 1.0) / (tfs + norm[slots]))
        return scores

    def sentence_scores(self, match: Match, slots: Sequence[int]) -> Floats:
        """For each of `slots`, the idf mass of the query terms that its best sentence holds
        together: the sum of `match.idf` over the terms one sentence holds, at most over its
        sentences (0 for an article without sentences kept: see the module)."""
        weights: dict[int, float] = {}
        for term_id, idf in zip(match.term_ids, match.idf.tolist(), strict=True):
            if term_id is not None:
                weights[term_id] = max(idf, weights.get(term_id, 0.0))
        found = np.zeros(len(slots))
        if not weights:
            return found
        wanted = np.array(sorted(weights), np.int32)
        worth = np.array([weights[term_id] for term_id in wanted.tolist()])
        chosen = np.asarray(slots, np.int64)
        lows, highs = self._s_slot[chosen], self._s_slot[chosen + 1]
        has = highs > lows
        if not has.any():
            return found
        lows, counts = lows[has], (highs - lows)[has]
        # The sentences of the chosen slots in order, and the term entries of each.
        sentences = np.repeat(lows - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        starts, ends = self._s_indptr[sentences], self._s_indptr[sentences + 1]
        sizes = ends - starts
        entries = self._s_terms[
            np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        ]
        at = np.minimum(np.searchsorted(wanted, entries), len(wanted) - 1)
        held = np.where(wanted[at] == entries, worth[at], 0.0)
        per_sentence = np.add.reduceat(held, np.cumsum(sizes) - sizes)
        found[has] = np.maximum.reduceat(per_sentence, np.cumsum(counts) - counts)
        return found

    def body_top_two(
        self, match: Match, slots: Sequence[int] | npt.NDArray[np.int64]
    ) -> tuple[Floats, Floats, Ints]:
        """Per slot of `slots`: the BM25 of its best and of its second-best passage on their
        own text (the headline's terms taken out, as `best_passage` weighs them: they count
        in every passage of an article), and its number of passages."""
        if not len(slots):
            empty = np.zeros(0)
            return empty, empty, np.zeros(0, np.int32)
        chosen = np.asarray(slots, np.int64)
        ids, group, sizes, counts, body = self._own_scores(match, chosen)
        _remember_best(match, chosen, ids, group, sizes, counts, body)
        ends = np.cumsum(sizes)
        starts = ends - sizes
        top = np.maximum.reduceat(body, starts)
        second = np.maximum.reduceat(np.where(body >= top[group], 0.0, body), starts)
        # A slot of one passage has no second one.
        second = np.where(sizes > 1, second, 0.0)
        return top, second, sizes.astype(np.int32)

    def _own_scores(
        self, match: Match, chosen: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], Ints, Floats]:
        """For the passages of the slots `chosen` (each has at least one): their ids, the
        index in `chosen` of their slot, the slots' sizes, the query terms' counts (with the
        headline's) and the BM25 on the passage's own text (without the headline's)."""
        bounds = np.append(self._slot_start, self.n_passages)
        firsts, sizes = bounds[chosen], bounds[chosen + 1] - bounds[chosen]
        group = np.repeat(np.arange(len(chosen)), sizes)
        ids = firsts[group] + np.arange(len(group)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        counts = np.zeros((len(ids), len(match.postings)), np.int32)
        # Each passage's row, -1 outside the chosen slots: one look-up per posting beats a
        # binary search per passage and term (the leading articles hold ~1,500 passages).
        row_of = np.full(self.n_passages, -1, np.int32)
        row_of[ids] = np.arange(len(ids), dtype=np.int32)
        for i, (docs, tfs) in enumerate(match.postings):
            rows = row_of[docs]
            held = rows >= 0
            counts[rows[held], i] = tfs[held]
        # The chosen slots' headline entries, and each one's row in `chosen`.
        lows, highs = self._h_indptr[chosen], self._h_indptr[chosen + 1]
        spans = highs - lows
        rows = np.repeat(np.arange(len(chosen)), spans)
        entries = np.repeat(lows - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())
        head_terms, head_tfs = self._h_terms[entries], self._h_tfs[entries]
        headline = np.zeros((len(chosen), len(match.postings)), np.int32)
        for i, term_id in enumerate(match.term_ids):
            if term_id is not None:
                hit = head_terms == term_id
                headline[rows[hit], i] = head_tfs[hit]
        own = np.maximum(counts - headline[group], 0)
        norm = self._passages.norm(self._passage_alive())[ids, None]
        body = (match.idf * own * (K1 + 1.0) / (own + norm)).sum(axis=1)
        return ids, group, sizes, counts, body

    def _headline_norm(self) -> tuple[Ints, Floats]:
        """Each headline entry's slot, and each slot's K1 * (1 - B + B * length / average)."""
        self._passage_alive()  # drops the cache when articles changed
        if self._headline_field is None:
            n_slots = len(self._slot_start)
            entry_slot = np.repeat(np.arange(n_slots, dtype=np.int32), np.diff(self._h_indptr))
            lengths = np.bincount(entry_slot, weights=self._h_tfs, minlength=n_slots)
            codes = self._slot_language
            averages = np.ones(N_CODES)
            for code in range(N_CODES):
                peers = self._slot_alive
                if code:
                    peers = peers & ((codes == code) | (codes == 0))
                live = lengths[peers]
                averages[code] = max(float(live.mean()), 1e-9) if len(live) else 1.0
            norm = K1 * (1.0 - B + B * lengths / averages[codes])
            self._headline_field = (entry_slot, norm)
        return self._headline_field

    def best_passage(self, match: Match, slot: int) -> tuple[int, list[bool]]:
        """The passage of `slot` that best matches on its own text, and the terms it holds.

        Headline terms count in every passage for ranking articles; here they are taken out,
        so the passage chosen for the excerpt is the one whose sentences match the question.
        Ties go to the higher full score, then to the earlier passage.

        Returns:
            The passage id, and for each query term whether that passage or the headline
            holds it.
        """
        first = int(self._slot_start[slot])
        end = (
            int(self._slot_start[slot + 1]) if slot + 1 < len(self._slot_start) else self.n_passages
        )
        counts = match.counts(first, end)
        headline = self._headline_counts(slot)
        own = np.maximum(
            counts - [headline.get(t, 0) if t is not None else 0 for t in match.term_ids], 0
        )
        norm = self._passages.norm(self._passage_alive())[first:end, None]
        body = (match.idf * own * (K1 + 1.0) / (own + norm)).sum(axis=1)
        order = np.lexsort((-np.arange(end - first), match.scores[first:end], body))
        best = int(order[-1])
        return first + best, [bool(n) for n in counts[best]]

    def best_passages(
        self, match: Match, slots: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """`best_passage` of each of `slots`, worked out in one pass over their passages (a
        search explains twenty hits: one by one, that was most of its time).

        Returns:
            The best passage id of each slot, in order, and which query terms (columns)
            each (rows) or its headline holds.
        """
        todo = np.array([slot for slot in dict.fromkeys(slots) if slot not in match.best])
        if len(todo):
            _remember_best(match, todo, *self._own_scores(match, todo.astype(np.int64)))
        found = [match.best[slot] for slot in slots]
        held = np.array([terms for _, terms in found], bool).reshape(
            len(found), len(match.postings)
        )
        return np.array([passage for passage, _ in found], np.int64), held

    def _headline_counts(self, slot: int) -> dict[int, int]:
        low, high = self._h_indptr[slot], self._h_indptr[slot + 1]
        return dict(
            zip(self._h_terms[low:high].tolist(), self._h_tfs[low:high].tolist(), strict=True)
        )

    def _live_passages(self) -> int:
        if self._n_live is None:
            self._n_live = int(self._passage_alive().sum())
        return max(self._n_live, 1)

    # ----------------------------------------------------------------- persistence

    def save(self, directory: Path, generation: int) -> None:
        """Compact the index and write it to `directory` atomically, tagged `generation`."""
        self._compact()
        directory.mkdir(parents=True, exist_ok=True)
        words = {w: n for w, n in self._words.items() if _MIN_WORD <= len(w) <= _MAX_WORD}
        arrays: dict[str, Any] = {
            "format": np.array(FORMAT_VERSION),
            "generation": np.array(generation),
            "terms": _pack(self._terms),
            "words": _pack(list(words)),
            "word_counts": np.fromiter(words.values(), np.int64, len(words)),
            "slot_article": _pack(self._slot_article),
            "slot_start": self._slot_start,
            "h_indptr": self._h_indptr,
            "h_terms": self._h_terms,
            "h_tfs": self._h_tfs,
            "s_slot": self._s_slot,
            "s_indptr": self._s_indptr,
            "s_terms": self._s_terms,
            "slot_published": self._slot_published,
            "slot_language": self._slot_language,
            "p_slot": self._p_slot.astype(np.int32),
            "p_ordinal": self._p_ordinal.astype(np.int32),
        }
        field = self._passages
        arrays["indptr"] = field.main.indptr
        arrays["docs"] = field.main.docs.astype(np.int32, copy=False)
        arrays["tfs"] = field.main.tfs
        arrays["lengths"] = field.lengths.astype(np.float32)
        arrays["df"] = field.df.astype(np.int32, copy=False)
        arrays["codes"] = field.codes
        partial = directory / f".{INDEX_FILE}.{os.getpid()}.tmp"
        with partial.open("wb") as handle:
            np.savez(handle, **arrays)
        partial.replace(directory / INDEX_FILE)
        self.generation = generation

    def _compact(self) -> None:
        self._refresh()
        n_terms = len(self._terms)
        if self._slot_alive.all():  # nothing to drop: a fresh build, or only additions
            self._passages.flush(n_terms, into_main=True)
            return
        keep_slots = self._slot_alive.copy()
        keep_passages = self._passage_alive()
        self._passages.compact(keep_passages, n_terms)
        self._p_slot = (np.cumsum(keep_slots) - 1)[self._p_slot[keep_passages]]
        self._p_ordinal = self._p_ordinal[keep_passages]
        self._slot_article = [
            a for a, keep in zip(self._slot_article, keep_slots, strict=True) if keep
        ]
        self._slot_published = self._slot_published[keep_slots]
        self._slot_language = self._slot_language[keep_slots]
        self._slot_start = (np.cumsum(keep_passages) - 1)[self._slot_start[keep_slots]]
        sizes = np.diff(self._h_indptr)
        kept_entries = np.repeat(keep_slots, sizes)
        self._h_terms = self._h_terms[kept_entries]
        self._h_tfs = self._h_tfs[kept_entries]
        self._h_indptr = np.concatenate([[0], np.cumsum(sizes[keep_slots])]).astype(np.int32)
        counts = np.diff(self._s_slot)
        kept_sentences = np.repeat(keep_slots, counts)
        lengths = np.diff(self._s_indptr)
        self._s_terms = self._s_terms[np.repeat(kept_sentences, lengths)]
        self._s_indptr = np.concatenate([[0], np.cumsum(lengths[kept_sentences])]).astype(np.int32)
        self._s_slot = np.concatenate([[0], np.cumsum(counts[keep_slots])]).astype(np.int32)
        self._slot_alive = np.ones(len(self._slot_article), bool)
        self._live = {article_id: slot for slot, article_id in enumerate(self._slot_article)}
        self._alive = None

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index saved by `save`.

        Raises:
            IndexFormatError: no index there, or it cannot be read, or another format version.
        """
        path = directory / INDEX_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as error:
            raise IndexFormatError(f"cannot read {path}: {error}") from error
        if int(arrays.get("format", -1)) != FORMAT_VERSION:
            raise IndexFormatError(f"{path} is not index format {FORMAT_VERSION}")
        try:
            return cls._from_arrays(arrays)
        except (KeyError, ValueError, IndexError) as error:
            raise IndexFormatError(f"{path} is damaged: {error}") from error

    @classmethod
    def _from_arrays(cls, arrays: dict[str, Any]) -> LexicalIndex:
        index = cls()
        index.generation = int(arrays["generation"])
        index._terms = _unpack(arrays["terms"])
        index._term_ids = {term: i for i, term in enumerate(index._terms)}
        index._words = Counter(
            dict(zip(_unpack(arrays["words"]), arrays["word_counts"].tolist(), strict=True))
        )
        index._slot_article = _unpack(arrays["slot_article"])
        index._slot_start = arrays["slot_start"].astype(np.int32, copy=False)
        index._h_indptr = arrays["h_indptr"].astype(np.int32, copy=False)
        index._h_terms = arrays["h_terms"].astype(np.int32, copy=False)
        index._h_tfs = arrays["h_tfs"].astype(np.int32, copy=False)
        index._s_slot = arrays["s_slot"].astype(np.int32, copy=False)
        index._s_indptr = arrays["s_indptr"].astype(np.int32, copy=False)
        index._s_terms = arrays["s_terms"].astype(np.int32, copy=False)
        index._slot_published = arrays["slot_published"].astype(np.float64, copy=False)
        index._slot_language = arrays["slot_language"].astype(np.uint8, copy=False)
        index._slot_alive = np.ones(len(index._slot_article), bool)
        index._live = {article_id: slot for slot, article_id in enumerate(index._slot_article)}
        index._p_slot = arrays["p_slot"].astype(np.int32, copy=False)
        index._p_ordinal = arrays["p_ordinal"].astype(np.int32, copy=False)
        field = index._passages
        field.main = _Postings(
            arrays["indptr"].astype(np.int32, copy=False),
            arrays["docs"].astype(np.int32, copy=False),
            arrays["tfs"],
        )
        field.lengths = arrays["lengths"].astype(np.float64, copy=False)
        field.df = arrays["df"].astype(np.int32, copy=False).reshape(N_CODES, -1)
        field.codes = arrays["codes"].astype(np.uint8, copy=False)
        return index


def _grow(values: Ints, size: int) -> Ints:
    """`values` (one row per language code) widened with zero columns to `size` terms."""
    if values.shape[1] >= size:
        return values
    padding = np.zeros((values.shape[0], size - values.shape[1]), values.dtype)
    return np.concatenate([values, padding], axis=1)


def _count_by_code(term_ids: Ints, codes: npt.NDArray[np.int64], n_terms: int) -> Ints:
    """How many of the (term, language code) pairs fall on each code (rows) and term."""
    flat = np.bincount(codes * n_terms + term_ids, minlength=N_CODES * n_terms)
    return flat.reshape(N_CODES, n_terms).astype(np.int32)


class _Rows:
    """Term counts of documents being added, gathered in flat C arrays (an array per
    document costs more than the counting itself)."""

    def __init__(self) -> None:
        self._terms = array("i")
        self._docs = array("i")
        self._tfs = array("i")
        self._sizes = array("i")
        self._lengths: list[int] = []

    def add(self, doc: int, counts: Counter[int]) -> None:
        size = len(counts)
        self._terms.extend(counts.keys())
        self._tfs.extend(counts.values())
        self._docs.extend([doc] * size)
        self._sizes.append(size)
        self._lengths.append(sum(counts.values()))

    def sizes(self) -> Ints:
        """Number of distinct terms of each document."""
        return np.frombuffer(self._sizes, np.int32)

    def arrays(self) -> tuple[tuple[Ints, Ints, Ints], Floats]:
        """(term ids, doc ids, counts) of every row, and the length of each document."""
        pairs = (
            np.frombuffer(self._terms, np.int32),
            np.frombuffer(self._docs, np.int32),
            np.frombuffer(self._tfs, np.int32),
        )
        return pairs, np.array(self._lengths, np.float64)


def _concat(parts: Sequence[tuple[Ints, Ints, Ints]]) -> tuple[Ints, Ints, Ints]:
    return (
        np.concatenate([part[0] for part in parts]),
        np.concatenate([part[1] for part in parts]),
        np.concatenate([part[2] for part in parts]),
    )


def language_code(language: lang.Language | None) -> int:
    """The code a language is kept under in `LexicalIndex.slot_language` (0 for None)."""
    return 0 if language is None else 1 + lang.LANGUAGES.index(language)


_ARABIC = language_code("ar")


# The headline and the start of the text tell an article's script; reading on costs time.
_LANGUAGE_SAMPLE = 600


def article_language(article: Article) -> lang.Language | None:
    """The language an article is kept under: that of its headline and first lines."""
    return lang.detect(f"{article.headline}\n{article.text[:_LANGUAGE_SAMPLE]}")


def _remember_best(
    match: Match,
    chosen: npt.NDArray[np.int64],
    ids: npt.NDArray[np.int64],
    group: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    counts: Ints,
    body: Floats,
) -> None:
    """Keep in `match.best` each chosen slot's best passage (of `LexicalIndex._own_scores`):
    the best body score, then full score, then the earlier passage."""
    order = np.lexsort((-ids, match.scores[ids], body, group))
    best = order[np.cumsum(sizes) - 1]
    rows = zip(chosen.tolist(), ids[best].tolist(), counts[best] > 0, strict=True)
    for slot, passage, held in rows:
        match.best[slot] = (passage, held)


def _term_language(term: str) -> lang.Language | None:
    """The language of an index term by its script (ASCII first: the common case, fast)."""
    if term.isascii():
        return "en" if not term.replace(".", "").isdigit() else None
    return lang.detect(term)


def _timestamp(article: Article) -> float:
    return article.published.timestamp() if article.published is not None else NO_DATE


def _pack(strings: list[str]) -> npt.NDArray[np.uint8]:
    """Strings as one UTF-8 buffer (NUL-separated): compact, and loads without pickle."""
    if any(_SEPARATOR in value for value in strings):
        raise ValueError("a packed string holds a NUL character")
    return np.frombuffer(_SEPARATOR.join(strings).encode(), np.uint8)


def _unpack(buffer: npt.NDArray[np.uint8]) -> list[str]:
    joined = buffer.tobytes().decode()
    return joined.split(_SEPARATOR) if joined else []
