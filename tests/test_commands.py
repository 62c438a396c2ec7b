"""Every command through ``dispatch`` with a real Store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import hypothesis
import pytest
from hypothesis import strategies as st
from sqlalchemy import event

from bot.render.discord import encode_custom_id, escape
from bot.render.discord import render as render_discord
from handlers import COMMANDS, Reply, complete_company, dispatch, dispatch_text
from handlers.listings import BUTTON_ARGS_BUDGET, encoded_len, page_buttons
from storage import open_store
from tests.test_handlers_fixtures import (
    NOW,
    ctx,
    posting,
    seed_postings,
    seed_stories,
    settings,
)


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


@pytest.fixture
async def seeded(store):
    await seed_postings(store)
    return store


async def run(store, text: str, context=None, **kw):
    """Type a command as on Slack or the console: parse the text, then dispatch."""
    name, _, rest = text.lstrip("/").partition(" ")
    return await dispatch_text(store, name, rest, context or ctx(), settings=settings(**kw))


def titles(reply):
    return [item.title for item in reply.items]


# -- /ailistings -----------------------------------------------------------------------


async def test_ailistings_matches_company_loosely_and_sorts_by_pay(seeded):
    for spelling in ("netflix", "Netflix", "NFLX", "  NETFLIX "):
        reply = await dispatch(
            seeded, "ailistings", {"company": spelling}, ctx(), settings=settings()
        )
        assert reply.severity != "error", reply.text
        assert titles(reply) == [
            "Product Manager – Machine Learning Platform",
            "Machine Learning Engineer (L5), Personalization",
        ], spelling  # the Character Modeler is not an AI role
        assert "Netflix" in reply.title
    pay = [f.value for f in reply.items[0].fields if f.name == "Pay"]
    assert pay == ["$300k–$900k/yr total comp"]


async def test_ailistings_min_salary_reads_user_units(seeded):
    reply = await run(seeded, "/ailistings min_salary:$400,000")
    assert titles(reply) == [
        "Product Manager – Machine Learning Platform",  # 900k
        "Machine Learning Engineer (L5), Personalization",  # 700k
        "Research Engineer, Interpretability",  # 560k
        "Software Engineer, Inference",  # 405k
    ]
    assert "$400k+" in reply.title
    assert reply.text.startswith("4 roles")


async def test_ailistings_remote_and_query(seeded):
    reply = await run(seeded, "/ailistings remote:yes")
    assert set(titles(reply)) == {
        "Machine Learning Engineer (L5), Personalization",
        "Software Engineer, Inference",
        "ML Engineer - Open Source LLM Tooling",
    }
    reply = await run(seeded, "/ailistings query:interpretability")
    assert titles(reply) == ["Research Engineer, Interpretability"]
    reply = await run(seeded, "/ailistings anthropic query:quantum")
    assert reply.items == () and "No open roles match" in reply.text
    assert reply.severity != "error"


async def test_ailistings_pages_with_buttons_that_carry_the_query(seeded):
    first = await run(seeded, "/ailistings min_salary:150k", page_size=2)
    assert len(first.items) == 2 and first.footer.startswith("Page 1 of 3")
    prev, nxt = first.buttons
    assert prev.disabled and not nxt.disabled
    assert dict(nxt.args) == {"min_salary": "150k", "page": "2"}
    seen = titles(first)
    reply = first
    page = 1
    while True:
        nxt = reply.buttons[1]
        if nxt.disabled:
            break
        assert len(encode_custom_id(nxt.command, nxt.args)) <= 100  # Discord's own encoder
        # A click after a restart: only the button's own command and args exist.
        reply = await dispatch(
            seeded, nxt.command, dict(nxt.args), ctx(), settings=settings(page_size=2)
        )
        page += 1
        assert reply.footer.startswith(f"Page {page} of 3")
        seen += titles(reply)
    assert len(seen) == len(set(seen)) == 6  # every AI role paying 150k+, once
    assert not reply.buttons[0].disabled and reply.buttons[1].disabled
    back = await dispatch(
        seeded, "ailistings", dict(reply.buttons[0].args), ctx(), settings=settings(page_size=2)
    )
    assert back.footer.startswith("Page 2 of 3")


def test_paging_buttons_fit_discord_custom_ids_or_are_left_out():
    longest = (
        ("company", "NBCUniversal"),
        ("min_salary", "1.2m"),
        ("query", "generative-video"),
        ("remote", "yes"),
    )
    buttons = page_buttons("ailistings", longest, 499, has_next=True)
    assert len(buttons) == 2
    for button in buttons:
        assert encoded_len(button.command, button.args) <= BUTTON_ARGS_BUDGET
        assert len(encode_custom_id(button.command, button.args)) <= 100
    # Percent-encoding makes non-ASCII text three times longer: no buttons then.
    accented = (("company", "Netflix"), ("query", "é" * 40))
    assert page_buttons("ailistings", accented, 1, has_next=True) == ()


async def test_ailistings_page_past_the_end(seeded):
    reply = await run(seeded, "/ailistings netflix page:9")
    assert reply.severity == "error" and "only 1 page" in reply.text


async def test_ailistings_unknown_and_ambiguous_company(seeded):
    reply = await run(seeded, "/ailistings netflx")
    assert reply.severity == "error" and reply.ephemeral
    assert "Did you mean Netflix?" in reply.text
    reply = await run(seeded, "/ailistings acme")
    assert "No company called “acme”" in reply.text and "Anthropic" in reply.text
    await store_extra(seeded, posting("disneyplus", "1", "Disney Streaming", "ML Engineer", None))
    reply = await run(seeded, "/ailistings disn")
    assert reply.severity == "error" and "several companies" in reply.text
    assert "Disney, Disney Streaming" in reply.text


async def store_extra(store, p):
    await store.apply_postings(p.source, [p], at=NOW, baseline=False)


async def test_company_found_among_more_than_a_thousand(store):
    """Resolution and autocomplete read every stored company, not the first thousand in
    key order: with many boards, "Zillow" (last in that order) is still found."""
    names = [f"Studio {n:04d}" for n in range(1_200)] + ["Zillow"]
    batch = [posting("board", str(n), name, "ML Engineer", None) for n, name in enumerate(names)]
    await store.apply_postings("board", batch, at=NOW, baseline=False)
    reply = await run(store, "/ailistings zillow")
    assert reply.severity != "error", reply.text
    assert "Zillow" in reply.title and len(reply.items) == 1
    assert await complete_company(store, "zill") == ["Zillow"]
    reply = await run(store, "/ailistings studio 1199")
    assert "Studio 1199" in reply.title and len(reply.items) == 1


async def test_the_company_list_is_read_again_only_after_a_write(store):
    """Autocomplete and resolution keep the company list (each read is two index probes a
    company): typing reads it once, and this store's own write shows at once."""
    await store.apply_postings(
        "board", [posting("board", "1", "Netflix", "ML", None)], at=NOW, baseline=False
    )
    reads: list[str] = []

    def record(conn, cursor, statement, params, context, executemany):
        if "source_companies" in statement and statement.lstrip().upper().startswith("WITH"):
            reads.append(statement)

    engine = store._engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for typed in ("", "n", "ne", "net", "netf"):
            assert await complete_company(store, typed) == ["Netflix"]
        reply = await run(store, "/ailistings netflix")
        assert "Netflix" in reply.title
        assert len(reads) == 1
        await store_extra(store, posting("board2", "1", "Netlify", "ML", None))
        assert await complete_company(store, "net") == ["Netflix", "Netlify"]
        assert len(reads) == 2
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_company_another_instance_stored_is_found_at_once(db_url):
    """Two instances on one database: a name missing from the kept list is looked up
    afresh before the command says there is no such company."""
    async with open_store(db_url) as mine, open_store(db_url) as theirs:
        await store_extra(mine, posting("board", "1", "Netflix Games", "ML Engineer", None))
        assert await complete_company(mine, "") == ["Netflix Games"]  # kept
        await store_extra(theirs, posting("zboard", "1", "Zillow", "ML Engineer", None))
        reply = await run(mine, "/ailistings zillow")
        assert reply.severity != "error", reply.text
        assert "Zillow" in reply.title and len(reply.items) == 1
        assert await complete_company(mine, "zill") == ["Zillow"]  # the fresh list is kept
        # a loose match is made on the list as it is now: "netflix" is Netflix itself,
        # stored since, not the Netflix Games of the kept list
        await store_extra(theirs, posting("nboard", "1", "Netflix", "Data Engineer", None))
        reply = await run(mine, "/ailistings netflix")
        assert reply.severity != "error", reply.text
        assert [item.title for item in reply.items] == ["Data Engineer"], reply.title


