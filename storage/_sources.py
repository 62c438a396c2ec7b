"""Source health, conditional-GET memory and polling leases (table ``source_state``)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.http import Validator
from bot.models import SourceState
from storage._base import StoreBase
from storage.schema import source_state

__all__ = ["SourceQueries"]

# An error message from a remote server can be anything; keep what /sources shows sane.
_MAX_ERROR = 2000
_MAX_WARNINGS = 50


def _state(row: Any) -> SourceState:
    return SourceState(
        name=row.name,
        last_attempt=row.last_attempt,
        last_success=row.last_success,
        last_error=row.last_error,
        failure_count=row.failure_count,
        next_attempt=row.next_attempt,
        item_count=row.item_count,
        disabled_reason=row.disabled_reason,
        baseline_done=bool(row.baseline_done),
        failing_since=row.failing_since,
    )


# a source's row, built once (see _success_upsert)
_STATE = select(source_state).where(source_state.c.name == bindparam("name"))


@functools.cache
def _success_upsert(dialect: str) -> Any:
    """The upsert of :meth:`SourceQueries.poll_succeeded`, built once per dialect and
    run with its values as parameters (building it cost as much CPU as running it,
    once per poll). A ``listing_hash`` of ``None`` keeps the stored one."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    c = source_state.c
    at = bindparam("at", type_=c.last_attempt.type)
    values = {
        "last_attempt": at,
        "last_success": at,
        "last_error": None,
        "failure_count": 0,
        "next_attempt": bindparam("next_attempt", type_=c.next_attempt.type),
        "item_count": bindparam("item_count", type_=c.item_count.type),
        "validators": bindparam("validators", type_=c.validators.type),
        "listing_hash": bindparam("listing_hash", type_=c.listing_hash.type),
        "warnings": bindparam("warnings", type_=c.warnings.type),
        "failing_since": None,
    }
    stmt = insert(source_state).values(name=bindparam("name", type_=c.name.type), **values)
    update_values = dict(values)
    update_values["listing_hash"] = func.coalesce(stmt.excluded.listing_hash, c.listing_hash)
    return stmt.on_conflict_do_update(index_elements=[c.name], set_=update_values)


def _validators(value: Any) -> dict[str, Validator]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(url): Validator.from_json(data)
        for url, data in value.items()
        if isinstance(data, Mapping)
    }


class SourceQueries(StoreBase):
    async def source_state(self, name: str) -> SourceState | None:
        """The stored health of source ``name``, or ``None`` if it was never polled."""
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(select(source_state).where(source_state.c.name == name))
            ).first()
        return _state(row) if row is not None else None

    async def source_states(self) -> list[SourceState]:
        """Every source's stored health, by name."""
        async with self._reader.connect() as conn:
            rows = await conn.execute(select(source_state).order_by(source_state.c.name))
            return [_state(row) for row in rows]

    async def source_warnings(self, name: str) -> list[str]:
        """The warnings recorded by the source's last successful poll."""
        async with self._reader.connect() as conn:
            value = await conn.scalar(
                select(source_state.c.warnings).where(source_state.c.name == name)
            )
        return [str(w) for w in value or ()]

    async def source_state_and_validators(
        self, name: str
    ) -> tuple[SourceState | None, dict[str, Validator]]:
        """:meth:`source_state` and the source's conditional-GET memory (URL ->
        :class:`bot.http.Validator`) in one query: what a poll reads before it fetches."""
        async with self._reader.connect() as conn:
            row = (await conn.execute(_STATE, {"name": name})).first()
        if row is None:
            return None, {}
        return _state(row), _validators(row.validators)

    async def listing_hash(self, name: str) -> str | None:
        """The hash of the source's listing as of its last successful poll."""
        async with self._reader.connect() as conn:
            return await conn.scalar(
                select(source_state.c.listing_hash).where(source_state.c.name == name)
            )

    async def poll_succeeded(
        self,
        name: str,
        *,
        at: datetime,
        validators: Mapping[str, Validator],
        listing_hash: str | None = None,
        item_count: int,
        warnings: Iterable[str] = (),
        next_attempt: datetime | None = None,
    ) -> None:
        """Record a successful poll: clears the error and the failure count.

        ``validators`` replaces the stored set; ``listing_hash=None`` keeps the stored one
        (a 304 says the listing is what it was).
        """
        async with self._engine.begin() as conn:
            await self._poll_succeeded_in(
                conn,
                name,
                at=at,
                validators=validators,
                listing_hash=listing_hash,
                item_count=item_count,
                warnings=warnings,
                next_attempt=next_attempt,
            )

    async def _poll_succeeded_in(
        self,
        conn: AsyncConnection,
        name: str,
        *,
        at: datetime,
        validators: Mapping[str, Validator],
        listing_hash: str | None,
        item_count: int,
        warnings: Iterable[str],
        next_attempt: datetime | None,
    ) -> None:
        """:meth:`poll_succeeded` inside ``conn``'s transaction."""
        await conn.execute(
            _success_upsert(self.dialect),
            {
                "name": name,
                "at": at,
                "next_attempt": next_attempt,
                "item_count": item_count,
                "validators": {url: v.to_json() for url, v in validators.items()},
                "listing_hash": listing_hash,
                "warnings": [str(w)[:_MAX_ERROR] for w in warnings][:_MAX_WARNINGS],
            },
        )

    async def poll_failed(
        self, name: str, *, at: datetime, error: str, next_attempt: datetime | None
    ) -> SourceState:
        """Record a failed poll (one more failure; the first one since the last success
        sets ``failing_since``); returns the new state."""
        error = str(error)[:_MAX_ERROR]
        stmt = self._insert(source_state).values(
            name=name,
            last_attempt=at,
            last_error=error,
            failure_count=1,
            next_attempt=next_attempt,
            failing_since=at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[source_state.c.name],
            set_={
                "last_attempt": at,
                "last_error": error,
                "failure_count": source_state.c.failure_count + 1,
                "next_attempt": next_attempt,
                # a streak that began before this column existed began at the last
                # success at the latest
                "failing_since": func.coalesce(
                    source_state.c.failing_since,
                    case(
                        (source_state.c.failure_count > 0, source_state.c.last_success),
                        else_=None,
                    ),
                    at,
                ),
            },
        ).returning(*source_state.c)
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).one()
        return _state(row)

    async def set_source_disabled(self, name: str, reason: str | None) -> None:
        """Disable a source with a reason users see, or enable it again with ``None``."""
        stmt = self._insert(source_state).values(name=name, disabled_reason=reason)
        stmt = stmt.on_conflict_do_update(
            index_elements=[source_state.c.name], set_={"disabled_reason": reason}
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def acquire_source_lease(
        self, name: str, *, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Take or renew the right to poll ``name`` until ``until``; ``False`` while
        another owner's lease is still live."""
        stmt = self._insert(source_state).values(name=name, lease_owner=owner, lease_until=until)
        stmt = stmt.on_conflict_do_update(
            index_elements=[source_state.c.name],
            set_={"lease_owner": owner, "lease_until": until},
            where=or_(
                source_state.c.lease_owner.is_(None),
                source_state.c.lease_owner == owner,
                source_state.c.lease_until.is_(None),
                source_state.c.lease_until <= now,
            ),
        ).returning(source_state.c.name)
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def release_source_lease(self, name: str, *, owner: str) -> bool:
        """Give the lease up if ``owner`` holds it."""
        stmt = (
            update(source_state)
            .where(source_state.c.name == name, source_state.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount > 0
