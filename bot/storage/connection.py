"""The SQLite connection the storage modules share: opening, migrations,
transactions and the WAL checkpoint thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from bot.storage.dialect import SQLITE
from bot.storage.engine import DISK_FULL, Engine, Params, StoreError
from bot.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.storage.schema import NEXT_NUMBER
from bot.storage.sqlite_tx import SqliteTx

T = TypeVar("T")
__all__ = ["Connection", "SqliteTx", "StoreError"]


WAL_LIMIT = 4 * 1024 * 1024  # bytes of WAL kept after a checkpoint (journal_size_limit)


def write_problem(exc: BaseException) -> str | None:
    """What a failed write says about the storage ('read-only', 'disk full'), if anything."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return "read-only"
    if "full" in text:
        return DISK_FULL
    if "disk i/o" in text or isinstance(exc, sqlite3.DatabaseError) and "malformed" in text:
        return "I/O error"
    return None



class Connection(Engine):
    """One SQLite database file: opening, migrating, transactions, checkpoints."""

    d = SQLITE
    engine = "sqlite"
    _identity: tuple[int, int] | None = None  # (device, inode) of the file opened

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = str(path)
        self._checkpoints: Checkpointer | None = None
        if readonly:
            self._open_readonly()
            return
        try:
            self._open(path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"Cannot use the database at {self.path}: {exc}. Set MEND_DB to "
                             "a SQLite file Mend can create or write.") from None

    def _open(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit connection: transactions are explicit (BEGIN IMMEDIATE)
        # so that case numbering cannot race between writers.
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
        self.db = sqlite_utils.Database(conn)
        if str(path) != ":memory:":
            found = os.stat(path)
            self._identity = (found.st_dev, found.st_ino)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # Keep hot index pages in memory: every new case touches several indexes.
        self.db.execute("PRAGMA cache_size=-65536")
        self.db.execute("PRAGMA mmap_size=268435456")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()
        self.check_writable()

    def check_writable(self) -> None:
        """Write once (the schema version, unchanged), so that a database Mend can only
        read stops start-up rather than every request later."""
        with self._sync_tx():
            self.db.execute(f"PRAGMA user_version = {self.schema_version}")

    def replaced(self) -> bool:
        """Whether the file at the path is no longer the one opened (deleted, or another
        file moved there): only a restart opens the right one."""
        if self._identity is None:
            return False
        try:
            found = os.stat(self.path)
        except OSError:
            return True
        return (found.st_dev, found.st_ino) != self._identity

    def _open_readonly(self) -> None:
        """A connection that can only read: for reports run off the event loop (in a
        thread of their own) and for exports, which must never change the database."""
        uri = f"file:{Path(self.path).resolve()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10,
                                   check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            version = self.schema_version
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot read the database at {self.path}: {exc}.") from None
        if version != SCHEMA_VERSION:
            raise StoreError(f"The database at {self.path} has schema {version}; this Mend "
                             f"reads schema {SCHEMA_VERSION}. Start Mend once to migrate it.")

    def reader(self) -> Connection:
        """A read-only connection of the same kind on the same file (for one other thread)."""
        return type(self)(self.path, readonly=True)

    async def in_reader(self, work: Callable[[Connection], T]) -> T:
        """Run `work(reader)` in a worker thread on a read-only connection of its own: a
        big workspace's report takes hundreds of milliseconds, which the event loop (and
        everyone else's ack) must not wait for. An in-memory database has no second
        connection, so there it runs here."""
        if self.path == ":memory:":
            return work(self)

        def run() -> T:
            reader = self.reader()
            try:
                return work(reader)
            finally:
                reader.db.conn.close()

        return await asyncio.to_thread(run)

    # -- schema -----------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Bring the schema up to date; returns how many migrations ran."""
        with self._sync_tx():
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"This database was written by a newer Mend (schema {current}; this "
                    f"version knows up to {SCHEMA_VERSION}). Upgrade Mend or set MEND_DB "
                    "to another file."
                )
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](self.db)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
        return SCHEMA_VERSION - current

    def start_checkpoints(self, every: float = 0.5) -> None:
        """Checkpoint the WAL from a thread of its own from now on, not in commits.

        SQLite's automatic checkpoint runs inside whichever commit crosses its
        threshold: that request's event loop turn copies pages and syncs the
        file. The thread's connection does it instead; sqlite releases the GIL
        while it works."""
        if self._checkpoints is None and self.path != ":memory:":
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = Checkpointer(self.path, every)
            self._checkpoints.start()

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
            self._checkpoints = None
        self.db.conn.close()  # the last connection to close checkpoints the rest

    async def ping(self) -> bool:
        """True when the database answers a query."""
        try:
            return self.db.execute("SELECT 1").fetchone()[0] == 1
        except sqlite3.Error:
            return False

    @contextmanager
    def _sync_tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time, so case numbering cannot race.
        Remembers whether the storage refuses writes (read-only, disk full)."""
        try:
            with self._transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            self._write_failed(write_problem(exc))
            raise
        self._write_worked()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # a full disk may have rolled it back already
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[SqliteTx]:
        with self._sync_tx() as conn:
            tx = SqliteTx(conn)
            yield tx
            await self._rollups(tx)
        self._committed(tx)

    async def _rows(self, sql: str, params: Params = ()) -> list[tuple]:
        return self.db.conn.execute(sql, params).fetchall()

    def _cursor(self, sql: str, params: Params = ()) -> Iterable[tuple]:
        return self.db.conn.execute(sql, params)

    async def _tables_with(self, column: str) -> list[str]:
        names = [r[0] for r in self.db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [name for name in names if column in {
            c[1] for c in self.db.conn.execute(f'PRAGMA table_info("{name}")')}]

    async def _next_number(self, tx: SqliteTx, team_id: str) -> int:
        # The transaction holds SQLite's write lock: no other writer numbers meanwhile.
        return (await tx.rows(NEXT_NUMBER, [team_id]))[0][0]



class Checkpointer(threading.Thread):
    """Copies committed WAL pages into the database file every `every` seconds."""

    def __init__(self, path: str, every: float):
        super().__init__(name="mend-checkpoint", daemon=True)
        self.path = path
        self.every = every
        self._stopping = threading.Event()

    def run(self) -> None:
        # A short busy timeout: a TRUNCATE that would wait for a reader tries next round.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=0.1)
        last = None
        try:
            while not self._stopping.wait(self.every):
                try:
                    last = self.checkpoint(conn, last)
                except sqlite3.Error:
                    last = None  # busy or locked: the next round catches up
        finally:
            conn.close()

    @staticmethod
    def checkpoint(conn: sqlite3.Connection, last: int | None) -> int | None:
        """PASSIVE (never waits for the writer or readers) while writes come in; once
        a round finds the WAL as it was (idle), TRUNCATE it to zero bytes so that it
        stays bounded. Returns the WAL's frame count for the next round."""
        frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        if frames > 0 and frames == last:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return None
        return frames

    def stop(self) -> None:
        self._stopping.set()
        self.join()
