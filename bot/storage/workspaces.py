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
        return await self._write("INSERT OR IGNORE INTO seen (team_id, key, at) "
                                 "VALUES (?, ?, ?)", [team_id, key, at]) == 1

    # -- messages that opened a case ------------------------------------------------
    async def claim_message(self, team_id: str, channel_id: str, message_ts: str,
                            at: str) -> bool:
        """True for the first claim of a message (the reaction trigger opens one case
        per message, however many people react, however often Slack delivers it)."""
        async with self._tx() as tx:
            return await tx.run(
                "INSERT OR IGNORE INTO message_cases (team_id, channel_id, message_ts, at) "
                "VALUES (?, ?, ?, ?)", [team_id, channel_id, message_ts, at]) == 1

    async def record_message_case(self, team_id: str, channel_id: str, message_ts: str,
                                  case_id: int | None) -> None:
        """The case a claimed message opened (None: it opened none; free it again)."""
        async with self._tx() as tx:
            if case_id is None:
                await tx.run("DELETE FROM message_cases WHERE team_id = ? AND channel_id = ? "
                             "AND message_ts = ?", [team_id, channel_id, message_ts])
            else:
                await tx.run("UPDATE message_cases SET case_id = ? WHERE team_id = ? AND "
                             "channel_id = ? AND message_ts = ?",
                             [case_id, team_id, channel_id, message_ts])

    # -- people's names (for exports) -----------------------------------------------
    async def remember_names(self, team_id: str, names: dict[str, str], at: str) -> None:
        rows = [(team_id, u, n, at) for u, n in names.items() if n]
        if not rows:
            return
        async with self._tx() as tx:
            await tx.many(
                "INSERT INTO people (team_id, user_id, name, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, user_id) DO UPDATE SET name = excluded.name, "
                "at = excluded.at", rows)

    async def names(self, team_id: str) -> dict[str, str]:
        return dict(await self._rows("SELECT user_id, name FROM people WHERE team_id = ?",
                                     [team_id]))

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

