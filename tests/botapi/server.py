"""A small Bot API server (aiohttp, 127.0.0.1) that behaves like Telegram where bots notice.

Tests script users through the Python API (`private_chat`, `group`, `Chat.send`, `Chat.press`,
`inline_query`) and assert on what the bot did (`wait_for_messages`, `wait_for_edits`,
`wait_for_callback_answer`, `wait_for_inline_answer`, `calls`). The server decides what the bot
receives (privacy mode in groups) and checks what it sends (HTML, lengths, button data).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.botapi.html import TelegramHTMLError, parse_html, utf16_len

JSON = dict[str, Any]

# Webhook delivery, as Telegram does it: a POST per update with the secret token header; an
# answer other than 2xx (or none within WEBHOOK_TIMEOUT) leaves the update queued and it is
# posted again later, backing off; at most max_connections (setWebhook, default 40) posts in
# flight, one at a time per chat so a chat's updates arrive in order.
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)

TOKEN = "123456:TEST-botapi-token"
BOT_USERNAME = "newsdesk_test_bot"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64

# Form-encoded parameters that stay strings; every other value is JSON-decoded, as Telegram does.
_TEXT_FIELDS = {
    "text",
    "caption",
    "parse_mode",
    "callback_query_id",
    "inline_query_id",
    "description",
    "short_description",
    "url",
    "secret_token",
    "action",
    "next_offset",
    "language_code",
    "inline_message_id",
    "ip_address",
}
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,32}))?")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{3,31})")
_BUTTON_KINDS = {
    "url",
    "callback_data",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "callback_game",
    "pay",
    "copy_text",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A Bot API error reply: error_code, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Fault:
    """An injected failure for requests that target one chat (or one method)."""

    error: ApiError
    times: int | None  # None: until cleared


@dataclass
class Call:
    """One request the bot made: method (as Telegram spells it), parameters, outcome."""

    method: str
    params: JSON
    status: int
    result: Any = None
    error: str | None = None
    at: float = 0.0  # time.perf_counter() when the server answered

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class WebhookPost:
    """One POST of an update to the webhook: its answer's status, None for no answer."""

    update_id: int
    status: int | None
    at: float = field(default_factory=time.perf_counter)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Posted:
    """A message a scripted user sent: the message JSON and whether the bot receives it."""

    message: JSON
    delivered: bool
    update_id: int | None
    at: float = field(default_factory=time.perf_counter)  # when the user sent it

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])


@dataclass
class Chat:
    """A chat users act in; `send`, `press` and friends create updates for the bot."""

    server: BotApiServer
    data: JSON
    members: list[JSON] = field(default_factory=list)
    privacy: bool = True
    topics: dict[int, JSON] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)  # user ids getChatMember calls admins

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def type(self) -> str:
        return str(self.data["type"])

    def _sender(self, user: JSON | None) -> JSON:
        if user is not None:
            return user
        if not self.members:
            raise ValueError("this chat has no members; pass user=")
        return self.members[0]

    async def send(
        self,
        text: str | None = None,
        *,
        user: JSON | None = None,
        reply_to: JSON | Posted | None = None,
        thread_id: int | None = None,
        **extra: Any,
    ) -> Posted:
        """Post a message as `user` (default: the first member); `extra` adds raw fields."""
        return self.server._post_user_message(
            self, self._sender(user), text, reply_to=reply_to, thread_id=thread_id, extra=extra
        )

    async def send_sticker(self, *, user: JSON | None = None, **kw: Any) -> Posted:
        sticker = {
            "file_id": "CAACAgIAAxkBAAEBsticker",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "😀",
        }
        return await self.send(None, user=user, sticker=sticker, **kw)

    async def send_photo(
        self, caption: str | None = None, *, user: JSON | None = None, **kw: Any
    ) -> Posted:
        photo = [{"file_id": "AgACphoto", "file_unique_id": "AQADphoto", "width": 90, "height": 90}]
        extra: JSON = {"photo": photo, **kw}
        if caption is not None:
            extra["caption"] = caption
        return await self.send(None, user=user, **extra)

    async def press(
        self,
        message: JSON,
        button: str,
        *,
        user: JSON | None = None,
        question_deleted: bool = False,
    ) -> str:
        """Press the inline button whose text or callback_data is `button` on a bot message.

        `question_deleted`: the message the bot's message replied to is gone, so the
        callback's message carries no `reply_to_message` (as Telegram sends it then).
        Returns the callback query id (see `BotApiServer.wait_for_callback_answer`).
        """
        return self.server._press(
            self, self._sender(user), message, button, question_deleted=question_deleted
        )

    async def edit(self, posted: Posted, text: str) -> int:
        """The sender edits their message; returns the id of the `edited_message` update."""
        return self.server._edit_user_message(self, posted, text)

    def delete(self, message: JSON | Posted) -> None:
        """A user deletes a message: as in Telegram, messages replying to it no longer say so
        (a button pressed on one arrives without `reply_to_message`)."""
        target = message.message if isinstance(message, Posted) else message
        self.server._messages[(self.id, int(target["message_id"]))]["deleted"] = True

    def create_topic(self, name: str, *, user: JSON | None = None) -> int:
        """Create a forum topic; returns its message_thread_id."""
        if not self.data.get("is_forum"):
            raise ValueError("topics need a forum supergroup")
        return self.server._create_topic(self, self._sender(user), name)

    def promote(self, user: JSON) -> None:
        """Make `user` an administrator of this group (as getChatMember reports)."""
        self.admins.add(int(user["id"]))

    def upgrade(self) -> Chat:
        """Turn this basic group into a supergroup (new id); sends to the old id then fail."""
        return self.server._upgrade(self)


