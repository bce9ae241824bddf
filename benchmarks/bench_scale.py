"""How cost and quality grow with the archive: the bot's two search engines, size by size.

Run by hand from the project root:

    python benchmarks/bench_scale.py [--sizes 26k,250k,1m] [--engine tantivy|own|both]
                                     [--work DIR] [--newsqa ../shared/newsqa]
                                     [--chunk 25000] [--max-rss-gb 8] [--timeout 3600]

Sizes: `26k` (or `pool`) is the real newsqa pool as it is; any other size (`250k`, `1m`,
`40000`) is a synthetic archive from benchmarks/make_archive.py (the pool's own text, dev
gold articles included unchanged), made once in WORK and put in order of publication
(benchmarks/archive_by_date.py), as a bot reading its feeds takes articles in. Engines:
the bot as shipped (`NewsDesk` ingest of the archive file into a SQLite store,
`NewsDesk.ask` for the whole answer with excerpts), with `search_engine` "tantivy" (the
default) or "own".

Every stage runs in its own process, so its peak RSS (getrusage) is its own:
- ingest: the archive in chunks of --chunk articles, each one `newsbot ingest` of its lines
  (one store transaction, one index save); progress is kept after every chunk, so a stopped
  run resumes at the next one. Reported: articles/s over all chunks and over the last one
  (the sustained rate at that size), wall and CPU, and the highest peak RSS of any process
  with, in brackets, the highest peak of its anonymous part (the heap: the rest is index
  pages tantivy's merges map from disk), each chunk's kept in the progress file; then the
  bytes on disk (store + index);
- cold: process start to the first answer, and that process's peak RSS (page cache warm);
  its CPU also in parts: imports, opening the store and index, the first answer;
- serve: the 96 dev questions, as of their dates, three rounds clean and three with ~20 %
  of words mistyped (bot.evaluation.add_typos, seed 13): per whole answer (top 5 with
  excerpts) p50 / p99, article@1 / @5 of the first round, and the serving process's RSS
  (all of it, and its anonymous part: the rest is index pages mapped from disk); with
  --exhaustive, @1 / @5 again with every matching passage a candidate (no top-k pruning).
Times are given twice, wall clock and, in brackets, the process's CPU time (all threads):
on a shared machine the CPU time is the figure that does not depend on the neighbours.
A stage whose result file exists in WORK/<size>/<engine>/ is skipped (big runs resume), and
a stage whose RSS passes --max-rss-gb or whose time passes --timeout is stopped and recorded
as such (the machine is shared). Prints one markdown table and the growth per x10 articles.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
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
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

NEWSQA = next(
    (p / "shared" / "newsqa" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared" / "newsqa",
)
POOL_SIZES = ("26k", "pool")
ROUNDS = 3
TYPO_RATE = 0.2
TYPO_SEED = 13
EXHAUSTIVE = 10**9  # candidate passages when every matching passage is to be scored
SAMPLE_SECONDS = 0.1  # how often an ingest's anonymous and file-backed memory is read


# -- the parent: stages, resumption, the table ------------------------------------------------


def parse_size(label: str) -> int | None:
    """Articles in a size label ("250k" -> 250000, "1m" -> 1000000); None for the pool."""
    label = label.strip().lower()
    if label in POOL_SIZES:
        return None
    scale = {"k": 1_000, "m": 1_000_000}.get(label[-1:], 1)
    return int(float(label.rstrip("km")) * scale)


def archive_for(label: str, args: argparse.Namespace) -> Path:
    """The archive file of a size, made once: the pool unpacked, or make_archive's output in
    order of publication (`archive_by_date.py`), as a bot reading its feeds takes it in."""
    n = parse_size(label)
    path = args.work / ("archive-pool.jsonl" if n is None else f"archive-{n}-by-date.jsonl")
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
        # make_archive dates at random over two years: every ingest batch would then span
        # the whole archive, which no feed does (story grouping loads every window it touches).
        shuffled = path.with_name(f"archive-{n}.jsonl")
        if not shuffled.exists():
            command = [sys.executable, str(HERE / "make_archive.py"), str(n), str(shuffled)]
            command += ["--pool", str(args.newsqa / "pool.jsonl.gz"), "--dev", str(args.dev)]
            subprocess.run(command, check=True)
        from archive_by_date import by_date  # beside this file

        by_date(shuffled, path)
    print(f"# {path.name}: made in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def stage(name: str, engine: str, folder: Path, archive: Path, args: argparse.Namespace) -> Any:
    """Run one stage in a child process unless its result is already on disk."""
    result_file = folder / f"{name}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    command = [sys.executable, __file__, "--child", name, "--engine", engine]
    command += ["--work", str(folder), "--archive", str(archive), "--dev", str(args.dev)]
    command += ["--chunk", str(args.chunk)] + (["--exhaustive"] if args.exhaustive else [])
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
        return result  # not saved: the next run tries again (an ingest from its last chunk)
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


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of process `pid` now, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def disk_bytes(folder: Path) -> int:
    """Bytes of the bot's state: the SQLite store (with its WAL) and the index beside it."""
    root = folder / "bot"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def run_size(label: str, engine: str, args: argparse.Namespace) -> dict[str, Any]:
    archive = archive_for(label, args)
    folder = args.work / label / engine
    folder.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"size": label, "engine": engine}
    row["ingest"] = ingest = stage("ingest", engine, folder, archive, args)
    if "error" in ingest:
        progress = _progress(folder)
        if progress["articles"]:
            row["partial"] = progress
        return row
    row["bytes"] = disk_bytes(folder)
    row["cold"] = stage("cold", engine, folder, archive, args)
    row["serve"] = stage("serve", engine, folder, archive, args)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| articles | engine | ingest art/s all (last chunk) | per CPU s all (last) "
        "| ingest peak RSS (anon) | store+index | bytes/article | cold start (CPU) "
        "| serving RSS (anon) | p50 / p99 ms clean (CPU) | p50 / p99 ms 20 % typos (CPU) "
        "| @1 / @5 clean | @1 / @5 typos | exhaustive @1 / @5 clean, typos |"
    )
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        ingest = row["ingest"]
        if "error" in ingest:
            partial = row.get("partial")
            done = f" after {partial['articles']:,} articles: {_rates(partial)}" if partial else ""
            print(f"| {row['size']} | {row['engine']} | {ingest['error']}{done} |")
            continue
        cold, serve = row.get("cold", {}), row.get("serve", {})
        n = ingest["articles"]
        cells = [
            f"{n:,}",
            row["engine"],
            *_rates(ingest).split(" ; "),
            f"{ingest['peak_mb']:,} MB ({_peak_anon(ingest)})",
            f"{row['bytes'] / 2**20:,.0f} MB",
            f"{row['bytes'] / n:,.0f}",
            f"{cold['process_seconds']:.2f} s ({cold.get('cpu_seconds', 0):.2f})"
            if "process_seconds" in cold
            else "-",
            f"{serve['rss_mb']:,} MB ({serve.get('anon_mb', 0):,})" if "rss_mb" in serve else "-",
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
        exhaustive = [serve.get(kind, {}).get("exhaustive") for kind in ("clean", "typos")]
        cells.append(", ".join(f"{e['at1']:.3f} / {e['at5']:.3f}" for e in exhaustive if e) or "-")
        print("| " + " | ".join(cells) + " |")
    print_growth(rows)


def _peak_anon(ingest: dict[str, Any]) -> str:
    """The highest anonymous (heap) peak of any chunk, "-" for runs from before it was kept."""
    anon = [chunk["anon_mb"] for chunk in ingest.get("chunks", [])]
    return f"{max(anon):,}" if anon else "-"


def _rates(ingest: dict[str, Any]) -> str:
    n, last = ingest["articles"], ingest.get("last", {})
    wall = f"{n / ingest['seconds']:,.0f} ({_per(last.get('articles'), last.get('seconds'))})"
    cpu = f"{_per(n, ingest.get('cpu_seconds'))} ({_per(last.get('articles'), last.get('cpu'))})"
    return f"{wall} ; {cpu}"


def print_growth(rows: list[dict[str, Any]]) -> None:
    """How per-question CPU time, serving memory and disk grow per x10 articles."""
    done = [r for r in rows if "serve" in r and "typos" in r["serve"]]
    for engine in dict.fromkeys(r["engine"] for r in done):
        mine = sorted((r for r in done if r["engine"] == engine), key=_articles)
        for small, big in itertools.pairwise(mine):
            tens = math.log10(_articles(big) / _articles(small))
            if tens <= 0:
                continue

            def per_ten(a: float, b: float, tens: float = tens) -> str:
                return f"x{(b / a) ** (1 / tens):.2f}" if a > 0 else "-"

            s, b = small["serve"], big["serve"]
            print(
                f"\ngrowth per x10 articles, {engine} {small['size']} -> {big['size']}: "
                f"CPU p50 typos {per_ten(s['typos']['cpu_p50'], b['typos']['cpu_p50'])}, "
                f"p99 typos {per_ten(s['typos']['cpu_p99'], b['typos']['cpu_p99'])}, "
                f"serving RSS {per_ten(s['rss_mb'], b['rss_mb'])}, "
                f"store+index {per_ten(small['bytes'], big['bytes'])}"
            )


def _articles(row: dict[str, Any]) -> int:
    return int(row["ingest"]["articles"])


def _per(n: int | None, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}" if n and seconds else "-"


# -- the children: one stage each, one JSON line out ------------------------------------------


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class _PeakSampler:
    """Peaks of this process's anonymous and file-backed resident memory, sampled every
    SAMPLE_SECONDS in a thread. getrusage's peak counts the index pages tantivy's merges
    map from disk (page cache, dropped under pressure) with the heap; these say which."""

    def __init__(self) -> None:
        self.peaks = {"RssAnon": 0.0, "RssFile": 0.0}
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            for field in self.peaks:
                self.peaks[field] = max(self.peaks[field], _rss_mb(os.getpid(), field))
            time.sleep(SAMPLE_SECONDS)

    def take(self) -> dict[str, int]:
        """The peaks since the last call, in MB (anon, file), and start over."""
        taken = {"anon_mb": round(self.peaks["RssAnon"]), "file_mb": round(self.peaks["RssFile"])}
        self.peaks = {field: 0.0 for field in self.peaks}
        return taken


def _cpu_seconds() -> float:
    """CPU time of this process so far, all threads (tantivy's merges run in threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _questions(dev: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line]


def _desk(engine: str, folder: Path) -> Any:
    from bot.service import NewsDesk
    from bot.settings import Settings

    settings = Settings(db=folder / "bot" / "news.db", search_engine=engine)
    return NewsDesk.open(settings, seed=False)


def _progress(folder: Path) -> dict[str, Any]:
    path = folder / "ingest-progress.json"
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    return {"lines": 0, "articles": 0, "seconds": 0.0, "cpu_seconds": 0.0, "peak_mb": 0}


def child_ingest(engine: str, folder: Path, archive: Path, chunk: int) -> dict[str, Any]:
    """`newsbot ingest` of the archive a chunk at a time, resuming after the last one saved."""
    progress = _progress(folder)
    if not progress["lines"]:
        shutil.rmtree(folder / "bot", ignore_errors=True)  # a run that saved nothing restarts
        (folder / "bot").mkdir()
    desk = _desk(engine, folder)
    if desk.store.count() != progress["articles"]:
        raise SystemExit(f"store holds {desk.store.count()} articles, progress says otherwise")
    problems = progress.get("problems", 0)
    sampler = _PeakSampler()
    with archive.open("rb") as lines:
        for _ in range(progress["lines"]):
            next(lines)
        while True:
            piece = list(itertools.islice(lines, chunk))
            if not piece:
                break
            part = folder / "chunk.jsonl"
            part.write_bytes(b"".join(piece))
            started, used = time.perf_counter(), _cpu_seconds()
            report = desk.ingest([part])
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - used
            added = report.added + report.updated
            problems += report.failed
            peaks = sampler.take()
            chunks = [*progress.get("chunks", []), {"articles": added, "cpu": cpu, **peaks}]
            progress = {
                "lines": progress["lines"] + len(piece),
                "articles": progress["articles"] + added,
                "seconds": progress["seconds"] + seconds,
                "cpu_seconds": progress["cpu_seconds"] + cpu,
                "peak_mb": max(progress["peak_mb"], _peak_mb()),
                "problems": problems,
                "last": {"articles": added, "seconds": seconds, "cpu": cpu},
                "chunks": chunks,  # each chunk's articles, CPU and peak anon / file MB
            }
            (folder / "ingest-progress.json").write_text(json.dumps(progress))
            print(
                f"# {progress['articles']:,} articles, last chunk {added / seconds:,.0f}/s "
                f"({added / max(cpu, 1e-9):,.0f}/CPU s), peak {progress['peak_mb']:,} MB "
                f"(this chunk: anon {peaks['anon_mb']:,} MB, index pages {peaks['file_mb']:,} MB)",
                file=sys.stderr,
                flush=True,
            )
            part.unlink()
    desk.close()
    return progress


def child_cold(engine: str, folder: Path, dev: Path) -> dict[str, Any]:
    """CPU from process start to the first answer, and its three parts: the interpreter and
    the bot's imports (the same for any store), `NewsDesk.open`, the first answer."""
    from bot.service import end_of_day

    imported = _cpu_seconds()
    first = _questions(dev)[0]
    desk = _desk(engine, folder)
    opened = _cpu_seconds()
    answer = desk.ask(first["question"], as_of=end_of_day(date.fromisoformat(first["as_of"])))
    done = _cpu_seconds()
    return {
        "answered": len(answer.results),
        "cpu_seconds": done,
        "import_cpu": imported,
        "open_cpu": opened - imported,
        "first_cpu": done - opened,
        "peak_mb": _peak_mb(),
    }


def child_serve(
    engine: str, folder: Path, dev: Path, exhaustive: bool, answers: Path | None = None
) -> dict[str, Any]:
    """The serve stage; with `answers`, the whole answers of the first round (clean, then
    mistyped) are written there as JSON lines, to check a change leaves them as they were."""
    from bot.evaluation import add_typos
    from bot.service import end_of_day

    questions = _questions(dev)
    desk = _desk(engine, folder)
    kept: list[str] = []
    last: list[str] = [""]  # the last answer, as JSON

    def ask(question: str, as_of: Any) -> list[str]:
        answer = desk.ask(question, as_of=as_of, top=5)
        last[0] = answer.model_dump_json()
        return [result.article_id for result in answer.results]

    result: dict[str, Any] = {}
    for kind, rate in (("clean", 0.0), ("typos", TYPO_RATE)):
        rng = random.Random(TYPO_SEED)  # the same mistyped questions for every engine
        asked = [
            (add_typos(q["question"], rate, rng) if rate else q["question"], q) for q in questions
        ]
        spent: list[float] = []
        cpu: list[float] = []
        at1 = at5 = 0
        for round_ in range(ROUNDS):
            for question, item in asked:
                as_of = end_of_day(date.fromisoformat(item["as_of"]))
                started, used = time.perf_counter(), time.process_time()
                ids = ask(question, as_of)
                spent.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
                if round_ == 0:
                    kept.append(last[0])
                    at1 += ids[:1] == [item["gold_id"]]
                    at5 += item["gold_id"] in ids[:5]
        n = len(questions)
        result[kind] = {
            "p50": _percentile(spent, 50),
            "p99": _percentile(spent, 99),
            "cpu_p50": _percentile(cpu, 50),
            "cpu_p99": _percentile(cpu, 99),
            "at1": at1 / n,
            "at5": at5 / n,
        }
        if exhaustive and hasattr(desk.retriever, "candidate_passages"):
            pruned, desk.retriever.candidate_passages = (
                desk.retriever.candidate_passages,
                EXHAUSTIVE,
            )
            ranked = [(ask(q, end_of_day(date.fromisoformat(i["as_of"]))), i) for q, i in asked]
            desk.retriever.candidate_passages = pruned
            result[kind]["exhaustive"] = {
                "at1": sum(ids[:1] == [i["gold_id"]] for ids, i in ranked) / n,
                "at5": sum(i["gold_id"] in ids[:5] for ids, i in ranked) / n,
            }
    if answers:
        answers.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    result["rss_mb"] = round(_rss_mb(os.getpid()))
    result["anon_mb"] = round(_rss_mb(os.getpid(), "RssAnon"))
    result["peak_mb"] = _peak_mb()
    return result


def _percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="26k,250k")
    parser.add_argument("--engine", choices=("tantivy", "own", "both"), default="tantivy")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-bench-scale"
    )
    parser.add_argument("--newsqa", type=Path, default=NEWSQA)
    parser.add_argument("--dev", type=Path, default=None, help="default: NEWSQA/dev.jsonl")
    parser.add_argument("--chunk", type=int, default=25_000, help="articles per ingest chunk")
    parser.add_argument("--exhaustive", action="store_true", help="also rank without pruning")
    parser.add_argument("--max-rss-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per stage")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--archive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--answers", type=Path, help="with --child serve: write the first round's answers here"
    )
    args = parser.parse_args(argv)
    args.dev = args.dev or args.newsqa / "dev.jsonl"
    if args.child:
        chosen = {
            "ingest": lambda: child_ingest(args.engine, args.work, args.archive, args.chunk),
            "cold": lambda: child_cold(args.engine, args.work, args.dev),
            "serve": lambda: child_serve(
                args.engine, args.work, args.dev, args.exhaustive, args.answers
            ),
        }[args.child]
        print(json.dumps(chosen()))
        return 0
    if not (args.newsqa / "pool.jsonl.gz").exists():
        parser.error(f"no newsqa pool at {args.newsqa}: pass --newsqa")
    engines = ("tantivy", "own") if args.engine == "both" else (args.engine,)
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
