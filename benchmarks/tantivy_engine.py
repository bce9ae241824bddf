"""The bot's search on tantivy (the Rust Lucene), for measuring it against our own index.

Same inputs and the same ranking ideas as `bot.retrieval`, so the engines differ in the
engine only:
- documents are our passages (`bot.passages`), indexed as our terms (`bot.text`: stems,
  aliases, stopwords) joined by spaces under tantivy's whitespace tokenizer, the headline's
  terms counted in every passage as ours do; BM25 (k1 1.2, b 0.75) is tantivy's, its top-k
  pruning is block-max WAND;
- the freshness bonus cannot run inside tantivy's Python binding (no score tweak), so it is
  a rerank: the best passages by BM25 over the whole archive up to `as_of`, plus the best of
  the FADE_DAYS before it (the only ones the bonus lifts), are grouped by article (best
  passage), and ranked as `bot.retrieval` ranks (bonus capped by the article's own score;
  for a short question, a missing word costs the bonus and MISSING_TERM);
- misspelled words go through our own speller (`bot.retrieval._Speller`) over the word
  forms seen at ingest (kept beside the index in `words.tsv`);
- the calibrated "found" confidence is ours: the idf share of the question's terms in the
  hit's passage and headline (the passage's terms are stored), with idf from tantivy's
  document frequencies.
The passage text and headline are stored in tantivy's compressed document store: the excerpt
comes from there, so the archive's body is kept once.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import tantivy

from bot import text
from bot.answer import passage_excerpt
from bot.models import Article
from bot.passages import split_passages
from bot.retrieval import (
    BONUS_CAP,
    CANDIDATES,
    FADE_DAYS,
    FOUND_THRESHOLD,
    MIN_CORRECTABLE,
    MISSING_TERM,
    PHANTOM_SHARE,
    SHORT_QUESTION,
    _Speller,
    freshness_bonus,
)

PASSAGES = 100  # best passages taken from each of the two searches
COMMIT_EVERY = 20_000  # articles between commits: bounded writer memory, visible progress
WRITER_HEAP = 128_000_000
UNDATED = -(2**62)  # `published` of an article without a date (below every range bound)
_DAY = 86_400


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", stored=True, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("article", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field("slot", stored=False, indexed=False, fast=True)
    builder.add_integer_field("published", stored=False, indexed=False, fast=True)
    builder.add_unsigned_field("ordinal", stored=True, indexed=False, fast=False)
    builder.add_bytes_field("headline", stored=True, indexed=False, fast=False)
    builder.add_bytes_field("text", stored=True, indexed=False, fast=False)
    return builder.build()


@dataclass(frozen=True)
class Answered:
    """One answer as the bot would show it: the top articles, found first, with excerpts."""

    article_ids: list[str]
    found: bool
    excerpts: list[str]


class _Terms:
    """Word forms -> index terms, remembering every form's frequency for the speller."""

    def __init__(self) -> None:
        self.words: Counter[str] = Counter()
        self._stems: dict[str, str | None] = {}

    def of(self, content: str) -> list[str]:
        forms = text.words(content)
        self.words.update(forms)
        known = self._stems
        fresh = [form for form in set(forms) if form not in known]
        if fresh:
            if len(known) > 500_000:  # a cache, not a vocabulary: keep it bounded
                known.clear()
            for form, stem in zip(fresh, text.stems(fresh), strict=True):
                known[form] = None if text.is_stopword(form) else stem
        return [stem for form in forms if (stem := known[form]) is not None]