class BotApiServer:
    """The server: start with `async with BotApiServer() as server`,
    point PTB at `base_url`."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        username: str = BOT_USERNAME,
        can_read_all_group_messages: bool = False,
        messages_per_second: float | None = None,
        messages_per_minute_per_group: float | None = None,
        ignore_allowed_updates: bool = False,
    ) -> None:
        """`messages_per_second` / `messages_per_minute_per_group` enforce Telegram's flood
        limits (30/s overall, 20/min per group) on sends and edits, in any sliding window of a
        second (a minute), answering 429 with retry_after beyond them; None (the default)
        enforces nothing.
        `ignore_allowed_updates` delivers every kind of update (edits, channel posts) even
        to a bot that asked for fewer: harsher than Telegram, for soak tests."""
        self.token = token
        self.bot: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "News Desk",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": can_read_all_group_messages,
            "supports_inline_queries": True,
        }
        self.calls: list[Call] = []
        self.commands: list[JSON] = []  # the default menu (no language_code)
        self.descriptions: dict[str, str] = {}
        # per language_code: what users with that Telegram language see instead
        self.commands_by_language: dict[str, list[JSON]] = {}
        self.descriptions_by_language: dict[str, dict[str, str]] = defaultdict(dict)
        self.webhook: JSON = {"url": "", "secret_token": None}
        self.webhook_posts: list[WebhookPost] = []  # every delivery attempt, in order
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_wake = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._poll_generation = 0
        self._allowed_updates: list[str] = []
        self._chats: dict[int, Chat] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._ids = itertools.count(1001)
        self._callbacks: dict[str, JSON | None] = {}
        self._queries: dict[str, JSON] = {}  # callback queries as sent, by id
        self._inline: dict[str, JSON | None] = {}
        self._chat_faults: dict[int, list[Fault]] = defaultdict(list)
        self._method_faults: dict[str, list[Fault]] = defaultdict(list)
        self._cursors: defaultdict[tuple[str, int], int] = defaultdict(int)
        self._outcomes: defaultdict[tuple[str, int], list[JSON]] = defaultdict(list)
        self._outcome_times: defaultdict[tuple[str, int], list[float]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._overall_budget = _Budget.per_second(messages_per_second)
        self._group_rate = messages_per_minute_per_group
        self._group_budgets: dict[int, _Budget] = {}
        self._ignore_allowed_updates = ignore_allowed_updates

    # ----------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._stop_webhook_delivery()
        self._poll_generation += 1  # ends pending long polls
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:40123 (PTB's base_url is this plus "/bot")."""
        return f"http://127.0.0.1:{self._port}"

    # ------------------------------------------------------------------------- scripting API

    def user(self, first_name: str = "Alice", *, language_code: str = "en", **kw: Any) -> JSON:
        """A new Telegram user (not a bot)."""
        user_id = 10_000 + next(self._ids)
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
            **kw,
        }

    def channel(self, title: str = "News Channel") -> Chat:
        """A channel the bot administers: what is `send` there arrives as a `channel_post`."""
        data = {"id": -1_002_000_000_000 - next(self._ids), "type": "channel", "title": title}
        editor = self.user("Editor")  # who posts; the post shows the channel, not them
        return self._add_chat(Chat(self, data, [editor], privacy=False))

    def private_chat(self, user: JSON) -> Chat:
        data = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        return self._add_chat(Chat(self, data, [user]))

    def group(
        self,
        title: str = "Readers",
        members: Iterable[JSON] = (),
        *,
        supergroup: bool = False,
        forum: bool = False,
        privacy: bool = True,
    ) -> Chat:
        """A group the bot is in. `privacy=True` (Telegram's default) filters what it receives."""
        serial = next(self._ids)
        if supergroup or forum:
            data: JSON = {"id": -1_001_000_000_000 - serial, "type": "supergroup", "title": title}
            if forum:
                data["is_forum"] = True
        else:
            data = {"id": -4_000_000 - serial, "type": "group", "title": title}
        privacy = privacy and not self.bot["can_read_all_group_messages"]
        return self._add_chat(Chat(self, data, list(members), privacy=privacy))

    def inline_query(self, user: JSON, query: str, *, offset: str = "") -> str:
        """The user types `@bot query` somewhere; returns the inline query id."""
        query_id = str(next(self._ids) * 7919)
        self._inline[query_id] = None
        self._push(
            {
                "inline_query": {
                    "id": query_id,
                    "from": user,
                    "query": query,
                    "offset": offset,
                    "chat_type": "sender",
                }
            }
        )
        return query_id

    def fail_chat(
        self,
        chat_id: int,
        kind: str,
        *,
        times: int | None = 1,
        retry_after: int = 1,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Make the next `times` requests to `chat_id` fail (None: until `clear_faults`).

        `kind`: "blocked" (403), "flood" (429 with parameters.retry_after), "migrated"
        (400 with parameters.migrate_to_chat_id) or "down" (502, as when Telegram's servers
        are unreachable).
        """
        if kind == "blocked":
            error = ApiError(403, "Forbidden: bot was blocked by the user")
        elif kind == "flood":
            error = ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        elif kind == "migrated":
            new_id = migrate_to_chat_id or -1_001_000_000_000 - next(self._ids)
            error = ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id},
            )
        elif kind == "down":
            error = ApiError(502, "Bad Gateway")
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        self._chat_faults[chat_id].append(Fault(error, times))

    def fail_method(
        self, method: str, code: int, description: str, *, times: int | None = 1
    ) -> None:
        """Make the next `times` calls of `method` fail with `code` and `description`."""
        self._method_faults[method.lower()].append(Fault(ApiError(code, description), times))

    def clear_faults(self, chat_id: int | None = None) -> None:
        if chat_id is None:
            self._chat_faults.clear()
            self._method_faults.clear()
        else:
            self._chat_faults.pop(chat_id, None)

    def message(self, chat_id: int, message_id: int) -> JSON:
        """The current state of a stored message (after edits)."""
        return copy.deepcopy(self._messages[(chat_id, message_id)])

    def sent(self, chat_id: int) -> list[JSON]:
        """Every message the bot sent to `chat_id`, in order, as first sent."""
        return list(self._cursor_items("sendMessage", chat_id))

    def sent_times(self, chat_id: int) -> list[float]:
        """When (time.perf_counter()) each message in `sent(chat_id)` reached the server."""
        return list(self._outcome_times[("sendMessage", chat_id)])

    def calls_to(self, method: str, chat_id: int | None = None) -> list[Call]:
        """Calls of `method` (any outcome), optionally only those addressed to `chat_id`."""
        return [
            c
            for c in self.calls
            if c.method.lower() == method.lower() and (chat_id is None or c.chat_id == chat_id)
        ]

    async def wait_for_messages(
        self,
        chat_id: int,
        n: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is this API's point
    ) -> list[JSON]:
        """The next `n` messages sent to `chat_id` not yet returned by an earlier call."""
        return await self._wait_cursor("sendMessage", chat_id, n, timeout)

    async def wait_for_edits(
        self,
        chat_id: int,
        n: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is this API's point
    ) -> list[JSON]:
        """The next `n` edits (text or markup) of messages in `chat_id`, as edited."""
        return await self._wait_cursor("edit", chat_id, n, timeout)

    async def wait_for_callback_answer(
        self,
        query_id: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is this API's point
    ) -> JSON:
        """The parameters the bot gave answerCallbackQuery for this query."""
        await self._wait(lambda: self._callbacks.get(query_id) is not None, timeout, query_id)
        answer = self._callbacks[query_id]
        assert answer is not None
        return answer

    def callback_query(self, query_id: str) -> JSON:
        """The callback query the bot was sent for a `Chat.press`."""
        return copy.deepcopy(self._queries[query_id])

    async def wait_for_inline_answer(
        self,
        query_id: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is this API's point
    ) -> JSON:
        """The parameters the bot gave answerInlineQuery (results decoded) for this query."""
        await self._wait(lambda: self._inline.get(query_id) is not None, timeout, query_id)
        answer = self._inline[query_id]
        assert answer is not None
        return answer

    async def wait_for_calls(
        self,
        predicate: Callable[[Call], bool],
        n: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is this API's point
    ) -> list[Call]:
        """Wait until at least `n` calls match `predicate`; returns all that match."""
        await self._wait(lambda: sum(map(predicate, self.calls)) >= n, timeout, "calls")
        return [c for c in self.calls if predicate(c)]

    def push_raw_update(self, payload: JSON) -> int:
        """Queue `payload` as the next update as is, unchecked (what a newer or broken
        server might send); returns its update_id."""
        return self._push(payload)

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def unanswered(self) -> tuple[list[str], list[str]]:
        """Ids of the callback queries and of the inline queries the bot has not answered."""
        callbacks = [key for key, answer in self._callbacks.items() if answer is None]
        inline = [key for key, answer in self._inline.items() if answer is None]
        return callbacks, inline

    # ---------------------------------------------------------------- user-side internals

    def _add_chat(self, chat: Chat) -> Chat:
        self._chats[chat.id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids[chat_id])

    def _post_user_message(
        self,
        chat: Chat,
        user: JSON,
        text: str | None,
        *,
        reply_to: JSON | Posted | None,
        thread_id: int | None,
        extra: JSON,
    ) -> Posted:
        message: JSON = {
            "message_id": self._next_message_id(chat.id),
            "from": user,
            "chat": dict(chat.data),
            "date": int(time.time()),
        }
        if chat.type == "channel":  # posts are signed by the channel, not a user
            del message["from"]
            message["sender_chat"] = dict(chat.data)
        if text is not None:
            message["text"] = text
            entities = _detect_entities(text)
            if entities:
                message["entities"] = entities
        target = reply_to.message if isinstance(reply_to, Posted) else reply_to
        if target is not None:
            target = self._messages[(chat.id, target["message_id"])]
            thread_id = thread_id or target.get("message_thread_id")
        if thread_id is not None:
            topic = chat.topics[thread_id]  # KeyError: no such topic
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            # In a topic, a message that replies to nothing replies to the topic's first message.
            target = target or topic
        if target is not None:
            message["reply_to_message"] = _shallow(target)
        message.update(extra)
        if "caption" in message:
            entities = _detect_entities(message["caption"])
            if entities:
                message["caption_entities"] = entities
        self._messages[(chat.id, message["message_id"])] = message
        delivered = self._bot_receives(chat, message)
        kind = "channel_post" if chat.type == "channel" else "message"
        update_id = self._push({kind: message}) if delivered else None
        return Posted(copy.deepcopy(message), delivered, update_id)

    def _edit_user_message(self, chat: Chat, posted: Posted, text: str) -> int:
        message = self._messages[(chat.id, posted.message_id)]
        message["text"] = text
        message["edit_date"] = int(time.time())
        message.pop("entities", None)
        entities = _detect_entities(text)
        if entities:
            message["entities"] = entities
        kind = "edited_channel_post" if chat.type == "channel" else "edited_message"
        return self._push({kind: copy.deepcopy(message)})

    def _bot_receives(self, chat: Chat, message: JSON) -> bool:
        """Privacy mode: in groups only commands, replies to the bot and @mentions arrive."""
        if chat.type == "private" or not chat.privacy:
            return True
        reply = message.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot["id"]:
            return True
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        me = self.bot["username"].lower()
        for entity in entities:
            chunk = _utf16_slice(text, entity["offset"], entity["length"])
            if entity["type"] == "bot_command" and entity["offset"] == 0:
                _, _, addressee = chunk.partition("@")
                if not addressee or addressee.lower() == me:
                    return True
            if entity["type"] == "mention" and chunk[1:].lower() == me:
                return True
        return False

    def _press(
        self, chat: Chat, user: JSON, message: JSON, button: str, *, question_deleted: bool
    ) -> str:
        stored = self._messages.get((chat.id, message["message_id"]))
        if stored is None or stored.get("from", {}).get("id") != self.bot["id"]:
            raise LookupError("press() needs a message the bot sent in this chat")
        rows = stored.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [b for row in rows for b in row]
        for candidate in buttons:
            if button in (candidate.get("text"), candidate.get("callback_data")):
                break
        else:
            raise LookupError(f"no button {button!r}; buttons are {buttons}")
        if "callback_data" not in candidate:
            raise LookupError(f"button {button!r} has no callback_data: {candidate}")
        query_id = str(next(self._ids) * 104_729)
        self._callbacks[query_id] = None
        pressed = self._as_seen(chat, stored)
        if question_deleted:
            pressed.pop("reply_to_message", None)
        self._queries[query_id] = {
            "id": query_id,
            "from": user,
            "message": pressed,
            "chat_instance": str(abs(chat.id) * 31),
            "data": candidate["callback_data"],
        }
        self._push({"callback_query": copy.deepcopy(self._queries[query_id])})
        return query_id

    def _as_seen(self, chat: Chat, stored: JSON) -> JSON:
        """A stored message as Telegram sends it now: no `reply_to_message` once the message
        it replied to was deleted, and the replied-to message as it is now otherwise."""
        message = copy.deepcopy(stored)
        replied = message.pop("reply_to_message", None)
        if replied is not None:
            target = self._messages.get((chat.id, int(replied["message_id"])))
            if target is not None and not target.get("deleted"):
                message["reply_to_message"] = _shallow(target)
        return message

    def _create_topic(self, chat: Chat, user: JSON, name: str) -> int:
        message_id = self._next_message_id(chat.id)
        message = {
            "message_id": message_id,
            "from": user,
            "chat": dict(chat.data),
            "date": int(time.time()),
            "message_thread_id": message_id,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": 7322096},
        }
        self._messages[(chat.id, message_id)] = message
        chat.topics[message_id] = message
        return message_id

    def _upgrade(self, chat: Chat) -> Chat:
        if chat.type != "group":
            raise ValueError("only basic groups are upgraded")
        new = self.group(
            str(chat.data["title"]), chat.members, supergroup=True, privacy=chat.privacy
        )
        self.fail_chat(chat.id, "migrated", times=None, migrate_to_chat_id=new.id)
        return new

    def _push(self, payload: JSON) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **payload})
        self._new_update.set()
        self._webhook_wake.set()
        return update_id

    # ------------------------------------------------------------------- webhook delivery

    def _start_webhook_delivery(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhook())
        self._webhook_wake.set()

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _deliver_webhook(self) -> None:
        in_flight: dict[int, asyncio.Task[None]] = {}  # update_id -> its POST
        failures: defaultdict[int, int] = defaultdict(int)
        not_before: dict[int, float] = {}
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                while self.webhook["url"]:
                    self._webhook_wake.clear()
                    for update_id, task in list(in_flight.items()):
                        if task.done():
                            del in_flight[update_id]
                    blocked = {
                        chat
                        for u in self._updates
                        if int(u["update_id"]) in in_flight
                        and (chat := _update_chat(u)) is not None
                    }
                    now = time.monotonic()
                    for update in list(self._updates):
                        if len(in_flight) >= int(self.webhook.get("max_connections") or 40):
                            break
                        update_id, chat = int(update["update_id"]), _update_chat(update)
                        if update_id in in_flight or chat in blocked or not self._allowed(update):
                            continue
                        if chat is not None:
                            blocked.add(chat)  # the chat's later updates wait for this one
                        if not_before.get(update_id, 0.0) > now:
                            continue
                        in_flight[update_id] = asyncio.create_task(
                            self._post_update(session, update, failures, not_before)
                        )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._webhook_wake.wait(), 0.05)
            finally:
                for task in in_flight.values():
                    task.cancel()
                await asyncio.gather(*in_flight.values(), return_exceptions=True)

    async def _post_update(
        self,
        session: aiohttp.ClientSession,
        update: JSON,
        failures: defaultdict[int, int],
        not_before: dict[int, float],
    ) -> None:
        update_id = int(update["update_id"])
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        status: int | None = None
        try:
            async with session.post(
                str(self.webhook["url"]),
                data=json.dumps(update),
                headers=headers,
                allow_redirects=False,  # Telegram follows no redirect
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.webhook["last_error_message"] = f"{type(exc).__name__}: {exc}"
        post = WebhookPost(update_id, status)
        self.webhook_posts.append(post)
        if post.ok:
            self._updates = [u for u in self._updates if int(u["update_id"]) != update_id]
        else:
            if status is not None:
                self.webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
            failures[update_id] += 1
            backoff = WEBHOOK_BACKOFF[min(failures[update_id], len(WEBHOOK_BACKOFF)) - 1]
            not_before[update_id] = time.monotonic() + backoff
        self._webhook_wake.set()
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------------ HTTP side

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _reply(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except ValueError as exc:
            return _reply(bad_request(str(exc)))
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return _reply(ApiError(404, "Not Found"))
        call = Call(method, params, 200)
        try:
            self._raise_injected(method, params)
            self._spend_budget(method, params)
            call.result = await handler(params)
        except ApiError as error:
            call.status, call.error = error.code, error.description
            response = _reply(error)
        else:
            response = web.json_response({"ok": True, "result": call.result})
        if method.lower() != "getupdates":
            call.at = time.perf_counter()
            self.calls.append(call)
            self._index(call)
        async with self._changed:
            self._changed.notify_all()
        return response

    def _spend_budget(self, method: str, params: JSON) -> None:
        """Flood limits: a send or edit beyond the budget gets 429 with retry_after."""
        name = method.lower()
        if name == "sendchataction" or not name.startswith(("send", "edit", "copy", "forward")):
            return
        chat_id = _int_or_none(params.get("chat_id"))
        if chat_id is None:
            return
        budgets = [self._overall_budget]
        if chat_id < 0 and self._group_rate:
            budget = self._group_budgets.get(chat_id)
            if budget is None:
                budget = self._group_budgets[chat_id] = _Budget(self._group_rate, 60.0)
            budgets.append(budget)
        for budget in budgets:
            if budget is not None and (wait := budget.wait()) > 0:
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {wait}",
                    {"retry_after": wait},
                )
        for budget in budgets:
            if budget is not None:
                budget.spend()

    def _raise_injected(self, method: str, params: JSON) -> None:
        queues = [self._method_faults.get(method.lower(), [])]
        if method.lower() != "getupdates" and "chat_id" in params:
            queues.append(self._chat_faults.get(_int_or_none(params["chat_id"]) or 0, []))
        for queue in queues:
            if queue:
                fault = queue[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                raise fault.error

    def _chat(self, params: JSON) -> Chat:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            found = [c for c in self._chats.values() if c.data.get("username") == chat_id[1:]]
            if found:
                return found[0]
            raise bad_request("chat not found")
        chat = self._chats.get(_int_or_none(chat_id) or 0)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    # ---------------------------------------------------------------------- methods

    async def _api_getme(self, params: JSON) -> JSON:
        return self.bot

    async def _api_logout(self, params: JSON) -> bool:
        return True

    async def _api_close(self, params: JSON) -> bool:
        return True

    async def _api_getupdates(self, params: JSON) -> list[JSON]:
        if self.webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        if offset > 0:  # confirms every update before `offset`
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._new_update.set()  # wakes (and thereby terminates) an older long poll
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request")
            ready = [u for u in self._updates if self._allowed(u)][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return ready
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), remaining)
            except TimeoutError:
                continue

    def _allowed(self, update: JSON) -> bool:
        if not self._allowed_updates or self._ignore_allowed_updates:
            return True
        return any(kind in update for kind in self._allowed_updates)

    async def _api_setwebhook(self, params: JSON) -> bool:
        self.webhook = {
            "url": params.get("url", ""),
            "secret_token": params.get("secret_token"),
            "max_connections": int(params.get("max_connections") or 40),
        }
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self.webhook["url"]:
            self._start_webhook_delivery()
        return True

    async def _api_deletewebhook(self, params: JSON) -> bool:
        self.webhook = {"url": "", "secret_token": None}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        await self._stop_webhook_delivery()
        return True

    async def _api_getwebhookinfo(self, params: JSON) -> JSON:
        return {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _api_setmycommands(self, params: JSON) -> bool:
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        language = _language_code(params)
        if language:
            self.commands_by_language[language] = list(commands)
        else:
            self.commands = list(commands)
        return True

    async def _api_getmycommands(self, params: JSON) -> list[JSON]:
        language = _language_code(params)
        return self.commands_by_language.get(language, []) if language else self.commands

    async def _api_deletemycommands(self, params: JSON) -> bool:
        self.commands = []
        return True

    async def _api_setmydescription(self, params: JSON) -> bool:
        return self._set_description(params, "description", 512)

    async def _api_setmyshortdescription(self, params: JSON) -> bool:
        return self._set_description(params, "short_description", 120)

    def _set_description(self, params: JSON, key: str, limit: int) -> bool:
        value = str(params.get(key) or "")
        if len(value) > limit:
            raise bad_request(f"{key.upper()}_INVALID")
        language = _language_code(params)
        if language:
            self.descriptions_by_language[language][key] = value
        else:
            self.descriptions[key] = value
        return True

    async def _api_getchatmember(self, params: JSON) -> JSON:
        chat = self._chat(params)
        user_id = _int_or_none(params.get("user_id"))
        if user_id is None:
            raise bad_request("invalid user_id specified")
        user = next((m for m in chat.members if m["id"] == user_id), None)
        if user_id == self.bot["id"]:
            user = self.bot
        if user is None:
            return {"status": "left", "user": {"id": user_id, "is_bot": False, "first_name": "?"}}
        if chat.type == "private" or user_id not in chat.admins:
            return {"status": "member", "user": user}
        rights = [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        return {"status": "administrator", "user": user, **dict.fromkeys(rights, False)}

    async def _api_sendchataction(self, params: JSON) -> bool:
        self._chat(params)
        return True

    async def _api_sendmessage(self, params: JSON) -> JSON:
        chat = self._chat(params)
        text, entities = _message_text(params, too_long="message is too long")
        message: JSON = {
            "message_id": 0,
            "from": self.bot,
            "chat": dict(chat.data),
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        markup = _checked_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        thread_id = params.get("message_thread_id")
        target = self._reply_target(chat, params)
        if target is not None:
            message["reply_to_message"] = _shallow(target)
            thread_id = thread_id or target.get("message_thread_id")
        if thread_id is not None:
            if int(thread_id) not in chat.topics:
                raise bad_request("message thread not found")
            message["message_thread_id"] = int(thread_id)
            message["is_topic_message"] = True
        message["message_id"] = self._next_message_id(chat.id)
        self._messages[(chat.id, message["message_id"])] = message
        return copy.deepcopy(message)

    def _reply_target(self, chat: Chat, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {"message_id": params["reply_to_message_id"]}
        if not reply:
            return None
        target_chat = chat.id
        if reply.get("chat_id") is not None:
            target_chat = self._chat({"chat_id": reply["chat_id"]}).id
        target = self._messages.get((target_chat, int(reply["message_id"])))
        if target is None or target.get("deleted"):
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        quote = reply.get("quote")
        if quote is not None and quote not in (target.get("text") or target.get("caption") or ""):
            raise bad_request("QUOTE_TEXT_INVALID")
        return target

    def _editable(self, params: JSON) -> JSON:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not simulated by this server")
        chat = self._chat(params)
        message = self._messages.get((chat.id, int(params.get("message_id") or 0)))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot["id"]:
            raise bad_request("message can't be edited")
        return message

    async def _api_editmessagetext(self, params: JSON) -> JSON:
        message = self._editable(params)
        text, entities = _message_text(params, too_long="MESSAGE_TOO_LONG")
        markup = _checked_markup(params.get("reply_markup"))
        unchanged = (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        )
        if unchanged:
            raise bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        self._set_markup(message, markup)
        return copy.deepcopy(message)

    async def _api_editmessagereplymarkup(self, params: JSON) -> JSON:
        message = self._editable(params)
        markup = _checked_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        self._set_markup(message, markup)
        return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: JSON, markup: JSON | None) -> None:
        message["edit_date"] = int(time.time())
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup

    async def _api_deletemessage(self, params: JSON) -> bool:
        message = self._messages.get((self._chat(params).id, int(params.get("message_id") or 0)))
        if message is None:
            raise bad_request("message to delete not found")
        message["deleted"] = True
        return True

    async def _api_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._callbacks or self._callbacks[query_id] is not None:
            raise bad_request(_QUERY_TOO_OLD.removeprefix("Bad Request: "))
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = params
        return True

    async def _api_answerinlinequery(self, params: JSON) -> bool:
        query_id = str(params.get("inline_query_id"))
        if query_id not in self._inline or self._inline[query_id] is not None:
            raise bad_request(_QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = params.get("results") or []
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        ids = [str(r.get("id", "")) for r in results]
        if len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        for result in results:
            if not 1 <= len(str(result.get("id", "")).encode()) <= 64:
                raise bad_request("RESULT_ID_INVALID")
            if result.get("type") == "article" and not result.get("title"):
                raise bad_request("RESULT_TITLE_EMPTY")
            content = result.get("input_message_content")
            if content and "message_text" in content:
                _message_text(
                    {"text": content["message_text"], "parse_mode": content.get("parse_mode")},
                    too_long="MESSAGE_TOO_LONG",
                )
            _checked_markup(result.get("reply_markup"))
        self._inline[query_id] = params
        return True

    # --------------------------------------------------------------------- waiting

    def _index(self, call: Call) -> None:
        """File a successful send or edit under its chat, so waits need not scan every call."""
        method = call.method.lower()
        if call.status != 200 or not isinstance(call.result, dict):
            return
        if method == "sendmessage":
            kind = "sendMessage"
        elif method.startswith("editmessage"):
            kind = "edit"
        else:
            return
        self._outcomes[(kind, call.result["chat"]["id"])].append(call.result)
        self._outcome_times[(kind, call.result["chat"]["id"])].append(call.at)

    def _cursor_items(self, kind: str, chat_id: int) -> list[JSON]:
        return self._outcomes[(kind, chat_id)]

    async def _wait_cursor(self, kind: str, chat_id: int, n: int, seconds: float) -> list[JSON]:
        key = (kind, chat_id)
        start = self._cursors[key]
        await self._wait(
            lambda: len(self._cursor_items(kind, chat_id)) >= start + n,
            seconds,
            f"{n} x {kind} in chat {chat_id}",
        )
        self._cursors[key] = start + n
        return copy.deepcopy(self._cursor_items(kind, chat_id)[start : start + n])

    async def _wait(self, done: Callable[[], bool], seconds: float, what: str) -> None:
        async def until_done() -> None:
            async with self._changed:
                await self._changed.wait_for(done)

        try:
            await asyncio.wait_for(until_done(), seconds)
        except TimeoutError:
            recent = [(c.method, c.status, c.error) for c in self.calls[-8:]]
            raise AssertionError(
                f"timed out after {seconds}s waiting for {what}; last calls: {recent}"
            ) from None


# ---------------------------------------------------------------------------- helpers


async def _read_params(request: web.Request) -> JSON:
    """Parameters from the query string, a JSON body or a form (urlencoded or multipart)."""
    params: JSON = {key: _decode(key, value) for key, value in request.query.items()}
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("request body must be a JSON object")
        params.update(body)
    else:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = _decode(key, value)
    return params


def _decode(key: str, value: str) -> Any:
    if key in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _reply(error: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code)


def _update_chat(update: JSON) -> int | None:
    """The chat (else the user) an update belongs to, for in-order delivery."""
    for kind, body in update.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        message = body.get("message") if kind == "callback_query" else body
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return int(message["chat"]["id"])
        sender = body.get("from")
        if isinstance(sender, dict):
            return int(sender["id"])
    return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _shallow(message: JSON) -> JSON:
    """A message as embedded in another: Telegram nests only one level of replies."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le")