# -- validation and permission ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        ("ailistings", {"salary": "300k"}, "has no option `salary`"),
        ("ailistings", {"min_salary": "lots"}, "like 300k, $300,000 or 0.3m"),
        ("ailistings", {"remote": "perhaps"}, "`remote` should be yes or no"),
        ("ailistings", {"page": 0}, "`page` should be between 1 and 500"),
        ("strikenews", {"days": "a week"}, "`days` should be a whole number"),
        ("unsubscribe", {}, "needs `id`"),
        ("unsubscribe", {"id": "three"}, "subscription number like 3, or all"),
        ("unsubscribe", {"id": "²"}, "subscription number like 3, or all"),  # isdigit, not int
        ("subscribe", {"keywords": "日本語"}, "“日本語” would not match as written"),
        ("subscribe", {"exclude": "стажер"}, "“стажер” would not match as written"),
        ("subscribe", {"keywords": "!!!"}, "letters a–z (accents are ignored) and digits"),
        ("unsubscribe", {"id": "99999999999"}, "no subscription #99999999999"),  # > 32 bits
        ("digest", {"id": 77}, "no subscription #77"),
        ("help", {"command": "fly"}, "no /fly command"),
        ("teleport", {}, "no /teleport command"),
    ],
)
async def test_user_mistakes_are_friendly_errors(seeded, command, args, says):
    reply = await dispatch(seeded, command, args, ctx(), settings=settings())
    assert reply.severity == "error" and reply.ephemeral
    assert says in reply.text


