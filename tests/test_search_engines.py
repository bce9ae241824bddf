"""Both search engines behind `bot.search_engine` keep one contract, on real index folders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Article
from bot.search_engine import EngineName, SearchEngine, open_engine
from bot.tantivy_index import TantivyRetriever

JUNE_30 = datetime(2022, 6, 30, tzinfo=UTC)
ENGINES: tuple[EngineName, ...] = ("tantivy", "own")


def _article(key: str, headline: str, body: str, day: int | None) -> Article:
    published = datetime(2022, 6, day, 12, tzinfo=UTC) if day else None
    return Article(id=key, headline=headline, body=[body], published=published)


ARTICLES = [
    _article(
        "ferry",
        "Harbour town gets a new ferry",
        "The council of Portwen bought an electric ferry that crosses the estuary twice a day.",
        3,
    ),
    _article(
        "storm",
        "Storm closes the estuary crossing",
        "Gales kept the Portwen ferry in harbour on Friday; the crossing reopens on Monday.",
        20,
    ),
    _article(
        "budget",
        "Council budget approved",
        "Councillors approved a budget for schools and roads after a long debate.",
        None,
    ),
    _article(
        "souq",
        "افتتاح سوق جديد في بغداد",
        "افتتحت أمانة بغداد سوقا جديدا للخضار في حي الكرادة يوم الجمعة.",
        10,
    ),
]
# The same id again, rewritten: it replaces the first version.
REWRITTEN = _article(
    "budget",
    "Council budget approved after debate",
    "Councillors approved spending on schools, roads and the library after a debate.",
    None,
)


def _engine(name: EngineName, folder: Path) -> SearchEngine:
    engine = open_engine(name, folder)
    engine.add(ARTICLES)
    engine.add([REWRITTEN])
    engine.save(7)
    return engine


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> SearchEngine:
    return _engine(request.param, tmp_path / "index")


def _ids(engine: SearchEngine, question: str, as_of: datetime = JUNE_30) -> list[str]:
    return [hit.article_id for hit in engine.search(question, as_of=as_of).hits]


def test_finds_the_article_and_says_found(engine: SearchEngine) -> None:
    search = engine.search("electric ferry estuary", as_of=JUNE_30)
    assert search.found
    assert search.hits[0].article_id == "ferry"
    assert search.hits[0].passage == 0
    assert set(search.hits[0].terms) == {"electr", "ferri", "estuari"}


@pytest.mark.parametrize("question", ["Portwen ferry", "estaury gales", "council budget"])
def test_a_ranking_explains_any_of_its_articles_as_search_does(
    engine: SearchEngine, question: str
) -> None:
    search = engine.search(question, as_of=JUNE_30, limit=3)
    ranking = engine.rank(question, as_of=JUNE_30, limit=3)
    assert list(ranking.article_ids) == [hit.article_id for hit in search.hits]
    assert (ranking.found, ranking.terms, ranking.corrections) == (
        search.found,
        search.terms,
        search.corrections,
    )
    # Explained in any order, alone or with others: each hit as the whole search has it.
    chosen = list(reversed(ranking.article_ids))
    assert ranking.search(chosen).hits == list(reversed(search.hits))
    assert ranking.search(chosen[:1]).hits == search.hits[-1:]
    assert ranking.search() == search


def test_as_of_leaves_later_articles_out(engine: SearchEngine) -> None:
    assert _ids(engine, "Portwen ferry", datetime(2022, 6, 10, tzinfo=UTC)) == ["ferry"]


def test_misspelled_word_is_corrected(engine: SearchEngine) -> None:
    search = engine.search("estaury gales", as_of=JUNE_30)
    assert search.corrections == {"estaury": "estuary"}
    assert search.hits[0].article_id == "storm"


def test_readded_article_replaces_the_old_one(engine: SearchEngine) -> None:
    assert _ids(engine, "budget library") == ["budget"]  # once, and its new text
    assert len(engine) == 4
    assert "budget" in engine


def test_unknown_question_is_not_found(engine: SearchEngine) -> None:
    assert not engine.search("volcano eruption Iceland", as_of=JUNE_30).found


def test_arabic_question_finds_the_arabic_article(engine: SearchEngine) -> None:
    search = engine.search("سوق الخضار في الكرادة", as_of=JUNE_30)
    assert search.found
    assert search.hits[0].article_id == "souq"


@pytest.mark.parametrize("name", ENGINES)
def test_a_removed_article_never_comes_back(name: EngineName, tmp_path: Path) -> None:
    engine = _engine(name, tmp_path)
    assert engine.remove(["storm", "nonexistent"]) == 1
    engine.save(8)
    assert "storm" not in _ids(engine, "Portwen ferry gales")
    reopened = open_engine(name, tmp_path)
    assert reopened.generation == 8
    assert len(reopened) == 3
    assert "storm" not in reopened
    assert _ids(reopened, "Portwen ferry gales") == ["ferry"]


@pytest.mark.parametrize("name", ENGINES)
def test_a_saved_index_reopens_with_its_generation(name: EngineName, tmp_path: Path) -> None:
    first = _engine(name, tmp_path)
    first.close()
    again = open_engine(name, tmp_path)
    assert again.generation == 7
    assert _ids(again, "electric ferry estuary")[0] == "ferry"


def test_both_engines_rank_alike(tmp_path: Path) -> None:
    # English only: on a store mixing languages, "own" weighs a word among the passages of
    # its language, tantivy among all of them.
    engines = []
    for name in ENGINES:
        engine = open_engine(name, tmp_path / name)
        engine.add([*ARTICLES[:3], REWRITTEN])
        engine.save(1)
        engines.append(engine)
    for question in ("ferry", "council schools roads", "harbour crossing Friday"):
        tantivy, own = (engine.search(question, as_of=JUNE_30) for engine in engines)
        assert [h.article_id for h in tantivy.hits] == [h.article_id for h in own.hits]
        assert [h.passage for h in tantivy.hits] == [h.passage for h in own.hits]
        assert tantivy.found == own.found
        # tantivy counts a replaced passage in document frequencies until a merge drops it.
        assert [h.score for h in tantivy.hits] == pytest.approx(
            [h.score for h in own.hits], abs=0.03
        )


def test_both_engines_rank_an_arabic_store_alike(tmp_path: Path) -> None:
    # The headline as a field of its own (bot.retrieval.HEADLINE_WEIGHT) in both: the page
    # titled "lion" first for "what is the lion?", the profile of Bashar al-Assad for his birth.
    articles = [
        _article("lion", "أسد", "الأسد حيوان مفترس من فصيلة السنوريات يعيش في أفريقيا.", 1),
        _article(
            "assad",
            "بشار الأسد",
            "بشار الأسد رئيس سوريا منذ عام ألفين، ولد في دمشق ودرس طب العيون في لندن، وخلف "
            "والده حافظ الأسد بعد وفاته.",
            2,
        ),
        *(
            _article(f"town-{n}", town, f"{town} مدينة فيها سوق قديم وميناء ومدارس.", 3)
            for n, town in enumerate(("حلب", "حمص", "اللاذقية", "طرطوس"))
        ),
        # "لحلب" (for Aleppo) is read as the title "حلب" too (bot.retrieval.title_readings).
        _article("trade", "تجارة", "يبيع التجار بضائع لحلب وللاذقية، ويشترون من أسواق دمشق.", 4),
    ]
    engines = []
    for name in ENGINES:
        engine = open_engine(name, tmp_path / name)
        engine.add(articles)
        engine.save(1)
        engines.append(engine)
    for question, first in (
        ("ما هو الأسد؟", "lion"),
        ("متى ولد بشار الأسد؟", "assad"),
        ("ما هي أسواق لحلب؟", "trade"),
    ):
        tantivy, own = (engine.search(question, as_of=JUNE_30) for engine in engines)
        assert [h.article_id for h in tantivy.hits] == [h.article_id for h in own.hits]
        assert own.hits[0].article_id == first
        assert tantivy.terms == own.terms
        assert [h.score for h in tantivy.hits] == pytest.approx(
            [h.score for h in own.hits], abs=0.03
        )
    assert "حلب" in own.terms  # "لحلب" read as the title's word too (Snowball keeps the "ل")


def test_idf_counts_articles_added_but_not_yet_saved(tmp_path: Path) -> None:
    engine = open_engine("tantivy", tmp_path)
    engine.add(ARTICLES[:2])
    idf = engine.idf(["ferri", "gale"])
    assert idf["gale"] > idf["ferri"] > 0  # "ferri" is in both, "gale" in one


def test_the_writer_is_given_back_on_save(tmp_path: Path) -> None:
    bot = _engine("tantivy", tmp_path)
    ingest = open_engine("tantivy", tmp_path)  # say `newsbot ingest` beside the running bot
    ingest.add([_article("late", "Late ferry news", "A second ferry arrives.", 25)])
    ingest.save(8)
    assert "late" not in bot  # the bot's reader is what it opened
    assert "late" in open_engine("tantivy", tmp_path)
    bot.add([_article("later", "Ferry timetable", "New ferry times from July.", 26)])
    bot.save(9)
    assert {"late", "later"} <= {hit.article_id for hit in bot.search("ferry").hits}


def test_close_drops_what_was_not_saved(tmp_path: Path) -> None:
    engine = _engine("tantivy", tmp_path)
    engine.add([_article("ghost", "Ghost ferry", "Rolled back with the store.", 25)])
    engine.close()
    reopened = open_engine("tantivy", tmp_path)
    assert "ghost" not in reopened
    assert reopened.generation == 7


def test_a_large_add_commits_as_it_goes_and_is_unsaved_until_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.tantivy_index.COMMIT_PASSAGES", 2)
    engine = open_engine("tantivy", tmp_path)
    engine.save(1)
    engine.add(ARTICLES)
    assert open_engine("tantivy", tmp_path).generation is None  # a rollback would be seen
    engine.save(2)
    reopened = open_engine("tantivy", tmp_path)
    assert reopened.generation == 2
    assert isinstance(reopened, TantivyRetriever)
    assert len(reopened) == 4


_FILLER = [
    "Markets rose on Tuesday as traders weighed fresh figures on inflation, wages and retail "
    "sales, while bond yields eased and the currency held steady against its main rivals in a "
    "quiet session before the central bank's meeting next week, analysts said in notes.",
    "A marathon drew thousands of runners through the old city on Sunday morning, with road "
    "closures lasting until the afternoon and volunteers handing out water at every mile, and "
    "organisers said the event raised money for the children's hospital and local schools.",
    "The museum reopened its east wing after a two-year restoration of the painted ceilings, "
    "gilded frames and tiled floors, and curators said visitors could now see works that had "
    "been kept in storage since the flood damaged the basement galleries and archives.",
    "Farmers in the valley began the grape harvest early after a hot, dry summer, and "
    "winemakers expect a smaller but richer vintage, with picking crews working at dawn to keep "
    "the fruit cool before it reaches the presses in the cooperative cellars nearby.",
    "A new bus timetable starts next month with more evening services on the coastal route, "
    "fewer stops in the industrial estate and a night bus on weekends, after a survey of "
    "commuters showed demand for later trips home from the theatres and restaurants.",
    "Scientists tagged sharks off the northern reef to follow their migration across the "
    "ocean, fitting small satellite transmitters to their fins, and the first signals show the "
    "animals travelling thousands of kilometres in a few weeks toward warmer waters.",
]


_KEEPER_ITEM = (  # a roundup's one item about the keeper, told at length
    "The Portwen lighthouse keeper retires: after forty years the lighthouse keeper of "
    "Portwen hands the lighthouse keys to the coastguard, and the keeper retires to a "
    "cottage by the lighthouse, with nothing more said of the keeper in this roundup."
)


def _first_two(name: EngineName, folder: Path, roundup: Article) -> list[str]:
    """The first two answers to the keeper question from `roundup`, the report of the
    keeper's retirement and sixty weather notes: many other articles make an article's id
    a rare term, as in a real archive (were it scored, it would lift the roundup's second
    passage above the aside threshold)."""
    story = _article(
        "story",
        "Keeper leaves Portwen light",
        "The keeper of the Portwen lighthouse retires this summer, the harbour board said; a "
        "new automatic lamp will replace the old one and the keeper's house will be sold.",
        27,
    )
    others = [
        _article(f"note{i}", f"Weather note {i}", _FILLER[i % 6], 1 + i % 20) for i in range(60)
    ]
    engine = open_engine(name, folder)
    engine.add([roundup, story, *others])
    engine.save(1)
    return _ids(engine, "Portwen lighthouse keeper retires")[:2]


@pytest.mark.parametrize("name", ENGINES)
def test_an_aside_in_a_roundup_ranks_below_the_story(name: EngineName, tmp_path: Path) -> None:
    # The roundup's one lighthouse item outscores the story, but it is the roundup's only
    # strong match (its second passage, "... its lighthouse shone", scores under 0.3 of it).
    roundup = Article(
        id="roundup",
        headline="Five things to know today",
        body=[
            _FILLER[0],
            _FILLER[1] + " Portwen harbour was calm and its lighthouse shone.",
            _KEEPER_ITEM,
            *_FILLER[2:],
        ],
        published=datetime(2022, 6, 28, 12, tzinfo=UTC),
    )
    assert _first_two(name, tmp_path, roundup) == ["story", "roundup"]


def test_both_engines_rank_by_the_sentence_that_holds_the_question(tmp_path: Path) -> None:
    # Asia's page holds "أكبر قارة في الأرض" in one sentence; Europe's holds the words more
    # often, apart (bot.retrieval.SENTENCE_WEIGHT).
    articles = [
        _article(
            "asia",
            "آسيا",
            "آسيا أكبر قارة في الأرض وأكثرها سكانا. تقع آسيا شرق أوروبا، وتغطي جزءا كبيرا "
            "من نصف الكرة الشمالي.",
            1,
        ),
        _article(
            "europe",
            "أوروبا",
            "أوروبا قارة في نصف الكرة الشمالي. صار اسم القارة جغرافيا، ويشمل أيضا الثقافة "
            "والسياسة. أوروبا أكبر مصدر للسياح. تمتد القارة على جزء من الأرض الممتد غربا.",
            1,
        ),
        *(
            _article(f"city-{n}", city, f"{city} مدينة عربية كبيرة على ساحل البحر.", 1)
            for n, city in enumerate(("القاهرة", "بيروت", "تونس"))
        ),
    ]
    results = []
    for name in ENGINES:
        engine = open_engine(name, tmp_path / name)
        engine.add(articles)
        engine.save(1)
        results.append(engine.search("ما اكبر قارة فى الارض؟", as_of=JUNE_30))
        engine.close()
    tantivy, own = results
    assert [h.article_id for h in tantivy.hits] == [h.article_id for h in own.hits]
    assert own.hits[0].article_id == "asia"


@pytest.mark.parametrize("name", ENGINES)
def test_an_aside_is_found_when_the_roundups_headline_names_it(
    name: EngineName, tmp_path: Path
) -> None:
    # The roundup's headline names the item, and a headline's words count in every passage:
    # on full scores each of its passages matches "Portwen lighthouse keeper" (6.1 against the
    # item's 15.5, over 0.3 of it), so the item did not read as an aside and the roundup
    # ranked first. On their own text only the item matches.
    roundup = Article(
        id="roundup",
        headline="Portwen lighthouse keeper and four other things to know today",
        body=[_FILLER[0], _FILLER[1], _KEEPER_ITEM, *_FILLER[2:]],
        published=datetime(2022, 6, 28, 12, tzinfo=UTC),
    )
    assert _first_two(name, tmp_path, roundup) == ["story", "roundup"]


def _harbour_archive(folder: Path) -> TantivyRetriever:
    """Forty articles about the harbour ferry over June, some long with the ferry in one
    passage only (an aside), some about it throughout."""
    articles = []
    for n in range(40):
        day = 1 + n % 29
        if n % 3:
            body = [f"The Portwen ferry crossed the estuary {n} times; the ferry pier was busy."]
        else:  # a roundup: the ferry in its third passage only
            body = [*_FILLER[:2], f"Portwen ferry item {n}: the ferry runs late.", *_FILLER[2:]]
        published = datetime(2022, 6, day, 12, tzinfo=UTC)
        articles.append(Article(id=f"a{n}", headline=f"Note {n}", body=body, published=published))
    engine = open_engine("tantivy", folder)
    engine.add(articles)
    engine.save(1)
    assert isinstance(engine, TantivyRetriever)
    return engine


def _searches(engine: TantivyRetriever, question: str) -> list[list[tuple[str, int, float]]]:
    """The question's hits (article, passage, confidence) as of each day of June."""
    found = []
    for day in range(1, 31):
        as_of = datetime(2022, 6, day, 23, tzinfo=UTC)
        hits = engine.search(question, as_of=as_of, limit=10).hits
        found.append([(hit.article_id, hit.passage, hit.score) for hit in hits])
    return found


