"""Ranking Arabic articles: light stems beside Snowball stems, short Arabic questions, titles
and the question's words together in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import arabic, retrieval, text
from bot.index import LexicalIndex
from bot.models import Article
from bot.parsing import article_from_json
from bot.retrieval import Retriever


def article(article_id: str, headline: str, body: str) -> Article:
    return article_from_json({"id": article_id, "headline": headline, "body": body}, line=1)


def top(retriever: Retriever, question: str) -> str:
    return retriever.search(question).hits[0].article_id


def test_light_terms_keep_what_snowball_joins() -> None:
    # Snowball gives "مكتب" for both library and office; their light stems differ.
    assert text.terms("المكتبة") == text.terms("مكتب")
    assert arabic.light_terms(["المكتبة", "مكتب"]) == ["~مكتبة", "~مكتب"]
    assert arabic.light_terms(["المحطات", "في", "وفي", "nato", "2024"]) == ["~محط"]
    # A fused particle Snowball leaves on ("لمنظمة", for the organisation) comes off.
    assert text.terms("لمنظمة") != text.terms("المنظمة")
    assert arabic.light_terms(["لمنظمة", "ولمنظمة"]) == arabic.light_terms(["المنظمة"]) * 2
    # A word opening on one of those letters and the same word after a particle meet.
    assert arabic.light_terms(["وفرنسا", "وفلسطين"]) == arabic.light_terms(["فرنسا", "فلسطين"])
    assert arabic.light_form("ولد") == "ولد"  # three letters: nothing to take off
    assert all(arabic.is_light_term(term) for term in arabic.light_terms(["المكتبة"]))
    assert not any(arabic.is_light_term(term) for term in text.terms("المكتبة library"))


def test_the_word_as_written_orders_articles_its_stem_ties() -> None:
    office = article("office", "مكتب جديد", "افتتح مكتب جديد في المدينة.")
    library = article("library", "مكتبة جديدة", "افتتحت مكتبة جديدة في المدينة.")
    assert text.terms(f"{office.headline} {office.text}") == text.terms(
        f"{library.headline} {library.text}"
    )
    for first, second in ((office, library), (library, office)):  # either order of adding
        retriever = Retriever()
        retriever.add([first, second])
        assert top(retriever, "أين المكتبة الجديدة؟") == "library"
        assert top(retriever, "أين المكتب الجديد؟") == "office"
    search = retriever.search("أين المكتبة الجديدة؟")
    # Light terms rank; the terms a card marks are the stems.
    assert search.terms == tuple(dict.fromkeys(text.terms("المكتبة الجديدة")))
    assert not any(arabic.is_light_term(term) for hit in search.hits for term in hit.terms)


def test_a_short_arabic_question_is_not_held_to_the_form_of_each_word() -> None:
    # "تقع" (is located, feminine) where the article writes "يقع" (masculine): the article
    # about Austria lacks the question's form of the verb; the one about Switzerland has it
    # and names Austria once, as a neighbour. "تقع" is a common word, as in any store.
    retriever = Retriever()
    places = ("القاهرة على نهر النيل", "بيروت على البحر المتوسط", "الرياض في وسط الجزيرة")
    retriever.add(
        [
            *(
                article(f"place-{n}", place.split()[0], f"تقع {place}.")
                for n, place in enumerate(places)
            ),
            article(
                "austria",
                "النمسا",
                "النمسا جمهورية فيدرالية وبلد غير ساحلي يقع في أوروبا الوسطى. عاصمة النمسا "
                "فيينا، واقتصاد النمسا من أغنى الاقتصادات.",
            ),
            article(
                "switzerland",
                "سويسرا",
                "تقع سويسرا في غرب أوروبا الوسطى، وتحدها ألمانيا وفرنسا وإيطاليا والنمسا.",
            ),
        ]
    )
    assert top(retriever, "أين تقع النمسا؟") == "austria"


def test_an_arabic_question_about_a_title_finds_the_article_of_that_title() -> None:
    # "What is the lion?": the profile of Bashar al-Assad ("الأسد", the lion) names the word
    # more often; the page whose whole title is the word is about it.
    lion = article(
        "lion",
        "أسد",
        "الأسد حيوان مفترس من فصيلة السنوريات يعيش في السهول العشبية في أفريقيا وجنوب آسيا.",
    )
    assad = article(
        "assad",
        "بشار الأسد",
        "بشار الأسد رئيس سوريا منذ عام ألفين، ولد في دمشق ودرس طب العيون في لندن، وخلف "
        "والده حافظ الأسد بعد وفاته.",
    )
    others = [
        article(f"town-{n}", town, f"{town} مدينة فيها سوق قديم وميناء ومدارس.")
        for n, town in enumerate(("حلب", "حمص", "اللاذقية", "طرطوس"))
    ]
    retriever = Retriever()
    retriever.add([assad, lion, *others])
    assert top(retriever, "ما هو الأسد؟") == "lion"
    assert top(retriever, "متى ولد بشار الأسد؟") == "assad"


def test_the_headline_field_weighs_a_short_title_it_fills_over_a_long_one() -> None:
    retriever = Retriever()
    retriever.add(
        [
            article("short", "أسد", "نص قصير عن الحيوان."),
            article("long", "بشار الأسد رئيس سوريا", "نص قصير عن الرئيس."),
            article("none", "دمشق", "نص قصير عن المدينة."),
        ]
    )
    index = retriever._index
    scores = index.headline_scores(index.match(text.terms("الأسد")))
    short, long, none = (scores[index.slot(key)] for key in ("short", "long", "none"))
    assert short > long > none == 0.0


def test_two_words_typed_without_the_space_before_the_article_are_read_apart() -> None:
    alexander = article(
        "alexander",
        "الإسكندر الأكبر",
        "ولد الإسكندر الأكبر في بيلا عاصمة مقدونيا، وكان ملكا وقائدا عسكريا.",
    )
    others = [
        article(f"king-{n}", king, f"ولد {king} في مدينة صغيرة وكان ملكا.")
        for n, king in enumerate(("فيليب الثاني", "داريوش الثالث", "بطليموس الأول"))
    ]
    retriever = Retriever()
    retriever.add([*others, alexander])
    search = retriever.search("متى ولد الاسكندرالاكبر؟")
    assert search.corrections == {"الاسكندرالاكبر": "الاسكندر الاكبر"}
    assert search.found
    assert search.hits[0].article_id == "alexander"
    # A word the index knows is left whole, and so is an unknown one without two known parts.
    assert retriever.search("متى ولد الإسكندر؟").corrections == {}
    assert arabic.split_joined("الاسكندرالاعظم", lambda word: word == "الاسكندر") is None


def continents() -> list[Article]:
    # Europe's page says "قارة" (continent) and "الأرض" more often, but apart; Asia's says
    # "أكبر قارة في الأرض" in one sentence.
    return [
        article(
            "asia",
            "آسيا",
            "آسيا أكبر قارة في الأرض وأكثرها سكانا. تقع آسيا شرق أوروبا، وتغطي جزءا كبيرا "
            "من نصف الكرة الشمالي.",
        ),
        article(
            "europe",
            "أوروبا",
            "أوروبا قارة في نصف الكرة الشمالي. صار اسم القارة جغرافيا، ويشمل أيضا الثقافة "
            "والسياسة. أوروبا أكبر مصدر للسياح. تمتد القارة على جزء من الأرض الممتد غربا.",
        ),
        *(
            article(f"city-{n}", city, f"{city} مدينة عربية كبيرة على ساحل البحر.")
            for n, city in enumerate(("القاهرة", "بيروت", "تونس"))
        ),
    ]


def test_the_article_whose_one_sentence_holds_the_question_comes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retriever = Retriever()
    retriever.add(continents())
    question = "ما اكبر قارة فى الارض؟"
    assert top(retriever, question) == "asia"
    monkeypatch.setattr(retrieval, "SENTENCE_WEIGHT", 0.0)
    assert top(retriever, question) == "europe"  # by passages alone


def test_sentences_are_kept_for_arabic_articles_across_save_and_removal(tmp_path: Path) -> None:
    retriever = Retriever(index_dir=tmp_path)
    english = article("english", "Asia", "Asia is the largest continent on Earth.")
    retriever.add([*continents(), english])
    retriever.remove(["city-0"])  # the saved index drops it and renumbers the others
    retriever.save(1)
    index = LexicalIndex.load(tmp_path)
    words = text.content_words("اكبر قارة الارض")
    match = index.match([*text.stems(words), *arabic.light_terms(words)])
    slots = [index.slot(name) for name in ("asia", "europe", "city-1", "english")]
    asia, europe, city, other = index.sentence_scores(match, [s for s in slots if s is not None])
    assert asia == pytest.approx(float(match.idf.sum()))  # one sentence holds every term
    assert 0 < europe < asia
    assert city == 0 and other == 0  # no term of the question; an English article keeps none
    assert top(Retriever(index), "ما اكبر قارة فى الارض؟") == "asia"


CANADA = article(
    "canada",
    "كندا",
    "كندا دولة في أمريكا الشمالية، وأوتاوا عاصمة لكندا منذ عام 1857. الإنجليزية "
    "والفرنسية هما اللغتان الرسميتان في كندا.",
)
INDIA = article(
    "india",
    "الهند",
    "الهند دولة في جنوب آسيا عاصمتها نيودلهي، واللغة الرسمية فيها الهندية إلى جانب الإنجليزية.",
)
PALESTINE = article(
    "palestine",
    "فلسطين",
    "فلسطين بلد في غرب آسيا على البحر المتوسط، عاصمتها القدس. عانى الفلسطينيون من "
    "التهجير بعد عام 1948.",
)
DISPLACED = article(
    "displaced",
    "اللاجئون",
    "اللاجئون أشخاص يتعرضون للتهجير من بلادهم بسبب الحرب، ويتعرضون لمعاناة طويلة في "
    "المخيمات، وتتعرض أسرهم للتشتت.",
)


def test_a_question_word_that_inflects_a_headline_word_also_reads_as_it() -> None:
    # "لكندا" (for Canada): Snowball keeps the "ل" ("لكند"; the title gives "كند"), and
    # India's page says "official language" in the question's words, where Canada's page uses
    # the dual. "الفلسطينيين" (the Palestinians): Snowball gives "لسطيني", the title "فلسطين"
    # gives "لسط". Read bare as the titles' words, both find their page.
    retriever = Retriever()
    retriever.add([CANADA, INDIA, PALESTINE, DISPLACED])
    assert top(retriever, "ما هي اللغة الرسمية لكندا؟") == "canada"
    assert top(retriever, "ما الذي يتعرض له الفلسطينيين؟") == "palestine"
    canada = text.terms("كندا")[0]
    assert canada in retriever.search("ما هي اللغة الرسمية لكندا؟").terms
    # Read bare only when a headline holds the bare word: "لبنان" (Lebanon) is no "ل" + "بنان".
    assert retriever.search("ما هي عاصمة لبنان؟").terms == tuple(text.terms("عاصمة لبنان"))


def test_bare_readings_only_count_with_a_headline_that_holds_them() -> None:
    index = LexicalIndex()
    index.add([CANADA, INDIA])
    assert retrieval.title_readings(["لكندا", "لبنان"], [], index.in_headlines) == [
        text.terms("كندا")[0]
    ]
    index.remove(["canada"])
    assert retrieval.title_readings(["لكندا"], [], index.in_headlines) == []


def test_a_titles_terms_group_by_the_word_that_gives_them() -> None:
    # An article mentions a title's word when it holds either form of it: "لحلب" gives the
    # light term "~حلب" but keeps its "ل" in the stem.
    head = [*text.terms("الأندلس NATO"), *arabic.light_terms(["الاندلس"])]
    assert set(head) == {"اندلس", "~اندلس", "nato"}
    assert retrieval.title_words(head) == [frozenset({"اندلس", "~اندلس"}), frozenset({"nato"})]
    assert arabic.light_terms(["لحلب"]) == ["~حلب"] and text.terms("لحلب") != ["حلب"]
