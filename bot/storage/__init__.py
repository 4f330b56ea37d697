"""Mend's storage: one interface, two engines.

`open_store(settings)` picks the engine: PostgreSQL when `settings.database_url` is a
postgresql:// URL (MEND_DATABASE_URL), else the SQLite file at `settings.db_path`
(MEND_DB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.storage.engine import StoreError

if TYPE_CHECKING:
    from bot.runtime.config import Settings
    from bot.storage.postgres.store import PgStore
    from bot.storage.sqlite import Store

__all__ = ["StoreError", "is_postgres_url", "open_store"]


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")


async def open_store(settings: Settings) -> Store | PgStore:
    """The store `settings` names, opened and migrated."""
    if settings.database_url:
        if not is_postgres_url(settings.database_url):
            raise StoreError("MEND_DATABASE_URL must be a postgresql:// URL.")
        from bot.storage.postgres.store import PgStore

        return await PgStore.open(settings.database_url)
    from bot.storage.sqlite import Store

    store = Store(settings.db_path)
    store.start_checkpoints()
    return store
