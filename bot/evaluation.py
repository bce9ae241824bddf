"""Answer quality on a labelled questions file: article@1, article@5, MRR, answer shown, latency."""

from __future__ import annotations

import json
import random
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bot import arabic
from bot.errors import SourceError
from bot.lang import has_arabic
from bot.models import Result
from bot.service import NewsDesk, end_of_day

_WORD = re.compile(r"[^\W\d_]{3,}")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
# A possessive is the name it belongs to: "Obama’s" shows the answer "Obama".
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019\u02bc]s\b")
# An abbreviation's dots are punctuation: "U.S." is "US", "a.m." is "am" (single letters only,
# so "Mr.Smith" and "x.com" keep their words apart).
_DOTTED = re.compile(r"\b[^\W\d_](?:\.[^\W\d_])+\b\.?")
_NOT_WORD = re.compile(r"[^\w$%.]+|(?<!\d)\.|\.(?!\d)")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an) ")
# Cards the "answer shown in the top cards" figure looks at.
TOP_CARDS = 5
# A typo in an Arabic word is made with Arabic letters.
_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويءأإآةى"


class LabelledQuestion(BaseModel):
    """One line of a questions file such as newsqa's dev.jsonl."""

    question: str
    gold_id: str
    as_of: str | None = None
    qid: str | None = None
    answer: str | None = None


def normalise_answer(text: str) -> str:
    """Fold a text for answer matching: case, quotes, punctuation, thousands separators, articles.

    "“The Tony Awards”" -> "tony awards"; "19,000" -> "19000"; "U.S." -> "us"; "$5.02" stays
    "$5.02" (a decimal point is part of the number; other dots and punctuation become
    spaces). Arabic is normalised as `bot.arabic.normalize` does ("عموداً" -> "عمودا",
    "٢٠١٧" -> "2017").
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if has_arabic(folded):  # diacritics, tatweel, alef forms and digits, as the index reads them
        folded = arabic.normalize(folded)
    folded = _APOSTROPHES.sub("", _POSSESSIVE.sub("", _THOUSANDS.sub("", folded)))
    folded = _DOTTED.sub(lambda match: match.group().replace(".", ""), folded)
    folded = " ".join(_NOT_WORD.sub(" ", folded).split())
    return _LEADING_ARTICLE.sub("", folded)


def answer_shown(answer: str, card: Result) -> bool:
    """Whether a card (its headline and excerpt, as the user reads them) contains `answer`.

    Matched on whole words after `normalise_answer`; an answer that folds to nothing (say
    "—") is never shown.
    """
    wanted = normalise_answer(answer)
    if not wanted:
        return False
    shown = normalise_answer(f"{card.headline}. {card.excerpt}")
    return f" {wanted} " in f" {shown} "


def load_questions(path: Path) -> list[LabelledQuestion]:
    """Read a JSON-lines questions file; a bad line is an error naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(LabelledQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            reason = str(exc).splitlines()[0]
            raise SourceError(f"{path}:{number}: not a labelled question: {reason}") from None
    return questions


def add_typos(text: str, rate: float, rng: random.Random) -> str:
    """Edit one character (swap, drop, insert or replace) in about `rate` of the words.

    Inserted and replacing letters are of the word's script (Latin or Arabic).
    """

    def edit(match: re.Match[str]) -> str:
        word = match.group()
        if rng.random() >= rate:
            return word
        i = rng.randrange(len(word) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if kind == 1:
            return word[:i] + word[i + 1 :]
        letters = _ARABIC_LETTERS if has_arabic(word) else _LETTERS
        if kind == 2:
            return word[:i] + rng.choice(letters) + word[i:]
        return word[:i] + rng.choice(letters.replace(word[i].lower(), "")) + word[i + 1 :]

    return _WORD.sub(edit, text)


@dataclass
class EvalReport:
    """Scores over `n` questions; latencies in milliseconds."""

    n: int = 0
    at1: int = 0
    at5: int = 0
    reciprocal_ranks: float = 0.0
    found: int = 0
    with_answer: int = 0
    shown_top: int = 0
    shown_top5: int = 0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def table(self) -> str:
        n = max(self.n, 1)
        rows = [
            ("questions", f"{self.n}"),
            ("article@1", f"{self.at1 / n:.3f}"),
            ("article@5", f"{self.at5 / n:.3f}"),
            ("MRR", f"{self.reciprocal_ranks / n:.3f}"),
            ("found", f"{self.found / n:.3f}"),
        ]
        if self.with_answer:
            labelled = self.with_answer
            rows += [
                ("answer shown (top card)", f"{self.shown_top / labelled:.3f}"),
                (f"answer shown (top {TOP_CARDS} cards)", f"{self.shown_top5 / labelled:.3f}"),
            ]
        rows += [
            ("latency p50 ms", f"{self.percentile(50):.2f}"),
            ("latency p95 ms", f"{self.percentile(95):.2f}"),
            ("latency p99 ms", f"{self.percentile(99):.2f}"),
        ]
        return "\n".join(["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def evaluate(
    desk: NewsDesk,
    questions: list[LabelledQuestion],
    *,
    typos: float = 0.0,
    dates: bool = True,
    seed: int = 13,
) -> EvalReport:
    """Ask every question (as of its date unless `dates` is False) and score the answers.

    Each question gets a whole answer (ranking, store reads, excerpts: what a user waits
    for), whose latency is recorded; questions labelled with an `answer` also count whether
    the top card, and any of the top TOP_CARDS cards, shows it.
    """
    rng = random.Random(seed)
    report = EvalReport()
    for item in questions:
        question = add_typos(item.question, typos, rng) if typos else item.question
        as_of = end_of_day(date.fromisoformat(item.as_of)) if dates and item.as_of else None
        started = time.perf_counter()
        answer = desk.ask(question, as_of=as_of, top=TOP_CARDS)
        report.latencies.append((time.perf_counter() - started) * 1000)
        ranked = [result.article_id for result in answer.results]
        report.n += 1
        report.found += answer.found
        if item.answer:
            shown = [answer_shown(item.answer, card) for card in answer.results]
            report.with_answer += 1
            report.shown_top += bool(shown) and shown[0]
            report.shown_top5 += any(shown)
        if item.gold_id in ranked:
            rank = ranked.index(item.gold_id) + 1
            report.at1 += rank == 1
            report.at5 += rank <= 5
            report.reciprocal_ranks += 1 / rank
    return report
