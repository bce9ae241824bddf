"""Follow-up detection: which questions lean on the one before (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.followup import leans_on_previous, within


@pytest.mark.parametrize(
    "question",
    [
        "and in Syria?",
        "And Turkey?",
        "who else was there?",
        "when?",
        "Why?",
        "how many died?",
        "what about Lebanon?",
        "What did he say?",
        "where is it?",
        "who's she?",
        "but why now?",
        "and the other camp?",
        "how many people still live there?",
        "what did his wife say about it?",
        "what happened that day?",  # "that day": a day said before
    ],
)
def test_short_questions_that_point_back_lean_on_the_previous_one(question: str) -> None:
    assert leans_on_previous(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who visited Iraq?",
        "Al-Hol camp",
        "Iraq football",
        "How many US troops are in Iraq?",
        "Are there US troops in Iraq?",  # "there" is existential, not a place
        "Is there a ceasefire in Gaza?",
        "Grindavik volcano lava",
        "are they closing the Al-Hol camp?",  # a pronoun, but it names what it is about
        "how much did Trump's PAC pay his lawyer",
        "Protests in Iran this week",  # "this week" is now, not something said before
        "oil prices this month",
        "Which wildly popular show was recently green lit for a new season and what is it?",
        "and " + "word " * 10,  # too long to be a follow-up
        "",
        "🙂",
    ],
)
def test_questions_that_stand_alone_do_not(question: str) -> None:
    assert not leans_on_previous(question)


def test_within_the_window_only_after_the_previous_card() -> None:
    then = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    window = timedelta(minutes=10)
    assert within(then, then + timedelta(minutes=10), window)
    assert not within(then, then + timedelta(minutes=10, seconds=1), window)
    assert not within(then, then - timedelta(seconds=1), window)  # a clock that went back


def test_the_labelled_follow_ups_hold_ids_and_questions_only() -> None:
    """benchmarks/data/followups.jsonl (see docs/benchmarks.md): no article text in it."""
    path = Path(__file__).parent.parent / "benchmarks" / "data" / "followups.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(items) >= 60
    for item in items:
        assert set(item) in ({"first_qid", "followup", "gold_id"}, {"first", "followup", "gold_id"})
        assert len(item["followup"]) <= 60 and len(item.get("first", "")) <= 60


@pytest.mark.parametrize(
    "question",
    [
        "وفي سوريا؟",  # and in Syria?
        "ومتى؟",  # and when?
        "و متى؟",
        "من غيره؟",  # who else?
        "من غيره كان هناك؟",  # who else was there?
        "متى؟",
        "لماذا؟",
        "ولماذا أممها؟",  # and why did he nationalise it?
        "وماذا عن تركيا؟",  # and what about Turkey?
        "ماذا عن لبنان؟",
        "كم عدد سكانها؟",  # how many people live there ("its people")?
        "ما أشهر رواياته؟",  # his best-known novels?
        "متى توفي؟",  # when did [he] die? (the verb carries its subject)
        "أين ولدت؟",
        "ماذا حدث فيها؟",  # what happened in it?
        "ماذا قال هو؟",  # what did he say?
        "متى حدث ذلك؟",  # when did that happen?
        "ماذا حدث في ذلك اليوم؟",  # "that day": a day said before
        "من هو؟",
        "وَمَتَى؟",  # diacritics
    ],
)
def test_arabic_follow_ups_lean_on_the_previous_question(question: str) -> None:
    assert leans_on_previous(question)


@pytest.mark.parametrize(
    "question",
    [
        "من هو جمال خاشقجي؟",  # "هو" after a question word is "is", not "he"
        "ما هي البيتكوين؟",  # one word, with the article: it names its subject
        "ما هو الأسد؟",
        "ما هي عاصمة الكويت؟",
        "متى ولد زين الدين زيدان؟",
        "أين تقع المملكة العربية السعودية في آسيا؟",
        "ما هي العلوم التي اشتهر بها الشافعي؟",  # "بها" refers to "العلوم", inside the question
        "ما العضو الذي يهاجمه السل؟",
        "ما هو الاسم الآخر للموناليزا؟",  # "the other name": another noun of its own
        "متى واجه النادي الأهلي الإفلاس؟",  # "واجه" (faced) ends in a root ه, not a pronoun
        "أسعار النفط هذا الشهر",  # "هذا الشهر": this month, now
        "الثوره الفرنسيه",  # ة written as ه, with the article: no pronoun
        "ومن " + "كلمة " * 10,  # too long to be a follow-up
        "؟؟",
    ],
)
def test_arabic_questions_that_stand_alone_do_not(question: str) -> None:
    assert not leans_on_previous(question)


def test_the_arabic_follow_ups_hold_ids_and_questions_only() -> None:
    """benchmarks/data/followups_ar.jsonl: ARCD question ids, Arabic follow-ups, gold ids."""
    path = Path(__file__).parent.parent / "benchmarks" / "data" / "followups_ar.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(items) >= 40
    for item in items:
        assert set(item) == {"first_qid", "followup", "gold_id"}
        assert item["gold_id"].startswith("arcd-") and len(item["followup"]) <= 40
        assert leans_on_previous(item["followup"])
