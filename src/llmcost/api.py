"""The Python API: `llmcost.open(db)` -> a Store whose methods return what the CLI's JSON says.

Each method calls the same library function as its command (`metrics.report`, `whatif.run`,
`exports.reconcile`), so a notebook and `llmcost ... --format json` give the same numbers. A
result is a `Document`: `.doc` is the JSON document, and each of its tables is also a polars
DataFrame. `Store.requests()` is the priced requests as a polars LazyFrame, read from DuckDB as
Arrow when it is collected. polars is imported only when a DataFrame is asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcost import config, query
from llmcost.errors import LlmcostError

if TYPE_CHECKING:
    import polars as pl

    from llmcost.documents import Result, Table
    from llmcost.pricing import PriceTable
    from llmcost.query import Window

When = str | datetime | date | None
Many = str | Sequence[str] | None

# The columns of Store.requests(), over pricing.priced_view_sql: money as DOUBLE (cost_usd is
# CAST(cost AS DOUBLE) of the exact DECIMAL; NULL when unpriced).
REQUEST_COLUMNS = """
    source_kind, request_id, ts, provider, model, price_model, price_provider, tier,
    user_id, customer_id, feature, task_id, step, plan, status,
    input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
    reasoning_tokens, cache_hit, batch, latency_ms, estimated,
    CAST(cost_usd AS DOUBLE) AS cost_usd, CAST(list_cost_usd AS DOUBLE) AS list_cost_usd,
    logged_cost_usd, CAST(attrs AS VARCHAR) AS attrs
"""
API_PRICES = "lc_api_prices"  # its own price rows: what-if and report re-register theirs


class Document:
    """One command's result: `doc` is the document `--format json` prints (the same keys and
    numbers); `df` the main table and `frames` every table, as polars DataFrames."""

    def __init__(self, result: Result) -> None:
        from llmcost.values import jsonable

        self.doc: dict[str, Any] = jsonable(result.to_json())
        self._tables: list[Table] = result.tables()
        self._frames: dict[str, pl.DataFrame] | None = None

    def __getitem__(self, key: str) -> Any:
        return self.doc[key]

    def __repr__(self) -> str:
        return f"<llmcost.Document {self.doc.get('schema')}: {', '.join(self.frames)}>"

    @property
    def schema(self) -> str:
        return str(self.doc.get("schema"))

    @property
    def totals(self) -> dict[str, Any]:
        return dict(self.doc.get("totals") or {})

    @property
    def df(self) -> pl.DataFrame:
        """The document's `rows` as a DataFrame (every key of every row a column), or its first table."""
        if isinstance(self.doc.get("rows"), list):
            return _frame(self.doc["rows"], [])
        return next(iter(self.frames.values())) if self.frames else _frame([], [])

    @property
    def frames(self) -> dict[str, pl.DataFrame]:
        """Every table the terminal shows, by its title, with the columns it shows."""
        if self._frames is None:
            from llmcost.values import jsonable

            self._frames = {
                t.title: _frame(jsonable(t.rows), [c.key for c in t.columns]) for t in self._tables
            }
        return self._frames


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pl.DataFrame:
    import polars as pl

    keys = list(columns)
    for row in rows:
        keys += [k for k in row if k not in keys]
    if not rows:
        return pl.DataFrame({k: [] for k in keys})
    return pl.DataFrame(
        [{k: row.get(k) for k in keys} for row in rows], infer_schema_length=None, strict=False
    )


