"""Story and story-cluster queries (issue 3).

A story's identity is ``(source, guid)``. Each new story is placed in a cluster inside
the same transaction that stores it: the stories first seen in the last 72 hours are
loaded once (one query) into a :class:`bot.enrich.cluster.ClusterIndex`, and every new
story either joins the best matching cluster or starts one.

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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.enrich.cluster import WINDOW, Candidate, ClusterIndex, outlet_key
from bot.models import StoredStory, Story, StoryEvent
from storage._base import Router, StoreBase, chunks, utcnow
from storage.schema import clean_text, source_state, stories, story_clusters

__all__ = ["StoryQueries", "content_hash"]

# When a story's own date is this far ahead of when we saw it, the date is wrong.
_FUTURE_SLACK = timedelta(hours=1)


def content_hash(story: Story) -> str:
    """What defines "the content changed": title and summary, whitespace-insensitive."""
    text = " ".join(story.title.split()) + "\x1f" + " ".join(story.summary.split())
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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


def _values(story: Story) -> dict[str, Any]:
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
        "content_hash": content_hash(story),
    }


@dataclass(slots=True)
class _Cluster:
    id: int
    lead_story_id: int | None
    size: int
    outlets: list[str]
    changed: bool = False
    grew: bool = False  # another outlet joined during this apply
    keys: set[str] = field(default_factory=set)


_WITH_CLUSTER = select(stories, story_clusters.c.size, story_clusters.c.outlets).select_from(
    stories.outerjoin(story_clusters, stories.c.cluster_id == story_clusters.c.id)
)


class StoryQueries(StoreBase):
    async def apply_stories(
        self,
        source: str,
        fresh: Sequence[Story],
        *,
        at: datetime,
        baseline: bool,
        route: Router | None = None,
    ) -> list[StoryEvent]:
        """Store one successful poll of a news source and return what changed.

        Upserts by ``(source, guid)``, clusters new stories against the last 72 hours,
        and queues ``route(events)`` in the same transaction. With ``baseline`` the
        stories are stored and clustered but nothing is reported.
        """
        batch: dict[str, Story] = {}
        for story in fresh:
            # keyed as stored (see storage.schema.clean_text): a guid with a NUL in it
            # came back from the insert without it
            batch.setdefault(clean_text(story.guid), story)  # a repeated guid: first wins
        async with self._engine.begin() as conn:
            events = await self._apply_stories(conn, source, batch, at=at)
            await self._stories_baseline_done(conn, source)
            if baseline:
                return []
            await self._route_in(conn, events, route, at=at)
        return events

    async def _apply_stories(
        self, conn: AsyncConnection, source: str, batch: dict[str, Story], *, at: datetime
    ) -> list[StoryEvent]:
        known: dict[str, Any] = {}
        guids = list(batch)
        for part in chunks(guids):
            stmt = select(
                stories.c.id,
                stories.c.guid,
                stories.c.content_hash,
                stories.c.cluster_id,
            ).where(stories.c.source == source, stories.c.guid.in_(part))
            for row in await conn.execute(stmt):
                known[row.guid] = row

        # -- stories already stored: content changes, and last_seen ---------------------
        changed_ids: list[int] = []
        content_rows = []
        seen_ids = []
        for guid, story in batch.items():
            row = known.get(guid)
            if row is None:
                continue
            values = _values(story)
            if values["content_hash"] != row.content_hash:
                content_rows.append({"row_id": row.id, **values, "last_seen": at})
                changed_ids.append(row.id)
            else:
                seen_ids.append(row.id)
        if content_rows:
            await conn.execute(
                update(stories)
                .where(stories.c.id == bindparam("row_id"))
                .values({k: bindparam(k) for k in content_rows[0] if k != "row_id"}),
                content_rows,
            )
        for part in chunks(seen_ids):
            await conn.execute(update(stories).where(stories.c.id.in_(part)).values(last_seen=at))

        # -- new stories: insert, then cluster one by one in feed order ---------------
        new = [(guid, story) for guid, story in batch.items() if guid not in known]
        ids: dict[str, int] = {}
        rows = [
            {**_values(story), "source": source, "guid": guid, "first_seen": at, "last_seen": at}
            for guid, story in new
        ]
        for part in chunks(rows):
            stmt = self._insert(stories).returning(stories.c.id, stories.c.guid)
            for row in await conn.execute(stmt, list(part)):
                ids[row.guid] = row.id

        index, clusters = await self._cluster_window(conn, at) if new else (None, {})
        assignments: list[dict[str, int]] = []
        started: list[int] = []
        for guid, story in new:
            story_id = ids[guid]
            when = _when(story, at)
            match = index.match(story.title, story.outlet, when, url=story.url) if index else None
            cluster = clusters.get(match.cluster_id) if match else None
            if cluster is None:
                result = await conn.execute(
                    self._insert(story_clusters)
                    .values(
                        title=story.title,
                        first_seen=at,
                        last_seen=at,
                        lead_story_id=story_id,
                        size=1,
                        outlets=[story.outlet],
                    )
                    .returning(story_clusters.c.id)
                )
                cluster = _Cluster(result.scalar_one(), story_id, 1, [story.outlet])
                cluster.keys.add(outlet_key(story.outlet))
                clusters[cluster.id] = cluster
                started.append(story_id)
            else:
                cluster.size += 1
                cluster.changed = True
                key = outlet_key(story.outlet)
                if key not in cluster.keys:
                    cluster.keys.add(key)
                    cluster.outlets.append(story.outlet)
                    cluster.grew = True
            assignments.append({"row_id": story_id, "cluster": cluster.id})
            if index is not None:
                index.add(
                    Candidate(story_id, cluster.id, story.title, story.outlet, when, story.url)
                )
        if assignments:
            await conn.execute(
                update(stories)
                .where(stories.c.id == bindparam("row_id"))
                .values(cluster_id=bindparam("cluster")),
                assignments,
            )
        grown = [c for c in clusters.values() if c.changed]
        if grown:
            await conn.execute(
                update(story_clusters)
                .where(story_clusters.c.id == bindparam("cid"))
                .values(
                    size=bindparam("new_size"),
                    outlets=bindparam("new_outlets"),
                    last_seen=at,
                ),
                [{"cid": c.id, "new_size": c.size, "new_outlets": c.outlets} for c in grown],
            )

        # -- events, from the rows as they now stand ----------------------------------
        also = {c.lead_story_id for c in grown if c.grew and c.lead_story_id is not None}
        # A cluster started in this very poll alerts once, as "new", with every outlet.
        also -= set(started)
        wanted = set(started) | also | set(changed_ids)
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
        for story_id in sorted(also):
            row = current.get(story_id)
            if row is None:
                continue
            changes = (
                ("also_covered_by", "content") if story_id in changed_ids else ("also_covered_by",)
            )
            events.append(StoryEvent("updated", _stored(row), changes))
        return events

    async def _cluster_window(
        self, conn: AsyncConnection, at: datetime
    ) -> tuple[ClusterIndex, dict[int, _Cluster]]:
        """The clustering candidates (stories first seen in the window) and their
        clusters, read in one query."""
        since = at - WINDOW
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
            .where(stories.c.first_seen >= since)
            .order_by(stories.c.id)
        )
        index = ClusterIndex()
        clusters: dict[int, _Cluster] = {}
        for row in await conn.execute(stmt):
            published = row.published
            when = (
                row.first_seen
                if published is None or published > row.first_seen + _FUTURE_SLACK
                else published
            )
            index.add(Candidate(row.id, row.cluster_id, row.title, row.outlet, when, row.url))
            if row.cluster_id not in clusters:
                outlets = list(row.outlets or [])
                clusters[row.cluster_id] = _Cluster(
                    row.cluster_id,
                    row.lead_story_id,
                    row.size or 1,
                    outlets,
                    keys={outlet_key(o) for o in outlets},
                )
        return index, clusters

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
    ) -> list[StoredStory]:
        """Cluster leads first seen in the last ``days``, newest first, with their
        cluster's size and outlets. ``topic`` keeps stories scoring at least
        ``min_score`` on it (any topic without one); ``query`` matches the title."""
        since = (now or utcnow()) - timedelta(days=days)
        lead = or_(
            stories.c.cluster_id.is_(None),
            story_clusters.c.lead_story_id.is_(None),
            story_clusters.c.lead_story_id == stories.c.id,
        )
        stmt = _WITH_CLUSTER.where(stories.c.first_seen >= since, lead)
        if query:
            needle = f"%{query.strip().lower()}%"
            stmt = stmt.where(func.lower(stories.c.title).like(needle))
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
