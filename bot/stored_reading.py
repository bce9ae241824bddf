"""Readings made at ingest and kept in the store, so a first question costs no reading.

Reading an article (`bot.reading`: its sentences, their folded forms, their passages) is
most of what an excerpt of an article not asked about before costs, and grows with its
length (1 ms for a median newsqa article, 40 ms for one of 100,000 characters). It depends
only on the article's text and on the code that reads it, so it is made once when the
article is stored and kept beside it, under a `key` of both: a reading whose key is not
the article's as it is read now (its boilerplate stripped since, or a newsbot that reads
differently) is not used, and the article is read again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bot import passages, reading, text
from bot.models import Article
from bot.reading import Reading


def _code_digest() -> bytes:
    """The source of the modules a reading comes from: another version reads differently."""
    digest = hashlib.blake2b(digest_size=16)
    for module in (reading, passages, text):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.digest()


_CODE = _code_digest()


def key(article: Article) -> str:
    """What the article's reading depends on, hashed: its text (as stripped of boilerplate
    when read) and the reading code."""
    digest = hashlib.blake2b(_CODE, digest_size=16)
    digest.update(json.dumps(reading.text_of(article), ensure_ascii=False).encode())
    return digest.hexdigest()


def encode(read: Reading) -> str:
    return json.dumps([read.sentences, read.folded, read.passage], ensure_ascii=False)


def decode(stored: str) -> Reading:
    sentences, folded, ordinals = json.loads(stored)
    return Reading(tuple(sentences), tuple(folded), tuple(ordinals))


def made(articles: list[Article]) -> list[tuple[str, str, str]]:
    """The (article id, key, encoded reading) of each article, to store."""
    return [(article.id, key(article), encode(reading.read(article))) for article in articles]


def recall(articles: list[Article], stored: dict[str, tuple[str, str]]) -> None:
    """Put the stored readings (by article id: key, encoded reading) that are still the
    articles' own into the reading cache; the others are read again when needed."""
    for article in articles:
        found = stored.get(article.id)
        if found is not None and found[0] == key(article):
            reading.remember(article, decode(found[1]))
