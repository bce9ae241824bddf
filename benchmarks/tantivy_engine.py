"""The bot's search on tantivy (the Rust Lucene), for measuring it against our own index.

Same inputs and the same ranking ideas as `bot.retrieval`, so the engines differ in the
engine only:
- documents are our passages (`bot.passages`), indexed as our terms (`bot.text`: stems,
  aliases, stopwords) joined by spaces under tantivy's whitespace tokenizer, the headline's
  terms counted in every passage as ours do; BM25 (k1 1.2, b 0.75) is tantivy's, its top-k
  pruning is block-max WAND;
- the recency prior cannot run inside tantivy's Python binding (no score tweak), so it is a
  rerank: the best passages by BM25 over the whole archive up to `as_of`, plus the best of
  the RECENT_DAYS before it (where the prior is strong enough to lift a weaker match), are
  grouped by article (best passage), and the prior is added to each;
- misspelled words go through our own speller (`bot.retrieval._Speller`) over the word
  forms seen at ingest (kept beside the index in `words.tsv`);
- the calibrated "found" confidence is ours: the idf share of the question's terms in the
  hit's passage and headline, with idf from tantivy's document frequencies.
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

import tantivy

from bot import text
from bot.answer import passage_excerpt
from bot.models import Article
from bot.passages import split_passages
from bot.retrieval import (
    FOUND_THRESHOLD,
    MIN_CORRECTABLE,
    PHANTOM_SHARE,
    RECENCY_TAU_DAYS,
    RECENCY_WEIGHT,
    UNDATED_DAYS,
    _Speller,
)

CANDIDATES = 100  # best passages taken from each of the two searches
RECENT_DAYS = 14
COMMIT_EVERY = 20_000  # articles between commits: bounded writer memory, visible progress
WRITER_HEAP = 128_000_000
UNDATED = -(2**62)  # `published` of an article without a date (below every range bound)
_DAY = 86_400


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", stored=False, tokenizer_name="whitespace", index_option="freq")
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
        return list(self._searcher.search(query, CANDIDATES, count=False).hits)

    def ask(self, question: str, as_of: datetime | None = None, top: int = 5) -> Answered:
        """The top articles for `question` as of a moment, with found and excerpts."""
        terms = self.query_terms(question)
        if not terms:
            return Answered([], False, [])
        moment = int((as_of or datetime.now(UTC)).timestamp())
        hits = self._candidates(terms, None, moment)
        hits += self._candidates(terms, moment - RECENT_DAYS * _DAY, moment)
        if not hits:
            return Answered([], False, [])
        addresses = [address for _, address in hits]
        slots = self._searcher.fast_field_values("slot", addresses)
        published = self._searcher.fast_field_values("published", addresses)
        best: dict[int, tuple[float, tantivy.DocAddress]] = {}
        for (score, address), slot, when in zip(hits, slots, published, strict=True):
            days = UNDATED_DAYS if when == UNDATED else max(moment - when, 0) / _DAY
            ranked = score + RECENCY_WEIGHT * math.log(RECENCY_TAU_DAYS / (RECENCY_TAU_DAYS + days))
            if slot not in best or ranked > best[slot][0]:
                best[slot] = (ranked, address)
        chosen = sorted(best.values(), key=lambda item: -item[0])[:top]
        return self._answer(terms, [address for _, address in chosen])

    def _answer(self, terms: list[str], addresses: list[tantivy.DocAddress]) -> Answered:
        dfs = [self._df(term) for term in terms]
        weights = [self._idf(df) for df in dfs]
        seen = [w for w, df in zip(weights, dfs, strict=True) if df]
        if seen and len(seen) < len(weights):  # an unseen word weighs no more than the rarest
            weights = [w if df else min(w, max(seen)) for w, df in zip(weights, dfs, strict=True)]
        phantom = PHANTOM_SHARE * self._idf(0)
        rows = []
        for address in addresses:
            doc = self._searcher.doc(address)
            passage = bytes(doc.get_first("text")).decode()
            headline = bytes(doc.get_first("headline")).decode()
            held = set(text.terms(passage)) | set(text.terms(headline))
            matched = [t for t in terms if t in held]
            share = sum(w for w, t in zip(weights, terms, strict=True) if t in held)
            confidence = share / (sum(weights) + phantom)
            excerpt, _ = passage_excerpt(passage, matched)
            rows.append((confidence, str(doc.get_first("article")), excerpt))
        answers = [row for row in rows if row[0] >= FOUND_THRESHOLD]
        rest = [row for row in rows if row[0] < FOUND_THRESHOLD]
        # As in bot.retrieval: answers first in rank order; with none, closest first.
        ordered = answers + (rest if answers else sorted(rest, key=lambda row: -row[0]))
        return Answered([row[1] for row in ordered], bool(answers), [row[2] for row in ordered])