async def test_subscribe_takes_no_company_by_a_word_inside_its_name(seeded):
    """A subscription keeps what it was given: "6:30 pm" unquoted leaves "pm", which
    must not become a company that merely holds it. /ailistings, which saves nothing,
    still finds "face" in Hugging Face."""
    reply = await run(seeded, "/subscribe mode:digest digest_time:6:30 face")
    assert reply.severity == "error" and "No company called “face”" in reply.text
    assert await seeded.subscriptions(ctx().channel) == []
    assert "Hugging Face" in (await run(seeded, "/ailistings face")).title
    reply = await run(seeded, "/subscribe jobs hugg")  # the start of a name still does
    assert reply.severity == "success" and "hugging face" in reply.text.lower(), reply.text


async def test_a_company_name_with_a_comma_is_one_company(store):
    """Discord's autocomplete offers "Warner Bros. Discovery, Inc."; picking it must not
    split it at the comma into a second company called "Inc."."""
    await store_extra(store, posting("wbd", "1", "Warner Bros. Discovery, Inc.", "ML", None))
    await store_extra(store, posting("nflx", "1", "Netflix", "ML", None))
    reply = await dispatch(
        store,
        "subscribe",
        {"company": "Warner Bros. Discovery, Inc., Netflix"},
        ctx(),
        settings=settings(),
    )
    assert reply.severity == "success", reply.text
    (sub,) = await store.subscriptions(ctx().channel)
    assert sub.companies == ("warner bros. discovery, inc.", "netflix")
    listed = await run(store, '/ailistings "Warner Bros. Discovery, Inc."')
    assert listed.severity != "error" and len(listed.items) == 1, listed.text


async def test_keywords_with_accents_and_symbols_are_kept(store):
    reply = await run(store, '/subscribe jobs keywords:"Zürich, C++, gen-AI" exclude:naïve')
    assert reply.severity == "success", reply.text
    (sub,) = await store.subscriptions(ctx().channel)
    assert sub.keywords == ("Zürich", "C++", "gen-AI") and sub.exclude == ("naïve",)


async def test_subscribe_needs_manage_channel_and_saves_nothing(store):
    reply = await run(store, "/subscribe jobs min_salary:300k", ctx(manage=False))
    assert reply.severity == "error" and "Manage Channels" in reply.text
    reply = await run(store, "/unsubscribe all", ctx(manage=False))
    assert reply.severity == "error"
    assert await store.subscriptions() == []


# -- /subscribe, /subscriptions, /unsubscribe ------------------------------------------


