"""Workspaces: their settings, their leads, and interactions already handled."""

from __future__ import annotations

from bot.domain.workspace import SETTINGS, Workspace
from bot.storage.engine import Engine


class Workspaces(Engine):
    """Workspace settings, leads and seen interactions."""

    # -- leads and seen interactions ------------------------------------------
    async def leads(self, team_id: str) -> list[str]:
        rows = await self._rows(
            "SELECT user_id FROM leads WHERE team_id = ? ORDER BY added_at, user_id", [team_id])
        return [r[0] for r in rows]

    async def set_leads(self, team_id: str, user_ids: list[str], actor_id: str, at: str) -> None:
        """Replace the workspace's leads."""
        async with self._tx() as tx:
            await tx.run("DELETE FROM leads WHERE team_id = ?", [team_id])
            await tx.many(
                "INSERT INTO leads (team_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
                [(team_id, u, actor_id, at) for u in dict.fromkeys(user_ids)])

    async def seen_before(self, team_id: str, key: str) -> bool:
        """Whether `key` was recorded (by `first_time` or a change's `once_key`)."""
        return bool(await self._rows("SELECT 1 FROM seen WHERE team_id = ? AND key = ?",
                                     [team_id, key]))

    async def first_time(self, team_id: str, key: str, at: str) -> bool:
        """True the first time `key` is seen: a retried interaction is done once."""
        async with self._tx() as tx:
            return await tx.run("INSERT OR IGNORE INTO seen (team_id, key, at) "
                                "VALUES (?, ?, ?)", [team_id, key, at]) == 1


    # -- workspaces ----------------------------------------------------------------
    async def workspaces(self) -> list[str]:
        """Every workspace Mend has seen (the scheduler visits each in turn)."""
        return [r[0] for r in await self._rows("SELECT team_id FROM workspaces")]

    async def workspace(self, team_id: str) -> Workspace:
        """A workspace's own settings (None where it uses the defaults)."""
        row = await self._row(
            f"SELECT {', '.join(SETTINGS)} FROM workspaces WHERE team_id = ?", [team_id])
        return Workspace(team_id, *(row or (None,) * len(SETTINGS)))

    async def set_workspace(self, team_id: str, at: str, **fields: str | None) -> None:
        allowed = set(SETTINGS)
        assert set(fields) <= allowed, fields
        async with self._tx() as tx:
            await tx.run("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
                         "VALUES (?, ?)", [team_id, at])
            assignments = ", ".join(f"{k} = ?" for k in fields)
            await tx.run(f"UPDATE workspaces SET {assignments} WHERE team_id = ?",
                         [*fields.values(), team_id])

