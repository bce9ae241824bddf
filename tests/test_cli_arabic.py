"""Arabic through the command line: Arabic articles answer Arabic questions end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import ROOT, newsbot

ARABIC = ROOT / "tests" / "fixtures" / "arabic" / "articles.jsonl"
SEEDS = ROOT / "seeds"


@pytest.fixture
def arabic_db(tmp_path: Path) -> Path:
    db = tmp_path / "news.db"
    run = newsbot(db, "ingest", str(ARABIC))
    assert run.returncode == 0, run.stderr
    return db


@pytest.fixture
def mixed_db(tmp_path: Path) -> Path:
    db = tmp_path / "news.db"
    run = newsbot(db, "ingest", str(SEEDS), str(ARABIC))
    assert run.returncode == 0, run.stderr
    return db


def ask_many(db: Path, questions: list[str]) -> list[dict[str, Any]]:
    stdin = "\n".join(json.dumps({"question": q}) for q in questions)
    run = newsbot(db, "ask", "--json", stdin=stdin)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert [a["question"] for a in answers] == questions
    return answers


def test_arabic_questions_find_their_arabic_articles(arabic_db: Path) -> None:
    cases = {
        "متى افتتح مترو الرياض؟": ("ar-metro", "افتتحت"),
        "كم عدد محطات المترو؟": ("ar-metro", "٨٥ محطة"),
        "من سجل أهداف المنتخب السعودي ضد الأرجنتين؟": ("ar-football", "صالح الشهري"),
        "لماذا أغلقت الطرق في جدة؟": ("ar-rain", "إغلاق عدد من الطرق"),
        # Latin digits find Arabic-Indic ones, a plain word finds its diacritised form.
        "كم ارتفع سعر القهوة في 2024": ("ar-coffee", "٢٠٢٤"),
    }
    answers = ask_many(arabic_db, list(cases))
    for answer, (article_id, shown) in zip(answers, cases.values(), strict=True):
        assert answer["found"] is True, answer["question"]
        best = answer["results"][0]
        assert best["article_id"] == article_id, answer["question"]
        assert shown in best["excerpt"], (answer["question"], best["excerpt"])


def test_an_arabic_excerpt_is_whole_sentences(arabic_db: Path) -> None:
    [answer] = ask_many(arabic_db, ["كم مليون راكب ينقل المترو يوميا؟"])
    excerpt = answer["results"][0]["excerpt"]
    assert "٣٫٦ مليون راكب" in excerpt
    assert excerpt.endswith(("؟", ".", "،", "؛")), excerpt
    assert not excerpt.startswith("…"), excerpt


def test_typos_in_arabic_words_are_corrected(arabic_db: Path) -> None:
    [answer] = ask_many(arabic_db, ["اسعار القهوه في الاسواق العالميه"])
    assert answer["found"] is True
    assert answer["results"][0]["article_id"] == "ar-coffee"
    [answer] = ask_many(arabic_db, ["الدوسرى والشهرى"])  # alef maqsura for ya
    assert answer["results"][0]["article_id"] == "ar-football"
    [answer] = ask_many(arabic_db, ["مترو الرياص"])  # one letter wrong
    assert answer["results"][0]["article_id"] == "ar-metro"


def test_a_mixed_store_answers_each_language_from_its_own_articles(mixed_db: Path) -> None:
    arabic, english, only_english = ask_many(
        mixed_db,
        [
            "من سجل أهداف المنتخب السعودي ضد الأرجنتين؟",
            "How many US troops are in Iraq?",
            "كم عدد US troops في Iraq؟",  # an Arabic question only English articles answer
        ],
    )
    assert arabic["found"] is True
    assert arabic["results"][0]["article_id"] == "ar-football"
    assert english["found"] is True
    assert "2,500" in english["results"][0]["excerpt"]
    assert only_english["found"] is True
    assert only_english["results"][0]["headline"] == english["results"][0]["headline"]


def test_bad_arabic_input_gets_a_safe_answer(arabic_db: Path) -> None:
    hostile = [
        "ًٌٍَُِّْ",  # diacritics only
        "؟؟؟ ، ؛ ... !!!",  # punctuation only
        "ـــــ",  # tatweel only
        "مترو 🚇🚇 الرياض 🇸🇦",  # emoji
        "مترو Riyadh metro الرياض",  # mixed scripts
        "\u202eمترو الرياض\u202c \u2067جدة\u2069 \u200f\u200e",  # bidi overrides and marks
        "مترو الرياض " * 800,  # very long
        "٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹",  # digits only
        "ﻻ ﷺ ﷲ",  # presentation forms and ligatures
    ]
    answers = ask_many(arabic_db, hostile)
    for answer in answers[:3]:
        assert answer["found"] is False
        assert answer["results"] == []
    for answer in answers[3:]:
        assert isinstance(answer["found"], bool)
        for result in answer["results"]:
            assert len(result["excerpt"]) <= 520
    assert answers[3]["results"][0]["article_id"] == "ar-metro"
    assert answers[4]["results"][0]["article_id"] == "ar-metro"
    assert answers[5]["results"][0]["article_id"] == "ar-metro"


def test_text_output_of_an_arabic_answer(arabic_db: Path) -> None:
    run = newsbot(arabic_db, "ask", "أمطار جدة")
    assert run.returncode == 0, run.stderr
    assert "أمطار غزيرة تغلق طرقاً في جدة" in run.stdout
