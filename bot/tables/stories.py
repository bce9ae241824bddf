"""Stories: articles grouped by event (story_articles, stories)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.models import Article, StoryMember, StoryRow
from bot.tables.articles import _article
from bot.tables.db import StoreBase, _chunks, _iso, _now, _when


class StoriesTables(StoreBase):
    def story_members(self, start: datetime, end: datetime) -> list[StoryMember]:
        """Grouped articles whose `at` lies in [start, end], oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM story_articles WHERE at BETWEEN ? AND ? ORDER BY at, article_id",
                (_iso(start), _iso(end)),
            ).fetchall()
        # Trusted rows (written by save_story_members): built without validating every term.
        return [
            StoryMember.model_construct(
                article_id=row["article_id"],
                story_id=row["story_id"],
                at=datetime.fromisoformat(row["at"]),
                terms=json.loads(row["terms"]),
            )
            for row in rows
        ]

    def stories_of(self, article_ids: Sequence[str]) -> dict[str, int]:
        """The story of each grouped article; ungrouped or unknown ids are absent."""
        result: dict[str, int] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT article_id, story_id FROM story_articles"
                    f" WHERE article_id IN ({marks})",
                    chunk,
                ).fetchall()
                result.update((row[0], int(row[1])) for row in rows)
        return result

    def save_story_members(self, members: Sequence[StoryMember]) -> list[StoryMember]:
        """Record (or move) articles into stories; returns the members as saved.

        A negative story id stands for a new story: each distinct one gets a fresh id, taken
        from the store's counter in this transaction (so replicas grouping at the same
        instant never share one), in the order of the negative ids. A positive id not yet
        known is created as given.
        """
        now = _now()
        with self.transaction() as db:
            fresh = sorted({m.story_id for m in members if m.story_id < 0})
            if fresh:
                # One row lock (PostgreSQL) or the write lock (SQLite) orders the allocators.
                row = db.execute(
                    "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + ? AS TEXT)"
                    " WHERE key = 'story_id' RETURNING value",
                    (len(fresh),),
                ).fetchone()
                first = int(row[0]) - len(fresh) + 1
                ids = {old: first + n for n, old in enumerate(fresh)}
                members = [
                    m.model_copy(update={"story_id": ids[m.story_id]}) if m.story_id < 0 else m
                    for m in members
                ]
            db.executemany(
                "INSERT INTO stories (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(m.story_id, now) for m in members],
            )
            db.executemany(
                "INSERT INTO story_articles (article_id, story_id, at, terms)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
                " story_id = excluded.story_id, at = excluded.at, terms = excluded.terms",
                [
                    (m.article_id, m.story_id, _iso(m.at), json.dumps(m.terms, ensure_ascii=False))
                    for m in members
                ],
            )
        return list(members)

    def story_rows(
        self,
        since: datetime | None = None,
        story_ids: Sequence[int] | None = None,
        until: datetime | None = None,
    ) -> list[StoryRow]:
        """Every grouped article of the stories that have one at or after `since` (or of
        `story_ids`), with what a story listing needs; oldest first within a story.

        With `until`, only articles before it count, as if the store were read then.
        """
        query = """
            SELECT s.story_id, s.article_id, s.at, a.headline, a.source, a.url
            FROM story_articles s JOIN articles a ON a.id = s.article_id
        """
        params: list[object] = []
        conditions: list[str] = []
        if story_ids is not None:
            conditions.append(f"s.story_id IN ({','.join('?' * len(story_ids))})")
            params += list(story_ids)
        elif since is not None:
            within = "at >= ?" + (" AND at < ?" if until is not None else "")
            conditions.append(f"s.story_id IN (SELECT story_id FROM story_articles WHERE {within})")
            params += [_iso(since)] + ([_iso(until)] if until is not None else [])
        if until is not None:
            conditions.append("s.at < ?")
            params.append(_iso(until))
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY s.story_id, s.at, s.article_id"
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [
            StoryRow(
                story_id=int(row["story_id"]),
                article_id=row["article_id"],
                at=datetime.fromisoformat(row["at"]),
                headline=row["headline"],
                source=row["source"],
                url=row["url"],
            )
            for row in rows
        ]

    def newest_at(self) -> datetime | None:
        """When the newest grouped article happened (None for a store without stories)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(at) FROM story_articles").fetchone()
        return _when(row[0])

    def ungrouped(self, limit: int, since: str | None = None) -> list[Article]:
        """Articles not in any story yet (stores from before stories, or an interrupted
        ingest), oldest first; with `since` (ISO 8601 UTC), only those written from then on.
        """
        # Asked at every start-up, mostly of a store where every article is grouped: the
        # ids are found in the ids' index (or the recent ones in the write times' index),
        # not by reading every article's row.
        recent = "" if since is None else "AND updated_at >= ?"
        with self._lock:
            rows = self._db.execute(
                f"""
                SELECT * FROM articles WHERE id IN (
                    SELECT id FROM articles
                    WHERE id NOT IN (SELECT article_id FROM story_articles) {recent}
                )
                ORDER BY published IS NULL, published, ingested_at, id LIMIT ?
                """,
                (limit,) if since is None else (since, limit),
            ).fetchall()
        return [_article(row) for row in rows]

    @property
    def grouped_through(self) -> str | None:
        """The write time up to which every article was found grouped (None: never looked)."""
        return self._meta("grouped_through")

    def save_grouped_through(self, stamp: str) -> None:
        """Record that every article written before `stamp` is grouped; it never moves back."""
        self._raise_meta("grouped_through", stamp)
