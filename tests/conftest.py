"""Shared fixtures: databases on both engines, and the polite HTTP client.

PostgreSQL tests create and drop a database of their own. Without a server they skip
with the reason; with ``MARQUEE_REQUIRE_PG=1`` (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.http import HttpClient, HttpSettings

# Hypothesis profiles (issue 7): "ci", the default (and what CI=true gets), is
# derandomized, so every run tries the same examples; HYPOTHESIS_PROFILE=long tries many
# more, at random. Tests that set max_examples themselves keep their own count.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
hypothesis_settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25, suppress_health_check=_SLOW_OK
)
hypothesis_settings.register_profile(
    "long", deadline=None, max_examples=600, suppress_health_check=_SLOW_OK
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")

PG_DSN = os.environ.get("MARQUEE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("MARQUEE_REQUIRE_PG") == "1"


async def _pg_admin():
    import asyncpg

    try:
        return await asyncpg.connect(PG_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required (MARQUEE_REQUIRE_PG=1) but unreachable: {err}")
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN}: {err}")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database as a SQLAlchemy URL; dropped afterwards."""
    admin = await _pg_admin()
    name = f"marquee_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'marquee.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request, tmp_path) -> AsyncIterator[str]:
    """Both engines: every storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'marquee.db'}"
    else:
        request.applymarker(pytest.mark.postgres)
        async for url in pg_url.__wrapped__():  # type: ignore[attr-defined]
            yield url


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    """The real polite client, with test-friendly timeouts."""
    settings = HttpSettings(
        connect_timeout=2, read_timeout=3, total_timeout=5, max_body_bytes=2 * 1024 * 1024
    )
    async with HttpClient(settings) as client:
        yield client
