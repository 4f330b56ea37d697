"""Workspaces: their settings, their leads, and interactions already handled."""

from __future__ import annotations

from bot.domain.workspace import SETTINGS, Workspace
from bot.storage.connection import Connection


class Workspaces(Connection):
    """Workspace settings, leads and seen interactions."""

    # -- leads and seen interactions ------------------------------------------
    async def leads(self, team_id: str) -> list[str]:
        rows = self.db.conn.execute(
            "SELECT user_id FROM leads WHERE team_id = ? ORDER BY added_at, user_id", [team_id])
        return [r[0] for r in rows]

    async def set_leads(self, team_id: str, user_ids: list[str], actor_id: str, at: str) -> None:
        """Replace the workspace's leads."""
        with self._tx() as conn:
            conn.execute("DELETE FROM leads WHERE team_id = ?", [team_id])
            conn.executemany(
                "INSERT INTO leads (team_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
                [(team_id, u, actor_id, at) for u in dict.fromkeys(user_ids)])

    async def seen_before(self, team_id: str, key: str) -> bool:
        """Whether `key` was recorded (by `first_time` or a change's `once_key`)."""
        return self._seen(self.db.conn, team_id, key)

    async def first_time(self, team_id: str, key: str, at: str) -> bool:
        """True the first time `key` is seen: a retried interaction is done once."""
        with self._tx() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO seen (team_id, key, at) VALUES (?, ?, ?)",
                               [team_id, key, at])
        return cur.rowcount == 1

    # -- messages that opened a case ------------------------------------------------
    async def claim_message(self, team_id: str, channel_id: str, message_ts: str,
                            at: str) -> bool:
        """True for the first claim of a message (the reaction trigger opens one case
        per message, however many people react, however often Slack delivers it)."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO message_cases (team_id, channel_id, message_ts, at) "
                "VALUES (?, ?, ?, ?)", [team_id, channel_id, message_ts, at])
        return cur.rowcount == 1

    async def record_message_case(self, team_id: str, channel_id: str, message_ts: str,
                                  case_id: int | None) -> None:
        """The case a claimed message opened (None: it opened none; free it again)."""
        with self._tx() as conn:
            if case_id is None:
                conn.execute("DELETE FROM message_cases WHERE team_id = ? AND channel_id = ? "
                             "AND message_ts = ?", [team_id, channel_id, message_ts])
            else:
                conn.execute("UPDATE message_cases SET case_id = ? WHERE team_id = ? AND "
                             "channel_id = ? AND message_ts = ?",
                             [case_id, team_id, channel_id, message_ts])

    # -- people's names (for exports) -----------------------------------------------
    async def remember_names(self, team_id: str, names: dict[str, str], at: str) -> None:
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO people (team_id, user_id, name, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, user_id) DO UPDATE SET name = excluded.name, "
                "at = excluded.at", [(team_id, u, n, at) for u, n in names.items() if n])

    async def names(self, team_id: str) -> dict[str, str]:
        rows = self.db.conn.execute("SELECT user_id, name FROM people WHERE team_id = ?",
                                    [team_id])
        return dict(rows.fetchall())

    # -- workspaces ----------------------------------------------------------------
    async def workspaces(self) -> list[str]:
        """Every workspace Mend has seen (the scheduler visits each in turn)."""
        return [r[0] for r in self.db.conn.execute("SELECT team_id FROM workspaces")]

    async def workspace(self, team_id: str) -> Workspace:
        """A workspace's own settings (None where it uses the defaults)."""
        row = self.db.conn.execute(
            f"SELECT {', '.join(SETTINGS)} FROM workspaces WHERE team_id = ?",
            [team_id]).fetchone()
        return Workspace(team_id, *(row or (None,) * len(SETTINGS)))

    async def set_workspace(self, team_id: str, at: str, **fields: str | None) -> None:
        allowed = set(SETTINGS)
        assert set(fields) <= allowed, fields
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES (?, ?)",
                         [team_id, at])
            assignments = ", ".join(f"{k} = ?" for k in fields)
            conn.execute(f"UPDATE workspaces SET {assignments} WHERE team_id = ?",
                         [*fields.values(), team_id])

