"""The few places where SQLite's and PostgreSQL's SQL differ, so that each statement
is written once and spoken in either dialect.

Statements are written in SQLite's words (`?` placeholders, `INSERT OR IGNORE`);
`Dialect.sql` turns one into PostgreSQL's. Expressions that have no common spelling
(JSON fields, booleans summed, index hints) are methods of the dialect.
"""

from __future__ import annotations

import re
from functools import lru_cache

_OR_IGNORE = re.compile(r"^INSERT OR IGNORE INTO", re.IGNORECASE)


class Dialect:
    """SQLite's spelling (the statements as written)."""

    name = "sqlite"

    def sql(self, statement: str) -> str:
        return statement

    def json(self, alias: str, key: str) -> str:
        """A JSON field of `alias`.detail, as a value SQLite compares."""
        return f"json_extract({alias}.detail, '$.{key}')"

    def json_is_one(self, alias: str, key: str) -> str:
        """The JSON field is true (or the number 1)."""
        return f"{self.json(alias, key)} = 1"

    def least(self, a: str, b: str) -> str:
        return f"MIN({a}, {b})"

    def as_int(self, condition: str) -> str:
        """A truth value as 0 or 1 (NULL stays NULL), for SUM and MAX."""
        return condition

    def total(self, expr: str) -> str:
        """The sum of 0/1 truth values, 0 when there are none."""
        return f"CAST(TOTAL({expr}) AS INTEGER)"

    def is_not(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}"

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"

    def join_in_order(self) -> str:
        """An inner join the planner must do in the order written (SQLite: CROSS JOIN)."""
        return "CROSS JOIN"

    def for_update(self) -> str:
        """Rows read to be written back in the same transaction: SQLite's one writer
        holds the lock already; PostgreSQL's writers run side by side and lock them."""
        return ""


class Postgres(Dialect):
    name = "postgres"

    def sql(self, statement: str) -> str:
        return _to_postgres(statement)

    def json(self, alias: str, key: str) -> str:
        return f"({alias}.detail::jsonb ->> '{key}')"

    def json_is_one(self, alias: str, key: str) -> str:
        return f"({alias}.detail::jsonb -> '{key}') IN ('true'::jsonb, '1'::jsonb)"

    def least(self, a: str, b: str) -> str:
        # SQLite's MIN(x, NULL) is NULL; LEAST ignores NULLs: keep SQLite's answer.
        return f"CASE WHEN ({a}) IS NULL OR ({b}) IS NULL THEN NULL ELSE LEAST({a}, {b}) END"

    def as_int(self, condition: str) -> str:
        return f"({condition})::int"

    def total(self, expr: str) -> str:
        return f"COALESCE(SUM(({expr})::int), 0)"

    def is_not(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}"

    def indexed_by(self, index: str) -> str:
        return ""

    def join_in_order(self) -> str:
        return "JOIN"

    def for_update(self) -> str:
        return " FOR UPDATE"


@lru_cache(maxsize=512)
def _to_postgres(statement: str) -> str:
    """`?` -> `%s`; `INSERT OR IGNORE` -> `INSERT … ON CONFLICT DO NOTHING`."""
    text = statement.replace("%", "%%").replace("?", "%s")
    if _OR_IGNORE.match(text):
        text = _OR_IGNORE.sub("INSERT INTO", text) + " ON CONFLICT DO NOTHING"
    return text


SQLITE = Dialect()
POSTGRES = Postgres()
