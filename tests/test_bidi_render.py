"""Right-to-left text in Telegram HTML: Arabic cards, digests and replies keep their order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot import i18n
from bot.digest import Digest, DigestItem
from bot.i18n import FSI, LRM, PDI, RLM
from bot.models import Article, Result, Subscription
from bot.schedule import ScheduleError, parse_clock, parse_timezone
from bot.tg import render
from tests.botapi import parse_html, utf16_len

AR = i18n.translator("ar")
# "Apple launches a new phone in Riyadh in 2024": Arabic that starts with a Latin name
APPLE = "Apple تطلق هاتفاً جديداً في الرياض عام 2024"
KHASHOGGI = "ولد جمال خاشقجي في المدينة المنورة في 13 أكتوبر 1958 (Jamal Khashoggi)."


def arabic_result(**changes: object) -> Result:
    fields: dict[str, object] = {
        "article_id": "khashoggi",
        "headline": APPLE,
        "excerpt": KHASHOGGI,
        "marks": ((5, 9),),
        "published": datetime(2024, 9, 11, tzinfo=UTC),
        "source": "Arab News",
        "url": "https://news.example/apple",
        "score": 0.9,
    }
    fields.update(changes)
    return Result.model_validate(fields)


def lines(markup: str) -> list[str]:
    return parse_html(markup)[0].split("\n")


def test_text_direction_is_the_majority_of_strong_letters() -> None:
    assert i18n.text_direction(APPLE) == "rtl"
    assert i18n.text_direction("Iran’s president visits Iraq") == "ltr"
    assert i18n.text_direction("2024 — 19,000 🙂") is None


def test_an_arabic_line_that_starts_in_latin_gets_a_right_to_left_mark() -> None:
    assert i18n.paragraph(APPLE) == RLM + APPLE
    assert i18n.paragraph(KHASHOGGI) == KHASHOGGI  # starts in Arabic: nothing to add
    english = "Al-Hol camp: العراق begins closing it, officials said on Tuesday"
    assert i18n.paragraph(english) == english
    assert i18n.paragraph("العراق: Iraq begins closing the Al-Hol camp today") == (
        LRM + "العراق: Iraq begins closing the Al-Hol camp today"
    )


def test_values_of_the_other_direction_are_isolated() -> None:
    assert AR.isolate("Asia/Baghdad") == f"{FSI}Asia/Baghdad{PDI}"
    assert AR.isolate("07:30") == "07:30"  # digits and punctuation follow the sentence
    assert AR.isolate("بغداد") == "بغداد"
    assert i18n.ENGLISH.isolate("بغداد") == f"{FSI}بغداد{PDI}"
    assert i18n.ENGLISH.isolate("Asia/Baghdad") == "Asia/Baghdad"


def test_arabic_card_reads_right_to_left_with_its_english_name_and_numbers() -> None:
    reply = render.card(arabic_result(), rank=0, total=5, card_id="c1", tr=AR)
    text = lines(reply.html)
    assert text[0] == RLM + APPLE  # the headline line is laid out right to left
    assert text[1] == f"11 سبتمبر 2024 · {FSI}Arab News{PDI}"  # the source keeps its order
    assert text[3] == KHASHOGGI  # Arabic first: no mark needed
    assert text[-1] == "النتيجة 1 من 5"
    labels = [b.text for row in reply.keyboard.inline_keyboard for b in row]  # type: ignore[union-attr]
    assert labels[:2] == ["المزيد ◀", "المصدر"]  # no "back" on the first result
    later = render.card(arabic_result(), rank=2, total=5, card_id="c1", tr=AR)
    paging = [b.text for b in later.keyboard.inline_keyboard[0]]  # type: ignore[union-attr]
    assert paging == ["المزيد ◀", "▶ السابق"]  # more on the left, back on the right


def test_an_english_card_in_an_arabic_chat_keeps_left_to_right_content() -> None:
    english = arabic_result(
        headline="Iran’s president visits Iraq", excerpt="He visited Iraq.", marks=()
    )
    text = lines(render.card(english, tr=AR).html)
    assert text[0] == "Iran’s president visits Iraq"  # no RLM: the story is English
    assert text[3] == "He visited Iraq."


def test_an_arabic_headline_in_an_english_list_is_isolated() -> None:
    article = Article(
        id="apple",
        headline=APPLE,
        body=["نص"],
        published=datetime(2024, 9, 11, tzinfo=UTC),
    )
    text = lines(render.headlines([article]).html)
    assert text[2] == f"1. {FSI}{APPLE}{PDI} (11 Sep 2024)"
    text = lines(render.headlines([article], tr=AR).html)
    assert text[0] == "أحدث عنوان"
    assert text[2] == f"1. {FSI}{APPLE}{PDI} (11 سبتمبر 2024)"  # mixed: isolated too


def test_arabic_digest_has_arabic_title_date_and_footer() -> None:
    items = [
        DigestItem(number=1, article_id="a", headline=APPLE, summary=KHASHOGGI, url=None),
        DigestItem(number=2, article_id="b", headline="Iraq closes Al-Hol", summary="", url=None),
    ]
    reply = render.digest(Digest(chat_id=1, day=date(2024, 9, 11), items=items), tr=AR)
    text = lines(reply.html)
    assert text[0] == "موجز أخبارك · 11 سبتمبر 2024"
    assert text[2] == f"1. {RLM}{APPLE}"
    assert text[3] == KHASHOGGI
    assert text[5] == "2. Iraq closes Al-Hol"
    assert text[-1].startswith("ردّ على هذه الرسالة بسؤال")
    empty = render.digest(Digest(chat_id=1, day=date(2024, 9, 11)), tr=AR)
    assert lines(empty.html)[1] == "لا أخبار جديدة منذ موجزك الأخير."


def test_arabic_replies_with_latin_values() -> None:
    subscription = Subscription(chat_id=1, at="07:30", timezone="Asia/Baghdad")
    moment = datetime(2024, 9, 11, 4, 30, tzinfo=UTC)
    text = lines(render.subscribed(subscription, moment, now=False, tr=AR).html)
    assert text[0] == f"تم الاشتراك: يصلك موجزك كل يوم في الساعة 07:30 ({FSI}Asia/Baghdad{PDI})."
    assert text[1] == "الموجز التالي: الأربعاء 11 سبتمبر، 07:30."
    # a line that starts with a command gets a mark, so it is laid out right to left
    assert text[2].startswith(RLM + "غيّر") or text[2].startswith("غيّر")
    settings = lines(render.digest_settings(subscription, moment, tr=AR).html)
    assert settings[2] == f"المنطقة الزمنية: {FSI}Asia/Baghdad{PDI}"
    assert settings[-1] == "اللغة: لغة تيليغرام لدى كل شخص"
    english = lines(render.digest_settings(None, None, language="ar").html)
    assert english[-1] == f"Language: {FSI}العربية{PDI}"
    help_lines = lines(render.help_text("newsbot", tr=AR).html)
    assert all(
        not line or line[0] in (RLM, "•") or "\u0600" <= line[0] <= "\u06ff" for line in help_lines
    )
    assert f"{RLM}• /headlines 10: أحدث العناوين." in help_lines


def test_schedule_errors_in_the_chats_language() -> None:
    for bad, check in (("25:99", parse_clock), ("Mars/Olympus", parse_timezone)):
        with pytest.raises(ScheduleError) as raised:
            check(bad)
        shown = lines(render.schedule_error(raised.value, tr=AR).html)
        english = lines(render.schedule_error(raised.value).html)
        assert english[0] == str(raised.value)
        value = bad if bad[0].isdigit() else f"{FSI}{bad}{PDI}"  # only letters need it
        assert shown[0].startswith(f"«{value}» ")
        assert shown[1].startswith("مثلاً")


def test_bidi_overrides_from_feeds_and_users_are_dropped() -> None:
    hostile = "\u202eevil\u202c \u2066x\u2069 \u202bembedded\u202c"
    assert render.escape(hostile) == "evil x embedded"
    reply = render.start("\u202eecilA", tr=AR)
    assert "\u202e" not in reply.html and "ecilA" in reply.html


def test_split_cuts_long_arabic_text_between_words_within_the_limit() -> None:
    sentence = "ولد جمال خاشقجي في المدينة المنورة عام 1958؟ "
    markup = "<b>" + sentence * 400 + "</b>"
    parts = render.split(markup)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(part) <= render.MAX_MESSAGE
        shown = parse_html(part)[0]
        assert shown.startswith("ولد") and shown.rstrip().endswith("؟")  # whole sentences
    whole = "".join(parse_html(markup)[0].split())
    assert "".join("".join(parse_html(p)[0].split()) for p in parts) == whole


def test_split_counts_utf16_units_with_arabic_and_emoji() -> None:
    markup = ("خبر 🙂 " * 2000).strip()
    parts = render.split(markup)
    assert all(utf16_len(p) <= render.MAX_MESSAGE for p in parts)
    assert sum(p.count("🙂") for p in parts) == 2000


def test_arabic_digest_lists_other_sources_the_arabic_way() -> None:
    item = DigestItem(
        number=1,
        article_id="a",
        headline="أمطار غزيرة على جدة",
        summary="",
        also_in=["Arab News", "Reuters", "الجزيرة"],
        update=True,
        topic="Jeddah",
    )
    reply = render.digest(Digest(chat_id=1, day=date(2024, 9, 11), items=[item]), tr=AR)
    text = lines(reply.html)
    assert text[2] == f"1. {FSI}Jeddah{PDI} · تحديث · أمطار غزيرة على جدة"
    assert text[3] == f"نُشر أيضاً في: {FSI}Arab News{PDI}، و{FSI}Reuters{PDI}، والجزيرة"
    english = lines(render.digest(Digest(chat_id=1, day=date(2024, 9, 11), items=[item])).html)
    assert english[3] == f"also in: Arab News, Reuters, {FSI}الجزيرة{PDI}"
