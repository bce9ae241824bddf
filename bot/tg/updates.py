"""The getUpdates connection: an update the bot cannot read is set aside, not retried forever.

PTB parses a whole batch of updates at once; when one of them cannot be parsed (a field
of a type it does not expect, a newer or a broken server), it logs the batch and asks for
the same batch again, so every later update of every chat waits behind that one, forever.
This request reads each update of a getUpdates answer first and replaces one that cannot
be read by its bare id: PTB then confirms it with the rest, and the bot sees an empty
update it ignores. The update's content is never logged (it may be a user's message).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger(__name__)


class UpdatesRequest(HTTPXRequest):
    """The HTTP request PTB uses for getUpdates only (`ApplicationBuilder.get_updates_request`),
    answers of other methods pass through unchanged."""

    def __init__(self) -> None:
        # Two connections, not PTB's one: on stop PTB confirms the fetched updates with one more
        # getUpdates while the cancelled long poll may still hold its connection; with one, that
        # call timed out on a busy machine (logged at ERROR) and the updates came again next start.
        super().__init__(connection_pool_size=2)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        status, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if status == HTTPStatus.OK and url.endswith("/getUpdates"):
            payload = readable_updates(payload)
        return status, payload


def readable_updates(payload: bytes) -> bytes:
    """A getUpdates answer with every update PTB cannot parse replaced by `{"update_id": N}`.

    Returns `payload` itself when every update reads (or it is not a list of updates: PTB
    then reports it as before). An update without an integer id cannot be confirmed by
    itself; it is dropped, and confirmed with the next one that has an id.
    """
    try:
        answer = json.loads(payload)
    except ValueError:
        return payload
    updates = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(updates, list):
        return payload
    kept: list[Any] = []
    for raw in updates:
        problem = _unreadable(raw)
        if problem is None:
            kept.append(raw)
            continue
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        kinds = sorted(raw)[:5] if isinstance(raw, dict) else type(raw).__name__
        log.error("update %s cannot be read (%s; fields %s): set aside", update_id, problem, kinds)
        if isinstance(update_id, int) and not isinstance(update_id, bool):
            kept.append({"update_id": update_id})
    if len(kept) == len(updates) and all(a is b for a, b in zip(kept, updates, strict=True)):
        return payload
    return json.dumps({**answer, "result": kept}).encode()


def _unreadable(raw: Any) -> str | None:
    """Why PTB cannot parse `raw` as an Update (the exception's type only), else None."""
    try:
        Update.de_json(raw, None)
    except Exception as exc:  # anything PTB's parser raises stalls the polling loop
        return type(exc).__name__
    return None
