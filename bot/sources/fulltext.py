"""Full text for feeds that carry only teasers: the article page, reduced by trafilatura."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

from bot.errors import ConfigError, SourceError
from bot.models import Article
from bot.sources.fetch import fetch_page

log = logging.getLogger(__name__)

# A page whose extracted text is not longer than the teaser adds nothing.
MIN_GAIN_CHARS = 200


def extract_paragraphs(html: bytes, url: str | None = None) -> list[str]:
    """The main text of an article page as paragraphs (boilerplate, menus, ads dropped).

    Raises:
        ConfigError: trafilatura is not installed (the `fulltext` extra).
    """
    try:
        import trafilatura
    except ImportError:
        raise ConfigError(
            "full_text feeds need the fulltext extra: pip install 'newsbot[fulltext]'"
        ) from None
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True
    )
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def with_full_text(
    articles: Sequence[Article], *, client: httpx.Client, timeout: float
) -> list[Article]:
    """Each article with its page's text as body (its teaser kept as summary).

    An article without a URL, or whose page cannot be fetched or yields no more than its
    teaser, is kept as it came: a page failure costs that article's full text only.
    """
    completed = []
    for article in articles:
        completed.append(_complete(article, client=client, timeout=timeout))
    return completed


def _complete(article: Article, *, client: httpx.Client, timeout: float) -> Article:
    if not article.url:
        return article
    try:
        paragraphs = extract_paragraphs(
            fetch_page(article.url, client=client, timeout=timeout).body, article.url
        )
    except SourceError as exc:
        log.info("no full text for %s: %s", article.url, exc)
        return article
    if len(" ".join(paragraphs)) < len(article.text) + MIN_GAIN_CHARS:
        return article
    teaser = article.summary or article.body
    return article.model_copy(update={"summary": teaser, "body": paragraphs})
