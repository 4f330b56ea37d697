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

    # The expressions without a common spelling, as templates: a dialect names its own.
    JSON = "json_extract({alias}.detail, '$.{key}')"
    JSON_IS_ONE = "json_extract({alias}.detail, '$.{key}') = 1"
    LEAST = "MIN({a}, {b})"
    AS_INT = "{condition}"
    TOTAL = "CAST(TOTAL({expr}) AS INTEGER)"
    IS_NOT = "{a} IS NOT {b}"

    def json(self, alias: str, key: str) -> str:
        """A JSON field of `alias`.detail, as a value the database compares."""
        return self.JSON.format(alias=alias, key=key)

    def json_is_one(self, alias: str, key: str) -> str:
        """The JSON field is true (or the number 1)."""
        return self.JSON_IS_ONE.format(alias=alias, key=key)

    def least(self, a: str, b: str) -> str:
        return self.LEAST.format(a=a, b=b)

    def as_int(self, condition: str) -> str:
        """A truth value as 0 or 1 (NULL stays NULL), for SUM and MAX."""
        return self.AS_INT.format(condition=condition)

    def total(self, expr: str) -> str:
        """The sum of 0/1 truth values, 0 when there are none."""
        return self.TOTAL.format(expr=expr)

    def is_not(self, a: str, b: str) -> str:
        return self.IS_NOT.format(a=a, b=b)

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

    JSON = "({alias}.detail::jsonb ->> '{key}')"
    JSON_IS_ONE = "({alias}.detail::jsonb -> '{key}') IN ('true'::jsonb, '1'::jsonb)"
    # SQLite's MIN(x, NULL) is NULL; LEAST ignores NULLs: keep SQLite's answer.
    LEAST = "CASE WHEN ({a}) IS NULL OR ({b}) IS NULL THEN NULL ELSE LEAST({a}, {b}) END"
    AS_INT = "({condition})::int"
    TOTAL = "COALESCE(SUM(({expr})::int), 0)"
    IS_NOT = "{a} IS DISTINCT FROM {b}"

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
