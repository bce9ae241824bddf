"""The search-engine interface `NewsDesk` uses, and the choice between the engines behind it.

Two engines keep this contract: `own` (`bot.retrieval`: our numpy index, read whole into
memory; the default, fine for a few thousand articles) and `tantivy` (`bot.tantivy_index`:
segments memory-mapped on disk beside the store, for archives that outgrow memory; the
same newsqa dev figures as own, see docs/benchmarks.md). An
adapter to a search service (OpenSearch, see docs/scaling.md) would be a third class with
these methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from bot.analysis import Reading
from bot.models import Article, QueryContext
from bot.retrieval import Ranking, Search

EngineName = Literal["tantivy", "own"]


class SearchEngine(Protocol):
    """What the desk needs of an index: articles in by id, ranked hits out.

    `add`/`remove` take effect for the next `search`; `save` makes them durable and tags
    what is on disk with the store generation it holds.
    """

    @property
    def generation(self) -> int | None:
        """The generation given to the last `save`, or None for an index never saved."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, article_id: object) -> bool: ...

    def article_ids(self) -> list[str]:
        """The ids of the articles indexed now."""
        ...

    def add(
        self, articles: Iterable[Article], readings: Mapping[str, Reading] | None = None
    ) -> int:
        """Index (or re-index) articles; returns the number of passages added.

        `readings` are some of the articles' `bot.analysis.read` by id, made ahead (in
        worker processes by a bulk ingest); the others are read here.
        """
        ...

    def remove(self, article_ids: Iterable[str]) -> int:
        """Drop articles; they never come back in a result. Returns how many were there."""
        ...

    def save(self, generation: int) -> None:
        """Persist what was added and removed, tagged with the store's `generation`."""
        ...

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """How specific each stem is in the indexed articles (BM25 idf, > 0)."""
        ...

    def search(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        limit: int = 5,
        context: QueryContext | None = None,
    ) -> Search:
        """Rank articles for `question` as of a moment, every hit explained (see
        `bot.retrieval.Retriever.search`)."""
        ...

    def rank(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        limit: int = 5,
        context: QueryContext | None = None,
    ) -> Ranking:
        """The articles `search` would return, in its order, explained only when asked
        (`Ranking.search`, before the index changes); see `bot.retrieval.Retriever.rank`."""
        ...

    def close(self) -> None:
        """Give up what the engine holds (a writer lock); unsaved changes are dropped."""
        ...


def open_engine(name: EngineName, index_dir: Path) -> SearchEngine:
    """The engine `name` over the index saved in `index_dir` (empty when there is none)."""
    if name == "own":
        from bot.retrieval import Retriever

        return Retriever.open(index_dir)
    from bot.tantivy_index import TantivyRetriever

    return TantivyRetriever.open(index_dir)
