"""Articles and the paragraph keys of their bodies (articles, paragraphs)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import boilerplate
from bot.models import Article
from bot.passages import split_passages
from bot.tables.connection import Database, Row
from bot.tables.db import StoreBase, _chunks, _iso, _now, _when


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did: new articles, changed ones, and identical re-ingests."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _digest(article: Article) -> str:
    return hashlib.sha256(article.model_dump_json().encode()).hexdigest()[:32]


class ArticlesTables(StoreBase):
    def upsert(
        self,
        articles: Iterable[Article],
        paragraph_keys: Mapping[str, Collection[str | None]] | None = None,
    ) -> tuple[UpsertCounts, list[Article]]:
        """Insert or update articles in one transaction.

        `paragraph_keys` maps article ids to their `boilerplate.body_keys` when the caller
        has them already; the others are computed here.

        Returns the counts and the articles that were added or changed (what an index must
        take in). An identical re-ingest changes nothing, not even the generation.
        """
        keys = paragraph_keys or {}
        added = updated = unchanged = 0
        changed: list[Article] = []
        rows: list[tuple[object, ...]] = []
        replaced: list[str] = []
        paragraphs: dict[str, list[tuple[str, int, str]]] = {}  # the last version's
        now = _now()
        with self.transaction() as db:
            batch = list(articles)
            # One look-up and one write per batch, not a statement per article.
            digests = _digests(db, [article.id for article in batch])
            for article in batch:
                digest = _digest(article)
                old = digests.get(article.id)
                if old == digest:
                    unchanged += 1
                    continue
                digests[article.id] = digest
                rows.append(_row(article, digest, now))
                if old is None:
                    added += 1
                else:
                    updated += 1
                    replaced.append(article.id)
                paragraphs[article.id] = _paragraph_rows(article, keys.get(article.id))
                changed.append(article)
            if changed:
                gone = _forget_paragraphs(db, replaced)  # read from the old bodies: before they go
                db.executemany(_UPSERT, rows)
                fresh = [row for r in paragraphs.values() for row in r]
                db.executemany(_ADD_PARAGRAPH, fresh)
                _settle_boilerplate(db, gone, rising=False)
                _settle_boilerplate(db, fresh, rising=True)
                self._bump_generation(db)
        return UpsertCounts(added, updated, unchanged), changed

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles by id; returns how many existed."""
        if not article_ids:
            return 0
        with self.transaction() as db:
            removed = 0
            for chunk in _chunks(article_ids, 500):
                marks = ",".join("?" * len(chunk))
                gone = _forget_paragraphs(db, chunk)  # read from the bodies: before they go
                cursor = db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
                removed += cursor.rowcount
                _settle_boilerplate(db, gone, rising=False)
                db.execute(f"DELETE FROM readings WHERE article_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM story_articles WHERE article_id IN ({marks})", chunk)
            if removed:
                self._bump_generation(db)
        return removed

    def published_before(self, cutoff: datetime) -> list[str]:
        """Ids of articles published before `cutoff` (for retention)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM articles WHERE published < ?", (_iso(cutoff),)
            ).fetchall()
        return [row["id"] for row in rows]

    def passage(self, article_id: str, ordinal: int) -> str | None:
        """The text of one passage (see `split_passages`), None when there is no such one."""
        article = self.get(article_id)
        if article is None or ordinal < 0:
            return None
        passages = split_passages(article)
        return passages[ordinal].text if ordinal < len(passages) else None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def get(self, article_id: str) -> Article | None:
        found = self.get_many([article_id])
        return found.get(article_id)

    def get_many(self, article_ids: Sequence[str], *, text: bool = True) -> dict[str, Article]:
        """Articles by id; ids not in the store are simply absent from the result.

        With `text` False, only what a result shows besides its excerpt is read (headline,
        date, dateline, source, URL): summary, body, subheadings and caption are left empty,
        which saves decoding the bodies of results whose excerpt is built later.
        """
        columns = "*" if text else "id, headline, published, dateline, source, url"
        build = _article if text else _headers
        result: dict[str, Article] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT {columns} FROM articles WHERE id IN ({marks})", chunk
                ).fetchall()
                result.update((row["id"], build(row)) for row in rows)
        return result

    def iter_articles(self, batch: int = 1000) -> Iterator[Article]:
        """Every article, in id order, fetched in batches (for index rebuilds)."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT * FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            yield from (_article(row) for row in rows)
            last = rows[-1]["id"]

    def latest(self, limit: int, since: datetime | None = None) -> list[Article]:
        """Newest first by published date (undated articles last, newest ingest first)."""
        query = "SELECT * FROM articles"
        params: list[object] = []
        if since is not None:
            query += " WHERE published >= ?"
            params.append(_iso(since))
        query += " ORDER BY published IS NULL, published DESC, ingested_at DESC, id LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [_article(row) for row in rows]

    # -- paragraphs (boilerplate) ----------------------------------------------------------

    def repeated_paragraphs(
        self, min_articles: int, sources: Collection[str] | None = None
    ) -> dict[str, set[str]]:
        """Per source, the keys of the paragraphs at least `min_articles` of its articles hold.

        Limited to `sources` when given. At `boilerplate.MIN_ARTICLES` (what the bot asks
        for) this reads the boilerplate kept beside the counts (`boilerplate_keys`), so a
        process starting up reads the boilerplate, not every paragraph's key.
        """
        kept = min_articles == boilerplate.MIN_ARTICLES
        query = f"SELECT source, key FROM {'boilerplate_keys' if kept else 'paragraph_keys'}"
        params: list[object] = []
        if sources is not None:
            if not sources:
                return {}
            query += f" WHERE source IN ({','.join('?' * len(sources))})"
            params += list(sources)
        if not kept:
            query += " GROUP BY source, key HAVING COUNT(*) >= ?"
            params.append(min_articles)
        result: dict[str, set[str]] = {}
        with self._lock:
            for row in self._db.execute(query, params):
                result.setdefault(row["source"], set()).add(_hex(row["key"]))
        return result

    def repeated_among(
        self, min_articles: int, keys: Mapping[str, Collection[str]]
    ) -> dict[str, set[str]]:
        """Per source, those of its given paragraph keys that at least `min_articles` of its
        articles hold (sources with none are absent).

        Reads only the keys asked about (say those of a batch just ingested), through the
        table's primary key: its cost follows the batch, not the store.
        """
        if min_articles == boilerplate.MIN_ARTICLES:  # kept beside the counts
            query = "SELECT key FROM boilerplate_keys WHERE source = ? AND key IN ({})"
        else:
            query = "SELECT key FROM paragraph_keys WHERE source = ? AND key IN ({})"
            query += f" GROUP BY key HAVING COUNT(*) >= {int(min_articles)}"
        result: dict[str, set[str]] = {}
        with self._lock:
            for source, wanted in keys.items():
                for chunk in _chunks(sorted(map(_number, wanted)), 500):
                    marks = ",".join("?" * len(chunk))
                    rows = self._db.execute(query.format(marks), [source, *chunk])
                    found = {_hex(row["key"]) for row in rows}
                    if found:
                        result.setdefault(source, set()).update(found)
        return result

    def articles_holding(self, source: str, keys: Collection[str]) -> list[str]:
        """Ids of the source's articles that hold any of these paragraph keys."""
        ids: set[str] = set()
        with self._lock:
            for chunk in _chunks(sorted(map(_number, keys)), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id FROM paragraph_keys WHERE source = ? AND key IN ({marks})",
                    [source, *chunk],
                )
                ids.update(row["article_id"] for row in rows)
        return sorted(ids)


