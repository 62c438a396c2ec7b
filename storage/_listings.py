"""Listings: the read side of the postings table, for the commands and the CLI.

``/ailistings``, ``/salaries``, company autocomplete and ``marquee listings`` read here;
the diff that writes postings is in ``storage/_postings.py``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.models import ListingFilter, StoredPosting
from storage._base import StoreBase, chunks
from storage._postings import _stored, company_key
from storage.schema import clean_text, postings, source_companies

__all__ = ["COMPANY_NAMES_TTL", "ListingQueries", "SalaryStats"]

# Query terms beyond this are ignored: each one is a LIKE over three columns.
_MAX_QUERY_TERMS = 8
# listing_page reads a query's page among the ids it counted up to this many (bound
# parameters of an IN list); past it, the rank index finds the page.
_FEW_MATCHES = 1000
# How long company_names keeps the list read last (what another instance writes shows
# after this at most; this instance's own writes show at once).
COMPANY_NAMES_TTL = 30.0


class SalaryStats(NamedTuple):
    """Top-of-range annual USD pay of one company's open postings."""

    company: str
    count: int
    median: float
    p90: float
    max: float


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _company_keys(company: str | Sequence[str] | None) -> list[str]:
    names = [company] if isinstance(company, str) else list(company or ())
    return sorted({company_key(name) for name in names if name and name.strip()})


def _company_filter(
    company: str | Sequence[str] | None, *, by_source: bool = True
) -> ColumnElement[bool] | None:
    """A company's postings: by company name, or by the source's name (``by_source``)."""
    keys = _company_keys(company)
    if not keys:
        return None
    by_name = postings.c.company_key.in_(keys)
    return or_(by_name, func.lower(postings.c.source).in_(keys)) if by_source else by_name


async def _names_a_source(conn: AsyncConnection, company: str | Sequence[str] | None) -> bool:
    """Whether a company asked for is also a source's name. Mostly not: then the filter
    is the company key alone, which one index answers in rank order (an OR of two
    indexes reads and sorts every posting of the company)."""
    keys = _company_keys(company)
    if not keys:
        return False
    stmt = select(postings.c.id).where(func.lower(postings.c.source).in_(keys)).limit(1)
    return await conn.scalar(stmt) is not None


