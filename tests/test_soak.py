"""A short soak in CI: the real bot process, many kinds of updates, a feed and a digest at once.

The full one (1,000 users, 10 minutes) is benchmarks/soak.py; this checks its invariants on a
small load: no ERROR record or traceback in the bot's log, every question, button press and
inline query answered, every digest delivered, no request Telegram would refuse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak import Config, soak


@pytest.mark.slow
async def test_a_short_soak_keeps_every_invariant(tmp_path: Path) -> None:
    config = Config(
        users=30, seconds=20, rate=8, groups=2, subscribers=0.2, broadcast_in=0, drain=60
    )
    report = await soak(config, tmp_path)
    assert report.broken == []
    assert report.questions > 50 and report.answered == report.questions
    assert report.presses > 0 and report.inline_queries > 0
    assert report.digests >= report.subscribers == 6
    assert {"edit", "unsupported", "channel", "group", "command"} <= report.actions.keys()
    assert report.rss_mb["end"] > 0  # the bot process was measured
    assert "kind=media" in (tmp_path / "bot.log").read_text()  # stickers and the like arrived
