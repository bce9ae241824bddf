"""Whole-process figures of the `newsbot` CLI on newsqa: ingest, cold start, batch, memory.

Run by hand: `python benchmarks/bench_core.py [--newsqa ../shared/newsqa]`. Each step is a
fresh `newsbot` process on a new store in a temporary folder; peak RSS is the child's own
(getrusage), so each figure is that process's alone. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Runs the CLI in a child that reports its own peak RSS on exit, so each figure is that
# process's alone (RUSAGE_CHILDREN would report the largest child so far).
_WRAPPER = (
    "import atexit, resource, runpy, sys\n"
    "atexit.register(lambda: print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF)"
    ".ru_maxrss, file=sys.stderr))\n"
    "sys.argv[0] = 'newsbot'\n"
    "runpy.run_module('bot', run_name='__main__')\n"
)


def run(db: Path, *args: str, stdin: str | None = None) -> tuple[float, int, str]:
    """Run `newsbot --db db ARGS` in a fresh process: (seconds, peak RSS in MB, stdout)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, "--db", str(db), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")},
        check=True,
    )
    seconds = time.perf_counter() - started
    peak = next(
        int(line.split()[1]) // 1024
        for line in done.stderr.splitlines()
        if line.startswith("MAXRSS ")
    )
    return seconds, peak, done.stdout


def answer_latency(db: Path, dev: Path) -> tuple[float, float]:
    """p50 and p99 ms of whole answers (search, store, excerpts of 5 results), in process."""
    from datetime import date

    from bot.service import NewsDesk, end_of_day
    from bot.settings import Settings

    desk = NewsDesk.open(Settings(db=db))
    spent = []
    for _ in range(3):
        for item in map(json.loads, dev.read_text().splitlines()):
            as_of = end_of_day(date.fromisoformat(item["as_of"]))
            started = time.perf_counter()
            desk.ask(item["question"], as_of=as_of)
            spent.append((time.perf_counter() - started) * 1000)
    desk.close()
    spent.sort()
    return spent[len(spent) // 2], spent[int(len(spent) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--newsqa", type=Path, default=ROOT.parent / "shared" / "newsqa")
    args = parser.parse_args()
    articles, dev = args.newsqa / "articles.jsonl", args.newsqa / "dev.jsonl"
    if not articles.exists():
        sys.exit(f"no newsqa corpus at {args.newsqa}: pass --newsqa")
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "news.db"
        seconds, peak, out = run(db, "ingest", str(articles))
        rows.append(("ingest 5,000 articles (store + index)", f"{seconds:.1f} s", f"{peak} MB"))
        question = "Which wildly popular show was recently green lit for a new season?"
        seconds, peak, _ = run(db, "ask", question, "--as-of", "2022-06-16", "--json")
        rows.append(("cold start: process start to first answer", f"{seconds:.2f} s", f"{peak} MB"))
        lines = [
            json.dumps({"question": q["question"], "as_of": q["as_of"]})
            for q in map(json.loads, dev.read_text().splitlines())
        ]
        stdin = "\n".join(lines * 5)
        seconds, peak, out = run(db, "ask", "--json", stdin=stdin)
        answered = len(out.splitlines())
        rows.append(
            (
                f"batch: {answered} questions in one process",
                f"{seconds:.2f} s ({seconds / answered * 1000:.2f} ms/question incl. start)",
                f"{peak} MB",
            )
        )
        p50, p99 = answer_latency(db, dev)
        rows.append(
            (
                "whole answer (top 5 with excerpts), in process",
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                "-",
            )
        )
        seconds, peak, out = run(db, "eval", str(dev))
        rows.append(("eval dev.jsonl (as of each date)", f"{seconds:.2f} s", f"{peak} MB"))
    print("| step | time | peak RSS |\n|---|---|---|")
    for step, spent, memory in rows:
        print(f"| {step} | {spent} | {memory} |")
    print()
    print(out)


if __name__ == "__main__":
    main()
