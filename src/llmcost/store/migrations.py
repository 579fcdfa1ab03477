"""Numbered schema migrations, run on every open, each with its record in one transaction.

Append a new `mNNN_name` function to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Migration = Callable[[Any], None]


def m001_initial(con: Any) -> None:
    con.execute(
        """
        CREATE SEQUENCE file_ids START 1;
        CREATE TABLE files (
            file_id      BIGINT PRIMARY KEY,
            path         VARCHAR NOT NULL,
            sha256       VARCHAR NOT NULL,
            size         BIGINT,
            mtime_ns     BIGINT,
            format       VARCHAR NOT NULL,
            kind         VARCHAR NOT NULL,   -- the dedupe scope of its records
            ingested_at  TIMESTAMP NOT NULL,
            lines_read   BIGINT NOT NULL,
            loaded       BIGINT NOT NULL,
            rejected     BIGINT NOT NULL,
            duplicates   BIGINT NOT NULL
        );
        CREATE TABLE requests (
            source_kind           VARCHAR NOT NULL,
            request_id            VARCHAR NOT NULL,
            rid_hash              UBIGINT NOT NULL,     -- hash(source_kind, request_id): a cheap dedupe probe
            file_id               BIGINT NOT NULL,
            line_no               BIGINT NOT NULL,
            ts                    TIMESTAMP NOT NULL,   -- UTC
            provider              VARCHAR,
            model                 VARCHAR NOT NULL,
            user_id               VARCHAR,
            customer_id           VARCHAR,
            feature               VARCHAR,
            task_id               VARCHAR,
            step                  INTEGER,
            plan                  VARCHAR,
            status                VARCHAR NOT NULL,
            input_tokens          BIGINT NOT NULL,      -- ALL input, cache reads and writes included
            cache_read_tokens     BIGINT NOT NULL,
            cache_write_tokens    BIGINT NOT NULL,      -- 5-minute TTL
            cache_write_1h_tokens BIGINT NOT NULL,
            output_tokens         BIGINT NOT NULL,      -- reasoning included
            reasoning_tokens      BIGINT NOT NULL,
            cache_hit             BOOLEAN NOT NULL,
            batch                 BOOLEAN NOT NULL,
            latency_ms            DOUBLE,
            logged_cost_usd       DOUBLE,
            estimated             BOOLEAN NOT NULL,     -- token counts came from the tokenizer
            prompt_text           VARCHAR,
            response_text         VARCHAR,
            attrs                 JSON
        );
        CREATE TABLE rejects (
            file_id  BIGINT NOT NULL,
            line_no  BIGINT NOT NULL,
            reason   VARCHAR NOT NULL,
            raw      VARCHAR NOT NULL
        );
        CREATE TABLE revenue (
            customer_id  VARCHAR NOT NULL,
            month        DATE NOT NULL,       -- first day of the UTC calendar month
            revenue_usd  DECIMAL(18, 6) NOT NULL,
            plan         VARCHAR,
            file_id      BIGINT NOT NULL,
            line_no      BIGINT NOT NULL
        );
        """
    )


def m002_usage_and_billed(con: Any) -> None:
    """Aggregate usage exports (priced like requests) and billed-cost exports (kept as billed).

    `record_id` is a hash of the bucket and grouping fields: the dedupe key within a source kind;
    `content` a hash of the values, so a re-fetched bucket with new numbers replaces the old one.
    """
    con.execute(
        """
        CREATE TABLE usage (
            source_kind           VARCHAR NOT NULL,
            record_id             VARCHAR NOT NULL,
            content               VARCHAR NOT NULL,
            file_id               BIGINT NOT NULL,
            line_no               BIGINT NOT NULL,     -- CSV row, or the record's ordinal in a JSON page
            bucket_start          TIMESTAMP NOT NULL,  -- UTC, inclusive
            bucket_end            TIMESTAMP,           -- UTC, exclusive
            provider              VARCHAR NOT NULL,
            model                 VARCHAR,             -- NULL when the export was not grouped by model
            project               VARCHAR,
            workspace             VARCHAR,
            api_key               VARCHAR,             -- id from the API, name from a console CSV
            user_id               VARCHAR,
            service_tier          VARCHAR,
            context_window        VARCHAR,
            long_context          BOOLEAN NOT NULL,    -- priced at the model's long-context rates
            batch                 BOOLEAN NOT NULL,
            requests              BIGINT,              -- NULL when the export has no request count
            input_tokens          BIGINT NOT NULL,     -- ALL input, cache reads and writes included
            cache_read_tokens     BIGINT NOT NULL,
            cache_write_tokens    BIGINT NOT NULL,     -- 5-minute TTL
            cache_write_1h_tokens BIGINT NOT NULL,
            output_tokens         BIGINT NOT NULL,
            web_search_requests   BIGINT,
            attrs                 JSON
        );
        CREATE TABLE billed (
            source_kind     VARCHAR NOT NULL,
            record_id       VARCHAR NOT NULL,
            content         VARCHAR NOT NULL,
            file_id         BIGINT NOT NULL,
            line_no         BIGINT NOT NULL,
            period_start    TIMESTAMP NOT NULL,
            period_end      TIMESTAMP,
            provider        VARCHAR NOT NULL,
            model           VARCHAR,                   -- normalised from line_item / description when known
            token_kind      VARCHAR,                   -- input | cache_read | cache_write | cache_write_1h | output | ...
            cost_type       VARCHAR,                   -- tokens, web_search, ...
            service_tier    VARCHAR,
            context_window  VARCHAR,
            amount_usd      DECIMAL(38, 18) NOT NULL,  -- dollars (Anthropic's cents divided by 100)
            currency        VARCHAR NOT NULL,
            project         VARCHAR,
            workspace       VARCHAR,
            api_key         VARCHAR,
            line_item       VARCHAR,                   -- the raw line_item / description / display name
            quantity        DOUBLE,
            quantity_unit   VARCHAR,
            attrs           JSON
        );
        """
    )


def m003_report_rollups(con: Any) -> None:
    """What `report` derives from the requests, kept so an unchanged database is not re-scanned.

    A rollup is valid only for the `data_version` (files, request count and time span) and the
    price set (`price_sha256`, bundled table and overlays) it was built from; any other report
    rebuilds it or reads the requests (metrics.py, docs/report-performance.md). Derived data only:
    deleting these rows loses nothing.
    """
    con.execute(
        """
        CREATE TABLE report_rollups (
            name          VARCHAR PRIMARY KEY,   -- fine | tasks:all | tasks:feature | group:<dims>
            data_version  VARCHAR NOT NULL,
            price_sha256  VARCHAR NOT NULL,
            built_at      TIMESTAMP NOT NULL
        );
        -- the report's lc_fine over every request: sums per month, user, customer, feature, model, plan
        CREATE TABLE rollup_fine (
            priced BOOLEAN, month DATE, user_id VARCHAR, customer_id VARCHAR, feature VARCHAR,
            model VARCHAR, tier VARCHAR, plan VARCHAR,
            n BIGINT, u HUGEINT, nu BIGINT, cx DECIMAL(38,24), nx BIGINT,
            lu HUGEINT, lnu BIGINT, lcx DECIMAL(38,24), lnx BIGINT, logged_n BIGINT, logged DOUBLE,
            hits BIGINT, untasked BIGINT, cache_read_t HUGEINT, provider_in_t HUGEINT,
            out_t HUGEINT, in_t HUGEINT
        );
        -- per group of a --by: what needs every request (percentiles, distinct tasks)
        CREATE TABLE rollup_groups (
            dims   VARCHAR NOT NULL,  -- the --by dimensions, comma-separated
            g      VARCHAR[],         -- the group's values, in that order
            q      DOUBLE[],          -- request-cost p50, p90, p99
            lat_q  DOUBLE[],          -- latency p50, p90
            tasks  BIGINT             -- distinct task ids (requests without one are counted apart)
        );
        -- the task table's rows (per feature and/or the total row)
        CREATE TABLE rollup_tasks (
            kind VARCHAR NOT NULL, ord INTEGER NOT NULL, feature VARCHAR, is_total BIGINT,
            tasks BIGINT, successful BIGINT, cost DECIMAL(38,24), priced_tasks BIGINT, q DOUBLE[],
            mean_steps DOUBLE, growth_ratio DOUBLE, growth_tokens DOUBLE
        );
        """
    )


def m004_rollup_names(con: Any) -> None:
    """rollup_fine's sums under the names the report's `lc_fine` gives them, and the parts of the
    data version a rollup was built at, so that an ingest adds its new requests to the rollups
    (metrics.refresh_rollups) instead of rebuilding them.
    """
    names = {
        "n": "n_requests", "u": "cost_units", "nu": "n_cost_units", "cx": "cost_exact",
        "nx": "n_cost_exact", "lu": "cost_units_logged", "lnu": "n_cost_units_logged",
        "lcx": "cost_exact_logged", "lnx": "n_cost_exact_logged",
    }  # fmt: skip
    for old, new in names.items():
        con.execute(f"ALTER TABLE rollup_fine RENAME COLUMN {old} TO {new}")
    con.execute(
        """
        -- one row per data_version of report_rollups: the files and requests it covers
        CREATE TABLE rollup_versions (
            data_version  VARCHAR PRIMARY KEY,
            files         BIGINT NOT NULL,   -- count of files rows
            last_file_id  BIGINT,            -- the highest file_id: later files hold the new requests
            loaded        BIGINT,            -- sum of files.loaded
            requests      BIGINT NOT NULL    -- count of requests
        );
        """
    )


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_usage_and_billed,
    m003_report_rollups,
    m004_rollup_names,
]


def schema_version(con: Any) -> int:
    """The highest migration recorded in the database (0 for a new one)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
        " AND database_name = current_database()"
    ).fetchone()[0]
    if not found:
        return 0
    return int(con.execute("SELECT coalesce(max(id), 0) FROM schema_migrations").fetchone()[0])


def migrate(con: Any) -> int:
    """Apply what is missing; returns how many migrations ran."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT id FROM schema_migrations").fetchall()}
    ran = 0
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            migration(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                [number, migration.__name__],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        ran += 1
    return ran
