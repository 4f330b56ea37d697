"""Mend's PostgreSQL engine: the same aggregates as SQLite's, on a psycopg 3 async pool."""