def _detect_entities(text: str) -> list[JSON]:
    """The entities Telegram's clients attach: a leading bot command and @mentions."""
    entities: list[JSON] = []
    command = _COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
    for mention in _MENTION.finditer(text):
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: mention.start()]),
                "length": utf16_len(mention[0]),
            }
        )
    return entities


def _message_text(params: JSON, *, too_long: str) -> tuple[str, list[JSON]]:
    """Text and entities after parse_mode, checked like Telegram does."""
    raw = params.get("text")
    if not isinstance(raw, str):
        raise bad_request("message text is empty")
    mode = (params.get("parse_mode") or "").lower()
    entities: list[JSON] = list(params.get("entities") or [])
    if mode == "html":
        try:
            text, entities = parse_html(raw)
        except TelegramHTMLError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif mode:
        raise bad_request(f"unsupported parse_mode {mode!r} in this test server")
    else:
        text = raw
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request(too_long)
    return text, entities


def _checked_markup(markup: Any) -> JSON | None:
    """An inline keyboard, validated (button data <= 64 bytes, one action per button)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards and removals are accepted as they are
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    if sum(len(row) for row in rows) > 100:
        raise bad_request("BUTTONS_TOO_MUCH")
    for row in rows:
        for button in row:
            if not str(button.get("text", "")).strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            kinds = _BUTTON_KINDS & button.keys()
            if len(kinds) != 1:
                raise bad_request('can\'t find field "text" or exactly one button action')
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return markup


def busiest_second(times: Iterable[float], period: float = 1.0) -> int:
    """The most of `times` (seconds) within any half-open `period` (t - period, t], the
    window the flood limit counts in."""
    ordered = sorted(times)
    first, most = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - period:
            first += 1
        most = max(most, last - first + 1)
    return most


class _Budget:
    """A sliding window: at most `rate` messages in any `period` seconds, as strict as
    Telegram's "30 messages per second" read literally (a token bucket would let a sender
    that paused send twice the rate in the next second)."""

    def __init__(self, rate: float, period: float) -> None:
        self.rate = int(rate)
        self.period = period
        self.sent: deque[float] = deque()  # times of the sends within the last period

    @classmethod
    def per_second(cls, rate: float | None) -> _Budget | None:
        return cls(rate, 1.0) if rate else None

    def wait(self) -> int:
        """Whole seconds to wait before one more message fits (0: it fits now)."""
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - self.period:
            self.sent.popleft()
        if len(self.sent) < self.rate:
            return 0
        return max(1, math.ceil(self.sent[0] + self.period - now))

    def spend(self) -> None:
        self.sent.append(time.monotonic())


def _language_code(params: JSON) -> str:
    """A two-letter ISO 639-1 code or "" (the default), as Telegram accepts them."""
    language = str(params.get("language_code") or "")
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("LANGUAGE_CODE_INVALID")
    return language
