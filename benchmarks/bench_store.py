"""The store on SQLite and on PostgreSQL: ingest, reads, digest claims, and `newsbot copy`.

Run by hand from the project root (PostgreSQL on 127.0.0.1:5432, trust authentication):

    python benchmarks/bench_store.py [--articles 2000] [--chats 2000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Each PostgreSQL run uses a fresh schema of that database, dropped at the end. Prints one
table: CPU seconds (user+sys of this process) and wall seconds per step and database; the
machine is shared, so compare CPU. The answers themselves do not touch the store (the index
is in memory), so these are the costs of ingest, retention, digests and moving a store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.models import Article  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.tables.copy import TableCopy, copy_store  # noqa: E402

NOW = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)


def articles(count: int) -> Iterator[Article]:
    for n in range(count):
        yield Article(
            id=f"bench-{n:06d}",
            headline=f"Headline {n} about the dam and the river",
            published=NOW - timedelta(minutes=n),
            summary=[f"Bullet {n}"],
            dateline="DUBAI",
            body=[f"DUBAI: Paragraph {p} of article {n}. " * 6 for p in range(6)],
            source=f"Source {n % 20}",
            url=f"https://news.test/{n}",
        )


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    import psycopg

    name = f"newsbot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{server}?options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {name} CASCADE")


def timed(step: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    step()
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(location: Path | str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    store = Store.open(location)
    result: dict[str, tuple[float, float]] = {}

    def ingest() -> None:
        batch: list[Article] = []
        for article in articles(args.articles):
            batch.append(article)
            if len(batch) == 500:
                store.upsert(batch)
                batch = []
        store.upsert(batch)

    result[f"ingest {args.articles} articles (500 a transaction)"] = timed(ingest)
    result[f"re-ingest {args.articles} unchanged"] = timed(
        lambda: store.upsert(list(articles(args.articles)))
    )
    result["get 1000 articles by id, one at a time"] = timed(
        lambda: [store.get(f"bench-{n:06d}") for n in range(0, 1000)]
    )
    result[f"iterate all {args.articles} (index rebuild)"] = timed(
        lambda: sum(1 for _ in store.iter_articles())
    )
    result[f"claim + finish {args.chats} digests"] = timed(
        lambda: [
            store.claim_delivery(chat, "2026-11-28", NOW, 60)
            and store.finish_delivery(chat, "2026-11-28", "sent", message_ids=[chat])
            for chat in range(args.chats)
        ]
    )
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        sqlite = measure(path, args)
        with postgres_schema(args.postgres) as url:
            postgres = measure(url, args)
        with postgres_schema(args.postgres) as url:
            source, target = Store.open(path), Store.open(url)
            copied: list[TableCopy] = []
            copy = timed(lambda: copied.extend(copy_store(source, target)))
            source.close()
            target.close()
    print("| step | SQLite CPU s | SQLite wall s | PostgreSQL CPU s | PostgreSQL wall s |")
    print("|---|--:|--:|--:|--:|")
    for step, (cpu, wall) in sqlite.items():
        pg_cpu, pg_wall = postgres[step]
        print(f"| {step} | {cpu:.2f} | {wall:.2f} | {pg_cpu:.2f} | {pg_wall:.2f} |")
    rows = sum(table.source_rows for table in copied)
    ok = all(table.ok for table in copied)
    print(
        f"| newsbot copy SQLite -> PostgreSQL ({rows} rows, verified: {ok}) | | | "
        f"{copy[0]:.2f} | {copy[1]:.2f} |"
    )


if __name__ == "__main__":
    main()
