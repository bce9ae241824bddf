"""The message catalogues: every message in every language, placeholders and markup intact."""

from __future__ import annotations

import re
import string
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import i18n
from bot.follows import TopicError
from bot.tg import render
from tests.botapi import parse_html

ROOT = Path(__file__).parent.parent
_TAG = re.compile(r"</?[a-z]+[^>]*>")


def catalogue(language: str) -> Catalog:
    path = i18n.LOCALES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=language)


def source_messages() -> set[str | tuple[str, ...]]:
    """Every message the code marks for translation (gettext, ngettext, N_), as Babel's
    `pybabel extract` finds them."""
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT / "bot"):
        found.add(tuple(message) if isinstance(message, (list, tuple)) else message)
    return found


def test_every_marked_message_is_seen_by_the_extractor() -> None:
    """A gettext call Babel cannot read (inside an f-string, say) would never reach the
    catalogues: every call with a literal message is one the extractor finds."""
    calls = 0
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name != "i18n.py":  # it defines them and calls the catalogue with variables
            code = path.read_text(encoding="utf-8")
            calls += len(re.findall(r"\b(?:gettext|ngettext|N_)\(\s*[\"']", code))
    extracted = [
        found for found in extract_from_dir(ROOT / "bot") if not found[0].endswith("i18n.py")
    ]
    assert calls == len(extracted)


