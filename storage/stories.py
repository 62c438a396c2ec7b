"""Story and story-cluster queries (issue 3).

A story's identity is ``(source, guid)``. Each new story is placed in a cluster inside
the same transaction that stores it: the stories first seen in the last 72 hours, indexed
in a :class:`bot.enrich.cluster.ClusterIndex` with their clusters, are kept by this
process from one poll to the next (read once, then moved along as time passes), and
every new story either joins the best matching cluster or starts one. Before each use
the window is checked against the table (its largest story id and its count of stories
in the window: one cheap query), and read anew when another process wrote. New stories
and clusters get their ids before they are written (see ``_Ids``), so each row is
written once, complete, in one executemany per table and poll.

Events (``StoryEvent``) follow "one alert per story":

* ``new`` — a story that starts a cluster (its first outlet alerts);
* ``updated`` with ``("also_covered_by",)`` — for the cluster's *lead* story, when a
  story from another outlet joins (the lead's alert is edited, not re-sent); one per
  lead and poll, however many outlets joined;
* ``updated`` with ``("content",)`` — a lead story whose title or summary changed.

A baseline stores and clusters but reports nothing. Storage importing the clustering
rules is deliberate: the decision needs the candidates read in this transaction, and
``bot.enrich.cluster`` is pure (it imports nothing of ours but the standard library).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    Dialect,
    Table,
    TableClause,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.enrich.cluster import WINDOW, Candidate, ClusterIndex, Prepared, outlet_key
from bot.models import StoredStory, Story, StoryEvent, content_hash
from storage._base import (
    BoundInsert,
    Router,
    StoreBase,
    bound_insert,
    chunks,
    column_binder,
    utcnow,
)
from storage.schema import clean_text, source_state, stories, story_clusters

__all__ = ["StoryQueries"]

# When a story's own date is this far ahead of when we saw it, the date is wrong.
_FUTURE_SLACK = timedelta(hours=1)


def _when(story: Story, at: datetime) -> datetime:
    """The time a story belongs to: its publication date, unless missing or future."""
    published = story.published
    if published is None or published > at + _FUTURE_SLACK:
        return at
    return published


def _story(row: Any) -> Story:
    return Story(
        source=row.source,
        guid=row.guid,
        title=row.title,
        url=row.url,
        outlet=row.outlet,
        published=row.published,
        summary=row.summary,
        author=row.author,
        topics=dict(row.topics or {}),
        reasons=tuple(row.reasons or ()),
    )


def _stored(row: Any) -> StoredStory:
    return StoredStory(
        id=row.id,
        story=_story(row),
        first_seen=row.first_seen,
        cluster_id=row.cluster_id or 0,
        cluster_size=row.size if row.size is not None else 1,
        cluster_outlets=tuple(row.outlets or (row.outlet,)),
    )


def _values(story: Story, hashed: str) -> dict[str, Any]:
    """A story's row values; ``hashed``: its :func:`content_hash`."""
    topics = {k: float(v) for k, v in story.topics.items()}
    return {
        "title": story.title,
        "url": story.url,
        "outlet": story.outlet,
        "published": story.published,
        "summary": story.summary,
        "author": story.author,
        "topics": topics,
        "reasons": list(story.reasons),
        "score": max(topics.values(), default=0.0),
        "content_hash": hashed,
    }


@dataclass(slots=True, eq=False)
class _Cluster:
    id: int
    lead_story_id: int | None
    size: int
    outlets: list[str]
    keys: set[str] = field(default_factory=set)
    members: int = 0  # its stories in the window


@dataclass(slots=True)
class _Window:
    """The stories first seen since ``since``, indexed for clustering, with their
    clusters: kept by this process from one poll to the next (see ``_window_for``)."""

    since: datetime
    index: ClusterIndex
    clusters: dict[int, _Cluster]
    expiry: list[tuple[datetime, int]]  # a heap of (first_seen, story id)
    max_id: int  # the table's largest story id when this was last in step with it


_TOP_STORY = select(func.max(stories.c.id)).scalar_subquery()
_TOP_CLUSTER = select(func.max(story_clusters.c.id)).scalar_subquery()

