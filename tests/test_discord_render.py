"""The Discord renderer: limits enforced before sending, hostile text made inert.

Payloads are built the way discord.py builds them (``Embed.to_dict``, the View's
components, ``AllowedMentions.to_dict``) and checked with the same
:func:`~tests.fakes.discord_server.message_problems` the fake Discord applies.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render.discord import (
    DiscordMessage,
    decode_custom_id,
    encode_custom_id,
    escape,
    render,
    units,
)
from handlers.reply import Button, Field, Item, Reply
from tests.fakes.discord_server import message_problems

HOSTILE = (
    "@everyone @here <@123> <@!123456789012345678> <@&987654321098765432> "
    "**bold** __under__ `code` ```block``` ||spoiler|| ~~gone~~ "
    "[click](https://evil.example/steal) and [again](https://evil.example/2)\n"
    "> quote\n# Heading\n-# small\n- list"
)
_PINGS = re.compile(r"@(everyone|here)|<@[!&]?\d+>")


def payloads(messages: list[DiscordMessage], *, nonce: str | None = None) -> list[dict[str, Any]]:
    """What discord.py would send for each message (built inside an event loop)."""

    async def build() -> list[dict[str, Any]]:
        out = []
        for message in messages:
            kw = message.kwargs()
            payload: dict[str, Any] = {
                "content": kw["content"],
                "embeds": [e.to_dict() for e in kw["embeds"]],
                "allowed_mentions": kw["allowed_mentions"].to_dict(),
            }
            if "view" in kw:
                payload["components"] = kw["view"].to_components()
                assert kw["view"].is_finished(), "a sent View must not enter the view store"
            if nonce is not None:
                payload["nonce"] = nonce
            out.append(payload)
        return out

    return asyncio.run(build())


def rendered_text(payload: dict[str, Any]) -> list[str]:
    """Every string of a payload a reader sees."""
    texts = [payload.get("content") or ""]
    for e in payload["embeds"]:
        texts += [e.get("title", ""), e.get("description", "")]
        texts += [(e.get("author") or {}).get("name", ""), (e.get("footer") or {}).get("text", "")]
        for f in e.get("fields", []):
            texts += [f["name"], f["value"]]
    return texts


def test_hostile_title_is_escaped_and_cannot_mention():
    reply = Reply(
        title=HOSTILE,
        items=(
            Item(
                title=HOSTILE,
                url="https://jobs.example.test/acme/1?ref=a_b",
                text=HOSTILE,
                fields=(Field(HOSTILE, HOSTILE),),
                author="@everyone Acme **Corp**",
                footer="@here greenhouse · #7",
            ),
        ),
    )
    (payload,) = payloads(render(reply))
    assert payload["allowed_mentions"] == {"parse": []}
    for text in rendered_text(payload):
        assert not _PINGS.search(text), text
    embed = payload["embeds"][0]
    title = embed["title"]
    assert "@\u200beveryone" in title and "<@\u200b123>" in title
    assert "\\*\\*bold\\*\\*" in title and "\\`code\\`" in title
    assert "\\|\\|spoiler\\|\\|" in title and "\\~\\~gone\\~\\~" in title
    # Both masked links are broken, not only the first on the line.
    assert "\\[click](" in title and "\\[again](" in title
    description = embed["description"]
    assert "\\# Heading" in description and "\\> quote" in description
    # The link itself is left clickable (escaping inside URLs would break them).
    assert embed["url"] == "https://jobs.example.test/acme/1?ref=a_b"
    # Author and footer show no markdown: no backslashes there, but no mentions either.
    assert embed["author"]["name"] == "@\u200beveryone Acme **Corp**"
    assert embed["footer"]["text"] == "@\u200bhere greenhouse · #7"
    assert message_problems(payload) == []


def test_escape_keeps_text_readable():
    assert escape("Staff ML Engineer, Ranking") == "Staff ML Engineer, Ranking"
    assert escape("C++ / CUDA_kernels") == "C++ / CUDA\\_kernels"
    assert escape("see https://example.test/a_b_c") == "see https://example.test/a_b_c"
    assert escape("back\\slash") == "back\\\\slash"
    # Control characters and bidi overrides are dropped (they reorder what readers see).
    assert escape("abc\u202edef\x00") == "abcdef"


def test_alert_embed_has_link_author_fields_time_colour_footer():
    posted = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    reply = Reply(
        title="New AI/ML role",
        severity="success",
        items=(
            Item(
                title="Research Engineer, Interpretability",
                url="https://boards.greenhouse.io/anthropic/jobs/4020305008",
                author="Anthropic",
                fields=(
                    Field("Pay", "$315k–$560k/yr"),
                    Field("Location", "San Francisco, CA"),
                ),
                footer="anthropic · #12",
                timestamp=posted,
                colour=0xE91E63,
            ),
        ),
    )
    (payload,) = payloads(render(reply))
    assert payload["content"] == "**New AI/ML role**"
    (embed,) = payload["embeds"]
    assert embed["title"] == "Research Engineer, Interpretability"
    assert embed["url"].endswith("/4020305008")
    assert embed["author"] == {"name": "Anthropic"}
    assert [f["name"] for f in embed["fields"]] == ["Pay", "Location"]
    assert embed["color"] == 0xE91E63
    assert embed["footer"] == {"text": "anthropic · #12"}
    assert embed["timestamp"].startswith("2026-03-04T15:30:00")
    assert f"<t:{int(posted.timestamp())}:R>" in embed["description"]
    # discord.py's "flags": 0 is not part of Discord's published embed schema.
    assert "flags" not in embed


def test_limits_are_cut_with_an_ellipsis():
    reply = Reply(
        title="T" * 3000,
        text="x" * 5000,
        items=(
            Item(
                title="t" * 300,
                text="d" * 5000,
                fields=tuple(Field("n" * 300, "v" * 2000) for _ in range(30)),
                author="a" * 300,
                footer="f" * 3000,
            ),
        ),
    )
    messages = render(reply)
    for payload in payloads(messages):
        assert message_problems(payload) == []
    first = payloads(messages)[0]
    assert units(first["content"]) <= 2000 and first["content"].endswith("…")
    embed = first["embeds"][0]
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(embed["author"]["name"]) == 256
    assert len(embed["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    assert sum(units(t) for t in rendered_text(first)[1:]) <= 6000


def test_cut_never_leaves_a_dangling_escape():
    # 255 plain characters then "*": escaping makes it "\*" across the 256 boundary.
    (payload,) = payloads(render(Reply(items=(Item(title="a" * 254 + "**" * 10),))))
    title = payload["embeds"][0]["title"]
    assert title.endswith("…") and not title.endswith("\\…")
    assert len(title) <= 256


def test_a_long_reply_is_split_over_several_messages():
    items = tuple(
        Item(title=f"Posting {i}", text="Build ranking models. " * 150, footer=f"src · #{i}")
        for i in range(23)
    )
    reply = Reply(
        title="Daily digest",
        text="23 new roles",
        items=items,
        buttons=(Button("Next ▶", command="ailistings", args=(("page", "2"),)),),
    )
    messages = render(reply)
    assert len(messages) > 3  # 3,000-character descriptions: two per 6,000
    built = payloads(messages, nonce="mq42")
    for payload in built:
        assert message_problems(payload) == []
    assert built[0]["content"].startswith("**Daily digest**")
    assert all(p["content"] is None for p in built[1:])
    assert "components" in built[-1] and all("components" not in p for p in built[:-1])
    titles = [e["title"] for p in built for e in p["embeds"]]
    assert titles == [f"Posting {i}" for i in range(23)]  # nothing lost, order kept


def test_eleven_items_make_two_messages_and_a_page_of_ten_fits_one():
    assert len(render(Reply(title="x", items=tuple(Item(f"#{i}") for i in range(11))))) == 2
    assert len(render(Reply(title="x", items=tuple(Item(f"#{i}") for i in range(10))))) == 1


def test_max_messages_keeps_what_fits_and_says_so():
    items = tuple(Item(f"#{i}") for i in range(25))
    (message,) = render(Reply(title="All", items=items), max_messages=1)
    assert len(message.embeds) == 10
    assert message.content is not None and "15 more not shown" in message.content


def test_text_reply_longer_than_a_description_becomes_several_embeds():
    text = "\n".join(f"/command{i} — does thing {i}" for i in range(600))
    messages = render(Reply(title="Help", text=text, footer="end"))
    built = payloads(messages)
    embeds = [e for p in built for e in p["embeds"]]
    assert len(embeds) >= 4
    assert embeds[0]["title"] == "Help" and embeds[-1]["footer"] == {"text": "end"}
    joined = "\n".join(e["description"] for e in embeds)
    assert "/command0 — does thing 0" in joined and "/command599 — does thing 599" in joined
    for payload in built:
        assert message_problems(payload) == []


def test_empty_reply_still_makes_a_valid_message():
    (payload,) = payloads(render(Reply()))
    assert message_problems(payload) == []


def test_error_reply_is_red():
    (payload,) = payloads(render(Reply.error("No such company: acme")))
    assert payload["embeds"][0]["color"] == 0xED4245


def test_custom_id_round_trip_and_limit():
    cid = encode_custom_id("ailistings", [("company", "Hugging Face"), ("page", "2")])
    assert len(cid) <= 100
    assert decode_custom_id(cid) == ("ailistings", {"company": "Hugging Face", "page": "2"})
    assert decode_custom_id("someone-elses-button") is None
    assert decode_custom_id("mq1:bad name:x=1") is None
    try:
        encode_custom_id("ailistings", [("query", "x" * 120)])
    except ValueError:
        pass
    else:
        raise AssertionError("a custom_id over 100 characters must be refused")


def test_buttons_too_long_are_disabled_and_duplicates_made_unique():
    reply = Reply(
        title="x",
        items=(Item("a"),),
        buttons=(
            Button("Next", command="ailistings", args=(("query", "y" * 150),)),
            Button("Same", command="ailistings", args=(("page", "2"),)),
            Button("Same again", command="ailistings", args=(("page", "2"),)),
            Button("Open board", url="https://boards.greenhouse.io/anthropic"),
            Button("Bad link", url="javascript:alert(1)"),
        ),
    )
    (payload,) = payloads(render(reply))
    buttons = payload["components"][0]["components"]
    assert buttons[0]["disabled"] is True
    ids = [b["custom_id"] for b in buttons if "custom_id" in b]
    assert len(ids) == len(set(ids)) == 3
    assert decode_custom_id(ids[2]) == ("ailistings", {"page": "2"})
    assert [b.get("url") for b in buttons if b["style"] == 5] == [
        "https://boards.greenhouse.io/anthropic"
    ]
    assert message_problems(payload) == []


def test_unsafe_links_are_dropped():
    (payload,) = payloads(
        render(Reply(items=(Item("x", url="javascript:alert(1)"), Item("y", url="ftp://a/b"))))
    )
    assert all("url" not in e for e in payload["embeds"])


_piece = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400
) | st.sampled_from(["@everyone", "@here", "<@1234>", "**", "`", "[a](https://x.test)", "\\"])
_text = st.lists(_piece, max_size=12).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=_text,
    text=_text,
    items=st.lists(
        st.builds(
            Item,
            title=_text,
            text=_text,
            fields=st.lists(st.builds(Field, _text, _text), max_size=30).map(tuple),
            author=st.none() | _text,
            footer=st.none() | _text,
            url=st.none() | st.sampled_from(["https://a.test/x", "javascript:x", "https://"]),
        ),
        max_size=14,
    ).map(tuple),
    footer=st.none() | _text,
)
def test_any_reply_renders_within_every_limit(title, text, items, footer):
    reply = Reply(title=title, text=text, items=items, footer=footer)
    for payload in payloads(render(reply)):
        assert message_problems(payload) == []
        for shown in rendered_text(payload):
            assert not _PINGS.search(shown)


def test_allowed_mentions_none_is_what_discord_py_serialises():
    assert discord.AllowedMentions.none().to_dict() == {"parse": []}
