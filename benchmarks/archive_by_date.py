"""An archive's articles in order of publication, as a feed bot takes them in.

Run by hand from the project root:

    python benchmarks/archive_by_date.py IN.jsonl OUT.jsonl

make_archive.py dates its articles at random over two years, so each ingest batch spans the
whole archive and story grouping compares it with every window's articles; a bot reading
its feeds gets them day by day. Undated articles come first; equal dates keep their order.
Memory holds one (date, offset) pair per article, not the archive.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path


def published(line: bytes) -> float:
    """The article's publication as a timestamp (-inf when undated)."""
    value = json.loads(line).get("published")
    if not value:
        return float("-inf")
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def by_date(source: Path, out: Path) -> int:
    """Write `source`'s lines to `out` in order of publication; returns how many."""
    order: list[tuple[float, int, int]] = []
    with source.open("rb") as lines:
        offset = 0
        for line in lines:
            if line.strip():
                order.append((published(line), offset, len(line)))
            offset += len(line)
    order.sort()
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    with source.open("rb") as lines, partial.open("wb") as written:
        for _, offset, size in order:
            lines.seek(offset)
            line = lines.read(size)
            written.write(line if line.endswith(b"\n") else line + b"\n")
    partial.replace(out)  # only a complete archive gets the final name
    return len(order)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("source", type=Path, help="JSON lines archive to read")
    parser.add_argument("out", type=Path, help="JSON lines file to write")
    args = parser.parse_args(argv)
    print(f"{args.out}: {by_date(args.source, args.out)} articles in date order")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
