"""How cost and quality grow with the archive: our index against tantivy, size by size.

Run by hand from the project root (`pip install -e '.[bench]'` brings tantivy):

    python benchmarks/bench_scale.py [--sizes 26k,250k] [--engine own|tantivy|both]
                                     [--work DIR] [--newsqa ../shared/newsqa]
                                     [--max-rss-gb 8] [--timeout 3600]

Sizes: `26k` (or `pool`) is the real newsqa pool as it is; any other size (`250k`, `1m`,
`40000`) is a synthetic archive from benchmarks/make_archive.py (the pool's own text, dev
gold articles included unchanged). Engines: `own` is the bot as shipped (NewsDesk ingest of
the archive file, NewsDesk.ask); `tantivy` is benchmarks/tantivy_engine.py.

Every stage runs in its own process, so its peak RSS (getrusage) is its own:
- ingest: articles/s over the whole file, peak RSS, then the bytes on disk (store + index);
- cold: process start to the first answer, and that process's peak RSS;
- serve: the 96 dev questions, as of their dates, three rounds clean and three with ~20 %
  of words mistyped (bot.evaluation.add_typos, seed 13): per whole answer (top 5 with
  excerpts) p50 / p99, article@1 / @5 of the first round, and the serving process's RSS.
Times are given twice, wall clock and, in brackets, the process's CPU time (all threads):
on a shared machine the CPU time is the figure that does not depend on the neighbours.
A stage whose result file exists in WORK/<size>/<engine>/ is skipped (big runs resume), and
a stage whose RSS passes --max-rss-gb or whose time passes --timeout is stopped and recorded
as such (the machine is shared). Prints one markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

NEWSQA = next(
    (p / "shared" / "newsqa" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared" / "newsqa",
)
POOL_SIZES = ("26k", "pool")
ROUNDS = 3
TYPO_RATE = 0.2
TYPO_SEED = 13


# -- the parent: stages, resumption, the table ------------------------------------------------


def parse_size(label: str) -> int | None:
    """Articles in a size label ("250k" -> 250000, "1m" -> 1000000); None for the pool."""
    label = label.strip().lower()
    if label in POOL_SIZES:
        return None
    scale = {"k": 1_000, "m": 1_000_000}.get(label[-1:], 1)
    return int(float(label.rstrip("km")) * scale)


def archive_for(label: str, args: argparse.Namespace) -> Path:
    """The archive file of a size, made once: the pool unpacked, or make_archive's output."""
    n = parse_size(label)
    path = args.work / ("archive-pool.jsonl" if n is None else f"archive-{n}.jsonl")
    if path.exists():
        return path
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if n is None:
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # runs may race
        with gzip.open(args.newsqa / "pool.jsonl.gz", "rb") as raw, partial.open("wb") as out:
            shutil.copyfileobj(raw, out, 1 << 20)
        partial.replace(path)
    else:
        command = [sys.executable, str(HERE / "make_archive.py"), str(n), str(path)]
        command += ["--pool", str(args.newsqa / "pool.jsonl.gz"), "--dev", str(args.dev)]
        subprocess.run(command, check=True)
    print(f"# {path.name}: made in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def stage(name: str, engine: str, folder: Path, archive: Path, args: argparse.Namespace) -> Any:
    """Run one stage in a child process unless its result is already on disk."""
    result_file = folder / f"{name}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    command = [sys.executable, __file__, "--child", name, "--engine", engine]
    command += ["--work", str(folder), "--archive", str(archive), "--dev", str(args.dev)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    print(f"# {folder.parent.name} {engine} {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    stopped = _watch(child, args.max_rss_gb * 1024, args.timeout)
    out, _ = child.communicate()
    seconds = time.perf_counter() - started
    if stopped or child.returncode:
        result = {"error": stopped or f"exit {child.returncode}", "seconds": seconds}
        print(f"# {name} failed: {result['error']}", file=sys.stderr)
        return result  # not saved: the next run tries again
    result = json.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = seconds
    result_file.write_text(json.dumps(result))
    return result


def _watch(child: subprocess.Popen[str], max_mb: float, timeout: float) -> str | None:
    """Stop the child when it passes the RSS or time limit; says which, None if neither."""
    verdict: list[str] = []

    def poll() -> None:
        started = time.monotonic()
        while child.poll() is None:
            rss = _rss_mb(child.pid)
            if rss > max_mb:
                verdict.append(f"stopped at {rss:.0f} MB RSS (limit {max_mb:.0f} MB)")
            elif time.monotonic() - started > timeout:
                verdict.append(f"stopped after {timeout:.0f} s")
            if verdict:
                child.send_signal(signal.SIGKILL)
                return
            time.sleep(0.5)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    child.wait()
    watcher.join()
    return verdict[0] if verdict else None


def _rss_mb(pid: int) -> float:
    """Resident memory of process `pid` now, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def disk_bytes(folder: Path, engine: str) -> int:
    """Bytes of the engine's state: the store and its index for ours, the index for tantivy."""
    root = folder / ("own" if engine == "own" else "index")
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def run_size(label: str, engine: str, args: argparse.Namespace) -> dict[str, Any]:
    archive = archive_for(label, args)
    folder = args.work / label / engine
    folder.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"size": label, "engine": engine}
    row["ingest"] = ingest = stage("ingest", engine, folder, archive, args)
    if "error" in ingest:
        return row
    row["bytes"] = disk_bytes(folder, engine)
    row["cold"] = stage("cold", engine, folder, archive, args)
    row["serve"] = stage("serve", engine, folder, archive, args)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| articles | engine | ingest art/s (per CPU s) | ingest peak RSS | store+index "
        "| bytes/article | cold start (CPU) | serving RSS (peak) | p50 / p99 ms clean (CPU) "
        "| p50 / p99 ms 20 % typos (CPU) | @1 / @5 clean | @1 / @5 typos |"
    )
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        ingest = row["ingest"]
        if "error" in ingest:
            print(f"| {row['size']} | {row['engine']} | {ingest['error']} |")
            continue
        cold, serve = row.get("cold", {}), row.get("serve", {})
        n = ingest["articles"]
        cells = [
            f"{n:,}",
            row["engine"],
            f"{n / ingest['seconds']:,.0f} ({_per(n, ingest.get('cpu_seconds'))})",
            f"{ingest['peak_mb']:,} MB",
            f"{row['bytes'] / 2**20:,.0f} MB",
            f"{row['bytes'] / n:,.0f}",
            f"{cold['process_seconds']:.2f} s ({cold.get('cpu_seconds', 0):.2f})"
            if "process_seconds" in cold
            else "-",
            f"{serve['rss_mb']:,} MB ({serve['peak_mb']:,})" if "rss_mb" in serve else "-",
        ]
        for kind in ("clean", "typos"):
            got = serve.get(kind)
            cells.append(
                f"{got['p50']:.1f} / {got['p99']:.1f} "
                f"({got.get('cpu_p50', 0):.1f} / {got.get('cpu_p99', 0):.1f})"
                if got
                else "-"
            )
        for kind in ("clean", "typos"):
            got = serve.get(kind)
            cells.append(f"{got['at1']:.3f} / {got['at5']:.3f}" if got else "-")
        print("| " + " | ".join(cells) + " |")


def _per(n: int, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}" if seconds else "-"


# -- the children: one stage each, one JSON line out ------------------------------------------


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _cpu_seconds() -> float:
    """CPU time of this process so far, all threads (tantivy's merges run in threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _questions(dev: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line]


def _asker(engine: str, folder: Path) -> tuple[Callable[..., tuple[list[str], bool]], Any]:
    """A function (question, as_of) -> (article ids, found) over the engine's saved state."""
    if engine == "own":
        from bot.service import NewsDesk
        from bot.settings import Settings

        desk = NewsDesk.open(Settings(db=folder / "own" / "news.db"), seed=False)

        def ask_own(question: str, as_of: Any) -> tuple[list[str], bool]:
            answer = desk.ask(question, as_of=as_of, top=5)
            return [result.article_id for result in answer.results], answer.found

        return ask_own, desk
    from tantivy_engine import TantivySearch

    search = TantivySearch(folder / "index")

    def ask_tantivy(question: str, as_of: Any) -> tuple[list[str], bool]:
        answered = search.ask(question, as_of, top=5)
        return answered.article_ids, answered.found

    return ask_tantivy, search


def child_ingest(engine: str, folder: Path, archive: Path) -> dict[str, Any]:
    started = time.perf_counter()
    if engine == "own":
        from bot.service import NewsDesk
        from bot.settings import Settings

        shutil.rmtree(folder / "own", ignore_errors=True)  # a half-done ingest starts over
        (folder / "own").mkdir()
        desk = NewsDesk.open(Settings(db=folder / "own" / "news.db"), seed=False)
        report = desk.ingest([archive])
        desk.close()
        articles, problems = report.added + report.updated, report.failed
    else:
        from tantivy_engine import build

        from bot.models import Article
        from bot.sources import load_path

        shutil.rmtree(folder / "index", ignore_errors=True)
        items = load_path(archive)
        articles, _ = build(folder / "index", (a for a in items if isinstance(a, Article)))
        problems = 0
    seconds = time.perf_counter() - started
    return {
        "articles": articles,
        "problems": problems,
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds(),
        "peak_mb": _peak_mb(),
    }


def child_cold(engine: str, folder: Path, dev: Path) -> dict[str, Any]:
    from bot.service import end_of_day

    first = _questions(dev)[0]
    ask, _ = _asker(engine, folder)
    ids, _ = ask(first["question"], end_of_day(date.fromisoformat(first["as_of"])))
    return {"answered": len(ids), "cpu_seconds": _cpu_seconds(), "peak_mb": _peak_mb()}


def child_serve(engine: str, folder: Path, dev: Path) -> dict[str, Any]:
    from bot.evaluation import add_typos
    from bot.service import end_of_day

    questions = _questions(dev)
    ask, _ = _asker(engine, folder)
    result: dict[str, Any] = {}
    for kind, rate in (("clean", 0.0), ("typos", TYPO_RATE)):
        rng = random.Random(TYPO_SEED)  # the same mistyped questions for every engine
        asked = [
            (add_typos(q["question"], rate, rng) if rate else q["question"], q) for q in questions
        ]
        spent: list[float] = []
        cpu: list[float] = []
        at1 = at5 = found = 0
        for round_ in range(ROUNDS):
            for question, item in asked:
                as_of = end_of_day(date.fromisoformat(item["as_of"]))
                started, used = time.perf_counter(), time.process_time()
                ids, was_found = ask(question, as_of)
                spent.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
                if round_ == 0:
                    at1 += ids[:1] == [item["gold_id"]]
                    at5 += item["gold_id"] in ids[:5]
                    found += was_found
        n = len(questions)
        result[kind] = {
            "p50": _percentile(spent, 50),
            "p99": _percentile(spent, 99),
            "cpu_p50": _percentile(cpu, 50),
            "cpu_p99": _percentile(cpu, 99),
            "at1": at1 / n,
            "at5": at5 / n,
            "found": found / n,
        }
    result["rss_mb"] = round(_rss_mb(os.getpid()))
    result["peak_mb"] = _peak_mb()
    return result


def _percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="26k,250k")
    parser.add_argument("--engine", choices=("own", "tantivy", "both"), default="both")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-bench-scale"
    )
    parser.add_argument("--newsqa", type=Path, default=NEWSQA)
    parser.add_argument("--dev", type=Path, default=None, help="default: NEWSQA/dev.jsonl")
    parser.add_argument("--max-rss-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per stage")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--archive", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dev = args.dev or args.newsqa / "dev.jsonl"
    if args.child:
        chosen = {
            "ingest": lambda: child_ingest(args.engine, args.work, args.archive),
            "cold": lambda: child_cold(args.engine, args.work, args.dev),
            "serve": lambda: child_serve(args.engine, args.work, args.dev),
        }[args.child]
        print(json.dumps(chosen()))
        return 0
    if not (args.newsqa / "pool.jsonl.gz").exists():
        parser.error(f"no newsqa pool at {args.newsqa}: pass --newsqa")
    engines = ("own", "tantivy") if args.engine == "both" else (args.engine,)
    rows = [
        run_size(label.strip(), engine, args)
        for label in args.sizes.split(",")
        if label.strip()
        for engine in engines
    ]
    print(f"bench_scale: {os.cpu_count()} CPUs, work folder {args.work}, {date.today()}")
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