def _listing_filters(
    where: ListingFilter, *, dialect: str, by_source: bool
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if where.status is not None:
        filters.append(postings.c.status == where.status)
    if where.ai_only:
        filters.append(postings.c.ai_is == true())
    by_company = _company_filter(where.company, by_source=by_source)
    if by_company is not None:
        filters.append(by_company)
    if where.min_usd is not None:
        filters.append(postings.c.top_usd >= float(where.min_usd))
    if where.remote is not None:
        filters.append(postings.c.remote == where.remote)
    if where.since is not None:
        # new since then: what a source's silent baseline stored was there before
        # Marquee looked, so it is not counted as new (a digest's "new roles")
        filters.append(postings.c.first_seen >= where.since)
        filters.append(postings.c.baseline == false())
    # Every word must appear in the title, company or description; the words are bound
    # parameters with LIKE's wildcards escaped, so "100%" means the text "100%".
    for term in (where.query or "").split()[:_MAX_QUERY_TERMS]:
        filters.append(
            or_(
                *(
                    _contains(column, term, dialect)
                    for column in (postings.c.title, postings.c.company, postings.c.description)
                )
            )
        )
    return filters


def _contains(column: Any, term: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match. SQLite's LIKE already ignores (ASCII) case, so
    it skips lower() on each row.

    PostgreSQL: an ASCII word is found with ``strpos`` in the text lowered under the "C"
    collation (ASCII letters only, as SQLite does): ILIKE lowers every 2-6 KB
    description through the locale's wide characters first, about 8 times slower per
    posting (~190 against ~24 µs, most of that reading the TOASTed text). For an ASCII
    word the two agree except on the few letters outside ASCII whose lower case is an
    ASCII letter (the Kelvin sign). Other words keep ILIKE, which folds any letter."""
    if dialect == "sqlite":
        escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
        return column.like(f"%{escaped}%", escape="/")
    if term.isascii():
        # cleaned as the column's own type cleans what ILIKE binds (no NUL)
        return func.strpos(func.lower(column.collate("C")), clean_text(term.lower())) > 0
    return column.icontains(term, autoescape=True)


async def _scan_in_rank_order(conn: AsyncConnection, query: str | None) -> None:
    """PostgreSQL: read postings with query words through the rank index, in order.

    The planner cannot estimate how many descriptions contain a word (the column is too
    wide for statistics) and guesses a handful, so it plans a parallel scan of the whole
    table and a sort: 2 s for "pytorch" at 200,000 postings, where walking the rank
    index finds the page in 0.3 ms (common words are what people type; a rare one is
    counted first by :meth:`ListingQueries.listing_page`, which then skips this walk).
    For the rest of this transaction only."""
    if conn.dialect.name != "postgresql" or not (query or "").split():
        return
    # SET LOCAL, three of them in one round trip
    await conn.exec_driver_sql(
        "SELECT set_config('enable_seqscan', 'off', true),"
        " set_config('enable_bitmapscan', 'off', true),"
        " set_config('enable_sort', 'off', true)"
    )


_RANK_ORDER = (
    postings.c.top_usd.desc().nulls_last(),
    postings.c.first_seen.desc(),
    postings.c.id.desc(),
)


def _padded(ids: list[int]) -> list[int]:
    """``ids`` repeated up to the next power of two: an IN list of any length is a
    statement of its own (a prepared statement on asyncpg, an entry of SQLite's small
    statement cache), so the lengths are kept to a few."""
    size = 1 << max(0, len(ids) - 1).bit_length()
    return ids + ids[-1:] * (size - len(ids))


def _page(filters: list[ColumnElement[bool]], limit: int, offset: int) -> Select[Any]:
    return (
        select(postings)
        .where(*filters)
        .order_by(*_RANK_ORDER)
        .limit(max(0, int(limit)))
        .offset(max(0, int(offset)))
    )


def _count(filters: list[ColumnElement[bool]], limit: int | None) -> Select[Any]:
    if limit is None:
        return select(func.count()).select_from(postings).where(*filters)
    matching = select(postings.c.id).where(*filters).limit(max(0, int(limit)))
    return select(func.count()).select_from(matching.subquery())


class ListingQueries(StoreBase):
    async def _filters(
        self, conn: AsyncConnection, where: ListingFilter, *, rank_order: bool = True
    ) -> list[ColumnElement[bool]]:
        """The conditions of ``where``; with ``rank_order``, query words are read
        through the rank index for the rest of the transaction (_scan_in_rank_order)."""
        filters = _listing_filters(
            where, dialect=self.dialect, by_source=await _names_a_source(conn, where.company)
        )
        if rank_order:
            await _scan_in_rank_order(conn, where.query)
        return filters

    async def listings(
        self, where: ListingFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[StoredPosting]:
        """Postings matching ``where`` (default: the open AI/ML ones), highest
        top-of-range annual USD first (no pay last), then newest."""
        async with self._reader.connect() as conn:
            filters = await self._filters(conn, where or ListingFilter())
            rows = await conn.execute(_page(filters, limit, offset))
            return [_stored(row) for row in rows]

    async def count_listings(
        self, where: ListingFilter | None = None, *, limit: int | None = None
    ) -> int:
        """How many postings :meth:`listings` would page through for ``where``,
        counting at most ``limit`` of them (``None``: all).

        A limit lets a common query word stop early: its matches are checked one
        posting at a time (see :func:`_listing_filters`), so an exact count of 60,000
        matches reads every description, while the first thousand are found in a few
        milliseconds."""
        async with self._reader.connect() as conn:
            filters = await self._filters(conn, where or ListingFilter())
            return int(await conn.scalar(_count(filters, limit)) or 0)

    async def listing_page(
        self,
        where: ListingFilter | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        count_limit: int | None = None,
    ) -> tuple[int, list[StoredPosting]]:
        """:meth:`count_listings` (up to ``count_limit``) and :meth:`listings` in one
        read transaction, with half the round trips of calling both.

        With query words, the matches are found once, as ids up to ``count_limit``, in
        the order the database finds cheapest. When fewer match, the page is read among
        them; otherwise (a common word) through the rank index, as :meth:`listings`
        does. A rare word used to be read twice, once by each query: 4.5 s at 200,000
        postings on PostgreSQL, where the rank index walk forced for the page read every
        description in index order (issue 8)."""
        where = where or ListingFilter()
        async with self._reader.connect() as conn:
            words = (where.query or "").split()
            if not words or count_limit is None or count_limit > _FEW_MATCHES:
                filters = await self._filters(conn, where)
                total = int(await conn.scalar(_count(filters, count_limit)) or 0)
                rows = await conn.execute(_page(filters, limit, offset))
                return total, [_stored(row) for row in rows]
            filters = await self._filters(conn, where, rank_order=False)
            found = select(postings.c.id).where(*filters).limit(max(0, count_limit))
            ids = list(await conn.scalars(found))
            if len(ids) >= count_limit:  # counting stopped at the limit: a common word
                await _scan_in_rank_order(conn, where.query)
                rows = await conn.execute(_page(filters, limit, offset))
            elif offset >= len(ids) or limit <= 0:
                return len(ids), []
            else:
                # Each statement sees the rows as they are now (PostgreSQL's read
                # committed): the filters again, on these few rows, keep a posting
                # closed in between out of the page.
                among = postings.c.id.in_(_padded(ids))
                rows = await conn.execute(_page([*filters, among], limit, offset))
            return len(ids), [_stored(row) for row in rows]

    async def posting(self, posting_id: int) -> StoredPosting | None:
        """One stored posting by id."""
        async with self._reader.connect() as conn:
            row = (await conn.execute(select(postings).where(postings.c.id == posting_id))).first()
        return _stored(row) if row is not None else None

    async def salary_stats(
        self, company: str | Sequence[str] | None = None, ai_only: bool = True
    ) -> list[SalaryStats]:
        """Per company, over open postings with pay: count, median, 90th percentile and
        maximum of the top of the range in annual USD; highest median first."""
        filters = [postings.c.status == "open", postings.c.top_usd.is_not(None)]
        if ai_only:
            filters.append(postings.c.ai_is == true())
        by_company = _company_filter(company)
        if by_company is not None:
            filters.append(by_company)
        # (status, ai_is, top_usd, ..., company_key) is all in the rank index: no row reads
        stmt = select(postings.c.company_key, postings.c.top_usd).where(*filters)
        groups: dict[str, list[float]] = {}
        async with self._reader.connect() as conn:
            for key, top in await conn.execute(stmt):
                groups.setdefault(key, []).append(top)
            names = await self._spellings(conn, list(groups))
        stats = []
        for key, values in groups.items():
            values.sort()
            stats.append(
                SalaryStats(
                    company=names.get(key, key),
                    count=len(values),
                    median=_percentile(values, 0.5),
                    p90=_percentile(values, 0.9),
                    max=values[-1],
                )
            )
        stats.sort(key=lambda s: (-s.median, s.company.lower()))
        return stats

    async def _spellings(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, str]:
        """company_key -> the spelling most open postings use ("NVIDIA" over "Nvidia")."""
        counts: dict[str, dict[str, int]] = {}
        for batch in chunks(keys):
            rows = await conn.execute(
                select(
                    source_companies.c.company_key,
                    source_companies.c.company,
                    func.sum(source_companies.c.open_count),
                )
                .where(source_companies.c.company_key.in_(batch))
                .group_by(source_companies.c.company_key, source_companies.c.company)
            )
            for key, name, n in rows:
                counts.setdefault(key, {})[name] = int(n)
        return {
            key: max(sorted(spelled), key=lambda name: spelled[name])
            for key, spelled in counts.items()
        }

    async def companies(self, prefix: str = "", limit: int | None = 25) -> list[str]:
        """Company names with open postings for autocomplete: those starting with
        ``prefix`` first, then those containing it; all of them when ``limit`` is
        ``None``."""
        key = company_key(prefix)
        company = source_companies.c.company_key
        stmt = select(func.max(source_companies.c.company)).group_by(company)
        if key:
            starts = company.startswith(key, autoescape=True)
            stmt = stmt.where(company.contains(key, autoescape=True)).order_by(
                case((starts, 0), else_=1), company
            )
        else:
            stmt = _each_company()
        if limit is not None:
            stmt = stmt.limit(max(0, int(limit)))
        async with self._reader.connect() as conn:
            return [row[0] for row in await conn.execute(stmt)]

    async def company_names(self, *, fresh: bool = False) -> tuple[str, ...]:
        """Every company with open postings (the greatest spelling of each key), in key
        order, for company resolution and autocomplete: :meth:`companies` with no prefix
        and no limit, read again only after this store's own writes changed it, after
        :data:`COMPANY_NAMES_TTL` seconds, or when ``fresh`` (a name not found).

        Each keystroke of autocomplete and each ``/ailistings netflix`` read the whole
        list: two index probes a company, ~55 ms for 3,000 companies on PostgreSQL
        (~20 on SQLite), ~200 ms for 10,000."""
        epoch, now = self._company_epoch, time.monotonic()
        cached = self._company_names
        if (
            not fresh
            and cached is not None
            and cached[0] == epoch
            and now - cached[1] < COMPANY_NAMES_TTL
        ):
            return cached[2]
        names = tuple(await self.companies(prefix="", limit=None))
        if self._company_epoch == epoch:  # else a write ended meanwhile: read again next time
            self._company_names = (epoch, now, names)
        return names


@functools.cache
def _each_company() -> Select[Any]:
    """Every company key in order with its greatest spelling, one index probe each
    (a loose index scan, which neither engine does by itself): grouping read every
    (source, company) row, 30,000 of them for 100 boards that each list 300 companies,
    ~10 ms on each /ailistings company:x (issue 8)."""
    sc = source_companies
    keys = select(func.min(sc.c.company_key).label("key")).cte("company_keys", recursive=True)
    after = sc.alias("after")
    keys = keys.union_all(
        select(
            select(func.min(after.c.company_key))
            .where(after.c.company_key > keys.c.key)
            .scalar_subquery()
        ).where(keys.c.key.is_not(None))
    )
    spelled = sc.alias("spelled")
    spelling = (
        select(func.max(spelled.c.company))
        .where(spelled.c.company_key == keys.c.key)
        .scalar_subquery()
    )
    return select(spelling).where(keys.c.key.is_not(None)).order_by(keys.c.key)