_WITH_CLUSTER = select(stories, story_clusters.c.size, story_clusters.c.outlets).select_from(
    stories.outerjoin(story_clusters, stories.c.cluster_id == story_clusters.c.id)
)


def _expire(window: _Window, since: datetime) -> None:
    """Move ``window`` on to ``since``: the stories first seen before it leave."""
    expiry, index, clusters = window.expiry, window.index, window.clusters
    while expiry and expiry[0][0] < since:
        _first_seen, story_id = heapq.heappop(expiry)
        cand = index.remove(story_id)
        cluster = clusters.get(cand.cluster_id) if cand is not None else None
        if cluster is not None:
            cluster.members -= 1
            if cluster.members <= 0:
                del clusters[cluster.id]
    window.since = since


@dataclass(frozen=True, slots=True)
class _Grow:
    """The ``UPDATE`` of a grown cluster's size, outlets and last_seen, compiled once
    for a dialect: ~10,000 rows for the bench's 200 feeds, sent to the driver's
    executemany as tuples of (last_seen, size, outlets, id) without SQLAlchemy's
    per-row parameter processing (the values go through the columns' own types)."""

    sql: str
    bind_outlets: Callable[[Any], Any]
    bind_time: Callable[[Any], Any]

    @classmethod
    def compile(cls, dialect: Dialect) -> _Grow:
        stmt = (
            update(story_clusters)
            .where(story_clusters.c.id == bindparam("cid"))
            .values(
                size=bindparam("new_size"),
                outlets=bindparam("new_outlets"),
                last_seen=bindparam("new_last_seen"),
            )
        )
        compiled = stmt.compile(dialect=dialect)
        order = ("new_last_seen", "new_size", "new_outlets", "cid")  # the table's order
        if tuple(compiled.positiontup or ()) != order:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        return cls(
            str(compiled),
            column_binder(story_clusters.c.outlets, dialect),
            column_binder(story_clusters.c.last_seen, dialect),
        )


class _Ids:
    """Ids for one transaction's new stories and clusters, in increasing order, taken
    before their rows are written: from PostgreSQL's own sequences (several instances
    may share them); on SQLite the largest ids plus one onwards (read once, in one
    query), as SQLite would have numbered the rows: they are written under the write
    lock (BEGIN IMMEDIATE) held since before that read, and neither table has
    AUTOINCREMENT."""

    def __init__(
        self, conn: AsyncConnection, dialect: str, tops: tuple[int, int] | None = None
    ) -> None:
        """``tops``: the largest story and cluster ids, when this transaction read them
        already (SQLite; see ``StoryQueries._window_for``)."""
        self._conn = conn
        self._dialect = dialect
        self._tops: dict[str, int] | None = None
        if tops is not None:
            self._tops = {stories.name: tops[0], story_clusters.name: tops[1]}

    async def take(self, table: Table, count: int) -> list[int]:
        if count <= 0:
            return []
        if self._dialect == "postgresql":
            sequence = func.pg_get_serial_sequence(table.name, "id")
            stmt = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
            return sorted(await self._conn.scalars(stmt))
        if self._tops is None:
            stmt = select(_TOP_STORY, _TOP_CLUSTER)
            top_story, top_cluster = (await self._conn.execute(stmt)).one()
            self._tops = {stories.name: top_story or 0, story_clusters.name: top_cluster or 0}
        start = self._tops[table.name] + 1
        self._tops[table.name] += count
        return list(range(start, start + count))


def _plain(insert: Any, _row: TableClause) -> Any:
    return insert


# entries of each of _StoryRows' memos
_MEMO = 4096


