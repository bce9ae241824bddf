"""Feeds: fetch status, feeds added at run time, and which articles each brought."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import FeedSource, FeedStatus
from bot.tables.connection import Row
from bot.tables.db import StoreBase, _chunks, _iso, _now, _when


class FeedsTables(StoreBase):
    def feed_status(self, url: str) -> FeedStatus | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return _feed(row) if row else None

    def feed_statuses(self) -> list[FeedStatus]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM feeds ORDER BY url").fetchall()
        return [_feed(row) for row in rows]

    def save_feed_status(self, status: FeedStatus) -> None:
        with self.transaction() as db:
            db.execute(
                """
                INSERT INTO feeds (url, name, etag, last_modified, last_success,
                    last_error, last_error_at, items, added)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (url) DO UPDATE SET name = excluded.name, etag = excluded.etag,
                    last_modified = excluded.last_modified,
                    last_success = excluded.last_success, last_error = excluded.last_error,
                    last_error_at = excluded.last_error_at, items = excluded.items,
                    added = excluded.added
                """,
                (
                    status.url,
                    status.name,
                    status.etag,
                    status.last_modified,
                    _iso(status.last_success),
                    status.last_error,
                    _iso(status.last_error_at),
                    status.items,
                    status.added,
                ),
            )

    def feed_sources(self) -> list[FeedSource]:
        """Feeds added at run time, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM feed_sources ORDER BY added_at, url").fetchall()
        return [_feed_source(row) for row in rows]

    def add_feed_source(self, source: FeedSource) -> bool:
        """Store a feed; False (and nothing changed) when its URL is already stored."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO feed_sources (url, name, refresh_minutes, full_text, added_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    source.url,
                    source.name,
                    source.refresh_minutes,
                    int(source.full_text),
                    _iso(source.added_at) or _now(),
                ),
            )
        return cursor.rowcount == 1

    def link_feed_articles(self, feed_url: str, article_ids: Sequence[str]) -> None:
        """Remember that `feed_url` carried these articles (so removing it can purge them)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO feed_articles (feed_url, article_id) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                [(feed_url, article_id) for article_id in article_ids],
            )

    def feed_article_ids(self, feed_url: str) -> tuple[list[str], list[str]]:
        """Stored articles this feed brought: (only this feed, also another feed)."""
        with self._lock:
            rows = self._db.execute(
                """
                SELECT l.article_id,
                    EXISTS (SELECT 1 FROM feed_articles o
                            WHERE o.article_id = l.article_id AND o.feed_url != l.feed_url)
                        AS shared
                FROM feed_articles l JOIN articles a ON a.id = l.article_id
                WHERE l.feed_url = ? ORDER BY l.article_id
                """,
                (feed_url,),
            ).fetchall()
        own = [row["article_id"] for row in rows if not row["shared"]]
        shared = [row["article_id"] for row in rows if row["shared"]]
        return own, shared

    def remove_feed_source(self, url: str, purge: Sequence[str] = ()) -> int:
        """Forget a stored feed (its status and article links), deleting `purge` articles.

        All or nothing. Returns how many articles were deleted.
        """
        with self.transaction() as db:
            db.execute("DELETE FROM feed_sources WHERE url = ?", (url,))
            db.execute("DELETE FROM feeds WHERE url = ?", (url,))
            db.execute("DELETE FROM feed_articles WHERE feed_url = ?", (url,))
            removed = self.delete(purge)
            if purge:
                for chunk in _chunks(purge, 500):
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"DELETE FROM feed_articles WHERE article_id IN ({marks})", chunk)
        return removed


def _feed(row: Row) -> FeedStatus:
    return FeedStatus(
        url=row["url"],
        name=row["name"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_success=_when(row["last_success"]),
        last_error=row["last_error"],
        last_error_at=_when(row["last_error_at"]),
        items=row["items"],
        added=row["added"],
    )


def _feed_source(row: Row) -> FeedSource:
    return FeedSource(
        url=row["url"],
        name=row["name"],
        refresh_minutes=row["refresh_minutes"],
        full_text=bool(row["full_text"]),
        origin="store",
        added_at=_when(row["added_at"]),
    )
