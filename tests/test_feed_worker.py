"""Feed sources parse in the app's worker processes (bot.cpu): the source's ``read``
and its records cross the process boundary, and give what the same call gives here."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.cpu import CpuPool
from bot.errors import ParseError
from bot.sources import make_source

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Trade Daily</title>'
    b"<item><title>SAG-AFTRA reaches deal with studios - Variety</title>"
    b"<link>https://v.example/1?utm_source=rss</link><guid>v-1</guid>"
    b"<pubDate>Sat, 28 Nov 2026 10:00:00 GMT</pubDate>"
    b'<source url="https://variety.com">Variety</source>'
    b"<description>&lt;p&gt;Digital replica rules &amp;amp; consent.&lt;/p&gt;</description>"
    b"</item></channel></rss>"
)


@pytest.mark.parametrize(
    "source",
    [
        {"name": "trade", "kind": "feed", "url": "https://trade.example/rss"},
        {"name": "gn", "kind": "googlenews", "query": "SAG-AFTRA AI"},
    ],
)
async def test_a_worker_process_reads_what_this_process_reads(source):
    config = parse_config({"sources": [source]}, env={})
    feed = make_source(config.sources[0])
    here = feed.read(RSS, "https://trade.example/rss", "application/rss+xml")
    async with CpuPool(1) as cpu:
        there = await cpu.run(feed.read, RSS, "https://trade.example/rss", "application/rss+xml")
        assert there == here and len(here.stories) == 1
        with pytest.raises(ParseError, match="HTML page"):
            await cpu.run(feed.read, b"<html><body>no</body></html>", "https://x.example/", "")