async def test_subscribe_saves_normalised_and_answers_with_id_and_summary(seeded):
    changed = []
    reply = await run(
        seeded,
        "/subscribe jobs company:NFLX company:hf min_salary:0.3m keywords:llm,vision "
        "exclude:intern digest_time:9am tz:america/los_angeles days:mon-fri",
        on_subscriptions_changed=changed.append,
    )
    assert reply.severity == "success", reply.text
    [saved] = await seeded.subscriptions("discord:1001")
    assert reply.title == f"Subscribed: #{saved.id}"
    assert saved.kind == "jobs"
    assert saved.companies == ("netflix", "hugging face")
    assert saved.min_salary_usd == 300_000
    assert saved.keywords == ("llm", "vision") and saved.exclude == ("intern",)
    assert saved.mode == "both"  # a digest time was given: instant alerts plus a digest
    assert (saved.digest_time, saved.tz, saved.days) == (
        "09:00",
        "America/Los_Angeles",
        (1, 2, 3, 4, 5),
    )
    assert saved.created_by == "U42" and saved.created_at == NOW
    assert reply.text == (
        "AI/ML jobs at netflix, hugging face, paying $300k+, with llm, vision, without intern"
        " · instant alerts + daily digest at 09:00 America/Los_Angeles Mon–Fri"
    )
    assert changed == ["discord:1001"]


async def test_subscribe_defaults_and_kind_inference(seeded):
    reply = await run(seeded, "/subscribe topics:strike,ai min_score:0.5")
    assert reply.severity == "success", reply.text
    [news] = await seeded.subscriptions("discord:1001")
    assert (news.kind, news.topics, news.min_score, news.mode) == (
        "news",
        ("strike", "ai"),
        0.5,
        "instant",
    )
    reply = await run(seeded, "/subscribe", ctx("slack:T1/C9"), default_tz="Europe/London")
    [everything] = await seeded.subscriptions("slack:T1/C9")
    assert (everything.kind, everything.tz, everything.digest_time) == (
        "all",
        "Europe/London",
        "09:00",
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/subscribe jobs tz:Mars/Base mode:digest", "IANA time zone"),
        ("/subscribe jobs digest_time:25:00", "HH:MM"),
        ("/subscribe jobs days:someday mode:both", "mon-fri"),
        ("/subscribe jobs mode:sometimes", "one of: instant, digest, both"),
        ("/subscribe news min_salary:300k", "`min_salary` applies to jobs"),
        ("/subscribe jobs topics:strike", "apply to news"),
        ("/subscribe jobs topics:weather", "one of: strike, ai"),
        ("/subscribe jobs mode:instant digest_time:09:00", "use mode:digest or mode:both"),
        ("/subscribe jobs company:netflx", "Did you mean Netflix?"),
        ("/subscribe jobs min_salary:300 company:netflix", "did you mean 300k?"),
        ("/subscribe kind:jobs kind:news", "given twice"),
    ],
)
async def test_subscribe_refuses_bad_input_and_saves_nothing(seeded, text, says):
    reply = await run(seeded, text)
    assert reply.severity == "error", reply
    assert says in reply.text
    assert await seeded.subscriptions() == []


async def test_subscribe_twice_is_recognised_and_limit_is_enforced(seeded):
    first = await run(seeded, "/subscribe jobs netflix")
    again = await run(seeded, "/subscribe jobs company:Netflix")
    assert again.title == first.title.replace("Subscribed", "Already subscribed")
    assert len(await seeded.subscriptions()) == 1
    await run(seeded, "/subscribe jobs anthropic", max_subscriptions_per_channel=2)
    refused = await run(seeded, "/subscribe jobs disney", max_subscriptions_per_channel=2)
    assert refused.severity == "error" and "the most allowed" in refused.text
    assert len(await seeded.subscriptions()) == 2


async def test_subscriptions_and_unsubscribe(seeded):
    await run(seeded, "/subscribe jobs netflix")
    await run(seeded, "/subscribe news topics:strike mode:digest tz:UTC", ctx())
    await run(seeded, "/subscribe jobs anthropic", ctx("discord:2002"))
    mine = await seeded.subscriptions("discord:1001")
    other = (await seeded.subscriptions("discord:2002"))[0]

    listing = await run(seeded, "/subscriptions")
    assert titles(listing) == [f"#{s.id}" for s in mine]
    assert "news about" not in listing.items[1].text and "topics strike" in listing.items[1].text

    # Another channel's id is not ours to remove.
    reply = await run(seeded, f"/unsubscribe {other.id}")
    assert reply.severity == "error" and f"no subscription #{other.id}" in reply.text
    assert len(await seeded.subscriptions("discord:2002")) == 1

    reply = await run(seeded, f"/unsubscribe #{mine[0].id}")
    assert reply.title == f"Unsubscribed: #{mine[0].id}"
    reply = await run(seeded, "/unsubscribe all")
    assert reply.text == "Removed 1 subscription from this channel."
    assert await seeded.subscriptions("discord:1001") == []
    empty = await run(seeded, "/subscriptions")
    assert empty.items == () and "/subscribe" in empty.text