def test_the_search_up_to_a_date_finds_what_a_date_filter_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A question asked as of a past day reads the best passages of any date and keeps those
    # up to the day (bot.tantivy_index.WIDER); when too few are left it searches with the
    # date filter. Few candidates take both ways over June; the filter alone must agree.
    engine = _harbour_archive(tmp_path)
    engine.candidate_passages = 4
    wide = _searches(engine, "Portwen ferry estuary")
    monkeypatch.setattr("bot.tantivy_index.WIDEST", 0)  # the date filter every time
    assert _searches(engine, "Portwen ferry estuary") == wide
    assert {hits[0][0] for hits in wide[5:]} != {wide[5][0][0]}  # the answer follows the day


def test_the_window_of_recent_days_finds_what_a_date_filter_finds(tmp_path: Path) -> None:
    # The search of the last FADE_DAYS reads the passages of the days it touches by their
    # indexed day and drops those outside the window (bot.tantivy_index.`_window`); with few
    # candidates it must read more, and at any hour it finds what a filter on the exact
    # publication time finds, in the same order.
    articles = [
        Article(
            id=f"p{n}",
            headline=f"Pier {n}",
            body=[f"The Portwen ferry pier report {n}: the ferry crossed the estuary."],
            published=datetime(2022, 5, 1, tzinfo=UTC) + timedelta(hours=29 * n),
        )
        for n in range(80)
    ]
    articles.append(Article(id="undated", headline="Pier", body=["The Portwen ferry pier."]))
    engine = open_engine("tantivy", tmp_path)
    engine.add(articles)
    engine.save(1)
    assert isinstance(engine, TantivyRetriever)
    engine.candidate_passages = 3
    words = engine._words_query(["portwen", "ferri", "pier"], [1.0, 1.0, 1.0])
    start = int(datetime(2022, 5, 20, tzinfo=UTC).timestamp())
    checked = 0
    for step in range(0, 40 * 24, 7):  # every seventh hour for forty days
        high = start + step * 3600
        low = high - 30 * 86_400
        filtered = engine._searcher.search(engine._dated(words, low, high), 3, count=False)
        expected = [(score, (a.segment_ord, a.doc)) for score, a in filtered.hits]
        found = [(score, (a.segment_ord, a.doc)) for score, a in engine._window(words, low, high)]
        assert found == expected
        checked += bool(expected)
    assert checked > 100


