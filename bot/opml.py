"""OPML feed lists: read the outlines of an import, write an OPML 2.0 export (pure, no I/O).

Reading uses defusedxml: a document that declares entities or refers to external ones is
refused outright (no billion laughs, no file or network reads), whatever the XML parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, ConfigDict

from bot.errors import SourceError
from bot.models import FeedSource

MAX_OUTLINES = 2000  # an import larger than this is refused rather than fetched for an hour


class OpmlError(SourceError):
    """The document as a whole is not usable OPML; nothing in it is imported."""


class Outline(BaseModel):
    """One feed outline of an import, numbered in document order from 1.

    `url` is its xmlUrl (None when it has none: then `problem` says so).
    """

    model_config = ConfigDict(frozen=True)

    number: int
    url: str | None
    name: str | None = None
    problem: str | None = None


def parse_opml(data: bytes, *, label: str = "OPML") -> list[Outline]:
    """The feed outlines of an OPML 1.0/2.0 document, categories flattened, in order.

    An outline with children and no xmlUrl is a category and not listed itself; one with
    neither is listed with a `problem`.

    Raises:
        OpmlError: malformed XML, entity declarations, no <opml>/<body>, or too many outlines.
    """
    try:
        root = fromstring(data)
    except DefusedXmlException as exc:
        raise OpmlError(f"{label}: refused: {type(exc).__name__} (unsafe XML)") from None
    except ET.ParseError as exc:
        raise OpmlError(f"{label}: malformed XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"{label}: not an OPML document (its root is <{root.tag}>)")
    body = next((child for child in root if child.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError(f"{label}: an OPML document without a <body>")
    outlines: list[Outline] = []
    for element in body.iter():
        if element.tag.lower() != "outline":
            continue
        attrs = {key.lower(): value.strip() for key, value in element.attrib.items()}
        url = attrs.get("xmlurl") or None
        if url is None and len(element):
            continue  # a category: its children are listed
        name = attrs.get("title") or attrs.get("text") or None
        problem = None if url else "an outline without xmlUrl"
        outlines.append(Outline(number=len(outlines) + 1, url=url, name=name, problem=problem))
        if len(outlines) > MAX_OUTLINES:
            raise OpmlError(f"{label}: more than {MAX_OUTLINES} outlines; split the file")
    return outlines


def build_opml(
    sources: Sequence[FeedSource], *, now: datetime, title: str = "newsbot feeds"
) -> str:
    """An OPML 2.0 document listing `sources` as flat rss outlines (text, title, xmlUrl)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    for source in sources:
        name = source.name or source.url
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=source.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
