"""The bot's own words in a chat's language: gettext catalogues, Babel dates and numbers.

Catalogues are `bot/locales/<lang>/LC_MESSAGES/messages.po`, one file per language; the
message ids are the English texts in the code (`tr.gettext("No more results.")`), with
named `{placeholders}` filled by `str.format`. A catalogue is read from its `.po` file the
first time a language is used and compiled in memory (Babel), so there is no build step:
a plain `pip install .`, an editable install and a source checkout all read the same files.
Adding a language is adding one `.po` file (see README, "Languages").

Digits: Latin (0-9) in every language, as Babel's Arabic locale has them and as the
articles' own text does, so a date in a card reads the same as the date in its story.
"""

from __future__ import annotations

import gettext as _gettext
import io
import unicodedata
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"

# Unicode bidi controls (UAX #9): marks set a paragraph's direction, isolates keep a value
# from reordering the text around it.
LRM, RLM = "\u200e", "\u200f"
FSI, PDI = "\u2068", "\u2069"
_RTL_CLASSES = {"R", "AL"}


class Translator:
    """One language's messages and formats. Cheap to create; reads its catalogue once.

    `language` is a code with a catalogue in LOCALES (see `languages()`); texts missing from
    the catalogue fall back to the English message id.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self._locale = Locale.parse(language)
        self.rtl = self._locale.character_order == "right-to-left"

    def __repr__(self) -> str:
        return f"Translator({self.language!r})"

    @property
    def name(self) -> str:
        """The language's own name for itself: "English", "العربية"."""
        return (self._locale.get_display_name(self._locale) or self.language).capitalize()

    def gettext(self, message: str, /, **values: object) -> str:
        """`message` in this language, its `{placeholders}` filled with `values`."""
        text = _catalogue(self.language).gettext(message)
        return self._fill(text, values, translated=text != message)

    def ngettext(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        """The form of the message for `count` (Arabic has six); `{count}` is filled too."""
        text = _catalogue(self.language).ngettext(singular, plural, count)
        values = {"count": self.number(count), **values}
        return self._fill(text, values, translated=text not in (singular, plural))

    def number(self, value: int) -> str:
        """An integer with this language's grouping, in Latin digits: "19,000"."""
        return format_decimal(value, locale=self._locale, numbering_system="latn")

    def date(self, value: date | datetime, pattern: str = "d MMM y") -> str:
        """A date in this language (CLDR `pattern`): "11 Sep 2024", "11 سبتمبر 2024"."""
        return format_date(value, pattern, locale=self._locale)

    def join(self, values: list[str]) -> str:
        """A list as this language writes one: "A, B, C"; "A، وB، وC" (each value isolated)."""
        return format_list([self.isolate(v) for v in values], style="unit", locale=self._locale)

    def isolate(self, value: str) -> str:
        """`value` wrapped in FSI...PDI when it holds letters of the other direction, so a
        Latin name or timezone inside an Arabic sentence (or an Arabic headline inside an
        English one) keeps its own order and leaves the punctuation around it alone."""
        if any(_is_rtl(ch) != self.rtl for ch in value if _strong(ch)):
            return f"{FSI}{value}{PDI}"
        return value

    def _fill(self, text: str, values: dict[str, object], *, translated: bool) -> str:
        """Placeholders filled; lines of a right-to-left translation marked as such (an
        English fallback keeps its own direction)."""
        filled = text.format(**values) if values else text
        return _set_direction(filled, rtl=True) if self.rtl and translated else filled


ENGLISH = Translator(DEFAULT_LANGUAGE)


def languages() -> tuple[str, ...]:
    """The language codes that have a catalogue, sorted: ("ar", "en")."""
    return _languages()


def translator(code: str | None) -> Translator:
    """The translator for a Telegram `language_code` ("ar", "ar-SA", "en-GB", "pt-br") or a
    /language choice; the default language for None or a language without a catalogue."""
    return _translator(resolve(code))


def resolve(code: str | None) -> str:
    """The catalogue language for `code` (its primary subtag), else DEFAULT_LANGUAGE."""
    primary = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in _languages() else DEFAULT_LANGUAGE


def text_direction(text: str) -> str | None:
    """ "rtl" or "ltr" by the majority of strong letters in `text`; None if it has none."""
    strong = [_is_rtl(ch) for ch in text if _strong(ch)]
    if not strong:
        return None
    return "rtl" if sum(strong) * 2 > len(strong) else "ltr"


def paragraph(text: str) -> str:
    """A line of content (a headline, an excerpt) that shows in its own direction: an Arabic
    headline that begins with a Latin name gets a leading RLM, or Telegram, which takes a
    line's direction from its first letter, would lay it out left to right."""
    direction = text_direction(text)
    if direction is None:
        return text
    return _set_direction(text, rtl=direction == "rtl")


def _set_direction(text: str, *, rtl: bool) -> str:
    """Each line whose first strong letter (outside tags and isolates) is of the other
    direction gets a leading mark (RLM or LRM) that sets it."""
    mark = RLM if rtl else LRM
    return "\n".join(
        mark + line if _first_strong_rtl(line) not in (None, rtl) else line
        for line in text.split("\n")
    )


def _first_strong_rtl(line: str) -> bool | None:
    depth, skip_to = 0, ""
    for ch in line:
        if skip_to:
            skip_to = "" if ch == skip_to else skip_to
        elif ch in "<&":
            skip_to = ">" if ch == "<" else ";"  # a tag or an entity: markup, not text
        elif ch == FSI:
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        elif depth == 0 and ch in (LRM, RLM):
            return ch == RLM
        elif depth == 0 and _strong(ch):
            return _is_rtl(ch)
    return None


def _strong(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("L", "R", "AL")


def _is_rtl(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in _RTL_CLASSES


@cache
def _languages() -> tuple[str, ...]:
    found = {path.parent.parent.name for path in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")} | {
        DEFAULT_LANGUAGE
    }
    usable = []
    for code in sorted(found):
        try:
            Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue  # a folder Babel knows nothing about cannot format dates
        usable.append(code)
    return tuple(usable)


@cache
def _translator(language: str) -> Translator:
    return Translator(language)


@cache
def _catalogue(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue of `language` (fuzzy entries left out); none: the English ids."""
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return _gettext.GNUTranslations(compiled)