class _StoryRows:
    """New stories as the driver's tuples for the stories ``INSERT``
    (``StoryQueries._stories_insert``), built straight from the records: the same values
    :func:`_values` and :meth:`BoundInsert.bind` make, without a dict per row. What
    repeats across stories is bound once: each distinct topics value (its JSON and
    score), reasons value (JSON) and publication time (a poll's stories share a few
    dozen of each; bench feeds: ~150 topics and reasons values for 20,000 stories)."""

    def __init__(self, insert: BoundInsert) -> None:
        if insert.columns != tuple(c.name for c in stories.c):
            raise RuntimeError(f"unexpected columns {insert.columns}")
        binders = dict(zip(insert.columns, insert.binders, strict=True))
        if binders["id"] is not None or binders["cluster_id"] is not None:
            raise RuntimeError("integer ids are expected to bind as they are")
        self._binders = binders
        # memos, each cleared when full (hostile feeds: endless distinct values)
        self._topics: dict[tuple[tuple[str, Any], ...], tuple[Any, Any]] = {}
        self._reasons: dict[tuple[str, ...], Any] = {}
        self._published: dict[datetime, Any] = {}

    def rows(
        self,
        members: Sequence[tuple[int, Story, str, _Cluster, str]],
        same: dict[str, Any],
    ) -> list[tuple[Any, ...]]:
        """The driver's tuples of ``members``: ``(story id, story, guid, cluster, content
        hash)``, with the values ``same`` for every row."""
        b = self._binders
        fixed = {}
        for name, value in same.items():
            bind = b[name]
            fixed[name] = value if bind is None or value is None else bind(value)
        source, first_seen, last_seen, baseline = (
            fixed["source"],
            fixed["first_seen"],
            fixed["last_seen"],
            fixed["baseline"],
        )
        identity = _identity
        guid_ = b["guid"] or identity
        title_, url_, outlet_ = (
            b["title"] or identity,
            b["url"] or identity,
            b["outlet"] or identity,
        )
        summary_, author_ = b["summary"] or identity, b["author"] or identity
        hash_ = b["content_hash"] or identity
        topics_memo, reasons_memo, published_memo = self._topics, self._reasons, self._published
        out = []
        for story_id, story, guid, cluster, hashed in members:
            key = tuple(story.topics.items())
            topics_score = topics_memo.get(key)
            if topics_score is None:
                topics_score = self._bind_topics(story.topics)
                # 0.0 and -0.0 (and 0) are one key but two JSON texts: such rare values
                # are not remembered
                if 0.0 not in story.topics.values():
                    _remember(topics_memo, key, topics_score)
            reasons = tuple(story.reasons)
            bound_reasons = reasons_memo.get(reasons)
            if bound_reasons is None:
                bound_reasons = self._bind("reasons", list(reasons))
                _remember(reasons_memo, reasons, bound_reasons)
            published = story.published
            if published is not None:
                bound = published_memo.get(published)
                if bound is None:
                    bound = self._bind("published", published)
                    _remember(published_memo, published, bound)
                published = bound
            out.append(
                (
                    story_id,
                    source,
                    guid_(guid),
                    title_(story.title),
                    url_(story.url),
                    outlet_(story.outlet),
                    published,
                    summary_(story.summary),
                    author_(story.author),
                    topics_score[0],
                    bound_reasons,
                    topics_score[1],
                    hash_(hashed),
                    first_seen,
                    last_seen,
                    cluster.id,
                    baseline,
                )
            )
        return out

    def _bind(self, column: str, value: Any) -> Any:
        bind = self._binders[column]
        return value if bind is None or value is None else bind(value)

    def _bind_topics(self, raw: dict[str, float]) -> tuple[Any, Any]:
        """A story's topics and score as bound (see :func:`_values`)."""
        topics = {k: float(v) for k, v in raw.items()}
        return self._bind("topics", topics), self._bind("score", max(topics.values(), default=0.0))


def _identity(value: Any) -> Any:
    return value


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO:
        memo.clear()
    memo[key] = value


