"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers users and feeds reach.

Run by hand from the project root (atheris is in the `bench` extra):

    python benchmarks/fuzz.py [--seconds 60] [--targets seed,feed,render] [--workdir DIR]

Targets (tests/fuzzing.py says what each checks):
- seed: seed-layout text files and JSON lines -> Articles (bot.parsing);
- feed: RSS/Atom/RDF bytes -> Articles (bot.sources.feeds.parse_feed);
- render: article text and questions -> Telegram HTML, buttons and inline results
  (bot.tg.render), checked by a strict validator of Telegram's HTML subset.

Each target runs in its own process for `--seconds`, starting from a corpus seeded from
tests/fixtures and from every input kept in tests/fixtures/fuzz/<target>/. An exception
other than the documented refusal, or a broken invariant, is a finding: it is recorded once
per (exception, place) under <workdir>/findings/<target>/ with its traceback, and fuzzing
goes on. A timeout (--timeout seconds on one input) or running out of memory stops that
target and also counts. Keep every finding as a regression input in tests/fixtures/fuzz/.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures"
KEPT = FIXTURES / "fuzz"
SEEDS = {"seed": [FIXTURES / "seeds"], "feed": [FIXTURES / "feeds"], "render": []}
MAX_LEN = {"seed": 16_384, "feed": 32_768, "render": 8_192}
# Modules whose branches guide the fuzzer (the code under test and the parsers it drives).
INSTRUMENTED = ["bot", "feedparser", "sgmllib", "html", "tests.fuzzing"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:  # --worker TARGET FINDINGS [libFuzzer flags and corpora]
        return work(argv[1], Path(argv[2]), argv[3:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target")
    parser.add_argument("--targets", default="seed,feed,render")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--workdir", type=Path, help="keep corpora and findings here")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    if args.workdir:
        return drive(args, targets, args.workdir)
    with tempfile.TemporaryDirectory(prefix="newsbot-fuzz-") as tmp:
        return drive(args, targets, Path(tmp))


# ---------------------------------------------------------------------------- the driver


def drive(args: argparse.Namespace, targets: list[str], workdir: Path) -> int:
    rows = []
    for target in targets:
        corpus, seeds, findings = (
            workdir / kind / target for kind in ("corpus", "seeds", "findings")
        )
        for folder in (corpus, seeds, findings):
            folder.mkdir(parents=True, exist_ok=True)
        write_seeds(target, seeds)
        flags = [
            f"-max_total_time={args.seconds}",
            f"-timeout={args.timeout}",
            f"-max_len={MAX_LEN[target]}",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
            f"-artifact_prefix={findings}/",
        ]
        command = [sys.executable, __file__, "--worker", target, str(findings)]
        started = time.monotonic()
        done = subprocess.run(
            [*command, *flags, str(corpus), str(seeds)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
        elapsed = time.monotonic() - started
        (workdir / f"{target}.log").write_text(done.stderr)
        rows.append(summarise(target, done, elapsed, corpus, findings))
    print_table(rows, args, workdir)
    return 1 if any(row["findings"] for row in rows) else 0


def write_seeds(target: str, seeds: Path) -> None:
    """The starting corpus: fixture files, kept findings, and (render) fixture articles."""
    sources = [*SEEDS[target], KEPT / target]
    for folder in sources:
        for file in sorted(folder.glob("*")) if folder.is_dir() else []:
            if file.is_file() and not file.name.startswith("."):
                shutil.copy(file, seeds / f"{folder.name}-{file.name}")
    if target == "render":
        for number, data in enumerate(render_seeds()):
            (seeds / f"article-{number}").write_bytes(data)


def render_seeds() -> list[bytes]:
    """Render inputs made from the fixture seed articles (fields as tests.fuzzing reads them)."""
    from bot.parsing import parse_seed_text
    from tests.fuzzing import MODIFIED

    out = []
    questions = ["Who visited Iraq?", "Al-Hol camp", "", "<b>&amp; 1 < 2", "irann presdent"]
    for number, file in enumerate(sorted((FIXTURES / "seeds").glob("*.txt"))):
        parsed = parse_seed_text(file.read_text("utf-8-sig"), modified=MODIFIED, origin="")
        for article in parsed.articles[:2]:
            fields = [
                article.headline,
                " ".join(article.body)[:600],
                "Example Wire",
                article.url or "https://news.example/a?b=1&c=<2>",
                questions[number % len(questions)],
                "\n".join(article.body),
                "Alice",
                "\x03\x10\x20\x05\x30",
            ]
            out.append("\x1e".join(fields).encode())
    return out


def summarise(
    target: str,
    done: subprocess.CompletedProcess[str],
    elapsed: float,
    corpus: Path,
    findings: Path,
) -> dict[str, object]:
    log = done.stderr
    stats = dict(re.findall(r"^stat::(\w+):\s*(\d+)", log, flags=re.MULTILINE))
    coverage = re.findall(r"\bcov: (\d+)", log)
    found = sorted(p.name for p in findings.iterdir() if not p.name.endswith(".txt"))
    executions = int(stats.get("number_of_executed_units", 0))
    return {
        "target": target,
        "executions": executions,
        "per_second": executions / elapsed if elapsed else 0.0,
        "coverage": int(coverage[-1]) if coverage else 0,
        "corpus": sum(1 for _ in corpus.iterdir()),
        "findings": len(found),
        "names": found,
        "exit": done.returncode,
        "peak_rss": int(stats.get("peak_rss_mb", 0)),
    }


def print_table(rows: list[dict[str, object]], args: argparse.Namespace, workdir: Path) -> None:
    import atheris  # noqa: F401 - only to report that it was atheris that ran

    print(
        f"fuzz: atheris, {args.seconds} s per target, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}"
    )
    print()
    print("| target | executions | exec/s | coverage (edges) | corpus | peak RSS MB | findings |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        print(
            f"| {row['target']} | {row['executions']} | {row['per_second']:.0f} "
            f"| {row['coverage']} | {row['corpus']} | {row['peak_rss']} | {row['findings']} |"
        )
    for row in rows:
        for name in row["names"]:  # type: ignore[attr-defined]
            print(f"finding: {workdir}/findings/{row['target']}/{name}")
        if row["exit"] not in (0, 1):
            print(
                f"note: {row['target']} worker exited {row['exit']}; "
                f"see {workdir}/{row['target']}.log"
            )


# ---------------------------------------------------------------------------- the worker


def work(target: str, findings: Path, libfuzzer: list[str]) -> int:
    """One target under libFuzzer until its -max_total_time; findings recorded, not fatal."""
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        import feedparser  # noqa: F401 - instrumented before the target imports it

        from tests.fuzzing import TARGETS
    check = TARGETS[target]
    seen: set[str] = set()

    def one_input(data: bytes) -> None:
        try:
            check(data)
        except Exception as exc:  # every unexpected exception is a finding
            signature = _signature(exc)
            if signature not in seen:
                seen.add(signature)
                _record(findings, target, signature, data, exc)

    atheris.Setup([sys.argv[0], *libfuzzer], one_input)
    atheris.Fuzz()
    return 0


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost frame in the project: one finding per bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/bot/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def _record(findings: Path, target: str, signature: str, data: bytes, exc: BaseException) -> None:
    name = f"{target}-{hashlib.sha1(signature.encode()).hexdigest()[:10]}"
    (findings / name).write_bytes(data)
    trace = "".join(traceback.format_exception(exc))
    (findings / f"{name}.txt").write_text(f"{signature}\n\n{trace}", errors="replace")
    print(f"FINDING {signature} -> {findings / name}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
