"""An offline stand-in for the Telegram Bot API, for end-to-end tests and benchmarks."""

from tests.botapi.html import TelegramHTMLError, parse_html, utf16_len
from tests.botapi.server import BotApiServer, Chat, Posted, busiest_second

__all__ = [
    "BotApiServer",
    "Chat",
    "Posted",
    "TelegramHTMLError",
    "busiest_second",
    "parse_html",
    "utf16_len",
]
