"""Turning database failures into :class:`bot.errors.StorageError` at the Store boundary.

A locked SQLite file, a lost PostgreSQL connection, a constraint the data broke: the
operation failed and the caller's cycle retries later. Mistakes in our own SQL or
arguments (``ProgrammingError``, a naive datetime, a wrong type) are bugs and propagate
untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from bot.errors import StorageError

__all__ = ["storage_errors", "translate"]

P = ParamSpec("P")
T = TypeVar("T")

_BUGS = (sa_exc.ProgrammingError, sa_exc.NotSupportedError)
_FAILURES = (
    sa_exc.DBAPIError,  # OperationalError (locked, gone), IntegrityError, DataError, ...
    sa_exc.TimeoutError,  # no pooled connection free in time
    sa_exc.DisconnectionError,
    OSError,  # asyncpg raises ConnectionRefusedError & co. while connecting
    TimeoutError,
)


def translate(err: BaseException) -> StorageError | None:
    """The :class:`StorageError` for a database failure, ``None`` for anything else."""
    if isinstance(err, _BUGS) or not isinstance(err, _FAILURES):
        return None
    orig = getattr(err, "orig", None)
    detail = str(orig if orig is not None else err).strip().splitlines()
    reason = detail[0] if detail else type(err).__name__
    return StorageError(f"database error: {reason}")


def storage_errors(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a coroutine so database failures leave it as :class:`StorageError`."""
    if getattr(func, "__storage_errors__", False):
        return func

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except StorageError:
            raise
        except Exception as err:
            wrapped = translate(err)
            if wrapped is None:
                raise
            raise wrapped from err

    wrapper.__storage_errors__ = True  # type: ignore[attr-defined]
    return wrapper
