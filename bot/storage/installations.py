"""Installations (bot tokens, one row per workspace or org-wide install), one-time OAuth
states, the per-workspace lock held while a token is refreshed, uninstalls and purges.

A row's key is (enterprise_id, team_id), with '' for what is absent: an org-wide
(Enterprise Grid) install is (E, ''), a workspace outside a grid ('', T).
"""

from __future__ import annotations

from typing import Any

from bot.storage.connection import Connection

INSTALL_COLUMNS = ("enterprise_id", "team_id", "is_enterprise_install", "app_id",
                   "enterprise_name", "enterprise_url", "team_name", "bot_token", "bot_id",
                   "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at",
                   "installer_id", "installed_at")
_SELECT = f"SELECT {', '.join(INSTALL_COLUMNS)} FROM installations"


class Installations(Connection):
    """Where each workspace's bot token lives, and what happens when it goes."""

    # -- installations -------------------------------------------------------------
    async def save_installation(self, row: dict[str, Any], at: str) -> None:
        """Insert or replace the install of (enterprise, team). A workspace installed
        again within its retention period is live again, with its cases; the person
        who installs becomes its first lead when it has none."""
        row = {**row, "enterprise_id": row.get("enterprise_id") or "",
               "team_id": row.get("team_id") or ""}
        names = [c for c in INSTALL_COLUMNS if c in row]
        with self._tx() as conn:
            conn.execute(f"INSERT OR REPLACE INTO installations ({', '.join(names)}) "
                         f"VALUES ({', '.join('?' * len(names))})", [row[c] for c in names])
            team, enterprise = row["team_id"], row["enterprise_id"] or None
            if not team:
                conn.execute("UPDATE workspaces SET uninstalled_at = NULL "
                             "WHERE enterprise_id = ?", [enterprise])
                return
            conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES (?, ?)",
                         [team, at])
            conn.execute("UPDATE workspaces SET uninstalled_at = NULL, "
                         "enterprise_id = COALESCE(?, enterprise_id) WHERE team_id = ?",
                         [enterprise, team])
            if row.get("installer_id"):
                conn.execute(
                    "INSERT INTO leads (team_id, user_id, added_by, added_at) "
                    "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM leads WHERE team_id = ?)",
                    [team, row["installer_id"], row["installer_id"], at, team])

    async def installation(self, enterprise_id: str | None, team_id: str | None,
                           org_wide: bool = False) -> dict[str, Any] | None:
        """The install serving a workspace: its own, else its grid's org-wide one."""
        enterprise = enterprise_id or ""
        if not org_wide and team_id:
            found = self._install("team_id = ? AND enterprise_id IN (?, '')",
                                  [team_id, enterprise])
            if found:
                return found
            if not enterprise:
                enterprise = self._enterprise_of(team_id) or ""
        if not enterprise:
            return None
        return self._install("enterprise_id = ? AND team_id = '' AND is_enterprise_install = 1",
                             [enterprise])

    async def installation_at(self, enterprise_id: str, team_id: str) -> dict[str, Any] | None:
        """The row stored under exactly this key."""
        return self._install("enterprise_id = ? AND team_id = ?", [enterprise_id, team_id])

    async def update_bot_token(self, enterprise_id: str, team_id: str, token: str,
                               refresh_token: str | None, expires_at: int | None) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE installations SET bot_token = ?, bot_refresh_token = ?, "
                         "bot_token_expires_at = ? WHERE enterprise_id = ? AND team_id = ?",
                         [token, refresh_token, expires_at, enterprise_id, team_id])

    async def delete_installation(self, enterprise_id: str | None, team_id: str | None) -> int:
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM installations WHERE enterprise_id = ? AND team_id = ?",
                               [enterprise_id or "", team_id or ""])
        return cur.rowcount

    async def note_enterprise(self, team_id: str, enterprise_id: str, at: str) -> None:
        """Remember the grid a workspace belongs to (work no request started finds the
        org-wide install through it)."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES (?, ?)",
                         [team_id, at])
            conn.execute("UPDATE workspaces SET enterprise_id = ? WHERE team_id = ?",
                         [enterprise_id, team_id])

    def _enterprise_of(self, team_id: str) -> str | None:
        row = self.db.conn.execute("SELECT enterprise_id FROM workspaces WHERE team_id = ?",
                                   [team_id]).fetchone()
        return row[0] if row else None

    def _install(self, where: str, params: list[Any]) -> dict[str, Any] | None:
        row = self.db.conn.execute(f"{_SELECT} WHERE {where}", params).fetchone()
        return dict(zip(INSTALL_COLUMNS, row, strict=True)) if row else None

    # -- one-time OAuth states ----------------------------------------------------------
    async def save_state(self, state: str, expires_at: float) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)",
                         [state, expires_at])

    async def consume_state(self, state: str, now: float) -> bool:
        """True once for a state issued and not expired; it is gone afterwards."""
        with self._tx() as conn:
            conn.execute("DELETE FROM oauth_states WHERE expires_at < ?", [now])
            cur = conn.execute("DELETE FROM oauth_states WHERE state = ?", [state])
        return cur.rowcount == 1

    # -- the refresh lock -----------------------------------------------------------------
    async def lock_token(self, enterprise_id: str, team_id: str, holder: str, now: float,
                         until: float) -> bool:
        """Hold the workspace's refresh lock unless another holder's is still running."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO token_locks (enterprise_id, team_id, holder, "
                         "expires_at) VALUES (?, ?, '', 0)", [enterprise_id, team_id])
            cur = conn.execute(
                "UPDATE token_locks SET holder = ?, expires_at = ? WHERE enterprise_id = ? "
                "AND team_id = ? AND (holder = ? OR expires_at < ?)",
                [holder, until, enterprise_id, team_id, holder, now])
        return cur.rowcount == 1

    async def unlock_token(self, enterprise_id: str, team_id: str, holder: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM token_locks WHERE enterprise_id = ? AND team_id = ? "
                         "AND holder = ?", [enterprise_id, team_id, holder])

    # -- leaving ------------------------------------------------------------------------
    async def mark_uninstalled(self, enterprise_id: str | None, team_id: str | None,
                               at: str) -> list[str]:
        """The workspace (or every workspace of an org-wide install) is gone: its tokens
        are deleted, its outbox stopped, its timers no longer swept. Its cases stay for
        the retention period. Returns the workspaces stopped."""
        with self._tx() as conn:
            if team_id:
                teams = [team_id]
                conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
                             "VALUES (?, ?)", [team_id, at])
            else:
                teams = [r[0] for r in conn.execute(
                    "SELECT team_id FROM workspaces WHERE enterprise_id = ?", [enterprise_id])]
            conn.execute("DELETE FROM installations WHERE enterprise_id = ? AND team_id = ?",
                         [enterprise_id or "", team_id or ""])
            for team in teams:
                conn.execute("DELETE FROM installations WHERE team_id = ?", [team])
                conn.execute("DELETE FROM token_locks WHERE team_id = ?", [team])
                conn.execute("UPDATE workspaces SET uninstalled_at = COALESCE(uninstalled_at, ?)"
                             " WHERE team_id = ?", [at, team])
                conn.execute("UPDATE nudges SET state = 'cancelled', error = 'uninstalled' "
                             "WHERE team_id = ? AND state IN ('pending', 'sending')", [team])
        return teams

    async def is_uninstalled(self, team_id: str) -> bool:
        row = self.db.conn.execute("SELECT uninstalled_at FROM workspaces WHERE team_id = ?",
                                   [team_id]).fetchone()
        return bool(row and row[0])

    async def active_workspaces(self) -> list[str]:
        """Workspaces Mend still serves (the scheduler's round)."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT team_id FROM workspaces WHERE uninstalled_at IS NULL")]

    async def expired_workspaces(self, before: str) -> list[str]:
        """Workspaces uninstalled before `before`: their retention is over."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT team_id FROM workspaces WHERE uninstalled_at < ?", [before])]

    async def purge_workspace(self, team_id: str) -> dict[str, int]:
        """Delete every row of the workspace, in every table that has a team_id;
        returns how many rows each table lost (tables that lost none left out)."""
        tables = [name for (name,) in self.db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")
            if "team_id" in {c[1] for c in self.db.conn.execute(f'PRAGMA table_info("{name}")')}]
        tables.sort(key=lambda name: name == "cases")  # what points at cases goes first
        deleted = {}
        with self._tx() as conn:
            for name in tables:
                cur = conn.execute(f'DELETE FROM "{name}" WHERE team_id = ?', [team_id])
                if cur.rowcount:
                    deleted[name] = cur.rowcount
        return deleted
