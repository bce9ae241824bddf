"""Following the store's writes: which articles this process's index has not taken in yet,
whoever wrote them (`newsbot ingest` beside the bot, or another replica on one database)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from bot.tables.replicas import ChangedArticle, ReplicasTables

# A write is stamped (articles.updated_at) when its transaction starts and visible when it
# commits, so each look re-reads the last MARGIN of writes and skips those already seen.
# A transaction longer than this, or writers' clocks further apart, could go unseen until
# the next start-up rebuilds the index.
MARGIN = timedelta(minutes=5)
# Own writes noted since the last look, beyond which `note` looks itself (see `note`).
ROOM = 10_000


def stamp_now() -> str:
    """The current time in the form articles.updated_at holds (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat()


class ChangeFeed:
    """Each article write reported once: `take` returns what was written since the last
    call, `note` marks this process's own writes (already indexed) as seen."""

    def __init__(self, tables: ReplicasTables) -> None:
        self._tables = tables
        self._mark: str | None = None  # the newest write taken
        self._seen: dict[str, str] = {}  # article id -> its write seen, within MARGIN of _mark
        self._settled: str | None = None  # every write stamped up to this one is taken
        self._untaken: list[str] = []  # others' writes read by `note`, for the next `take`
        self._room = ROOM
        self.skip_present()

    def skip_present(self) -> None:
        """Take every write made so far as seen (the index was just built from the store).

        Only the writes within MARGIN of the newest are remembered, so only those are read:
        a start-up does not list every article of the store. When the newest is older than
        MARGIN, no write stamped before it can still appear, so none is read: after a bulk
        ingest the last MARGIN of its writes were as many as it made in five minutes."""
        self._mark, self._seen, self._untaken, self._settled = None, {}, [], None
        newest = self._tables.newest_write()
        if newest is None:
            return
        if newest < margin_before(stamp_now()):
            self._mark = self._settled = newest
        else:
            self._advance(self._tables.changed_since(margin_before(newest)))

    def take(self) -> list[str]:
        """The ids of articles written since the last look and not noted, oldest first."""
        taken, self._untaken = self._untaken + self._look(), []
        return list(dict.fromkeys(taken))

    def note(self, article_ids: Collection[str], since: str) -> None:
        """This process wrote `article_ids`, stamped at or after `since`: not to be taken.

        The mark does not move: others' writes older than these may still be unread. Once
        ROOM writes are noted past it (a bulk ingest, which never takes), this looks as
        `take` does and keeps what others wrote for the next `take`: the mark moves on and
        only the writes within MARGIN of it stay remembered, not every article written."""
        mine = set(article_ids)
        for change in self._tables.changed_since(since):
            if change.id in mine:
                self._seen[change.id] = change.updated_at
        if len(self._seen) > self._room:
            self._untaken += self._look()
            self._room = max(ROOM, 2 * len(self._seen))

    def _look(self) -> list[str]:
        """The ids of the writes since the mark not seen yet, oldest first, now seen."""
        since = None if self._mark is None else margin_before(self._mark)
        settled = self._settled
        if settled is not None and (since is None or since < settled):
            since = settled
        changes = self._tables.changed_since(since)
        fresh = [
            c
            for c in changes
            if self._seen.get(c.id) != c.updated_at and (settled is None or c.updated_at > settled)
        ]
        self._advance(fresh)
        return [change.id for change in fresh]

    def _advance(self, changes: Sequence[ChangedArticle]) -> None:
        for change in changes:
            self._seen[change.id] = change.updated_at
            if self._mark is None or change.updated_at > self._mark:
                self._mark = change.updated_at
        if self._mark is not None:
            horizon = margin_before(self._mark)
            self._seen = {k: v for k, v in self._seen.items() if v >= horizon}


def margin_before(stamp: str) -> str:
    """The write time MARGIN before `stamp` (both as articles.updated_at holds them): the
    writes stamped from then on may still be committing when `stamp`'s is seen."""
    return (datetime.fromisoformat(stamp).astimezone(UTC) - MARGIN).isoformat()