async def test_paused_subscription_shows_its_reason(seeded):
    await run(seeded, "/subscribe jobs netflix")
    await seeded.pause_channel("discord:1001", "Missing Access (50001)")
    listing = await run(seeded, "/subscriptions")
    assert "PAUSED: Missing Access (50001)" in listing.items[0].text
    assert listing.items[0].fields[0].value == "Missing Access (50001)"
    health = await run(seeded, "/sources")
    assert any("paused" in item.title and "Missing Access" in item.text for item in health.items)


# -- /salaries, /sources, /help ----------------------------------------------------------


async def test_salaries_per_company(seeded):
    reply = await run(seeded, "/salaries")
    assert titles(reply)[:2] == ["Netflix", "Anthropic"]  # by median
    netflix = {f.name: f.value for f in reply.items[0].fields}
    assert netflix["Roles with pay"] == "2"  # the Character Modeler is not counted
    assert netflix["Highest"] == "$900k"
    assert "Hugging Face" not in titles(reply)  # no stated pay
    one = await run(seeded, "/salaries anthropic")
    assert titles(one) == ["Anthropic"] and one.title == "AI/ML pay at Anthropic"
    fields = {f.name: f.value for f in one.items[0].fields}
    assert fields["Highest"] == "$560k" and fields["Roles with pay"] == "2"


async def test_sources_health(seeded):
    await seeded.poll_succeeded(
        "anthropic", at=NOW - timedelta(minutes=5), validators={}, item_count=2,
        next_attempt=NOW + timedelta(minutes=10),
    )  # fmt: skip
    await seeded.poll_failed(
        "disney", at=NOW - timedelta(minutes=2), error="HTTP 503 (https://disney.wd5.myworkdayjobs.com)",
        next_attempt=NOW + timedelta(minutes=30),
    )  # fmt: skip
    reply = await run(seeded, "/sources")
    assert "anthropic: ok · 2 items · last success 5 min ago · next poll in 10 min" in reply.text
    assert "disney: failing (1 in a row)" in reply.text
    [failing] = [i for i in reply.items if i.title == "disney"]
    assert failing.fields[0].value.startswith("HTTP 503")
    assert reply.severity == "warning"


async def test_sources_pages_fit_a_discord_message_whole(store):
    """With failing sources the page's lines go in the message content (2,000
    characters): every line of every page is there whole, and the pages cover every
    source once."""
    names = [f"studio{n:02d} careers board with a rather long name" for n in range(40)]
    for n, name in enumerate(names):
        at = NOW - timedelta(minutes=5)
        if n % 8 == 0:
            await store.poll_failed(name, at=at, error="HTTP 503 " + "x" * 300, next_attempt=at)
        else:
            await store.poll_succeeded(name, at=at, validators={}, item_count=200)
    seen: list[str] = []
    for page in (1, 2, 3):
        reply = await dispatch(store, "sources", {"page": page}, ctx(), settings=settings())
        assert reply.items  # failing sources: the lines go in the content
        content = render_discord(reply)[0].content or ""
        lines = reply.text.split("\n")[1:]
        for line in lines:
            assert escape(line) in content, line
        seen += [line.split(":")[0].split(" ", 1)[1] for line in lines]
    assert seen == sorted(names, key=str.lower)


async def test_help_is_built_from_the_declarations(store):
    reply = await run(store, "/help")
    assert reply.ephemeral
    assert "/ailistings — Open AI/ML roles, highest pay first" in reply.text
    detail = await run(store, "/help subscribe")
    assert "Needs the Manage Channels permission" in detail.text
    options = {f.name: f.value for f in detail.items[0].fields}
    assert "one of: instant, digest, both" in options["mode"]
    assert "several allowed" in options["company"]


# -- /digest preview -------------------------------------------------------------------


async def test_digest_preview_is_personal(seeded):
    reply = await run(seeded, "/digest")
    assert reply.ephemeral
    assert "no subscriptions" in reply.text
    assert "Product Manager – Machine Learning Platform" in titles(reply)

    await run(seeded, "/subscribe jobs anthropic mode:digest digest_time:08:00 tz:UTC")
    reply = await run(seeded, "/digest")
    assert reply.ephemeral and reply.title.endswith("(preview)")
    assert titles(reply) == ["Research Engineer, Interpretability", "Software Engineer, Inference"]
    assert "2 new AI/ML roles, 2 paying $300k+" in reply.text


