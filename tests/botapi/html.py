"""Telegram's HTML parse mode, as the Bot API applies it: allowed tags, entities, errors."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

# Tag -> entity type; the only tags Telegram accepts in parse_mode=HTML.
ALLOWED_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class TelegramHTMLError(ValueError):
    """The text is not valid Telegram HTML; str() is the part after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    start: int
    entity: dict[str, Any] | None


class _Parser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.parts: list[str] = []
        self.units = 0
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self.source.split("\n")
        index = sum(len(text) + 1 for text in lines[: line - 1]) + column
        return len(self.source[:index].encode())

    def _fail(self, message: str) -> None:
        raise TelegramHTMLError(f"{message} at byte offset {self._byte_offset()}")

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.units += utf16_len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self._fail(f'Unsupported start tag "{tag}"')
        attributes = dict(attrs)
        entity: dict[str, Any] | None = {"type": ALLOWED_TAGS[tag]}
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            self._fail('Tag "span" must have class "tg-spoiler"')
        elif tag == "a":
            href = attributes.get("href")
            entity = {"type": "text_link", "url": href} if href else None
        elif tag == "tg-emoji":
            if not attributes.get("emoji-id"):
                self._fail('Tag "tg-emoji" must have attribute "emoji-id"')
            entity = {"type": "custom_emoji", "custom_emoji_id": attributes["emoji-id"]}
        elif tag == "blockquote" and "expandable" in attributes:
            entity = {"type": "expandable_blockquote"}
        elif tag == "code" and self.stack and self.stack[-1].tag == "pre":
            # <pre><code class="language-x"> is one pre entity with a language
            language = attributes.get("class") or ""
            pre = self.stack[-1].entity
            if language.startswith("language-") and pre is not None:
                pre["language"] = language.removeprefix("language-")
            entity = None
        self.stack.append(_Open(tag, self.units, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._fail(f'Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail(f'Unexpected end tag "{tag}"')
        opened = self.stack.pop()
        if opened.tag != tag:
            self._fail(f'Unmatched end tag, expected "</{opened.tag}>", found "</{tag}>"')
        length = self.units - opened.start
        if opened.entity is not None and length > 0:
            self.entities.append({**opened.entity, "offset": opened.start, "length": length})

    def handle_data(self, data: str) -> None:
        if "<" in data:  # Telegram refuses a bare "<"; it must be written as &lt;
            self._fail('Unsupported start tag ""')
        self._append(data)

    def handle_entityref(self, name: str) -> None:
        self._append(NAMED_ENTITIES.get(name, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            self._append(chr(code))
        except (ValueError, OverflowError):
            self._fail(f'Invalid numeric entity "&#{name};"')

    def handle_comment(self, data: str) -> None:
        self._fail('Unsupported start tag "!--"')

    def handle_decl(self, decl: str) -> None:
        self._fail('Unsupported start tag "!"')

    def handle_pi(self, data: str) -> None:
        self._fail('Unsupported start tag "?"')

    def unknown_decl(self, data: str) -> None:
        self._fail('Unsupported start tag "!["')

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        self.close()
        if self.stack:
            raise TelegramHTMLError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, message entities with UTF-16 offsets).

    Raises:
        TelegramHTMLError: unknown or unbalanced tags, a bare "<", bad attributes.
    """
    parser = _Parser(source)
    parser.feed(source)
    return parser.finish()