def test_the_aside_test_reads_every_leading_article_in_one_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One search returns the matching passages of all the leading articles; when more
    # match than it asked for, it asks again for all of them: the answers are the same.
    engine = _harbour_archive(tmp_path)
    roomy = _searches(engine, "Portwen ferry late")
    monkeypatch.setattr("bot.tantivy_index.ASIDE_HITS", 2)
    assert _searches(engine, "Portwen ferry late") == roomy
    # The roundups (a0, a3, ...) hold the ferry in one passage: asides, discounted.
    monkeypatch.setattr("bot.tantivy_index.ASIDE", 1.0)
    assert _searches(engine, "Portwen ferry late") != roomy


def _andalus_store() -> list[Article]:
    # The United Nations' page holds "دولة", "مستقلة" and "تأسست" together, and often; the
    # page titled "الأندلس" answers, in other words. Pages of other places pad the store.
    return [
        _article(
            "andalus",
            "الأندلس",
            "الأندلس اسم أطلقه العرب على شبه الجزيرة الإيبيرية. كانت الأندلس في بدايتها "
            "ولاية تابعة لدولة الخلافة في دمشق، ثم صارت إمارة مستقلة.",
            1,
        ),
        _article(
            "un",
            "الأمم المتحدة",
            "الأمم المتحدة منظمة تأسست عام 1945. كل دولة مستقلة يمكن أن تنضم إليها، وقد "
            "تأسست لتحفظ السلام بين كل دولة مستقلة وأخرى بعد تأسيسها.",
            2,
        ),
        *(
            _article(f"place-{n}", place, f"{place} مدينة فيها سوق قديم وميناء ومدارس.", 3)
            for n, place in enumerate(("حلب", "حمص", "اللاذقية", "طرطوس", "صيدا"))
        ),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_arabic_question_naming_a_title_prefers_articles_that_mention_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: EngineName
) -> None:
    # "Was the state of al-Andalus independent after its founding?" names the title
    # "الأندلس" whole: the UN's page, which never mentions it, falls behind (see
    # bot.retrieval.SUBJECT_CANDIDATES); without the rule it comes first.
    searcher = open_engine(engine, tmp_path)
    searcher.add(_andalus_store())
    searcher.save(1)
    question = "هل كانت دولة الأندلس مستقلة إثر تأسسها؟"
    assert [h.article_id for h in searcher.search(question, as_of=JUNE_30).hits[:2]] == [
        "andalus",
        "un",
    ]
    for module in ("bot.retrieval", "bot.tantivy_index"):
        monkeypatch.setattr(f"{module}.SUBJECT_CANDIDATES", 0)
    assert searcher.search(question, as_of=JUNE_30).hits[0].article_id == "un"
    # A question naming no title whole is ranked as before.
    monkeypatch.undo()
    assert searcher.search("هل كانت الدولة مستقلة؟", as_of=JUNE_30).hits[0].article_id == "un"