async def test_digest_preview_when_nothing_is_new(seeded):
    await run(seeded, "/subscribe jobs netflix min_salary:2m mode:digest")
    reply = await run(seeded, "/digest")
    assert reply.ephemeral and reply.items == ()
    assert "Nothing new since" in reply.text and "no digest would be sent" in reply.text


# -- /strikenews -----------------------------------------------------------------------


@pytest.fixture
async def news(store):
    await seed_stories(store)
    return store


async def test_strikenews_newest_first_with_days_topic_and_query(news):
    reply = await run(news, "/strikenews")
    assert titles(reply) == [
        "Netflix Tests AI Tool for Digital Replicas of Background Actors",
        "SAG-AFTRA Video Game Performers Strike Against Activision, EA Over AI Protections",
        "WGA Reaches Tentative Deal With AMPTP, Ending 148-Day Strike",
        "IATSE Members Ratify Basic Agreement With AI Guardrails",
    ]
    assert reply.items[1].author == "Deadline"
    assert reply.items[1].text.startswith("The union's interactive media agreement")
    assert reply.title == "Strike & AI news, last 7 days"

    recent = await run(news, "/strikenews 1")
    assert len(recent.items) == 3 and recent.title.endswith("last 1 day")
    strikes = await run(news, "/strikenews topic:strike")
    assert "Netflix Tests AI Tool for Digital Replicas of Background Actors" not in titles(strikes)
    wga = await run(news, "/strikenews 7 wga")
    assert titles(wga) == ["WGA Reaches Tentative Deal With AMPTP, Ending 148-Day Strike"]
    assert "matching “wga”" in wga.title
    for wildcard in ("%", "_"):  # the text as typed, not LIKE's wildcards
        assert titles(await run(news, f"/strikenews query:{wildcard}")) == []


async def test_strikenews_pages(news):
    first = await run(news, "/strikenews days:7", page_size=3)
    assert len(first.items) == 3
    prev, nxt = first.buttons
    assert prev.disabled and not nxt.disabled
    second = await dispatch(
        news, nxt.command, dict(nxt.args), ctx(), settings=settings(page_size=3)
    )
    assert titles(second) == ["IATSE Members Ratify Basic Agreement With AI Guardrails"]
    assert second.buttons[1].disabled and not second.buttons[0].disabled


async def test_strikenews_nothing_found_suggests_more_days(news):
    reply = await run(news, "/strikenews 2 query:oscars")
    assert reply.items == () and "Try days:8" in reply.text


# -- hostile text ------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "netflix", "company:", "min_salary:", "300k", "all", "#3", "\"", "“", "'", "kind:jobs",
        "tz:Mars/Base", "days:", "mon-fri", "page:0", "page:99999999999999", "<!channel>",
        "@everyone", "\x00", "\u202e", "query:", "%", "_", "remote:maybe", "topics:strike",
        "digest_time:25:61", "min_score:NaN", "id:all", "keywords:a,b,,c", "=", ":",
    ]
)  # fmt: skip


@hypothesis.settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    name=st.sampled_from([c.name for c in COMMANDS]),
    words=st.lists(st.one_of(_WORDS, st.text(max_size=12)), max_size=8),
)
async def test_any_typed_command_gets_a_reply_never_an_exception(sqlite_url, name, words):
    async with open_store(sqlite_url) as store:
        reply = await dispatch_text(store, name, " ".join(words), ctx(), settings=settings())
    assert isinstance(reply, Reply)
    if reply.severity == "error":
        assert reply.ephemeral and reply.text


# -- autocomplete ------------------------------------------------------------------------


async def test_complete_company(seeded):
    assert await complete_company(seeded, "") == ["Anthropic", "Disney", "Hugging Face", "Netflix"]
    assert await complete_company(seeded, "NET") == ["Netflix"]
    assert await complete_company(seeded, "hugging-f") == ["Hugging Face"]
    assert await complete_company(seeded, "face") == ["Hugging Face"]  # contains
    assert await complete_company(seeded, "nfl") == ["Netflix"]  # alias nflx
    custom = settings(aliases={"mouse": "disney"})
    assert await complete_company(seeded, "mou", settings=custom) == ["Disney"]
    assert await complete_company(seeded, "zzz") == []
    assert await complete_company(seeded, "%") == []