def _when_text(value: When) -> str | None:
    """VALUE as the CLI would be given it: a datetime as its UTC time, a date as the day."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return (value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value).isoformat()
    return value.isoformat()


def _many(value: Many) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class Store:
    """A database opened for reading results; `close()` it (or use `with`) to let `ingest` write."""

    def __init__(self, settings: config.Settings) -> None:
        from llmcost.store import connect

        self.settings = settings
        self._con: Any = connect(settings.db)
        self._prices: PriceTable | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    @property
    def con(self) -> Any:
        """The DuckDB connection (tables: requests, usage, billed, revenue, files, rejects)."""
        return self._con

    @property
    def prices(self) -> PriceTable:
        if self._prices is None:
            from llmcost import pricing

            self._prices = pricing.load(self.settings.pricing)
        return self._prices

    def _window(self, since: When, until: When) -> Window:
        """The CLI's window rules (`llmcost.query.parse_window`): a date (or a date-only string) as
        `until` includes that day; `30d` is counted back from now."""

        return query.parse_window(_when_text(since), _when_text(until))

    # ------------------------------------------------------------ the commands

    def report(
        self, by: Many = None, *, since: When = None, until: When = None, where: Many = None,
        allocate: str = "requests", source: str | None = None,
    ) -> Document:  # fmt: skip
        """`llmcost report`: the P&L (`by=None`: the summary) or, with `source="exports"` (the default
        when there are no request logs), the provider usage exports."""
        from llmcost import exports, metrics

        window = self._window(since, until)
        by_text = ",".join(_many(by)) or None
        if source not in (None, "requests", "exports"):
            raise LlmcostError(f"unknown source {source!r}", hint="choose requests or exports")
        with self._lock:
            if (source or exports.default_source(self._con)) == "exports":
                return Document(
                    exports.report(
                        self._con, self.prices, by=exports.parse_by(by_text), window=window
                    )
                )
            dims = query.parse_by(by_text)
            # the summary with no window: the last full month vs the one before, as the CLI
            window, rule = query.report_window(self._con, dims, window)
            result = metrics.report(
                self._con, self.prices, by=dims, window=window, where=query.parse_where(_many(where)),
                allocate=allocate, targets=self.settings.section("targets"),
            )  # fmt: skip
            if rule is not None:
                result.doc["window_rule"] = rule
            return Document(result)

    def whatif(
        self, name: str | None = None, *, feature: Many = None, model: str | None = None, where: Many = None,
        by: Many = None, since: When = None, until: When = None, route_to: str | None = None,
        share: float | None = None, cache_hit_rate: float | None = None, cache_lookup_cost: float | None = None,
        prompt_cache: int | None = None, cache_ttl: str | None = None, batch: bool = False,
        max_output_tokens: int | None = None, compress_input: float | None = None, max_steps: int | None = None,
        compare_all: bool = False, suggest: bool = False,
    ) -> Document:  # fmt: skip
        """`llmcost whatif`: the same levers by name (`compare_all` is `--all`)."""
        from llmcost import whatif as wi

        window = self._window(since, until)
        raw = self.settings.raw
        with self._lock:
            if compare_all:
                return Document(wi.compare_all(self._con, self.prices, raw, window=window))
            if suggest:
                return Document(wi.suggest(self._con, self.prices, window=window))
            levers = dict(route_to=route_to, share=share, cache_hit_rate=cache_hit_rate, cache_lookup_cost=cache_lookup_cost,
                          prompt_cache=prompt_cache, cache_ttl=cache_ttl, batch=batch, max_output_tokens=max_output_tokens,
                          compress_input=compress_input, max_steps=max_steps)  # fmt: skip
            scenario = wi.from_options(
                name, raw, features=_many(feature), model=model, where=_many(where), levers=levers
            )
            by_dims = query.parse_by(",".join(_many(by)) or None)
            return Document(wi.run(self._con, self.prices, scenario, by=by_dims, window=window))

    def reconcile(self, by: str = "month", *, since: When = None, until: When = None) -> Document:
        """`llmcost reconcile`: request logs vs usage exports vs billed cost, per period and model."""
        from llmcost import exports

        with self._lock:
            return Document(
                exports.reconcile(self._con, self.prices, by=by, window=self._window(since, until))
            )

    # `explain` joins these methods when the command exists: Document(explain.run(self._con, self.prices, ...)).

    # ------------------------------------------------------------ the requests

    def requests(
        self, *, since: When = None, until: When = None, where: Many = None
    ) -> pl.LazyFrame:
        """The priced requests in the window as a LazyFrame. Nothing is read until it is collected;
        then DuckDB runs one query (only the columns the plan uses, LIMIT for head/limit) and hands
        polars its Arrow result."""
        import polars as pl
        from polars.io.plugins import register_io_source

        from llmcost import pricing
        from llmcost.store.sql import ident

        window = self._window(since, until)
        filters = query.parse_where(_many(where))
        wsql, wparams = window.sql("ts")
        fsql, fparams = query.where_sql(filters)
        with self._lock:
            pricing.register(self._con, self.prices, API_PRICES)
            base = (
                f"SELECT {REQUEST_COLUMNS} FROM ({pricing.priced_view_sql(prices=API_PRICES)}) r "
                f"WHERE {wsql} AND {fsql}"
            )
            params = [*wparams, *fparams]
            empty = self._con.sql(
                f"SELECT * FROM ({base}) q LIMIT 0", params=params
            ).to_arrow_table()
        schema = pl.from_arrow(empty).schema  # type: ignore[union-attr]
        con, lock = self._con, self._lock

        def scan(
            with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
            batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:  # fmt: skip
            cols = ", ".join(ident(c) for c in with_columns) if with_columns else "*"
            limit = f" LIMIT {int(n_rows)}" if n_rows is not None and predicate is None else ""
            with lock:
                table = con.sql(
                    f"SELECT {cols} FROM ({base}) q{limit}", params=params
                ).to_arrow_table()
            frame = pl.from_arrow(table, schema_overrides=None)
            assert isinstance(frame, pl.DataFrame)
            if predicate is not None:
                frame = frame.filter(predicate)
            if n_rows is not None:
                frame = frame.head(n_rows)
            yield frame

        return register_io_source(scan, schema=schema, explain_name="llmcost requests")


def open(
    db: str | Path | None = None,
    *,
    pricing: Sequence[str | Path] | None = None,
    config_path: str | Path | None = None,
) -> Store:
    """The database at DB (default as the CLI: LLMCOST_DB, llmcost.toml, .llmcost/llmcost.duckdb),
    priced with the bundled table and PRICING overlays."""
    settings = config.resolve(
        Path(db) if db is not None else None,
        [Path(p) for p in pricing or []],
        Path(config_path) if config_path is not None else None,
    )
    if str(settings.db) != ":memory:" and not Path(settings.db).exists():
        raise LlmcostError(
            f"no database at {settings.db}",
            hint="load logs first with `llmcost --db PATH ingest FILES`",
        )
    return Store(settings)