class StoryQueries(StoreBase):
    # The clustering window, kept between polls, and the lock that lets one
    # apply_stories at a time use it (PostgreSQL runs several polls' transactions at
    # once; SQLite's writers take turns anyway).
    _story_window: _Window | None = None
    _story_lock: asyncio.Lock | None = None

    @cached_property
    def _stories_insert(self) -> BoundInsert:
        columns = [c.name for c in stories.c]
        return bound_insert(self._engine.dialect, stories, columns, _plain)

    @cached_property
    def _story_binder(self) -> _StoryRows:
        return _StoryRows(self._stories_insert)

    @cached_property
    def _clusters_insert(self) -> BoundInsert:
        columns = [c.name for c in story_clusters.c]
        return bound_insert(self._engine.dialect, story_clusters, columns, _plain)

    @cached_property
    def _clusters_grow(self) -> _Grow:
        return _Grow.compile(self._engine.dialect)

    async def apply_stories(
        self,
        source: str,
        fresh: Sequence[Story],
        *,
        at: datetime,
        baseline: bool,
        route: Router | None = None,
        prepared: Sequence[Prepared] | None = None,
        hashes: Sequence[str] | None = None,
    ) -> list[StoryEvent]:
        """Store one successful poll of a news source and return what changed.

        Upserts by ``(source, guid)``, clusters new stories against the last 72 hours,
        and queues ``route(events)`` in the same transaction. With ``baseline`` the
        stories are stored and clustered but nothing is reported. ``prepared``, when
        given, holds each story's headline as
        :func:`bot.enrich.cluster.prepare_headline` made it, and ``hashes`` each one's
        :func:`bot.models.content_hash` (both in a worker process:
        :func:`bot.enrich.news.finish_stories`).
        """
        batch: dict[str, tuple[Story, Prepared | None, str]] = {}
        headlines = [None] * len(fresh) if prepared is None else prepared
        hashed = [content_hash(s) for s in fresh] if hashes is None else hashes
        for story, headline, digest in zip(fresh, headlines, hashed, strict=True):
            # keyed as stored (see storage.schema.clean_text): a guid with a NUL in it
            # came back from the insert without it
            batch.setdefault(clean_text(story.guid), (story, headline, digest))  # first wins
        if self._story_lock is None:
            self._story_lock = asyncio.Lock()
        async with self._story_lock:
            try:
                async with self._engine.begin() as conn:
                    events = await self._apply_stories(conn, source, batch, at=at, quiet=baseline)
                    await self._stories_baseline_done(conn, source)
                    if not baseline:
                        await self._route_in(conn, events, route, at=at)
            except BaseException:
                # The window may hold what was rolled back: the next poll reads it anew.
                self._story_window = None
                raise
        return [] if baseline else events

    async def _apply_stories(
        self,
        conn: AsyncConnection,
        source: str,
        batch: dict[str, tuple[Story, Prepared | None, str]],
        *,
        at: datetime,
        quiet: bool,
    ) -> list[StoryEvent]:
        known: dict[str, Any] = {}
        guids = list(batch)
        for part in chunks(guids):
            stmt = select(
                stories.c.id,
                stories.c.guid,
                stories.c.content_hash,
                stories.c.cluster_id,
                stories.c.first_seen,
            ).where(stories.c.source == source, stories.c.guid.in_(part))
            for row in await conn.execute(stmt):
                known[row.guid] = row

        # -- stories already stored: content changes, and last_seen ---------------------
        changed_ids: list[int] = []
        content_rows = []
        seen_ids = []
        retold: list[Candidate] = []
        for guid, (story, _headline, hashed) in batch.items():
            row = known.get(guid)
            if row is None:
                continue
            values = _values(story, hashed)
            if values["content_hash"] != row.content_hash:
                content_rows.append({"row_id": row.id, **values, "last_seen": at})
                changed_ids.append(row.id)
                if row.cluster_id is not None:
                    when = _when(story, row.first_seen)
                    retold.append(
                        Candidate(
                            row.id, row.cluster_id, story.title, story.outlet, when, story.url
                        )
                    )
            else:
                seen_ids.append(row.id)
        if content_rows:
            await conn.execute(
                update(stories)
                .where(stories.c.id == bindparam("row_id"))
                .values({k: bindparam(k) for k in content_rows[0] if k != "row_id"}),
                content_rows,
            )
            window = self._story_window
            for cand in retold if window is not None else ():
                if cand.story_id in window.index:  # matched by its new title from now on
                    window.index.add(cand)
        for part in chunks(seen_ids):
            await conn.execute(update(stories).where(stories.c.id.in_(part)).values(last_seen=at))

        new = [(guid, *entry) for guid, entry in batch.items() if guid not in known]
        if not new:
            return await self._events(conn, [], [], changed_ids, quiet=quiet)

        # -- new stories: cluster one by one in feed order, then insert ------------------
        # Their ids, and the ids of the clusters they start, are taken before the rows
        # are written (see _Ids): each row is written once, with its cluster, by an
        # executemany of a statement compiled once, nothing read back.
        window, tops = await self._window_for(conn, at)
        ids = _Ids(conn, self.dialect, tops)
        story_ids = await ids.take(stories, len(new))
        index, clusters = window.index, window.clusters
        # A cluster started in this poll is known by minus its lead story's id until
        # the new clusters' ids are taken (all at once, below).
        started: list[tuple[_Cluster, str]] = []
        grown: dict[int, _Cluster] = {}  # clusters of the window that grew, by id
        grew: set[int] = set()  # ... that another outlet joined
        members: list[tuple[int, Story, str, _Cluster, str]] = []
        for story_id, (guid, story, headline, hashed) in zip(story_ids, new, strict=True):
            when = _when(story, at)
            match = index.match(story.title, story.outlet, when, url=story.url, prepared=headline)
            cluster = clusters.get(match.cluster_id) if match else None
            key = outlet_key(story.outlet)
            if cluster is None:
                cluster = _Cluster(-story_id, story_id, 1, [story.outlet], {key})
                clusters[cluster.id] = cluster
                started.append((cluster, story.title))
            else:
                cluster.size += 1
                if cluster.id > 0:
                    grown[cluster.id] = cluster
                if key not in cluster.keys:
                    cluster.keys.add(key)
                    cluster.outlets.append(story.outlet)
                    if cluster.id > 0:
                        grew.add(cluster.id)
            cluster.members += 1
            members.append((story_id, story, guid, cluster, hashed))
            index.add(
                Candidate(story_id, cluster.id, story.title, story.outlet, when, story.url),
                prepared=headline,
            )
            heapq.heappush(window.expiry, (at, story_id))
        window.max_id = max(window.max_id, *story_ids)

        # -- the rows: the new clusters first (the stories' foreign key), then stories --
        cluster_ids = await ids.take(story_clusters, len(started))
        for (c, _title), cluster_id in zip(started, cluster_ids, strict=True):
            del clusters[c.id]
            c.id = cluster_id
            clusters[c.id] = c
        if started:
            insert = self._clusters_insert
            rows = [
                {
                    "id": c.id,
                    "title": title,
                    "lead_story_id": c.lead_story_id,
                    "size": c.size,
                    "outlets": c.outlets,
                }
                for c, title in started
            ]
            same = {"first_seen": at, "last_seen": at}
            await conn.exec_driver_sql(insert.sql, insert.bind(rows, same))
        for story_id, _story, _guid, cluster, _hashed in members:
            index.relabel(story_id, cluster.id)
        same = {"source": source, "first_seen": at, "last_seen": at, "baseline": quiet}
        await conn.exec_driver_sql(self._stories_insert.sql, self._story_binder.rows(members, same))
        if grown:
            grow = self._clusters_grow
            last_seen = grow.bind_time(at)
            rows = [(last_seen, c.size, grow.bind_outlets(c.outlets), c.id) for c in grown.values()]
            await conn.exec_driver_sql(grow.sql, rows)
        leads = [
            sid for sid, _story, _guid, cluster, _hashed in members if cluster.lead_story_id == sid
        ]
        also = {grown[i].lead_story_id for i in grew} - set(leads) - {None}
        return await self._events(conn, leads, sorted(also), changed_ids, quiet=quiet)

    async def _events(
        self,
        conn: AsyncConnection,
        started: Sequence[int],
        also: Sequence[int],
        changed_ids: Sequence[int],
        *,
        quiet: bool,
    ) -> list[StoryEvent]:
        """The events of one apply, from the rows as they now stand (none when
        ``quiet``: a baseline reports nothing, so nothing is read back)."""
        if quiet:
            return []
        wanted = set(started) | set(also) | set(changed_ids)
        current = {row.id: row for row in await self._story_rows(conn, sorted(wanted))}
        events: list[StoryEvent] = []
        for story_id in started:
            events.append(StoryEvent("new", _stored(current[story_id])))
        for story_id in changed_ids:
            row = current.get(story_id)
            if row is None or story_id in also:
                continue
            if await self._is_lead(conn, row):
                events.append(StoryEvent("updated", _stored(row), ("content",)))
        for story_id in also:
            row = current.get(story_id)
            if row is None:
                continue
            changes = (
                ("also_covered_by", "content") if story_id in changed_ids else ("also_covered_by",)
            )
            events.append(StoryEvent("updated", _stored(row), changes))
        return events

    async def _window_for(
        self, conn: AsyncConnection, at: datetime
    ) -> tuple[_Window, tuple[int, int]]:
        """The clustering window for a poll at ``at``: the one kept from the last poll,
        moved on to ``at``, when the table agrees with it; else read anew. With it, the
        largest story and cluster ids, read in the same query (for ``_Ids``: one
        statement a poll fewer).

        The table agrees when its largest story id and its count of stories in the
        window are the ones this process left: another process (several instances can
        share PostgreSQL) that stored stories changed at least one of them. Stories are
        never deleted. Another process's edit of a known story's title is not seen
        until the window is read anew.
        """
        since = at - WINDOW
        window = self._story_window
        if window is not None:
            if since >= window.since:
                _expire(window, since)
            else:
                # Polls run side by side, each with its own clock reading: the window
                # often moves back by a moment, and takes in what it had let go.
                await self._read_window(conn, window, since, until=window.since)
            stmt = select(
                _TOP_STORY,
                _TOP_CLUSTER,
                select(func.count())
                .select_from(stories)
                .where(stories.c.first_seen >= since)
                .scalar_subquery(),
            )
            top, top_cluster, count = (await conn.execute(stmt)).one()
            tops = (top or 0, top_cluster or 0)
            if tops[0] == window.max_id and count == len(window.index):
                return window, tops
        self._story_window = None
        top, top_cluster = (await conn.execute(select(_TOP_STORY, _TOP_CLUSTER))).one()
        tops = (top or 0, top_cluster or 0)
        window = _Window(since, ClusterIndex(), {}, [], tops[0])
        await self._read_window(conn, window, since)
        heapq.heapify(window.expiry)
        self._story_window = window
        return window, tops

    async def _read_window(
        self,
        conn: AsyncConnection,
        window: _Window,
        since: datetime,
        *,
        until: datetime | None = None,
    ) -> None:
        """Add to ``window`` the stories first seen since ``since`` (and before
        ``until``) and their clusters, read in one query."""
        cond = stories.c.first_seen >= since
        if until is not None:
            cond = cond & (stories.c.first_seen < until)
        stmt = (
            select(
                stories.c.id,
                stories.c.cluster_id,
                stories.c.title,
                stories.c.outlet,
                stories.c.url,
                stories.c.published,
                stories.c.first_seen,
                story_clusters.c.lead_story_id,
                story_clusters.c.size,
                story_clusters.c.outlets,
            )
            .select_from(stories.join(story_clusters, stories.c.cluster_id == story_clusters.c.id))
            .where(cond)
            .order_by(stories.c.id)
        )
        index, clusters, expiry = window.index, window.clusters, window.expiry
        for row in await conn.execute(stmt):
            published = row.published
            when = (
                row.first_seen
                if published is None or published > row.first_seen + _FUTURE_SLACK
                else published
            )
            index.add(Candidate(row.id, row.cluster_id, row.title, row.outlet, when, row.url))
            heapq.heappush(expiry, (row.first_seen, row.id))
            cluster = clusters.get(row.cluster_id)
            if cluster is None:
                outlets = list(row.outlets or [])
                cluster = _Cluster(
                    row.cluster_id,
                    row.lead_story_id,
                    row.size or 1,
                    outlets,
                    keys={outlet_key(o) for o in outlets},
                )
                clusters[row.cluster_id] = cluster
            cluster.members += 1
        window.since = since
        # A story without a cluster (none is stored so) would be counted but not indexed:
        # such a window never agrees with the table and is read anew each poll.

    async def _story_rows(self, conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
        rows: list[Any] = []
        for part in chunks(ids):
            rows.extend(await conn.execute(_WITH_CLUSTER.where(stories.c.id.in_(part))))
        return rows

    async def _is_lead(self, conn: AsyncConnection, row: Any) -> bool:
        if row.cluster_id is None:
            return True
        lead = await conn.scalar(
            select(story_clusters.c.lead_story_id).where(story_clusters.c.id == row.cluster_id)
        )
        return lead is None or lead == row.id

    async def _stories_baseline_done(self, conn: AsyncConnection, source: str) -> None:
        stmt = self._insert(source_state).values(name=source, baseline_done=True)
        stmt = stmt.on_conflict_do_update(
            index_elements=[source_state.c.name],
            set_={"baseline_done": True},
            where=source_state.c.baseline_done == false(),
        )
        await conn.execute(stmt)

    # -- queries ------------------------------------------------------------------------

    async def stories(
        self,
        *,
        days: float = 7,
        topic: str | None = None,
        min_score: float = 0,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
        now: datetime | None = None,
        include_baseline: bool = True,
    ) -> list[StoredStory]:
        """Cluster leads first seen in the last ``days``, newest first, with their
        cluster's size and outlets. ``topic`` keeps stories scoring at least
        ``min_score`` on it (any topic without one); ``query`` matches the title.
        ``include_baseline=False`` leaves out what a feed's silent baseline stored."""
        since = (now or utcnow()) - timedelta(days=days)
        lead = or_(
            stories.c.cluster_id.is_(None),
            story_clusters.c.lead_story_id.is_(None),
            story_clusters.c.lead_story_id == stories.c.id,
        )
        stmt = _WITH_CLUSTER.where(stories.c.first_seen >= since, lead)
        if not include_baseline:
            stmt = stmt.where(stories.c.baseline == false())
        if query:
            # the text as typed: LIKE's wildcards escaped, so "%" means "%" (as listings do)
            word = query.strip().lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
            stmt = stmt.where(func.lower(stories.c.title).like(f"%{word}%", escape="/"))
        if topic is None and min_score > 0:
            stmt = stmt.where(stories.c.score >= min_score)
        # Topic scores live in JSON; filtering them in Python keeps one query for both
        # engines. The newest-first scan stops as soon as the page is full.
        stmt = stmt.order_by(
            func.coalesce(stories.c.published, stories.c.first_seen).desc(), stories.c.id.desc()
        )
        result: list[StoredStory] = []
        skipped = 0
        async with self._reader.connect() as conn:
            if topic is None:
                rows = await conn.execute(stmt.limit(max(0, limit)).offset(max(0, offset)))
                return [_stored(row) for row in rows]
            stream = await conn.stream(stmt)
            async for row in stream:
                score = (row.topics or {}).get(topic)
                if score is None or score < min_score or score <= 0:
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                result.append(_stored(row))
                if len(result) >= limit:
                    break
            await stream.close()
        return result

    async def story(self, story_id: int) -> StoredStory | None:
        """One story by id, with its cluster's size and outlets."""
        async with self._reader.connect() as conn:
            row = (await conn.execute(_WITH_CLUSTER.where(stories.c.id == story_id))).first()
        return _stored(row) if row is not None else None

    async def cluster_members(self, cluster_id: int) -> list[StoredStory]:
        """Every story of a cluster, the lead first, then in the order they were seen."""
        stmt = _WITH_CLUSTER.where(stories.c.cluster_id == cluster_id).order_by(
            case((story_clusters.c.lead_story_id == stories.c.id, 0), else_=1),
            stories.c.first_seen,
            stories.c.id,
        )
        async with self._reader.connect() as conn:
            return [_stored(row) for row in await conn.execute(stmt)]
