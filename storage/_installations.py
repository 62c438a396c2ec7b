"""Slack installations and OAuth states (issue 9): Marquee in many workspaces.

Each workspace (or Enterprise Grid organisation, for an org-wide install) that installs
the app through ``/slack/install`` gets one row in ``slack_installations`` holding its bot
token; a newer install of the same workspace replaces it. The OAuth ``state`` values
handed to browsers live in ``slack_oauth_states`` until consumed once or expired, so any
instance behind a load balancer can finish an install another one started.

Tokens are stored as given: whoever can read this database can post as the app (see
docs/DEPLOYMENT.md on protecting it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select

from storage._base import StoreBase
from storage.schema import slack_installations, slack_oauth_states

__all__ = ["InstallationQueries", "SlackInstallation"]

_MAX_FIELD = 500  # ids, names and scopes from Slack are short; a hostile value is cut


@dataclass(frozen=True, slots=True)
class SlackInstallation:
    """One workspace's (or organisation's) install of the app: its bot token and who
    it is. ``team_id`` is ``None`` for an org-wide install, ``enterprise_id`` outside
    Enterprise Grid. Tokens are left out of ``repr``."""

    team_id: str | None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    bot_token: str = field(default="", repr=False)
    bot_id: str | None = None
    bot_user_id: str | None = None
    bot_scopes: tuple[str, ...] = ()
    bot_refresh_token: str | None = field(default=None, repr=False)
    bot_token_expires_at: datetime | None = None
    app_id: str | None = None
    team_name: str | None = None
    enterprise_name: str | None = None
    installer_user_id: str | None = None
    installed_at: datetime | None = None


def _key(value: str | None) -> str:
    """Absent ids are stored as '' so they can be part of the primary key."""
    return (value or "")[:_MAX_FIELD]


def _short(value: str | None) -> str | None:
    return value[:_MAX_FIELD] if value else None


def _installation(row) -> SlackInstallation:  # type: ignore[no-untyped-def]
    return SlackInstallation(
        team_id=row.team_id or None,
        enterprise_id=row.enterprise_id or None,
        is_enterprise_install=bool(row.is_enterprise_install),
        bot_token=row.bot_token,
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=tuple(str(s) for s in row.bot_scopes or ()),
        bot_refresh_token=row.bot_refresh_token,
        bot_token_expires_at=row.bot_token_expires_at,
        app_id=row.app_id,
        team_name=row.team_name,
        enterprise_name=row.enterprise_name,
        installer_user_id=row.installer_user_id,
        installed_at=row.installed_at,
    )


class InstallationQueries(StoreBase):
    async def save_slack_installation(self, inst: SlackInstallation, *, at: datetime) -> None:
        """Store a workspace's install, replacing an earlier one of the same workspace."""
        if not inst.bot_token:
            raise ValueError("an installation without a bot token cannot answer anything")
        values = {
            "is_enterprise_install": inst.is_enterprise_install,
            "bot_token": inst.bot_token,
            "bot_id": _short(inst.bot_id),
            "bot_user_id": _short(inst.bot_user_id),
            "bot_scopes": [s[:_MAX_FIELD] for s in inst.bot_scopes][:100],
            "bot_refresh_token": inst.bot_refresh_token,
            "bot_token_expires_at": inst.bot_token_expires_at,
            "app_id": _short(inst.app_id),
            "team_name": _short(inst.team_name),
            "enterprise_name": _short(inst.enterprise_name),
            "installer_user_id": _short(inst.installer_user_id),
            "installed_at": inst.installed_at or at,
        }
        team = "" if inst.is_enterprise_install else _key(inst.team_id)
        stmt = self._insert(slack_installations).values(
            enterprise_id=_key(inst.enterprise_id), team_id=team, **values
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[slack_installations.c.enterprise_id, slack_installations.c.team_id],
            set_=values,
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def slack_installation(
        self, *, team_id: str | None, enterprise_id: str | None = None
    ) -> SlackInstallation | None:
        """The install that answers for a workspace: its own, else its organisation's
        org-wide install (Enterprise Grid)."""
        t = slack_installations.c
        stmt = select(slack_installations)
        if team_id and enterprise_id:
            # the workspace's own install first, then its organisation's org-wide one
            # ('' sorts first, hence descending)
            stmt = stmt.where(
                t.enterprise_id == _key(enterprise_id), t.team_id.in_([_key(team_id), ""])
            ).order_by(t.team_id.desc())
        elif team_id:
            # Workspace ids are unique across Slack: a channel address names only the
            # workspace, whichever organisation it belongs to.
            stmt = stmt.where(t.team_id == _key(team_id))
        else:
            stmt = stmt.where(t.enterprise_id == _key(enterprise_id), t.team_id == "")
        async with self._reader.connect() as conn:
            row = (await conn.execute(stmt.limit(1))).first()
        if row is None or (not row.team_id and not row.is_enterprise_install):
            return None
        return _installation(row)

    async def slack_installations(self) -> list[SlackInstallation]:
        """Every stored install, by organisation and workspace."""
        t = slack_installations.c
        stmt = select(slack_installations).order_by(t.enterprise_id, t.team_id)
        async with self._reader.connect() as conn:
            return [_installation(row) for row in await conn.execute(stmt)]

    async def delete_slack_installation(
        self, *, team_id: str | None, enterprise_id: str | None = None
    ) -> bool:
        """Forget a workspace's install (uninstalled, token revoked)."""
        t = slack_installations.c
        stmt = delete(slack_installations).where(
            t.enterprise_id == _key(enterprise_id), t.team_id == _key(team_id)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    # -- OAuth states ---------------------------------------------------------------

    async def issue_oauth_state(self, state: str, *, expires_at: datetime, now: datetime) -> None:
        """Remember a state handed to a browser; expired ones are swept on the way."""
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(slack_oauth_states).where(slack_oauth_states.c.expires_at <= now)
            )
            await conn.execute(
                slack_oauth_states.insert().values(state=state, expires_at=expires_at)
            )

    async def consume_oauth_state(self, state: str, *, now: datetime) -> bool:
        """``True`` once for a state issued here and not yet expired; it is gone after."""
        stmt = (
            delete(slack_oauth_states)
            .where(slack_oauth_states.c.state == state)
            .returning(slack_oauth_states.c.expires_at)
        )
        async with self._engine.begin() as conn:
            expires_at = (await conn.execute(stmt)).scalar()
        return expires_at is not None and expires_at > now

    async def oauth_state_count(self) -> int:
        """How many states wait to be consumed (tests, diagnostics)."""
        stmt = select(func.count()).select_from(slack_oauth_states)
        async with self._reader.connect() as conn:
            return int(await conn.scalar(stmt) or 0)
