"""A synthetic news archive of N articles for scale benchmarks, made of a pool's real text.

Run by hand from the project root:

    python benchmarks/make_archive.py N OUT.jsonl [--pool ../shared/newsqa/pool.jsonl.gz]
                                      [--dev ../shared/newsqa/dev.jsonl] [--seed 7]
                                      [--per-source 1000]

The archive keeps the pool's term statistics because every synthetic article is made of the
pool's own paragraphs: one pool article's headline and paragraphs, some dropped and some
replaced by paragraphs of other pool articles, dated at a random moment in the two years
ending with the last day of END_YEAR (the dev questions are asked in 2022).

Each synthetic article comes from one of many sources: its base article's site (the URL's
host) split into feeds of at most --per-source articles, and of at most half as many as the
site has pool articles, the article's number choosing the feed. A story's paragraphs thus
come back in about half an article of any one feed, under the bot's boilerplate rule (a
paragraph in MIN_ARTICLES = 5 articles of a source is the site's, bot/boilerplate.py),
while a site's own boilerplate (a sign-up form in one article in a hundred) still reaches
it in every feed of the site. With one source for all, the copies of each pool paragraph
(about ten at 250,000 articles) made most of the text boilerplate, and the index shrank as
the archive grew. The gold articles
of the questions file are written unchanged, spread evenly through the output, and no
synthetic article reuses any of their sentences or headlines: the question's answer stays in
exactly one article, while its look-alikes are multiplied.

Deterministic: the same pool, questions file, N and seed give the same bytes. The output is
streamed line by line; memory holds the pool's text once (bounded by the pool, not by N).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.passages import split_sentences  # noqa: E402

# ../shared beside the project (or beside the folder of worktrees the project sits in).
NEWSQA = next(
    (p / "shared" / "newsqa" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared" / "newsqa",
)
END_YEAR = 2022
SPAN_DAYS = 730
# Each paragraph after the first of the base article is dropped or swapped for another
# pool article's paragraph with these odds, so the copies of one base differ.
DROP_SHARE = 0.15
SWAP_SHARE = 0.30
# Most articles a synthetic source (one feed of a site) gets; see the module's docstring.
PER_SOURCE = 1_000


@dataclass(frozen=True)
class Source:
    """One non-gold pool article, reduced to what synthetic articles reuse."""

    headline: str
    paragraphs: tuple[str, ...]
    site: str = "archive"  # the host of the article's URL


@dataclass
class ArchiveStats:
    """What one archive holds: `written` lines, of which `gold` are unchanged gold articles.

    `sources` counts the pool articles synthetic ones are made of, `feeds` the synthetic
    sources (URL hosts) they are spread over.
    """

    written: int = 0
    gold: int = 0
    sources: int = 0
    feeds: int = 0


def gold_ids(dev: Path) -> set[str]:
    """The article ids that answer the questions of a dev.jsonl-style file."""
    with dev.open(encoding="utf-8") as lines:
        return {json.loads(line)["gold_id"] for line in lines if line.strip()}


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _records(pool: Path) -> Iterator[tuple[str, dict[str, object]]]:
    with _open_text(pool) as lines:
        for line in lines:
            if line.strip():
                yield line.rstrip("\n"), json.loads(line)


def _paragraphs(body: object) -> list[str]:
    if isinstance(body, list):
        return [str(p).strip() for p in body if str(p).strip()]
    return [p.strip() for p in str(body or "").split("\n") if p.strip()]


def _sentences(record: dict[str, object]) -> Iterator[str]:
    headline = str(record.get("headline") or "").strip()
    if headline:
        yield headline
    for paragraph in _paragraphs(record.get("body")):
        yield from split_sentences(paragraph)


def read_pool(pool: Path, gold: set[str]) -> tuple[list[str], list[Source]]:
    """The gold articles' raw lines (pool order) and every other article with gold text cut.

    A sentence or headline that also appears in a gold article is removed from the others,
    and a paragraph left empty is dropped, so no synthetic article repeats an answer.
    """
    gold_lines: list[str] = []
    gold_sentences: set[str] = set()
    for line, record in _records(pool):
        if record.get("id") in gold:
            gold_lines.append(line)
            gold_sentences.update(_sentences(record))
    sources = []
    for _, record in _records(pool):
        if record.get("id") in gold:
            continue
        headline = str(record.get("headline") or "").strip()
        kept = []
        for paragraph in _paragraphs(record.get("body")):
            sentences = [s for s in split_sentences(paragraph) if s not in gold_sentences]
            if sentences:
                kept.append(" ".join(sentences))
        if kept:
            site = urlsplit(str(record.get("url") or "")).netloc.casefold() or "archive"
            headline = "" if headline in gold_sentences else headline
            sources.append(Source(headline, tuple(kept), site))
    return gold_lines, sources


def feeds_per_site(sources: list[Source], n: int, per_source: int = PER_SOURCE) -> dict[str, int]:
    """How many synthetic sources each site's share of `n` articles is spread over (>= 1).

    A feed holds at most `per_source` articles and at most half as many as its site has
    pool articles, so each base article comes back about half a time or less in one feed.
    """
    sites = Counter(source.site for source in sources)
    feeds = {}
    for site, count in sorted(sites.items()):
        expected = n * count / len(sources)
        size = max(1, min(per_source, count // 2))
        feeds[site] = max(1, math.ceil(expected / size))
    return feeds


def synthetic(
    number: int, sources: list[Source], rng: random.Random, feeds: Mapping[str, int]
) -> dict[str, object]:
    """Article `number` of the archive: a base article's text, shuffled in part with others.

    Its source is one of `feeds[site]` feeds of the base article's site, by its number (the
    random draws, so the text and dates, are those of an archive with one source).
    """
    base = rng.choice(sources)
    paragraphs = [base.paragraphs[0]]
    for paragraph in base.paragraphs[1:]:
        draw = rng.random()
        if draw < DROP_SHARE:
            continue
        if draw < DROP_SHARE + SWAP_SHARE:
            other = rng.choice(sources)
            paragraph = rng.choice(other.paragraphs)
        paragraphs.append(paragraph)
    start = datetime(END_YEAR + 1, 1, 1, tzinfo=UTC) - timedelta(days=SPAN_DAYS)
    moment = start + timedelta(seconds=rng.randrange(SPAN_DAYS * 86_400))
    feed = number % feeds.get(base.site, 1)
    return {
        "id": f"syn-{number:07d}",
        "url": f"https://{base.site}.f{feed:04d}.invalid/syn/{number:07d}",
        "headline": base.headline,
        "published": moment.isoformat(),
        "body": "\n\n".join(paragraphs),
    }


def write_archive(
    pool: Path, dev: Path, n: int, out: IO[str], *, seed: int = 7, per_source: int = PER_SOURCE
) -> ArchiveStats:
    """Write `n` articles as JSON lines to `out`: the gold ones unchanged, the rest synthetic.

    Synthetic articles are spread over sources of at most `per_source` articles each.

    Raises:
        ValueError: `n` is smaller than the number of gold articles, or the pool holds no
            article besides them.
    """
    gold_lines, sources = read_pool(pool, gold_ids(dev))
    if n < len(gold_lines):
        raise ValueError(f"N={n} is smaller than the {len(gold_lines)} gold articles")
    if not sources:
        raise ValueError(f"{pool}: no articles besides the gold ones")
    rng = random.Random(seed)
    # Gold article j goes at position (j + 1/2) * n / gold: spread over the whole archive.
    at = {int((j + 0.5) * n / len(gold_lines)): line for j, line in enumerate(gold_lines)}
    feeds = feeds_per_site(sources, n - len(at), per_source)
    stats = ArchiveStats(sources=len(sources), feeds=sum(feeds.values()))
    for number in range(n):
        if number in at:
            out.write(at[number] + "\n")
            stats.gold += 1
        else:
            article = synthetic(number, sources, rng, feeds)
            out.write(json.dumps(article, ensure_ascii=False) + "\n")
        stats.written += 1
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("n", type=int, help="articles in the archive")
    parser.add_argument("out", type=Path, help="JSON lines file to write")
    parser.add_argument("--pool", type=Path, default=NEWSQA / "pool.jsonl.gz")
    parser.add_argument("--dev", type=Path, default=NEWSQA / "dev.jsonl")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--per-source", type=int, default=PER_SOURCE, help="most articles of one synthetic source"
    )
    args = parser.parse_args(argv)
    for path in (args.pool, args.dev):
        if not path.exists():
            parser.error(f"{path} not found")
    partial = args.out.with_name(f"{args.out.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            stats = write_archive(
                args.pool, args.dev, args.n, out, seed=args.seed, per_source=args.per_source
            )
    except ValueError as exc:
        partial.unlink(missing_ok=True)
        parser.error(str(exc))
    partial.replace(args.out)  # only a complete archive gets the final name
    print(
        f"{args.out}: {stats.written} articles ({stats.gold} gold, unchanged), "
        f"made from {stats.sources} pool articles, over {stats.feeds} sources"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
