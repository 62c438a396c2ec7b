"""/ailistings search and counts (issue 8) on SQLite and PostgreSQL: query words in a
description only, wildcards as text, short words, closed postings, the capped count and
its paging, and the 0005 migration on a database that already holds postings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from bot.models import ListingFilter
from handlers import dispatch
from handlers import listings as listings_handler
from storage import open_store, upgrade
from storage._engine import create_engine
from storage._listings import _FEW_MATCHES
from storage._migrate import MIGRATIONS_DIR
from tests.test_storage_postings import POLL, T0, job


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


BOARD = [
    job("d1", "Research Engineer", description="Our stack: PyTorch, Triton and CUDA."),
    job("d2", "Research Engineer", description="Pay: 100% remote-friendly; ML_Ops on call."),
    job("d3", "Research Engineer", description="We use 1000 GPUs and MLflow."),
    job("d4", "Applied Scientist", description="Ranking with gradient-boosted trees."),
    job("d5", "Research Engineer", description="Ünïcode Zürich office; pytorch here too."),
]


async def ids(store, **kw) -> list[str]:
    where = ListingFilter(**kw)
    found = [p.posting.external_id for p in await store.listings(where)]
    assert await store.count_listings(where) == len(found)
    assert await store.count_listings(where, limit=1) == min(1, len(found))
    # listing_page gives the same count and pages whether its count stops short of the
    # matches (the page then comes through the rank index) or passes them (the page
    # comes from the ids it counted), and on either side of _FEW_MATCHES.
    for count_limit in (1, 2, len(found), len(found) + 1, _FEW_MATCHES, _FEW_MATCHES + 1):
        for limit, offset in ((2, 0), (2, 1), (50, 0), (1, len(found)), (0, 0)):
            total, page = await store.listing_page(
                where, limit=limit, offset=offset, count_limit=count_limit
            )
            assert total == min(count_limit, len(found)), (count_limit, limit, offset)
            got = [p.posting.external_id for p in page]
            assert got == found[offset : offset + limit], (count_limit, limit, offset)
    return sorted(found)


async def test_query_words_are_found_in_the_description_alone(store):
    await store.apply_postings("netflix", BOARD, at=T0, baseline=True)
    assert await ids(store, query="pytorch") == ["d1", "d5"]
    assert await ids(store, query="PYTORCH triton") == ["d1"]
    assert await ids(store, query="torch") == ["d1", "d5"]  # a substring, not a word
    assert await ids(store, query="gradient-boosted") == ["d4"]
    assert await ids(store, query="zürich") == ["d5"]
    assert await ids(store, query="pytorch nowhere") == []


async def test_query_wildcards_are_literal_text(store):
    await store.apply_postings("netflix", BOARD, at=T0, baseline=True)
    assert await ids(store, query="100%") == ["d2"]  # not "1000"
    assert await ids(store, query="ml_ops") == ["d2"]  # "_" is not any character
    assert await ids(store, query="%") == ["d2"]
    assert await ids(store, query="_") == ["d2"]


async def test_one_and_two_character_words_match_as_substrings(store):
    await store.apply_postings("netflix", BOARD, at=T0, baseline=True)
    assert await ids(store, query="ml") == ["d2", "d3"]  # ML_Ops, MLflow
    assert await ids(store, query="ü") == ["d5"]
    assert await ids(store, query="cu") == ["d1"]  # CUDA
    assert await ids(store, query="x") == ["d1", "d2", "d3", "d4", "d5"]  # Netflix


async def test_a_closed_posting_is_not_listed_or_counted(store):
    await store.apply_postings("netflix", BOARD, at=T0, baseline=True)
    # absent from two successful polls: closed
    rest = BOARD[1:]
    await store.apply_postings("netflix", rest, at=T0 + POLL, baseline=False)
    await store.apply_postings("netflix", rest, at=T0 + 2 * POLL, baseline=False)
    assert await ids(store, query="pytorch") == ["d5"]
    assert await ids(store, query="pytorch", status="closed") == ["d1"]


async def _ailistings(store, monkeypatch, page: int = 1, **args):
    from tests.test_handlers_fixtures import ctx, settings

    monkeypatch.setattr(listings_handler, "COUNT_CAP", 4)
    monkeypatch.setattr(listings_handler, "QUERY_COUNT_CAP", 3)
    return await dispatch(
        store, "ailistings", {**args, "page": page}, ctx(), settings=settings(page_size=2)
    )


async def test_the_count_stops_at_the_cap_and_paging_goes_on(store, monkeypatch):
    board = [
        job(f"p{i}", f"Engineer {i}", description="pytorch", pay=(100_000, 100_000 + i * 1000))
        for i in range(7)
    ]
    await store.apply_postings("netflix", board, at=T0, baseline=True)

    first = await _ailistings(store, monkeypatch, query="pytorch")
    assert first.text.startswith("3+ roles,")
    assert first.footer == "Page 1 of 2+ · 1–2 of 3+"
    assert [i.title for i in first.items] == ["Engineer 6", "Engineer 5"]
    assert not first.buttons[1].disabled  # Next

    # a page past the cap counts through itself: exact again near the end
    last = await _ailistings(store, monkeypatch, page=4, query="pytorch")
    assert last.text.startswith("7 roles,")
    assert last.footer == "Page 4 of 4 · 7–7 of 7"
    assert [i.title for i in last.items] == ["Engineer 0"]
    assert last.buttons[1].disabled

    beyond = await _ailistings(store, monkeypatch, page=5, query="pytorch")
    assert beyond.severity == "error" and "only 4 pages" in beyond.text

    # without query words the cap is COUNT_CAP
    plain = await _ailistings(store, monkeypatch)
    assert plain.text.startswith("4+ roles,")
    assert plain.footer == "Page 1 of 2+ · 1–2 of 4+"
    # under the cap: exact, as before
    few = await _ailistings(store, monkeypatch, min_salary="105k")
    assert few.text.startswith("2 roles,") and few.footer == "Page 1 of 1 · 1–2 of 2"


def _alembic(connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def _migrate(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_alembic, action, revision)
    finally:
        await engine.dispose()


async def _index_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: {
                    ix["name"]
                    for table in ("postings", "source_companies")
                    for ix in inspect(c).get_indexes(table)
                }
            )
    finally:
        await engine.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index")
async def test_migration_0005_indexes_a_database_that_has_postings(db_url):
    # Postings are stored at the newest schema, then the database is taken back to 0004
    # (the store's own code always speaks the newest schema) and brought up again.
    board = [
        job(f"m{i}", f"Engineer {i}", pay=(100_000 + i, 200_000 + i), remote=i % 2 == 0)
        for i in range(30)
    ]
    async with open_store(db_url) as first:
        await first.apply_postings("netflix", board, at=T0, baseline=True)
        before = [
            p.posting.external_id
            for p in await first.listings(ListingFilter(remote=True), limit=100)
        ]
    await _migrate(db_url, "downgrade", "0004")
    engine = "pg" if db_url.startswith("postgresql") else "sqlite"
    assert f"ix_postings_company_rank_{engine}" not in await _index_names(db_url)
    assert "ix_postings_company_key" in await _index_names(db_url)

    head = await upgrade(db_url)
    assert head is not None and head >= "0005"
    names = await _index_names(db_url)
    assert {
        f"ix_postings_company_rank_{engine}",
        f"ix_postings_rank_{engine}",
        "ix_source_companies_company_key",
    } <= names
    assert "ix_postings_company_key" not in names
    async with open_store(db_url) as new:
        assert [
            p.posting.external_id for p in await new.listings(ListingFilter(remote=True), limit=100)
        ] == before
        assert await new.count_listings(ListingFilter(company="netflix", remote=True)) == 15
        assert await new.companies() == ["Netflix"]
        later = [job("m99", "Engineer 99", pay=(900_000, 900_000), remote=True)]
        await new.apply_postings(
            "netflix", board + later, at=T0 + timedelta(hours=1), baseline=False
        )
        assert (await new.listings(ListingFilter(remote=True), limit=1))[
            0
        ].posting.external_id == "m99"

    await _migrate(db_url, "downgrade", "0004")
    names = await _index_names(db_url)
    assert "ix_postings_company_key" in names
    assert f"ix_postings_company_rank_{engine}" not in names
    assert await upgrade(db_url) == head
    async with open_store(db_url) as again:
        assert (await again.listings(ListingFilter(remote=True), limit=1))[
            0
        ].posting.external_id == "m99"


async def test_the_company_list_has_each_company_once_in_key_order(store):
    await store.apply_postings(
        "a",
        [job("1", source="a", company="Zeta"), job("2", source="a", company="Acme")],
        at=T0,
        baseline=True,
    )
    await store.apply_postings(
        "b",
        [job("3", source="b", company="ACME"), job("4", source="b", company="Beta")],
        at=T0,
        baseline=True,
    )
    # one spelling per key (the greatest, as before), keys in order
    assert await store.companies() == ["Acme", "Beta", "Zeta"]
    assert await store.companies(limit=2) == ["Acme", "Beta"]
    assert await store.companies(prefix="et") == ["Beta", "Zeta"]


@pytest.mark.postgres
async def test_postgresql_walks_the_rank_index_for_query_words(pg_url):
    # the planner settings are PostgreSQL's: no SQLite variant
    from sqlalchemy import select

    from storage._listings import _listing_filters, _scan_in_rank_order
    from storage.schema import postings

    filters = _listing_filters(
        ListingFilter(query="pytorch"), dialect="postgresql", by_source=False
    )
    stmt = (
        select(postings.c.id)
        .where(*filters)
        .order_by(
            postings.c.top_usd.desc().nulls_last(),
            postings.c.first_seen.desc(),
            postings.c.id.desc(),
        )
        .limit(5)
    )
    sql = str(stmt.compile(dialect=postgresql_dialect(), compile_kwargs={"literal_binds": True}))
    async with open_store(pg_url) as s:
        async with s._reader.connect() as conn:
            await _scan_in_rank_order(conn, "pytorch")
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                assert (await conn.exec_driver_sql(f"SHOW {setting}")).scalar() == "off"
            plan = "\n".join(r[0] for r in await conn.exec_driver_sql(f"EXPLAIN {sql}"))
        # (an empty table gets this plan anyway; 200,000 postings got a parallel
        # sequential scan and a sort without the settings: see bench/README.md)
        assert "ix_postings_rank_pg" in plan and "Seq Scan" not in plan and "Sort" not in plan
        # for that transaction only
        async with s._reader.connect() as conn:
            assert (await conn.exec_driver_sql("SHOW enable_seqscan")).scalar() == "on"


def postgresql_dialect():
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect()
