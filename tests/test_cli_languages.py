"""The command line is an operator's tool: English messages, whatever the question's language."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import newsbot

ARABIC = Path(__file__).parent / "fixtures" / "arabic" / "stories.jsonl"
LIBRARY = "Bayt Al-Kutub: افتتاح أكبر مكتبة عامة في الرياض بمليوني كتاب"


def test_the_cli_answers_arabic_questions_in_english(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    assert newsbot(db, "ingest", str(ARABIC)).returncode == 0
    run = newsbot(db, "ask", "متى افتتحت مكتبة الرياض؟")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == LIBRARY  # the story as it is: no marks or isolates for a terminal
    assert "2025-03-09" in lines[1] or "Mar 2025" in lines[1]
    missing = newsbot(db, "ask", "ما أخبار كرة القدم في البرازيل؟")
    assert missing.stdout.startswith("Nothing found for that question.")
