"""Boilerplate: paragraphs a source repeats across many of its articles (pure functions).

Sign-up forms, a video player's "ad feedback" text, "Follow", "Short Url": a paragraph that
MIN_ARTICLES or more articles of one source hold belongs to the site, not to any story. The
store counts, per source, the articles holding each paragraph (by key); the index and the
excerpts take articles with those paragraphs stripped. An article left with no body is still
found by its headline, which the index counts in every passage (one passage at least).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from urllib.parse import urlsplit

from bot import text
from bot.models import Article

MIN_ARTICLES = 5


def source_of(article: Article) -> str:
    """Whose site an article comes from: its source's name, else its URL's host, else ""."""
    if article.source:
        return article.source
    return urlsplit(article.url).netloc.casefold() if article.url else ""


def paragraph_key(paragraph: str) -> str:
    """A short key equal for paragraphs that read the same (case and spacing aside)."""
    folded = " ".join(text.normalize(paragraph).split())
    return hashlib.blake2b(folded.encode(), digest_size=8).hexdigest()


def body_keys(article: Article) -> list[str | None]:
    """The key of each body paragraph, in order; None for a blank one.

    Computed once per ingested article and handed to both the store (which counts them) and
    `strip`, as hashing every paragraph is a good part of an ingest's cost.
    """
    return [paragraph_key(paragraph) if paragraph.strip() else None for paragraph in article.body]


def paragraph_keys(article: Article) -> set[str]:
    """Keys of the article's body paragraphs (what can repeat across a site's articles)."""
    return {key for key in body_keys(article) if key is not None}


def strip(
    article: Article, repeated: Collection[str], keys: Sequence[str | None] | None = None
) -> Article:
    """The article without its body paragraphs whose key is in `repeated`.

    `keys` are the article's `body_keys` when already known.
    """
    if not repeated:
        return article
    keys = body_keys(article) if keys is None else keys
    body = [p for p, key in zip(article.body, keys, strict=True) if key not in repeated]
    if len(body) == len(article.body):
        return article
    kept = set(body)
    subheadings = [heading for heading in article.subheadings if heading in kept]
    return article.model_copy(update={"body": body, "subheadings": subheadings})


def repeated(articles: Iterable[Article]) -> dict[str, set[str]]:
    """Per source, the paragraph keys MIN_ARTICLES or more of these articles hold.

    What the store's counts give for a store holding exactly these articles (for tools
    that index articles without a store, such as the benchmarks).
    """
    counts: Counter[tuple[str, str]] = Counter()
    for article in articles:
        source = source_of(article)
        counts.update((source, key) for key in paragraph_keys(article))
    result: dict[str, set[str]] = {}
    for (source, key), count in counts.items():
        if count >= MIN_ARTICLES:
            result.setdefault(source, set()).add(key)
    return result