def placeholders(text: str) -> Counter[str]:
    return Counter(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def test_there_are_english_and_arabic_catalogues() -> None:
    assert {"en", "ar"} <= set(i18n.languages())
    for language in i18n.languages():
        assert catalogue(language).locale_identifier == language


@pytest.mark.parametrize("language", i18n.languages())
def test_every_message_is_translated_in_every_language(language: str) -> None:
    wanted = source_messages()
    assert len(wanted) > 50  # the extraction works: the bot has many texts
    messages = {m.id: m for m in catalogue(language) if m.id}
    missing = sorted(map(str, wanted - set(messages)))
    assert not missing, f"{language}: messages missing from the catalogue: {missing}"
    for message in messages.values():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{language}: {message.id!r} has no translation"
        assert not message.fuzzy, f"{language}: {message.id!r} is marked fuzzy"
    stale = sorted(map(str, set(messages) - wanted))
    assert not stale, f"{language}: messages the code no longer uses: {stale}"


@pytest.mark.parametrize("language", i18n.languages())
def test_placeholders_and_markup_survive_translation(language: str) -> None:
    for message in catalogue(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for translated in strings:
            # every {name} kept (a stray brace would raise here), and every tag; a plural
            # form may leave out {count} ("one headline" needs no number)
            wanted = placeholders(ids[-1])
            if len(ids) > 1:
                wanted.pop("count", None)
                assert placeholders(translated) - Counter(count=1) == wanted, message.id
            else:
                assert placeholders(translated) == wanted, (language, message.id)
            assert sorted(_TAG.findall(translated)) == sorted(_TAG.findall(ids[-1])), (
                language,
                message.id,
            )
            parse_html(translated)  # Telegram's parser accepts it


def test_language_codes_resolve_to_a_catalogue() -> None:
    assert i18n.resolve("ar") == "ar"
    assert i18n.resolve("ar-SA") == "ar"
    assert i18n.resolve("AR_eg") == "ar"
    assert i18n.resolve("en-GB") == "en"
    assert i18n.resolve("pt-br") == i18n.DEFAULT_LANGUAGE  # no catalogue yet
    assert i18n.resolve(None) == i18n.resolve("") == i18n.DEFAULT_LANGUAGE
    assert i18n.translator("ar-SA") is i18n.translator("ar")


def test_arabic_texts_come_from_the_catalogue() -> None:
    ar = i18n.translator("ar")
    assert ar.rtl and not i18n.ENGLISH.rtl
    assert ar.gettext(render.NO_MORE) == "لا توجد نتائج أخرى."
    assert ar.gettext("Result {rank} of {total}", rank=1, total=5) == "النتيجة 1 من 5"
    assert i18n.ENGLISH.gettext("Result {rank} of {total}", rank=1, total=5) == "Result 1 of 5"
    assert ar.name == "العربية" and i18n.ENGLISH.name == "English"
    # a message no catalogue has falls back to its English id
    assert ar.gettext("Not a message {x}", x=1) == "Not a message 1"


def test_arabic_plurals_have_six_forms() -> None:
    ar, en = i18n.translator("ar"), i18n.ENGLISH
    assert catalogue("ar").num_plurals == 6
    one, many = "<b>The latest headline</b>", "<b>The latest {count} headlines</b>"
    assert en.ngettext(one, many, 1) == "<b>The latest headline</b>"
    assert en.ngettext(one, many, 5) == "<b>The latest 5 headlines</b>"
    forms = {n: ar.ngettext(one, many, n) for n in (1, 2, 5, 11, 100)}
    assert forms == {
        1: "<b>أحدث عنوان</b>",
        2: "<b>أحدث عنوانين</b>",
        5: "<b>أحدث 5 عناوين</b>",
        11: "<b>أحدث 11 عنواناً</b>",
        100: "<b>أحدث 100 عنوان</b>",
    }
    # a message no catalogue has: English's two forms, with the count, no RTL mark
    assert ar.ngettext("{count} story", "{count} stories", 3) == "3 stories"


def test_dates_and_numbers_in_the_chats_language() -> None:
    ar, en = i18n.translator("ar"), i18n.ENGLISH
    day = date(2024, 9, 11)
    assert en.date(day) == "11 Sep 2024"
    assert ar.date(day) == "11 سبتمبر 2024"  # Arabic month name, Latin digits
    assert ar.number(19000) == "19,000" and en.number(19000) == "19,000"
    moment = datetime(2026, 11, 28, 2, 3, tzinfo=UTC)
    assert render.date(moment, "Asia/Baghdad") == "28 Nov 2026, 05:03 +03"
    assert render.date(moment, "Asia/Baghdad", tr=ar) == "28 نوفمبر 2026، 05:03 +03"
    assert render.date(datetime(2024, 9, 11, tzinfo=UTC), tr=ar) == "11 سبتمبر 2024"


def test_command_menus_in_every_language() -> None:
    english = render.commands()
    arabic = render.commands(i18n.translator("ar"))
    assert [c.command for c in english] == [c.command for c in arabic]
    assert "language" in [c.command for c in english]
    for command in arabic:
        assert 1 <= len(command.description) <= 256
    assert arabic[0].description.startswith("اسأل عن الأخبار")


def test_the_catalogues_ship_inside_the_package() -> None:
    """They sit in the bot package (so a wheel and an editable install both carry them) and
    are read from the .po files: nothing needs compiling at build time."""
    package = ROOT / "bot"
    for language in ("en", "ar"):
        assert (package / "locales" / language / "LC_MESSAGES" / "messages.po").is_file()
    assert package / "locales" == i18n.LOCALES


def test_the_expiry_notice_counts_its_days_in_arabic() -> None:
    ar = i18n.translator("ar")
    assert "أكثر من يومين فانتهت" in render.expired_notice(2, tr=ar)
    assert "أكثر من 7 أيام فانتهت" in render.expired_notice(7, tr=ar)
    assert "أكثر من 30 يوماً فانتهت" in render.expired_notice(30, tr=ar)
    assert "more than 1 day old" in render.expired_notice(1)
    assert "more than 30 days old" in render.expired_notice(30)


def test_topic_limits_count_in_arabic() -> None:
    ar = i18n.translator("ar")

    def shown(kind: str, limit: int, tr: i18n.Translator = ar) -> str:
        return parse_html(render.topic_error(TopicError("", kind=kind, limit=limit), tr=tr).html)[0]

    assert "100 حرف على الأكثر" in shown("long", 100)
    assert "60 حرفًا على الأكثر" in shown("long", 60)
    assert "10 أحرف على الأكثر" in shown("long", 10)
    assert "50 موضوعًا" in shown("many", 50)
    assert "موضوعين" in shown("many", 2)
    assert "at most 100 characters" in shown("long", 100, i18n.ENGLISH)
    assert "already follows 50 topics" in shown("many", 50, i18n.ENGLISH)
