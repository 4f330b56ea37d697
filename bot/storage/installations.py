"""Installations (bot tokens, one row per workspace or org-wide install), one-time OAuth
states, the per-workspace lock held while a token is refreshed, uninstalls and purges.

A row's key is (enterprise_id, team_id), with '' for what is absent: an org-wide
(Enterprise Grid) install is (E, ''), a workspace outside a grid ('', T).
"""

from __future__ import annotations

from typing import Any

from bot.storage.engine import Engine

INSTALL_COLUMNS = ("enterprise_id", "team_id", "is_enterprise_install", "app_id",
                   "enterprise_name", "enterprise_url", "team_name", "bot_token", "bot_id",
                   "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at",
                   "installer_id", "installed_at")
_SELECT = f"SELECT {', '.join(INSTALL_COLUMNS)} FROM installations"


class Installations(Engine):
    """Where each workspace's bot token lives, and what happens when it goes."""

    # -- installations -------------------------------------------------------------
    async def save_installation(self, row: dict[str, Any], at: str) -> None:
        """Insert or replace the install of (enterprise, team). A workspace installed
        again within its retention period is live again, with its cases; the person
        who installs becomes its first lead when it has none."""
        row = {**row, "enterprise_id": row.get("enterprise_id") or "",
               "team_id": row.get("team_id") or ""}
        names = [c for c in INSTALL_COLUMNS if c in row]
        # The whole row replaced (columns not given become NULL), in words both engines
        # share: an upsert on the key.
        others = [c for c in INSTALL_COLUMNS if c not in ("enterprise_id", "team_id")]
        values = ", ".join(f"{c} = excluded.{c}" if c in names else f"{c} = NULL"
                           for c in others)
        async with self._tx() as tx:
            await tx.run(f"INSERT INTO installations ({', '.join(names)}) "
                         f"VALUES ({', '.join('?' * len(names))}) "
                         f"ON CONFLICT (enterprise_id, team_id) DO UPDATE SET {values}",
                         [row[c] for c in names])
            team, enterprise = row["team_id"], row["enterprise_id"] or None
            if not team:
                await tx.run("UPDATE workspaces SET uninstalled_at = NULL "
                             "WHERE enterprise_id = ?", [enterprise])
                return
            await tx.run("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES (?, ?)",
                         [team, at])
            await tx.run("UPDATE workspaces SET uninstalled_at = NULL, "
                         "enterprise_id = COALESCE(?, enterprise_id) WHERE team_id = ?",
                         [enterprise, team])
            if row.get("installer_id"):
                await tx.run(
                    "INSERT INTO leads (team_id, user_id, added_by, added_at) "
                    "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM leads WHERE team_id = ?)",
                    [team, row["installer_id"], row["installer_id"], at, team])

    async def installation(self, enterprise_id: str | None, team_id: str | None,
                           org_wide: bool = False) -> dict[str, Any] | None:
        """The install serving a workspace: its own, else its grid's org-wide one."""
        enterprise = enterprise_id or ""
        if not org_wide and team_id:
            found = await self._install("team_id = ? AND enterprise_id IN (?, '')",
                                  [team_id, enterprise])
            if found:
                return found
            if not enterprise:
                enterprise = await self._enterprise_of(team_id) or ""
        if not enterprise:
            return None
        return await self._install(
            "enterprise_id = ? AND team_id = '' AND is_enterprise_install = 1", [enterprise])

    async def installation_at(self, enterprise_id: str, team_id: str) -> dict[str, Any] | None:
        """The row stored under exactly this key."""
        return await self._install("enterprise_id = ? AND team_id = ?",
                                   [enterprise_id, team_id])

    async def update_bot_token(self, enterprise_id: str, team_id: str, token: str,
                               refresh_token: str | None, expires_at: int | None) -> None:
        async with self._tx() as tx:
            await tx.run("UPDATE installations SET bot_token = ?, bot_refresh_token = ?, "
                         "bot_token_expires_at = ? WHERE enterprise_id = ? AND team_id = ?",
                         [token, refresh_token, expires_at, enterprise_id, team_id])

    async def delete_installation(self, enterprise_id: str | None, team_id: str | None) -> int:
        async with self._tx() as tx:
            return await tx.run("DELETE FROM installations WHERE enterprise_id = ? AND "
                                "team_id = ?", [enterprise_id or "", team_id or ""])

    async def note_enterprise(self, team_id: str, enterprise_id: str, at: str) -> None:
        """Remember the grid a workspace belongs to (work no request started finds the
        org-wide install through it)."""
        async with self._tx() as tx:
            await tx.run("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES (?, ?)",
                         [team_id, at])
            await tx.run("UPDATE workspaces SET enterprise_id = ? WHERE team_id = ?",
                         [enterprise_id, team_id])

    async def _enterprise_of(self, team_id: str) -> str | None:
        return await self._value("SELECT enterprise_id FROM workspaces WHERE team_id = ?",
                                 [team_id])

    async def _install(self, where: str, params: list[Any]) -> dict[str, Any] | None:
        row = await self._row(f"{_SELECT} WHERE {where}", params)
        return dict(zip(INSTALL_COLUMNS, row, strict=True)) if row else None

    # -- one-time OAuth states ----------------------------------------------------------
    async def save_state(self, state: str, expires_at: float) -> None:
        async with self._tx() as tx:
            await tx.run("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)",
                         [state, expires_at])

    async def consume_state(self, state: str, now: float) -> bool:
        """True once for a state issued and not expired; it is gone afterwards."""
        async with self._tx() as tx:
            await tx.run("DELETE FROM oauth_states WHERE expires_at < ?", [now])
            return await tx.run("DELETE FROM oauth_states WHERE state = ?", [state]) == 1

    # -- the refresh lock -----------------------------------------------------------------
    async def lock_token(self, enterprise_id: str, team_id: str, holder: str, now: float,
                         until: float) -> bool:
        """Hold the workspace's refresh lock unless another holder's is still running."""
        async with self._tx() as tx:
            await tx.run("INSERT OR IGNORE INTO token_locks (enterprise_id, team_id, holder, "
                         "expires_at) VALUES (?, ?, '', 0)", [enterprise_id, team_id])
            return await tx.run(
                "UPDATE token_locks SET holder = ?, expires_at = ? WHERE enterprise_id = ? "
                "AND team_id = ? AND (holder = ? OR expires_at < ?)",
                [holder, until, enterprise_id, team_id, holder, now]) == 1

    async def unlock_token(self, enterprise_id: str, team_id: str, holder: str) -> None:
        async with self._tx() as tx:
            await tx.run("DELETE FROM token_locks WHERE enterprise_id = ? AND team_id = ? "
                         "AND holder = ?", [enterprise_id, team_id, holder])

    # -- leaving ------------------------------------------------------------------------
    async def mark_uninstalled(self, enterprise_id: str | None, team_id: str | None,
                               at: str) -> list[str]:
        """The workspace (or every workspace of an org-wide install) is gone: its tokens
        are deleted, its outbox stopped, its timers no longer swept. Its cases stay for
        the retention period. Returns the workspaces stopped."""
        async with self._tx() as tx:
            if team_id:
                teams = [team_id]
                await tx.run("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
                             "VALUES (?, ?)", [team_id, at])
            else:
                teams = [r[0] for r in await tx.rows(
                    "SELECT team_id FROM workspaces WHERE enterprise_id = ?", [enterprise_id])]
            await tx.run("DELETE FROM installations WHERE enterprise_id = ? AND team_id = ?",
                         [enterprise_id or "", team_id or ""])
            for team in teams:
                await tx.run("DELETE FROM installations WHERE team_id = ?", [team])
                await tx.run("DELETE FROM token_locks WHERE team_id = ?", [team])
                await tx.run("UPDATE workspaces SET uninstalled_at = COALESCE(uninstalled_at, ?)"
                             " WHERE team_id = ?", [at, team])
                await tx.run("UPDATE nudges SET state = 'cancelled', error = 'uninstalled' "
                             "WHERE team_id = ? AND state IN ('pending', 'sending')", [team])
        return teams

    async def is_uninstalled(self, team_id: str) -> bool:
        return bool(await self._value(
            "SELECT uninstalled_at FROM workspaces WHERE team_id = ?", [team_id]))

    async def active_workspaces(self) -> list[str]:
        """Workspaces Mend still serves (the scheduler's round)."""
        return [r[0] for r in await self._rows(
            "SELECT team_id FROM workspaces WHERE uninstalled_at IS NULL")]

    async def expired_workspaces(self, before: str) -> list[str]:
        """Workspaces uninstalled before `before`: their retention is over."""
        return [r[0] for r in await self._rows(
            "SELECT team_id FROM workspaces WHERE uninstalled_at < ?", [before])]

    async def purge_workspace(self, team_id: str) -> dict[str, int]:
        """Delete every row of the workspace, in every table that has a team_id;
        returns how many rows each table lost (tables that lost none left out)."""
        tables = await self._tables_with("team_id")
        tables.sort(key=lambda name: name == "cases")  # what points at cases goes first
        deleted = {}
        async with self._tx() as tx:
            for name in tables:
                count = await tx.run(f'DELETE FROM "{name}" WHERE team_id = ?', [team_id])
                if count:
                    deleted[name] = count
        return deleted
