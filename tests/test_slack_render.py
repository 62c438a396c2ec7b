"""Block Kit rendering: escaping of hostile text, Slack's limits, splitting, buttons.

Every rendered message is checked by the fake Slack's own, independent checker
(:func:`tests.fakes.slack_server.message_problems`), written from Slack's published
limits rather than from the renderer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render.slack import (
    decode_action_value,
    encode_action_value,
    escape,
    format_date,
    link,
    render,
)
from handlers.alerts import NEWS_COLOUR
from handlers.reply import Button, Field, Item, Reply
from tests.fakes.slack_server import message_problems

HOSTILE = "<!channel> <!here|here> <@U024BE7LH> <#C0GENERAL> <!subteam^S01> @everyone & friends"


def _all_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


def _posting(i: int, title: str = "Staff ML Engineer", **kw) -> Item:
    return Item(
        title=title,
        url=f"https://boards.greenhouse.io/netflix/jobs/{4000 + i}?gh_src=a&b=1",
        author="Netflix",
        fields=(Field("Pay", "$300k–$900k/yr total comp"), Field("Location", "Los Gatos, CA")),
        footer=f"greenhouse · #{i}",
        timestamp=datetime(2026, 11, 20, 17, 30, tzinfo=UTC),
        **kw,
    )


def test_escape_makes_mentions_and_entities_inert():
    out = escape(HOSTILE)
    assert "<" not in out and ">" not in out
    assert "&lt;!channel&gt;" in out and "&lt;@U024BE7LH&gt;" in out
    assert "&amp; friends" in out
    assert "@everyone" not in out  # a word joiner follows the @
    assert escape("a\x00b\u202ec\td") == "abc d"


def test_link_sanitises_url_and_escapes_label():
    out = link("https://x.test/jobs?a=1&b=<2>|3 4", "Lead <@U1> & *AI*")
    assert out.startswith("<https://x.test/jobs?a=1&amp;b=%3C2%3E%7C3%204|")
    assert out.endswith("|Lead &lt;@U1&gt; &amp; *AI*>")
    # only http(s) links; anything else stays text
    assert link("javascript:alert(1)", "x") == "x"
    assert link(None, "<b>") == "&lt;b&gt;"
    assert link("https://x.test/" + "a" * 5000, "long") == "long"


def test_dates_show_in_the_readers_zone_with_a_utc_fallback():
    when = datetime(2026, 3, 8, 10, 30, tzinfo=timezone(timedelta(hours=-7)))
    assert format_date(when) == (
        "<!date^1772991000^{date_short_pretty} {time}|2026-03-08 17:30 UTC>"
    )
    # a naive time is taken as UTC
    assert format_date(datetime(2026, 1, 1)).endswith("|2026-01-01 00:00 UTC>")


def test_action_value_round_trip_and_rejects_foreign_values():
    value = encode_action_value("ailistings", (("company", "netflix"), ("page", "2")))
    assert decode_action_value(value) == ("ailistings", (("company", "netflix"), ("page", "2")))
    for bad in ("", "{}", "[1]", '{"c": 3}', "not json"):
        try:
            decode_action_value(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_hostile_text_everywhere_is_escaped_and_within_limits():
    reply = Reply(
        title=f"New role {HOSTILE}",
        text=f"Summary {HOSTILE}",
        items=(
            Item(
                title=f"ML Engineer {HOSTILE}",
                url="https://jobs.example.com/1",
                text=f"About {HOSTILE}",
                author=f"Acme {HOSTILE}",
                fields=(Field(f"Pay {HOSTILE}", f"$1 {HOSTILE}"),),
                footer=f"src {HOSTILE}",
                timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            ),
        ),
        buttons=(Button(f"Next {HOSTILE}", command="ailistings", args=(("page", "2"),)),),
        footer=f"footer {HOSTILE}",
    )
    (message,) = render(reply)
    assert message_problems(message) == []
    dumped = _all_text(message)
    for raw in ("<!channel>", "<!here", "<@U024BE7LH>", "<#C0GENERAL>", "<!subteam", "@everyone"):
        assert raw not in dumped
    assert "&lt;!channel&gt;" in message["text"]


def test_posting_layout_header_section_fields_context_and_view_button():
    reply = Reply(title="New AI/ML role", items=(_posting(1),), severity="success")
    (message,) = render(reply)
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "context"]
    section = message["blocks"][1]
    assert section["text"]["text"].startswith(
        "*<https://boards.greenhouse.io/netflix/jobs/4001?gh_src=a&amp;b=1|Staff ML Engineer>*"
    )
    assert [f["text"] for f in section["fields"]] == [
        "*Pay*\n$300k–$900k/yr total comp",
        "*Location*\nLos Gatos, CA",
    ]
    assert section["accessory"]["text"]["text"] == "View posting"
    assert (
        section["accessory"]["url"] == "https://boards.greenhouse.io/netflix/jobs/4001?gh_src=a&b=1"
    )
    context = message["blocks"][2]["elements"]
    assert context[1]["text"].startswith("<!date^1795195800^{date_short_pretty} {time}|")
    assert all(t.get("verbatim") for t in [section["text"], *section["fields"], *context])
    story = Item(title="Strike ends", url="https://news.example/a", colour=NEWS_COLOUR)
    (news,) = render(Reply(items=(story,)))
    assert news["blocks"][0]["accessory"]["text"]["text"] == "Read story"


def test_every_limit_is_enforced_with_an_ellipsis():
    long = "Ω&<" * 5000
    reply = Reply(
        title=long,
        text=long,
        items=(
            Item(
                title=long,
                url="https://x.test/" + "p" * 2500,
                text=long,
                author=long,
                fields=tuple(Field(f"f{i} {long}", long) for i in range(30)),
                footer=long,
            ),
        ),
        buttons=tuple(
            Button(f"b{i} {long}", command="ailistings", args=(("page", str(i)),))
            for i in range(60)
        ),
        footer=long,
    )
    messages = render(reply)
    for message in messages:
        assert message_problems(message) == [], message_problems(message)[:3]
    header = messages[0]["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    assert not header.rstrip("…").endswith(("&", "&l", "&lt", "&am", "&amp"))
    item = next(b for m in messages for b in m["blocks"] if b.get("block_id") == "item-0")
    assert len(item["fields"]) == 10
    assert all(len(f["text"]) <= 2000 for f in item["fields"])
    buttons = [
        e for m in messages for b in m["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert len(buttons) == 60  # split over three actions blocks of at most 25
    assert all(len(b["text"]["text"]) <= 75 for b in buttons)


def test_a_long_digest_is_split_and_paging_stays_at_the_end():
    items = tuple(_posting(i) for i in range(40))
    reply = Reply(
        title="Your daily digest",
        text="Top roles since yesterday",
        items=items,
        buttons=(Button("Next ▶", command="ailistings", args=(("page", "2"),)),),
        footer="Subscription #3",
    )
    messages = render(reply)
    assert len(messages) > 1
    seen = [
        b["block_id"]
        for m in messages
        for b in m["blocks"]
        if b.get("block_id", "").startswith("item-")
    ]
    assert seen == [f"item-{i}" for i in range(40)]  # none lost, in order
    assert messages[-1]["blocks"][-2]["type"] == "actions"
    assert messages[-1]["blocks"][-1]["elements"][0]["text"] == "Subscription #3"
    for part, message in enumerate(messages):
        assert message_problems(message) == []
        assert message["blocks"][0]["type"] != "divider"
        assert message["text"].endswith(f"({part + 1}/{len(messages)})")
    # a response_url takes five posts: the rest is summarised, the tail kept
    capped = render(
        Reply(title="Digest", items=tuple(_posting(i) for i in range(200))), max_messages=2
    )
    assert len(capped) == 2
    assert "more not shown here" in _all_text(capped[-1])
    for message in capped:
        assert message_problems(message) == []


def test_disabled_and_oversized_buttons_are_left_out():
    buttons = (
        Button("◀ Previous", command="ailistings", args=(("page", "0"),), disabled=True),
        Button("Next ▶", command="ailistings", args=(("query", "x" * 3000),)),
        Button("Board", url="ftp://nope"),
        Button("Board", url="https://boards.greenhouse.io/netflix"),
    )
    (message,) = render(Reply(title="t", buttons=buttons))
    elements = message["blocks"][-1]["elements"]
    assert [e["text"]["text"] for e in elements] == ["Board"]
    assert elements[0]["url"] == "https://boards.greenhouse.io/netflix"


def test_action_ids_stay_unique_with_items_and_link_buttons():
    buttons = (
        Button("Board", url="https://boards.greenhouse.io/netflix"),
        Button("Next ▶", command="ailistings", args=(("page", "2"),)),
    )
    (message,) = render(Reply(items=(_posting(0), _posting(1)), buttons=buttons))
    assert message_problems(message) == []
    ids = [
        e["action_id"]
        for b in message["blocks"]
        for e in [*b.get("elements", []), b.get("accessory", {})]
        if "action_id" in e
    ]
    assert ids == ["marquee:link:i0", "marquee:link:i1", "marquee:link:b0", "marquee:run:1"]


def test_an_empty_reply_is_still_a_valid_message():
    (message,) = render(Reply())
    assert message_problems(message) == []
    assert message["text"]


_text = st.text(
    alphabet=st.sampled_from(list("ab <>&@|*_~`:!^#\n\t\u202e\x00é😀")) | st.characters(),
    max_size=400,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=_text,
    text=_text,
    items=st.lists(
        st.builds(
            Item,
            title=_text,
            url=st.one_of(st.none(), st.just("https://x.test/a?b=<c>|d&e"), _text),
            text=_text,
            fields=st.lists(st.builds(Field, name=_text, value=_text), max_size=14).map(tuple),
            author=st.one_of(st.none(), _text),
            footer=st.one_of(st.none(), _text),
        ),
        max_size=30,
    ).map(tuple),
    footer=st.one_of(st.none(), _text),
)
def test_any_reply_renders_within_limits_and_inert(title, text, items, footer):
    reply = Reply(title=title, text=text, items=items, footer=footer)
    for message in render(reply):
        assert message_problems(message) == []
