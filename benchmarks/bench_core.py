"""Whole-process figures of the `newsbot` CLI on newsqa: ingest, cold start, batch, memory.

Run by hand: `python benchmarks/bench_core.py [--newsqa ../shared/newsqa]`. Each step is a
fresh `newsbot` process on a new store in a temporary folder; peak RSS is the child's own
(getrusage), so each figure is that process's alone. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(db: Path, *args: str, stdin: str | None = None) -> tuple[float, int, str]:
    """Run `newsbot --db db ARGS` in a fresh process: (seconds, peak RSS in MB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(db), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")},
        check=True,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: only trust it when it grew.
    return seconds, max(peak, before) // 1024 if peak > before else -1, done.stdout


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
        seconds, peak, out = run(db, "eval", str(dev))
        rows.append(("eval dev.jsonl (as of each date)", f"{seconds:.2f} s", f"{peak} MB"))
    print("| step | time | peak RSS |\n|---|---|---|")
    for step, spent, memory in rows:
        print(f"| {step} | {spent} | {memory} |")
    print()
    print(out)


if __name__ == "__main__":
    main()