_UPSERT = """
    INSERT INTO articles (id, headline, published, summary, dateline, body,
        subheadings, caption, source, url, digest, ingested_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        headline = excluded.headline, published = excluded.published,
        summary = excluded.summary, dateline = excluded.dateline,
        body = excluded.body, subheadings = excluded.subheadings,
        caption = excluded.caption, source = excluded.source,
        url = excluded.url, digest = excluded.digest,
        updated_at = excluded.updated_at
"""
_ADD_PARAGRAPH = (
    "INSERT INTO paragraph_keys (source, key, article_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
_WORD = 1 << 64


def _number(key: str) -> int:
    """A paragraph key (16 hex digits) as the signed 64-bit integer the table holds."""
    value = int(key, 16)
    return value - _WORD if value >= _WORD >> 1 else value


def _hex(number: int) -> str:
    """The paragraph key a stored integer stands for (`_number` undone)."""
    return format(number % _WORD, "016x")


def _digests(db: Database, article_ids: Sequence[str]) -> dict[str, str]:
    """The stored digest of each of these articles that is stored."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(article_ids)), 500):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT id, digest FROM articles WHERE id IN ({marks})", chunk)
        found.update((row["id"], row["digest"]) for row in rows)
    return found


def _row(article: Article, digest: str, now: str) -> tuple[object, ...]:
    return (
        article.id,
        article.headline,
        _iso(article.published),
        json.dumps(article.summary, ensure_ascii=False),
        article.dateline,
        json.dumps(article.body, ensure_ascii=False),
        json.dumps(article.subheadings, ensure_ascii=False),
        article.caption,
        article.source,
        article.url,
        digest,
        now,
        now,
    )


def _paragraph_rows(
    article: Article, keys: Collection[str | None] | None = None
) -> list[tuple[str, int, str]]:
    source = boilerplate.source_of(article)
    found = (
        boilerplate.paragraph_keys(article)
        if keys is None
        else {key for key in keys if key is not None}
    )
    return [(source, _number(key), article.id) for key in found]


def _forget_paragraphs(db: Database, article_ids: Sequence[str]) -> list[tuple[str, int, str]]:
    """Delete the paragraph keys of these stored articles, found again from their stored
    bodies (`boilerplate.paragraph_key` is a pure function of the text, so they are the
    keys that were written): the table needs no second index by article. Returns the rows
    deleted."""
    gone: list[tuple[str, int, str]] = []
    for chunk in _chunks(list(article_ids), 500):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT * FROM articles WHERE id IN ({marks})", chunk).fetchall()
        doomed = [key for row in rows for key in _paragraph_rows(_article(row))]
        db.executemany(
            "DELETE FROM paragraph_keys WHERE source = ? AND key = ? AND article_id = ?", doomed
        )
        gone += doomed
    return gone


def _settle_boilerplate(
    db: Database, rows: Sequence[tuple[str, int, str]], *, rising: bool
) -> None:
    """Keep `boilerplate_keys` the (source, key) pairs that `boilerplate.MIN_ARTICLES` or
    more articles hold, for the pairs of these paragraph rows, just added (`rising`: a pair
    may have reached the threshold) or just deleted (it may have fallen under it)."""
    by_source: dict[str, set[int]] = {}
    for source, key, _ in rows:
        by_source.setdefault(source, set()).add(key)
    changed: list[tuple[str, int]] = []
    for source, keys in by_source.items():
        for chunk in _chunks(sorted(keys), 500):
            marks = ",".join("?" * len(chunk))
            counts = dict(
                db.execute(
                    f"SELECT key, COUNT(*) FROM paragraph_keys WHERE source = ?"
                    f" AND key IN ({marks}) GROUP BY key",
                    [source, *chunk],
                ).fetchall()
            )
            changed += [
                (source, key)
                for key in chunk
                if (counts.get(key, 0) >= boilerplate.MIN_ARTICLES) == rising
            ]
    if rising:
        db.executemany(
            "INSERT INTO boilerplate_keys (source, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
            changed,
        )
    else:
        db.executemany("DELETE FROM boilerplate_keys WHERE source = ? AND key = ?", changed)


def _article(row: Row) -> Article:
    return Article(
        id=row["id"],
        headline=row["headline"],
        published=_when(row["published"]),
        summary=json.loads(row["summary"]),
        dateline=row["dateline"],
        body=json.loads(row["body"]),
        subheadings=json.loads(row["subheadings"]),
        caption=row["caption"],
        source=row["source"],
        url=row["url"],
    )


def _headers(row: Row) -> Article:
    return Article(
        id=row["id"],
        headline=row["headline"],
        published=_when(row["published"]),
        dateline=row["dateline"],
        source=row["source"],
        url=row["url"],
    )
