"""Postings: the diff of each poll against what is stored (the read side is ``_listings.py``).

The diff rules (issue 2, item 8; ARCHITECTURE "Data rules"):

- a posting's identity is (source, external id);
- **new**: never stored before; **updated**: its fingerprint (title, salary min, max,
  currency, period) changed, or a closed posting reappeared ("reopened");
- **closed**: absent from two consecutive successful polls (``miss_count`` reaches 2);
- a source's baseline poll stores everything and reports nothing.

Each poll's changes and the outbox entries its events route to are written in one
transaction: an event is recorded exactly when its alerts are queued.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import TableClause

from bot.models import AIMatch, Posting, PostingEvent, Salary, StoredPosting
from storage._base import BoundInsert, Router, StoreBase, bound_insert, chunks
from storage.schema import clean_text, postings, source_companies, source_state

__all__ = ["PostingQueries", "company_key", "fingerprint"]

# A posting is closed once it has been missing from this many consecutive successful polls.
CLOSE_AFTER_MISSES = 2

# last_seen of a posting that is merely still there is refreshed at most this often, so an
# unchanged board costs no row writes (and no dead tuples on PostgreSQL) on most polls.
LAST_SEEN_RESOLUTION = timedelta(hours=1)


def company_key(name: str) -> str:
    """The matching form of a company name: trimmed, single-spaced, lower case."""
    return " ".join(clean_text(name).split()).lower()


def _title_key(title: str) -> str:
    # Boards add and drop stray spaces and change case; neither is an update worth an alert.
    return " ".join(title.split()).casefold()


def _money(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _salary_key(salary: Salary | None) -> tuple[str | None, ...]:
    if salary is None:
        return (None, None, None, None)
    return (_money(salary.min), _money(salary.max), salary.currency.upper(), salary.period)


# json.dumps with any option builds an encoder per call: most of a fingerprint's cost.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def fingerprint(title: str, salary: Salary | None) -> str:
    """What defines "updated": the title and the pay range (min, max, currency, period)."""
    data = _COMPACT.encode([_title_key(title), *_salary_key(salary)])
    return hashlib.sha256(data.encode()).hexdigest()


def _effective_salary(posting: Posting) -> Salary | None:
    # Enrichment sets ``salary``; a posting stored without enrichment still keeps the
    # pay its API stated rather than losing it.
    return posting.salary if posting.salary is not None else posting.pay


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _aware(value: datetime | None) -> datetime | None:
    # A board's date without a zone is informational; reading it as UTC beats failing
    # the board's every poll. (Marquee's own timestamps must be aware: see UTCDateTime.)
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        return value.replace(tzinfo=UTC)
    return value


def _values(posting: Posting) -> dict[str, Any]:
    salary = _effective_salary(posting)
    ai = posting.ai
    return {
        "company": posting.company,
        "company_key": company_key(posting.company),
        "title": posting.title,
        "url": posting.url,
        "location": posting.location,
        "remote": posting.remote,
        "department": posting.department,
        "description": posting.description,
        "posted_at": _aware(posting.posted_at),
        "extra": dict(posting.extra) if posting.extra else None,
        "salary_min": _finite(salary.min) if salary else None,
        "salary_max": _finite(salary.max) if salary else None,
        "salary_currency": salary.currency if salary else None,
        "salary_period": salary.period if salary else None,
        "salary_kind": salary.kind if salary else None,
        "salary_text": salary.text if salary else None,
        "annual_usd_min": _finite(salary.annual_usd_min) if salary else None,
        "annual_usd_max": _finite(salary.annual_usd_max) if salary else None,
        "top_usd": _finite(salary.top_usd) if salary else None,
        "ai_is": ai.is_ai if ai else None,
        "ai_score": _finite(ai.score) if ai else None,
        "ai_reasons": list(ai.reasons) if ai else None,
        "fingerprint": fingerprint(posting.title, salary),
    }


def _posting(row: Any) -> Posting:
    salary = None
    if row.salary_currency is not None:
        salary = Salary(
            min=row.salary_min,
            max=row.salary_max,
            currency=row.salary_currency,
            period=row.salary_period or "year",
            kind=row.salary_kind or "base",
            text=row.salary_text or "",
            annual_usd_min=row.annual_usd_min,
            annual_usd_max=row.annual_usd_max,
        )
    ai = None
    if row.ai_is is not None:
        ai = AIMatch(
            is_ai=bool(row.ai_is),
            score=row.ai_score if row.ai_score is not None else 0.0,
            reasons=tuple(row.ai_reasons or ()),
        )
    return Posting(
        source=row.source,
        external_id=row.external_id,
        company=row.company,
        title=row.title,
        url=row.url,
        location=row.location,
        remote=row.remote,
        department=row.department,
        description=row.description,
        posted_at=row.posted_at,
        extra=dict(row.extra or {}),
        salary=salary,
        ai=ai,
    )


def _stored(row: Any) -> StoredPosting:
    return StoredPosting(
        id=row.id,
        posting=_posting(row),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        status=row.status,
        closed_at=row.closed_at,
    )


def _changes(old: Any, posting: Posting) -> tuple[str, ...]:
    changes = []
    if _title_key(old.title) != _title_key(posting.title):
        changes.append("title")
    new_salary = _salary_key(_effective_salary(posting))
    old_salary = (
        (None, None, None, None)
        if old.salary_currency is None
        else (
            _money(old.salary_min),
            _money(old.salary_max),
            old.salary_currency.upper(),
            old.salary_period,
        )
    )
    if new_salary != old_salary:
        changes.append("salary")
    return tuple(changes)


# The columns the diff needs for every posting of a source (no text, no timestamps).
_KNOWN = select(
    postings.c.id,
    postings.c.external_id,
    postings.c.fingerprint,
    postings.c.status,
    postings.c.miss_count,
    postings.c.listing_hash,
)


# What :meth:`PostingQueries._upsert` writes: every column but the id and the baseline
# flag (its server default, then set by ``apply_postings`` itself).
_UPSERT_COLUMNS = tuple(c.name for c in postings.c if c.name not in ("id", "baseline"))
# A stored posting keeps these when it is written again.
_KEEP = {"id", "source", "external_id", "first_seen", "baseline"}


def _on_conflict(insert: Any, row: TableClause) -> Any:
    set_ = {name: insert.excluded[name] for name in _UPSERT_COLUMNS if name not in _KEEP}
    # No hash given this time: keep the one stored.
    set_["listing_hash"] = func.coalesce(insert.excluded.listing_hash, row.c.listing_hash)
    return insert.on_conflict_do_update(index_elements=["source", "external_id"], set_=set_)


class PostingQueries(StoreBase):
    @cached_property
    def _postings_upsert(self) -> BoundInsert:
        return bound_insert(self._engine.dialect, postings, _UPSERT_COLUMNS, _on_conflict)

    # -- the diff ---------------------------------------------------------------------

    async def known_listing_hashes(self, source: str) -> dict[str, str]:
        """external id -> listing hash of the source's open postings (those that have one)."""
        stmt = select(postings.c.external_id, postings.c.listing_hash).where(
            postings.c.source == source,
            postings.c.status == "open",
            postings.c.listing_hash.is_not(None),
        )
        async with self._reader.connect() as conn:
            return {row.external_id: row.listing_hash for row in await conn.execute(stmt)}

    async def apply_postings(
        self,
        source: str,
        fresh: Sequence[Posting],
        *,
        unchanged: Collection[str] = (),
        listing_hashes: Mapping[str, str] | None = None,
        at: datetime,
        baseline: bool,
        route: Router | None = None,
    ) -> list[PostingEvent]:
        """Store one successful poll of ``source`` and return what changed.

        ``fresh`` are the (enriched) postings fetched in full; ``unchanged`` the external
        ids the listing still shows but that were not re-fetched. Everything else open is
        one poll closer to closing. ``route`` turns the events into outbox entries in
        the same transaction. With ``baseline`` nothing is reported.
        """
        with self._rewriting_companies():
            async with self._engine.begin() as conn:
                events = await self._apply(
                    conn,
                    source,
                    fresh,
                    unchanged=unchanged,
                    listing_hashes=listing_hashes or {},
                    at=at,
                )
                # Any first successful apply ends the silent baseline, also a --backfill one.
                await self._mark_baseline_done(conn, source)
                if baseline:
                    # what this poll stored was there before Marquee looked: not "new" in
                    # a digest (the rows first seen now are exactly the ones it inserted)
                    await conn.execute(
                        update(postings)
                        .where(postings.c.source == source, postings.c.first_seen == at)
                        .values(baseline=True)
                    )
                    return []
                await self._route_in(conn, events, route, at=at)
        return events

    async def _mark_baseline_done(self, conn: AsyncConnection, source: str) -> None:
        stmt = self._insert(source_state).values(name=source, baseline_done=True)
        stmt = stmt.on_conflict_do_update(
            index_elements=[source_state.c.name],
            set_={"baseline_done": True},
            where=source_state.c.baseline_done == false(),
        )
        await conn.execute(stmt)

    async def _apply(
        self,
        conn: AsyncConnection,
        source: str,
        fresh: Sequence[Posting],
        *,
        unchanged: Collection[str],
        listing_hashes: Mapping[str, str],
        at: datetime,
    ) -> list[PostingEvent]:
        # A board can list one id twice (Workable repeats a shortcode per location):
        # the first occurrence wins.
        by_id: dict[str, Posting] = {}
        for posting in fresh:
            if posting.source != source:
                raise ValueError(f"posting {posting.key} passed to apply_postings({source!r})")
            # keyed as stored (see storage.schema.clean_text)
            by_id.setdefault(clean_text(posting.external_id), posting)
        unchanged = [clean_text(ext) for ext in unchanged]
        listing_hashes = {clean_text(ext): h for ext, h in listing_hashes.items()}

        # What is stored for this source: the small columns only, in one query.
        known = {
            row.external_id: row
            for row in await conn.execute(_KNOWN.where(postings.c.source == source))
        }
        present = [known[ext] for ext in unchanged if ext in known and ext not in by_id]
        present_ids = {row.external_id for row in present}

        # Rows whose previous state an event must show, read before they are overwritten.
        changing = [
            known[ext].id
            for ext, posting in by_id.items()
            if ext in known
            and (
                known[ext].status != "open"
                or known[ext].fingerprint != fingerprint(posting.title, _effective_salary(posting))
            )
        ]
        previous = {row.id: row for row in await self._full_rows(conn, changing)}

        events: list[PostingEvent] = []
        if by_id:
            events.extend(
                await self._upsert(conn, source, by_id, known, previous, listing_hashes, at=at)
            )

        reopened = [row.id for row in present if row.status != "open"]
        missing = [
            row
            for ext, row in known.items()
            if row.status == "open" and ext not in by_id and ext not in present_ids
        ]
        await self._touch(
            conn,
            source,
            [row for row in present if row.status == "open"],
            # Nothing missing: every open row is listed (fresh ones were just written)
            everything_open=not missing,
            reopen=reopened,
            listing_hashes=listing_hashes,
            at=at,
        )
        closing = await self._miss(conn, missing, at=at)

        after = {row.id: row for row in await self._full_rows(conn, reopened + closing)}
        for row_id in reopened:
            events.append(PostingEvent("updated", _stored(after[row_id]), changes=("reopened",)))
        for row_id in closing:
            events.append(PostingEvent("closed", _stored(after[row_id])))

        if by_id or reopened or closing:
            await self._refresh_companies(conn, source)
        return events

    async def _apply_not_modified(
        self, conn: AsyncConnection, source: str, *, at: datetime
    ) -> list[PostingEvent]:
        # A poll whose listing is the previous one (304 or the same hash; see
        # Store.poll_not_modified): what it showed (miss_count 0) is still there, what it
        # lacked (miss_count > 0) is missing once more, so "absent twice" closes a
        # posting even when the second poll is a 304. No list of ids needed.
        missing = (
            await conn.execute(
                _KNOWN.where(
                    postings.c.source == source,
                    postings.c.status == "open",
                    postings.c.miss_count > 0,
                )
            )
        ).all()
        await conn.execute(
            update(postings)
            .where(
                postings.c.source == source,
                postings.c.status == "open",
                postings.c.miss_count == 0,
                postings.c.last_seen <= at - LAST_SEEN_RESOLUTION,
            )
            .values(last_seen=at)
        )
        closing = await self._miss(conn, missing, at=at)
        events = [
            PostingEvent("closed", _stored(row)) for row in await self._full_rows(conn, closing)
        ]
        if closing:
            await self._refresh_companies(conn, source)
        return events

    async def _miss(
        self, conn: AsyncConnection, missing: Sequence[Any], *, at: datetime
    ) -> list[int]:
        """Count one more miss for ``missing`` rows; close those at the limit (their ids)."""
        closing = [row.id for row in missing if row.miss_count + 1 >= CLOSE_AFTER_MISSES]
        counting = [row.id for row in missing if row.miss_count + 1 < CLOSE_AFTER_MISSES]
        for batch in chunks(counting):
            await conn.execute(
                update(postings)
                .where(postings.c.id.in_(batch))
                .values(miss_count=postings.c.miss_count + 1)
            )
        for batch in chunks(closing):
            await conn.execute(
                update(postings)
                .where(postings.c.id.in_(batch))
                .values(miss_count=postings.c.miss_count + 1, status="closed", closed_at=at)
            )
        return closing

    async def _refresh_companies(self, conn: AsyncConnection, source: str) -> None:
        self._company_rewrites += 1  # inside _rewriting_companies
        await conn.execute(delete(source_companies).where(source_companies.c.source == source))
        await conn.execute(
            source_companies.insert().from_select(
                ["source", "company_key", "company", "open_count"],
                select(
                    postings.c.source,
                    postings.c.company_key,
                    func.max(postings.c.company),
                    func.count(),
                )
                .where(postings.c.source == source, postings.c.status == "open")
                .group_by(postings.c.source, postings.c.company_key),
            )
        )

    async def _upsert(
        self,
        conn: AsyncConnection,
        source: str,
        by_id: Mapping[str, Posting],
        known: Mapping[str, Any],
        previous: Mapping[int, Any],
        listing_hashes: Mapping[str, str],
        *,
        at: datetime,
    ) -> list[PostingEvent]:
        rows = []
        for ext, posting in by_id.items():
            values = _values(posting)
            values["external_id"] = ext
            values["listing_hash"] = listing_hashes.get(ext)
            rows.append(values)
        # One statement compiled once, the rows bound here and sent to the driver's
        # executemany as tuples: through the table's types (a dozen cleaned strings,
        # four timestamps, two JSON columns a row) SQLAlchemy's per-row parameter
        # processing was ~6 % of the event loop's CPU in a cold poll (py-spy).
        upsert = self._postings_upsert
        same = {
            "source": source,
            "first_seen": at,
            "last_seen": at,
            "status": "open",
            "closed_at": None,
            "miss_count": 0,
        }
        await conn.exec_driver_sql(upsert.sql, upsert.bind(rows, same))
        # The ids: known rows keep theirs; new ones are read back (RETURNING cannot
        # come back from an executemany).
        ids = {ext: row.id for ext, row in known.items()}
        fresh_ids = [ext for ext in by_id if ext not in ids]
        for batch in chunks(fresh_ids):
            stmt = select(postings.c.id, postings.c.external_id).where(
                postings.c.source == source, postings.c.external_id.in_(batch)
            )
            for row in await conn.execute(stmt):
                ids[row.external_id] = row.id

        events = []
        for ext, posting in by_id.items():
            row = known.get(ext)
            if row is None:
                stored = StoredPosting(
                    ids[ext], posting, first_seen=at, last_seen=at, status="open"
                )
                events.append(PostingEvent("new", stored))
                continue
            old = previous.get(row.id)
            if old is None:
                continue  # open and the fingerprint is the same: not an update
            stored = StoredPosting(
                ids[ext], posting, first_seen=old.first_seen, last_seen=at, status="open"
            )
            changes = _changes(old, posting)
            if old.status != "open":
                changes = ("reopened", *changes)
            if changes:
                events.append(PostingEvent("updated", stored, changes, previous=_posting(old)))
        return events

    async def _touch(
        self,
        conn: AsyncConnection,
        source: str,
        rows: Sequence[Any],
        *,
        everything_open: bool,
        reopen: Sequence[int],
        listing_hashes: Mapping[str, str],
        at: datetime,
    ) -> None:
        """Mark listed-but-not-refetched postings as seen, writing only rows that need it:
        a reset miss count, or a last_seen older than the resolution. ``everything_open``
        says ``rows`` are all the source's open postings (the usual unchanged poll), so
        no list of ids is sent."""
        needs = or_(postings.c.miss_count > 0, postings.c.last_seen <= at - LAST_SEEN_RESOLUTION)
        seen = {"last_seen": at, "miss_count": 0}
        if everything_open:
            if rows:  # none: every open posting was just written (a first poll, say)
                await conn.execute(
                    update(postings)
                    .where(postings.c.source == source, postings.c.status == "open", needs)
                    .values(**seen)
                )
        else:
            for batch in chunks([row.id for row in rows]):
                await conn.execute(
                    update(postings).where(postings.c.id.in_(batch), needs).values(**seen)
                )
        for batch in chunks(reopen):
            await conn.execute(
                update(postings)
                .where(postings.c.id.in_(batch))
                .values(status="open", closed_at=None, **seen)
            )
        rehash = [
            {"row_id": row.id, "new_hash": listing_hashes[row.external_id]}
            for row in rows
            if listing_hashes.get(row.external_id, row.listing_hash) != row.listing_hash
        ]
        if rehash:
            await conn.execute(
                update(postings)
                .where(postings.c.id == bindparam("row_id"))
                .values(listing_hash=bindparam("new_hash")),
                rehash,
            )

    async def _full_rows(self, conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
        rows: list[Any] = []
        for batch in chunks(ids):
            rows.extend(await conn.execute(select(postings).where(postings.c.id.in_(batch))))
        return rows
