"""Which engine Mend uses: MEND_DATABASE_URL (PostgreSQL) wins over MEND_DB (SQLite)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.runtime.config import ConfigError, from_env
from bot.runtime.jsonlog import replica_id
from bot.storage import open_store
from bot.storage.postgres.store import PgStore
from bot.storage.sqlite import Store

ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "MEND_DB": "x.db"}


def test_the_url_is_read_and_the_replica_has_a_name():
    settings = from_env({**ENV, "MEND_DATABASE_URL": "postgresql://mend@db/mend"})
    assert settings.database_url == "postgresql://mend@db/mend"
    assert replica_id({}) and settings.replica_id == ""  # host name and pid by default
    assert from_env({**ENV, "MEND_REPLICA_ID": "mend-2"}).replica_id == "mend-2"
    assert from_env(ENV).database_url is None


def test_a_url_of_another_database_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="MEND_DATABASE_URL must be a PostgreSQL URL"):
        from_env({**ENV, "MEND_DATABASE_URL": "mysql://db/mend"})


async def test_open_store_picks_the_engine(settings, engine):
    store = await open_store(settings)
    try:
        assert isinstance(store, PgStore if engine == "postgres" else Store)
        assert await store.ping()
    finally:
        await store.close()


@pytest.mark.engines("sqlite")
async def test_without_a_url_the_sqlite_file_is_used(settings, tmp_path):
    store = await open_store(dataclasses.replace(settings, database_url=None))
    await store.close()
    assert (tmp_path / "mend.db").exists()
