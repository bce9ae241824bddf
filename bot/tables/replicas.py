"""Replicas on one database: leases on shared work, heartbeats of live replicas, and the
articles written since a replica last looked."""

from __future__ import annotations

from dataclasses import dataclass

from bot.tables.db import StoreBase


@dataclass(frozen=True)
class ChangedArticle:
    """One article's id and the time (ISO 8601, UTC) it was last written."""

    id: str
    updated_at: str


class ReplicasTables(StoreBase):
    """Times are Unix seconds from the caller's clock: replicas on machines kept in time by
    NTP (well under a second apart) against leases of seconds to minutes."""

    # -- leases -------------------------------------------------------------------------------

    def take_lease(self, name: str, owner: str, now: float, seconds: float) -> bool:
        """Hold `name` for `seconds` unless another owner holds it unexpired.

        Taking a lease one already holds extends it. Atomic: of two replicas taking the
        same free lease at once, one gets it.

        Returns:
            Whether `owner` now holds the lease.
        """
        with self.transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                    owner = excluded.owner, expires_at = excluded.expires_at
                WHERE leases.owner = excluded.owner OR leases.expires_at <= ?
                """,
                (name, owner, now + seconds, now),
            )
            return cursor.rowcount == 1

    def release_lease(self, name: str, owner: str) -> None:
        """Give up `name` if `owner` holds it (another owner's lease is left alone)."""
        with self.transaction() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def lease_holder(self, name: str, now: float) -> str | None:
        """Who holds `name` unexpired at `now`, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT owner FROM leases WHERE name = ? AND expires_at > ?", (name, now)
            ).fetchone()
        return str(row[0]) if row else None

    # -- heartbeats -----------------------------------------------------------------------------

    def heartbeat(self, replica: str, now: float, alive_within: float) -> dict[str, float]:
        """Record that `replica` is alive at `now`; forget replicas silent for longer than
        `alive_within` seconds.

        The replicas alive are read after the record is committed, so of two replicas
        beating at once the later to commit sees the earlier (read inside the transaction,
        each could miss the other's uncommitted row).

        Returns:
            The replicas alive, this one included, and when each was last heard from.
        """
        with self.transaction() as db:
            db.execute(
                """
                INSERT INTO replicas (id, seen_at) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at
                """,
                (replica, now),
            )
            db.execute("DELETE FROM replicas WHERE seen_at < ?", (now - alive_within,))
        return self.alive(now - alive_within)

    def alive(self, since: float) -> dict[str, float]:
        """The replicas heard from at or after `since` (Unix seconds), and when."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seen_at FROM replicas WHERE seen_at >= ?", (since,)
            ).fetchall()
        return {str(row[0]): float(row[1]) for row in rows}

    def leave(self, replica: str) -> None:
        """Forget `replica` at once (a clean shutdown), so the others take its share."""
        with self.transaction() as db:
            db.execute("DELETE FROM replicas WHERE id = ?", (replica,))

    # -- change feed ----------------------------------------------------------------------------

    def changed_since(self, since: str | None) -> list[ChangedArticle]:
        """Articles written at or after `since` (ISO 8601 UTC; None: every article), oldest
        first. Deleted articles are not listed: compare counts to notice those."""
        with self._lock:
            if since is None:
                rows = self._db.execute(
                    "SELECT id, updated_at FROM articles ORDER BY updated_at"
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT id, updated_at FROM articles WHERE updated_at >= ? ORDER BY updated_at",
                    (since,),
                ).fetchall()
        return [ChangedArticle(str(row[0]), str(row[1])) for row in rows]

    def newest_write(self) -> str | None:
        """When the most recently written article was written (ISO 8601 UTC); None when
        the store holds none. One index look-up, whatever the store's size."""
        with self._lock:
            row = self._db.execute("SELECT MAX(updated_at) FROM articles").fetchone()
        return None if row is None or row[0] is None else str(row[0])
