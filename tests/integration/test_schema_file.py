"""sql/schema.sql is the schema the migrations build today: migrate a fresh
database, dump it with the same code as `make schema`, compare the text."""

from __future__ import annotations

import difflib

from reliability import schema_file

DIFF_LINES_SHOWN = 40


def test_schema_file_matches_the_migrations(fresh_database: str) -> None:
    schema_file.migrate(fresh_database)
    built = schema_file.dump(fresh_database)
    on_disk = schema_file.SCHEMA_FILE.read_text(encoding="utf-8") if schema_file.SCHEMA_FILE.exists() else ""
    if built != on_disk:
        diff = list(
            difflib.unified_diff(
                on_disk.splitlines(), built.splitlines(), "sql/schema.sql", "migrations", lineterm="", n=1
            )
        )
        shown = "\n".join(diff[:DIFF_LINES_SHOWN]) + ("\n..." if len(diff) > DIFF_LINES_SHOWN else "")
        raise AssertionError(f"sql/schema.sql is stale: run `make schema`\n{shown}")


def test_normalising_drops_version_lines_and_keeps_the_schema() -> None:
    dumped = (
        "--\n-- PostgreSQL database dump\n--\n\\restrict AbC123\n"
        "-- Dumped from database version 16.2\n"
        "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
        "CREATE TABLE public.t (\n    id bigint NOT NULL\n);\n"
        "ALTER TABLE ONLY public.t ALTER COLUMN id SET (pg_attver=51728104);\n\n\n"
        "CREATE INDEX t_id ON public.t USING btree (id);\n\\unrestrict AbC123\n"
    )
    assert schema_file.normalise(dumped) == (
        schema_file.HEADER + "\nCREATE TABLE public.t (\n    id bigint NOT NULL\n);\n\n"
        "CREATE INDEX t_id ON public.t USING btree (id);\n"
    )
