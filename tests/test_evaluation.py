"""The answer-shown metric of `newsbot eval`: normalisation and matching on a card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.evaluation import answer_shown, evaluate, load_questions, normalise_answer
from bot.models import Result
from bot.service import NewsDesk
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def shown_on(answer: str, headline: str, excerpt: str) -> bool:
    card = Result(article_id="a", headline=headline, excerpt=excerpt, score=0.5)
    return answer_shown(answer, card)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("“The Tony Awards”", "tony awards"),
        ("19,000", "19000"),
        ("$5.02.", "$5.02"),
        ("Rep. Nancy Pelosi", "rep nancy pelosi"),
        ("An airport", "airport"),
        ("Iran’s", "iran"),
        ("O’Neill", "oneill"),
        ("the U.S.", "us"),
        ("U.K.-led talks", "uk led talks"),
        ("8 a.m. ET", "8 am et"),
        ("Washington, D.C.", "washington dc"),
        ("Mr.Smith", "mr smith"),
    ],
)
def test_normalise_answer_folds_case_quotes_separators_and_articles(raw: str, folded: str) -> None:
    assert normalise_answer(raw) == folded


def test_answer_shown_matches_whole_words_in_headline_or_excerpt() -> None:
    assert shown_on("2,500", "Iran’s president visits Iraq", "Iraq hosts 2,500 US troops.")
    assert shown_on("The Tony Awards", "Broadway stars shine at the Tony awards", "")
    assert shown_on("“Squid Game”", "News", "The hit show 'Squid Game' is coming back.")
    assert not shown_on("2,500", "Iraq", "Iraq hosts 12,500 US troops.")
    assert not shown_on("Iran", "Iranian lawmakers", "They met in Tehran.")
    assert shown_on("Barack Obama", "Carter dies", "He was President Barack Obama’s last.")
    assert not shown_on("—", "Iraq", "—")


def test_an_abbreviation_matches_with_or_without_its_dots() -> None:
    """Dots are punctuation: the answer "US" is shown by "U.S." and the other way round,
    and a letter of an abbreviation never joins the word beside it."""
    assert shown_on("US", "Troops", "About 2,500 U.S. troops remain in Iraq.")
    assert shown_on("U.S. Open", "Tennis", "She won the US Open in 2018.")
    assert shown_on("Washington, D.C.", "Protest", "Thousands marched in Washington DC on Sunday.")
    assert not shown_on("US", "Troops", "The U.S.S.R. sent troops.")
    assert not shown_on("DC", "Comics", "She wrote for D.C.B. Press.")


def test_eval_reports_answer_shown_on_the_seeds(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"question": "How many US troops are in Iraq?", "gold_id": "x", "answer": "2,500"},
        {"question": "How many Iraqis returned from Al-Hol?", "gold_id": "y", "answer": "19,000"},
        {"question": "Who won the chess final?", "gold_id": "z", "answer": "Magnus Carlsen"},
    ]
    questions.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db", seeds=ROOT / "seeds"))
    try:
        report = evaluate(desk, load_questions(questions))
    finally:
        desk.close()
    assert (report.n, report.with_answer, report.shown_top, report.shown_top5) == (3, 3, 2, 2)
    assert "| answer shown (top card) | 0.667 |" in report.table()
