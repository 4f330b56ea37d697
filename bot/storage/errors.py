"""What a failed database call raises, whichever the engine: catch `DatabaseError`
(SQLite's and psycopg's errors alike) where a request refuses politely."""

from __future__ import annotations

import sqlite3

import psycopg

DatabaseError = (sqlite3.Error, psycopg.Error)
