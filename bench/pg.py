"""A PostgreSQL database for a benchmark: a fresh schema on the server named by
--database-url (default: MEND_BENCH_DATABASE_URL or MEND_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import uuid

import psycopg


def server_url(given: str | None) -> str:
    url = given or os.environ.get("MEND_BENCH_DATABASE_URL") or \
        os.environ.get("MEND_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("--db postgres needs --database-url postgresql://… (or "
                         "MEND_BENCH_DATABASE_URL); scripts/test_postgres.sh starts one")
    return url


def fresh_schema(server: str) -> tuple[str, str]:
    """(schema, a URL whose connections use it)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in server else "?"
    return schema, f"{server}{sep}options=-csearch_path%3D{schema}"


def drop_schema(server: str, schema: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def kept_schema(server: str, schema: str) -> tuple[str, str]:
    """(schema, its URL): a schema kept between runs, created when missing."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    sep = "&" if "?" in server else "?"
    return schema, f"{server}{sep}options=-csearch_path%3D{schema}"
