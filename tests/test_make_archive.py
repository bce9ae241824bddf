"""benchmarks/make_archive.py on tiny generated pools: deterministic, gold text kept apart."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from bot import boilerplate
from bot.parsing import article_from_json
from bot.passages import split_sentences

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "make_archive.py"


@pytest.fixture(scope="module")
def make_archive() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_archive", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_archive"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _article(number: int, *, shared: str = "") -> dict[str, object]:
    paragraphs = [
        f"Story {number} opens in the harbour town of Port {number}.",
        f"The mayor of Port {number} said the ferry runs twice a day. Tickets cost {number}.",
        f"Fishermen in Port {number} caught {number * 3} crates of cod on Monday.",
        f"A storm is due on Friday, forecasters in Port {number} warned.",
    ]
    if shared:
        paragraphs.append(shared)
    return {
        "id": f"pool-{number}",
        "url": f"https://example.org/{number}",
        "headline": f"Port {number} gets a new ferry",
        "published": "2022-05-01",
        "body": "\n\n".join(paragraphs),
    }


SHARED = "Officials confirmed the bridge will reopen next spring."


@pytest.fixture
def pool(tmp_path: Path) -> tuple[Path, Path]:
    # Articles 0 and 1 are gold; article 5 repeats a gold sentence, which must not be reused.
    records = [_article(n, shared=SHARED if n in (0, 5) else "") for n in range(12)]
    pool = tmp_path / "pool.jsonl.gz"
    with gzip.open(pool, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    dev = tmp_path / "dev.jsonl"
    questions = [{"question": f"ferry in Port {n}?", "gold_id": f"pool-{n}"} for n in (0, 1)]
    dev.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return pool, dev


def _build(module: ModuleType, pool: tuple[Path, Path], n: int, seed: int = 7) -> str:
    out = io.StringIO()
    stats = module.write_archive(*pool, n, out, seed=seed)
    assert stats.written == n
    return out.getvalue()


def test_same_seed_same_bytes_other_seed_other_archive(
    make_archive: ModuleType, pool: tuple[Path, Path]
) -> None:
    first = _build(make_archive, pool, 60)
    assert first == _build(make_archive, pool, 60)
    assert first != _build(make_archive, pool, 60, seed=8)


def test_gold_articles_unchanged_and_their_sentences_not_reused(
    make_archive: ModuleType, pool: tuple[Path, Path]
) -> None:
    lines = _build(make_archive, pool, 80).splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 80
    gold = [r for r in records if r["id"] in ("pool-0", "pool-1")]
    assert [r["id"] for r in gold] == ["pool-0", "pool-1"]
    assert gold == [_article(0, shared=SHARED), _article(1)]  # as they are in the pool
    gold_sentences = {
        sentence
        for record in gold
        for paragraph in str(record["body"]).split("\n\n")
        for sentence in split_sentences(paragraph)
    } | {str(record["headline"]) for record in gold}
    synthetic = [r for r in records if str(r["id"]).startswith("syn-")]
    assert len(synthetic) == 78
    for record in synthetic:
        assert record["headline"] not in gold_sentences
        for paragraph in str(record["body"]).split("\n\n"):
            assert not set(split_sentences(paragraph)) & gold_sentences, record["id"]
    # The other pool articles' own sentences do come back (term statistics stay real).
    assert any(r["headline"] == "Port 7 gets a new ferry" for r in synthetic)


def test_dates_span_two_years_and_ids_are_unique(
    make_archive: ModuleType, pool: tuple[Path, Path]
) -> None:
    records = [json.loads(line) for line in _build(make_archive, pool, 200).splitlines()]
    assert len({r["id"] for r in records}) == 200
    moments = [
        datetime.fromisoformat(r["published"]) for r in records if r["id"].startswith("syn-")
    ]
    assert min(moments) >= datetime(2021, 1, 1, tzinfo=UTC)
    assert max(moments) < datetime(2023, 1, 1, tzinfo=UTC)
    assert (max(moments) - min(moments)).days > 600


def test_cli_writes_the_file_and_refuses_too_small_an_archive(
    make_archive: ModuleType, pool: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "archive.jsonl"
    pool_path, dev = pool
    assert make_archive.main(["30", str(out), "--pool", str(pool_path), "--dev", str(dev)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 30
    with pytest.raises(SystemExit):
        make_archive.main(
            ["1", str(tmp_path / "tiny.jsonl"), "--pool", str(pool_path), "--dev", str(dev)]
        )
    assert not (tmp_path / "tiny.jsonl").exists()
    assert sorted(tmp_path.iterdir()) == sorted([out, pool_path, dev])  # no partial file left


def test_an_archive_in_date_order_holds_the_same_lines(
    make_archive: ModuleType, pool: tuple[Path, Path], tmp_path: Path
) -> None:
    spec = importlib.util.spec_from_file_location(
        "archive_by_date", SCRIPT.with_name("archive_by_date.py")
    )
    assert spec is not None and spec.loader is not None
    by_date = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(by_date)
    source, out = tmp_path / "archive.jsonl", tmp_path / "by-date.jsonl"
    source.write_text(_build(make_archive, pool, 40), encoding="utf-8")
    assert by_date.main([str(source), str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert sorted(lines) == sorted(source.read_text(encoding="utf-8").splitlines())
    moments = [by_date.published(line.encode()) for line in lines]
    assert moments == sorted(moments)  # and the archive was not in order before
    assert moments != [by_date.published(line) for line in source.read_bytes().splitlines()]


SIGN_UP = "Sign up for the Harbour Post newsletter to get the news in your inbox."


def _site_article(site: str, number: int) -> dict[str, object]:
    paragraphs = [
        f"{site} story {number} begins with the council vote in ward {number}.",
        f"Councillor {number} of {site} said the budget for road {number} was cut.",
        f"Residents of ward {number} on {site} plan a protest on day {number}.",
    ]
    if site == "post":  # the site's own boilerplate, in every article
        paragraphs.append(SIGN_UP)
    return {
        "id": f"{site}-{number}",
        "url": f"https://www.{site}.example/{number}",
        "headline": f"Ward {number} of {site} loses its road budget",
        "published": "2022-05-01",
        "body": "\n\n".join(paragraphs),
    }


def test_stories_spread_over_many_sources_and_a_sites_boilerplate_still_repeats(
    make_archive: ModuleType, tmp_path: Path
) -> None:
    records = [_site_article("post", n) for n in range(60)]
    records += [_site_article("gazette", n) for n in range(20)]
    pool = tmp_path / "pool.jsonl.gz"
    with gzip.open(pool, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"question": "road?", "gold_id": "gazette-0"}) + "\n", "utf-8")
    out = io.StringIO()
    # 600 articles from 79 pool articles (the gold one apart): each comes back ~7.6 times.
    stats = make_archive.write_archive(pool, dev, 600, out, per_source=25)
    articles = [
        article_from_json(json.loads(line), line=i)
        for i, line in enumerate(out.getvalue().splitlines())
    ]
    synthetic = [a for a in articles if a.id.startswith("syn-")]
    by_source: dict[str, set[str]] = {}
    for article in synthetic:
        by_source.setdefault(boilerplate.source_of(article), set()).add(article.url.split(".")[1])
    # Each source is one feed of one site: the post's 60 bases fill feeds of at most 25
    # articles (~455 articles: 19 feeds), the gazette's 19 feeds of at most 9 (~144: 16).
    assert all(len(sites) == 1 for sites in by_source.values())
    assert len(by_source) == stats.feeds >= 30
    repeated = boilerplate.repeated(synthetic)
    sign_up = boilerplate.paragraph_key(SIGN_UP)
    post_feeds = [s for s, sites in by_source.items() if sites == {"post"}]
    assert len(post_feeds) >= 15
    assert all(sign_up in repeated.get(feed, set()) for feed in post_feeds)
    story_keys = {
        (boilerplate.source_of(a), key)
        for a in synthetic
        for key in boilerplate.paragraph_keys(a)
        if key != sign_up
    }
    stripped = [(s, k) for s, k in story_keys if k in repeated.get(s, set())]
    assert len(stripped) <= len(story_keys) // 100
    # With one source for all, most of the stories' paragraphs would be the site's.
    one_source = [a.model_copy(update={"url": "https://archive.invalid/x"}) for a in synthetic]
    stories = {key for _, key in story_keys}
    assert len(boilerplate.repeated(one_source)["archive.invalid"] & stories) > len(stories) // 2