def build(index_dir: Path, articles: Iterable[Article]) -> tuple[int, int]:
    """Index `articles` into a new index at `index_dir`; returns (articles, passages).

    An article whose id was already added is replaced (deleted by its id, then added).
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_schema(), path=str(index_dir), reuse=False)
    writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)
    vocabulary = _Terms()
    slot = passages = 0
    for article in articles:
        writer.delete_documents_by_term("article", article.id)
        published = int(article.published.timestamp()) if article.published else UNDATED
        headline_terms = vocabulary.of(article.headline)
        headline = article.headline.encode()
        for passage in split_passages(article):
            terms = vocabulary.of(passage.text) + headline_terms
            doc = tantivy.Document()
            doc.add_text("terms", " ".join(terms))
            doc.add_text("article", article.id)
            doc.add_unsigned("slot", slot)
            doc.add_integer("published", published)
            doc.add_unsigned("ordinal", passage.ordinal)
            doc.add_bytes("headline", headline)
            doc.add_bytes("text", passage.text.encode())
            writer.add_document(doc)
            passages += 1
        slot += 1
        if slot % COMMIT_EVERY == 0:
            writer.commit()
    writer.commit()
    writer.wait_merging_threads()
    with (index_dir / "words.tsv").open("w", encoding="utf-8") as out:
        out.writelines(f"{word}\t{count}\n" for word, count in vocabulary.words.items())
    (index_dir / "slots.json").write_text(json.dumps({"slots": slot}))
    return slot, passages


class TantivySearch:
    """Answers questions from an index made by `build` (memory-mapped by tantivy)."""

    def __init__(self, index_dir: Path) -> None:
        self._dir = index_dir
        self._index = tantivy.Index.open(str(index_dir))
        self._schema = self._index.schema
        self._searcher = self._index.searcher()
        self._passages = self._searcher.num_docs
        self._speller: _Speller | None = None

    def _df(self, term: str) -> int:
        return int(self._searcher.doc_freq("terms", term))

    def _idf(self, df: int) -> float:
        return math.log1p((self._passages - df + 0.5) / (df + 0.5))

    def _spell(self) -> _Speller:
        if self._speller is None:  # loaded on the first unknown word, as it is only for typos
            words: dict[str, int] = {}
            with (self._dir / "words.tsv").open(encoding="utf-8") as lines:
                for line in lines:
                    word, _, count = line.rstrip("\n").partition("\t")
                    words[word] = int(count)
            self._speller = _Speller(words)
        return self._speller

    def query_terms(self, question: str) -> list[str]:
        """Distinct stems of the question's content words, unknown words corrected first."""
        forms = []
        for form in text.words(question):
            if text.is_stopword(form):
                continue
            if len(form) >= MIN_CORRECTABLE and form.isalpha() and not self._df(text.stem(form)):
                fixed = self._spell().correct(form)
                if fixed is not None:
                    if text.is_stopword(fixed):
                        continue
                    form = fixed
            forms.append(form)
        return list(dict.fromkeys(text.stems(forms)))

    def _candidates(
        self, terms: list[str], low: int | None, high: int
    ) -> list[tuple[float, tantivy.DocAddress]]:
        schema = self._schema
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", t)) for t in terms]
        )
        dates = tantivy.Query.range_query(
            schema, "published", tantivy.FieldType.Integer, low, high, True, True
        )
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, words),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(dates, 0.0)),
            ]
        )
        return list(self._searcher.search(query, PASSAGES, count=False).hits)

    def ask(self, question: str, as_of: datetime | None = None, top: int = 5) -> Answered:
        """The top articles for `question` as of a moment, with found and excerpts."""
        terms = self.query_terms(question)
        if not terms:
            return Answered([], False, [])
        moment = int((as_of or datetime.now(UTC)).timestamp())
        hits = self._candidates(terms, None, moment)
        hits += self._candidates(terms, moment - int(FADE_DAYS * _DAY), moment)
        if not hits:
            return Answered([], False, [])
        addresses = [address for _, address in hits]
        slots = self._searcher.fast_field_values("slot", addresses)
        published = self._searcher.fast_field_values("published", addresses)
        best: dict[int, tuple[float, float, tantivy.DocAddress]] = {}  # slot: plain, days, doc
        for (score, address), slot, when in zip(hits, slots, published, strict=True):
            days = math.nan if when == UNDATED else (moment - when) / _DAY
            if slot not in best or score > best[slot][0]:
                best[slot] = (score, days, address)
        ranked = self._ranked(terms, list(best.values()), top)
        return self._answer(terms, ranked)

    def _ranked(
        self, terms: list[str], found: list[tuple[float, float, tantivy.DocAddress]], top: int
    ) -> list[tuple[tantivy.DocAddress, set[str]]]:
        """As `Retriever._ranked`: by score with freshness; short questions weigh lost words."""
        plain = [score for score, _, _ in found]
        bonus = freshness_bonus(np.array([days for _, days, _ in found]))
        fresh = [p + min(float(b), BONUS_CAP * p) for p, b in zip(plain, bonus, strict=True)]
        by_fresh = sorted(range(len(found)), key=lambda i: -fresh[i])
        if len(terms) > SHORT_QUESTION:
            chosen = by_fresh[:top]
            return [(found[i][2], self._held(found[i][2])) for i in chosen]
        count = max(top, CANDIDATES)
        by_plain = sorted(range(len(found)), key=lambda i: -plain[i])
        pool = list(dict.fromkeys(by_fresh[:count] + by_plain[:count]))
        held = {i: self._held(found[i][2]) for i in pool}
        somewhere = set().union(*held.values()) & set(terms)
        strength = {}
        for i in pool:
            missing = len(somewhere - held[i])
            strength[i] = plain[i] * MISSING_TERM**missing if missing else fresh[i]
        chosen = sorted(pool, key=lambda i: -strength[i])[:top]
        return [(found[i][2], held[i]) for i in chosen]

    def _held(self, address: tantivy.DocAddress) -> set[str]:
        return set(str(self._searcher.doc(address).get_first("terms")).split())

    def _answer(
        self, terms: list[str], ranked: list[tuple[tantivy.DocAddress, set[str]]]
    ) -> Answered:
        dfs = [self._df(term) for term in terms]
        weights = [self._idf(df) for df in dfs]
        seen = [w for w, df in zip(weights, dfs, strict=True) if df]
        if seen and len(seen) < len(weights):  # an unseen word weighs no more than the rarest
            weights = [w if df else min(w, max(seen)) for w, df in zip(weights, dfs, strict=True)]
        phantom = PHANTOM_SHARE * self._idf(0)
        ids, excerpts, confidences = [], [], []
        for address, held in ranked:
            doc = self._searcher.doc(address)
            matched = [t for t in terms if t in held]
            share = sum(w for w, t in zip(weights, terms, strict=True) if t in held)
            confidences.append(share / (sum(weights) + phantom))
            ids.append(str(doc.get_first("article")))
            excerpts.append(passage_excerpt(bytes(doc.get_first("text")).decode(), matched)[0])
        # As in bot.retrieval: one order; found when the first hit is an answer.
        return Answered(ids, bool(confidences) and confidences[0] >= FOUND_THRESHOLD, excerpts)
