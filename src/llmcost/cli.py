"""The command line: parse, call one library function, render, map errors to exit codes.

Heavy libraries (duckdb, pyarrow, jinja2, tiktoken) are imported inside the functions that need
them, so `llmcost --help` starts fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from llmcost import config, query
from llmcost.errors import INTERRUPTED, ExitCode, LlmcostError, describe

app = typer.Typer(
    name="llmcost",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
prices_app = typer.Typer(help="Inspect the price table.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")

FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="table | json | csv | markdown | html | parquet")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="write to FILE instead of stdout; the format follows its extension (.json, .csv, .md, .html, .parquet)"),
]  # fmt: skip
TableOpt = Annotated[
    str | None,
    typer.Option("--table", help="csv / parquet: the table to write (the first by default; the note on stderr names the others)"),
]  # fmt: skip


class State:
    def __init__(
        self,
        db: Path | None,
        pricing: list[Path],
        config_path: Path | None,
        lake: str | None = None,
        engine: dict[str, Any] | None = None,
    ) -> None:
        self._db, self._pricing, self._config = db, pricing, config_path
        self._settings: config.Settings | None = None
        self.command: str | None = None
        self.lake = lake
        # --engine, --spark-master, --spark-conf; the command and its options
        self.engine = engine or {}
        self._prices: Any = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.resolve(self._db, self._pricing, self._config)
        return self._settings

    def connect(self, *, write: bool = False) -> Any:
        """The database, or the lake of --lake. A read command on a path with no database is an
        error, not a new empty file; it waits for an ingest, and takes a read-only file."""
        if self.lake is not None or self.engine.get("name", "duckdb") != "duckdb":
            return self.connect_lake()
        from llmcost.store import connect

        db = self.settings.db
        if not write and str(db) != ":memory:" and not db.exists():
            raise LlmcostError(f"no llmcost database at {db}; run `llmcost ingest PATH...` first")
        return connect(db, read=not write and self.command not in ("ingest", "forget"))

    def connect_lake(self) -> Any:
        """The lake of --lake, read as a store (read commands only)."""
        from llmcost import lake

        if self._db is not None:
            raise LlmcostError(
                "give --db or --lake, not both", hint="--lake reads a lake instead of the database"
            )
        name = self.engine.get("name", "duckdb")
        if name == "spark":
            from llmcost import spark

            return spark.open_for(self.lake, self.engine)
        if name != "duckdb":
            raise LlmcostError(f"unknown --engine {name!r}", hint="choose duckdb or spark")
        return lake.connect(str(self.lake))

    def require_db(self, command: str) -> None:
        """COMMAND writes or reads the database file itself: --lake cannot stand for it."""
        if self.lake is not None:
            raise LlmcostError(
                f"{command} works on the database, not on a lake",
                hint="drop --lake (a lake is written by `llmcost export --lake DIR`)",
            )

    def prices(self) -> Any:
        from llmcost import pricing

        if self._prices is None:
            self._prices = pricing.load(self.settings.pricing)
        return self._prices


def _state(ctx: typer.Context) -> State:
    state: State = ctx.find_root().obj
    state.engine["params"] = ctx.params  # what --engine spark checks it can run
    return state


def _window(since: str | None, until: str | None) -> Any:

    return query.parse_window(since, until)


def _version(value: bool) -> None:
    if value:
        from llmcost import __version__

        sys.stdout.write(f"llmcost {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option("--db", help="database file [env LLMCOST_DB; default .llmcost/llmcost.duckdb]")] = None,
    pricing: Annotated[list[Path] | None, typer.Option("--pricing", help="extra price file or folder, overlays the bundled table (repeatable)")] = None,
    config_path: Annotated[Path | None, typer.Option("--config", help="config file [default llmcost.toml, then [tool.llmcost] in pyproject.toml]")] = None,
    lake: Annotated[str | None, typer.Option("--lake", help="read a Parquet lake (folder or s3://bucket/prefix) instead of --db; written by `llmcost export --lake`")] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb | spark: run report and whatif over --lake on Apache Spark (pip install 'llmcost[spark]')")] = "duckdb",
    spark_master: Annotated[str, typer.Option("--spark-master", help="Spark master URL (local[*], spark://HOST:7077, sc://HOST for Spark Connect)")] = "local[*]",
    spark_conf: Annotated[list[str] | None, typer.Option("--spark-conf", help="a Spark setting KEY=VALUE (repeatable)")] = None,
    version: Annotated[bool, typer.Option("--version", help="print the version and exit", is_eager=True, callback=_version)] = False,
) -> None:  # fmt: skip
    """Cost analytics for LLM features: ingest logs, price every request, report the P&L.

    \b
    Start with:
      llmcost init                      an annotated llmcost.toml
      llmcost ingest logs/ revenue.csv  load request logs and revenue
      llmcost report                    the P&L: this period vs the previous one
      llmcost report --by feature       cost and margin per feature

    --db, --pricing and --config may also follow the command.
    """
    spark = {
        "name": engine,
        "master": spark_master,
        "conf": list(spark_conf or []),
        "command": ctx.invoked_subcommand,
    }
    ctx.obj = State(db, list(pricing or []), config_path, lake, spark)
    ctx.obj.command = ctx.invoked_subcommand


def emit(text: str | None) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def step_summary(markdown: Callable[[], str]) -> None:
    """Append the Markdown MARKDOWN() writes to $GITHUB_STEP_SUMMARY, only when it is set (GitHub
    caps it at 1 MiB)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        data = markdown().encode("utf-8")[: 1024 * 1024 - 1024]
        with open(target, "ab") as fh:
            fh.write(data.decode("utf-8", errors="ignore").encode("utf-8") + b"\n")


# ---------------------------------------------------------------- ingest


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(help="files, folders (recursive), globs, or - for stdin; .gz and .zst are read transparently")] = None,
    as_format: Annotated[str | None, typer.Option("--as", help="force the input format (see --list-formats)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="any rejected line fails its file: nothing loaded from it, exit 1")] = False,
    keep_text: Annotated[bool, typer.Option("--keep-text", help="store prompt/response text (off by default)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="summary as table | json")] = "table",
    show_rejects: Annotated[bool, typer.Option("--show-rejects", help="list the rejected lines stored so far and exit")] = False,
    list_formats: Annotated[bool, typer.Option("--list-formats", help="list the input formats and exit")] = False,
    claude_code: Annotated[bool, typer.Option("--claude-code", help="also ingest Claude Code's session logs from their default places (CLAUDE_CONFIG_DIR, ~/.config/claude, ~/.claude)")] = False,
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=PATH: where a canonical field is in your request log (dotted path, or a \"quoted\" constant); overlays [ingest.map] (repeatable)")] = None,
    explain: Annotated[str | None, typer.Option("--explain", help="show how the first lines of FILE load (format, each field and where it came from, attrs) and exit; writes nothing")] = None,
    reload: Annotated[bool, typer.Option("--reload", help="forget what each file loaded before, then load it again (a corrected --map)")] = False,
    max_line_mb: Annotated[float | None, typer.Option("--max-line-mb", help="reject lines longer than this many MiB, unread [env LLMCOST_MAX_LINE_MB; default 16]")] = None,
) -> None:  # fmt: skip
    """Load request logs, provider exports and revenue CSVs into the database.

    \b
    Examples:
      llmcost ingest logs/ revenue.csv         folders are read recursively
      llmcost ingest 'exports/*.json.gz'       globs; .gz and .zst are read as they are
      zcat app.jsonl.gz | llmcost ingest -     from stdin
      llmcost ingest --show-rejects            the rejected lines, with their reasons
    """
    from llmcost import ingest as ingest_mod
    from llmcost.ingest import registry
    from llmcost.views import ingest_explain_view, ingest_summary, rejects_table

    if list_formats:
        for f in registry.ordered():
            emit(f"{f.name:<22} {f.description}\n")
        return
    state = _state(ctx)
    state.require_db("ingest")
    mapping = _ingest_mapping(state, map_ or [])
    if explain is not None:
        from llmcost.ingest import explain as explain_mod

        doc = explain_mod.explain(explain, as_format=as_format, mapping=mapping)
        emit(_render_simple(ingest_explain_view(doc), fmt))
        return
    con = state.connect(write=not show_rejects)
    if show_rejects:
        emit(_render_simple(rejects_table(ingest_mod.rejects(con, limit=None)), fmt))
        return
    if claude_code:
        from llmcost.ingest.adapters.claude_code import default_files

        as_format = as_format or ("claude_code" if not paths else None)
        paths = [*(paths or []), *default_files()]
    if not paths:
        raise LlmcostError("nothing to ingest", hint="give files, folders, globs or - (stdin)")
    bar = _progress(quiet, paths)
    with bar as advance:
        summary = ingest_mod.ingest_paths(
            con, paths, as_format=as_format, strict=strict, keep_text=keep_text, progress=advance,
            mapping=mapping, reload=reload, max_line_bytes=_max_line_bytes(max_line_mb),
            on_file=bar.file_done if bar.enabled else None,
        )  # fmt: skip
    if len(summary.failed) < len(summary.files):  # a summary of nothing but errors says nothing
        emit(_render_simple(ingest_summary(summary), fmt))
    for name in summary.passed_over[:5]:
        warn(f"passed over (not a log file by its name): {name}")
    for line in summary.warnings:
        warn(f"llmcost: warning: {line}")
    if summary.no_cache_counts and not quiet:
        warn(
            f"{summary.no_cache_counts:,} requests carry no cached-token counts (their tracer does not record them): "
            "any cache reads among them are priced as uncached input"
        )
    if summary.totals["rejected"] and not quiet:
        warn(
            "some lines were rejected: `llmcost ingest --show-rejects` lists them with their reasons"
        )
    from llmcost.metrics import refresh_rollups  # the first report after an ingest reads them too

    with contextlib.suppress(LlmcostError):  # a bad price file: the next report says so
        refresh_rollups(con, state.prices)
    for failed in summary.failed:
        warn(f"llmcost: error: {failed.error}")
    if summary.failed:
        raise typer.Exit(ExitCode.USAGE)  # the other files were loaded
    if summary.strict_failed:
        raise typer.Exit(ExitCode.GATE)


def _ingest_mapping(state: State, items: list[str]) -> dict[str, str]:
    from llmcost.ingest.adapters import sdk

    return sdk.parse_mapping(items, state.settings.section("ingest").get("map"))


@app.command()
def forget(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="files as they were ingested (folders and globs expand as for ingest; a file gone from disk is matched by its path)")],
) -> None:  # fmt: skip
    """Remove what files loaded (requests, usage, billed and revenue rows, rejects, the manifest row), in one transaction.

    \b
    Examples:
      llmcost forget logs/2026-10-03.jsonl     one file, as it was ingested
      llmcost forget 'logs/2026-10-*.jsonl'    globs and folders expand as for ingest
    """
    from llmcost import ingest as ingest_mod

    con = _state(ctx).connect()
    gone = ingest_mod.forget(con, paths)
    if not gone["files"]:
        raise LlmcostError(
            "no ingested file matches " + " ".join(paths),
            hint="give the paths as ingested; `llmcost ingest --format json` lists them",
        )
    emit(
        f"forgot {gone['files']:,} file(s): {gone['requests']:,} requests, {gone['usage']:,} usage rows, "
        f"{gone['billed']:,} billed rows, {gone['revenue']:,} revenue rows, {gone['rejects']:,} rejects\n"
    )


def _max_line_bytes(flag: float | None) -> int | None:
    text = os.environ.get("LLMCOST_MAX_LINE_MB") if flag is None else str(flag)
    if not text:
        return None
    try:
        mb = float(text)
    except ValueError:
        mb = 0.0
    if not 0 < mb <= 4096:
        raise LlmcostError(f"--max-line-mb must be a number of MiB up to 4096, got {text!r}")
    return int(mb * 1024 * 1024)


def _render_simple(result: Any, fmt: str) -> str | None:
    from llmcost.render import render

    if fmt not in ("table", "json", "csv", "markdown"):
        raise LlmcostError(
            f"unknown --format {fmt!r} here", hint="choose table, json, csv or markdown"
        )
    return render(result, fmt)


def input_size(paths: list[str]) -> tuple[int, int | None]:
    """How many files the paths name, and their bytes on disk (None with stdin among them)."""
    from llmcost.ingest.sources import expand

    try:
        sources, _ = expand(paths)
        sizes = [s.path.stat().st_size if s.path is not None else None for s in sources]
    except (OSError, LlmcostError):
        return 0, None
    known = [n for n in sizes if n is not None]
    return len(sizes), (sum(known) if len(known) == len(sizes) else None)


class _progress:
    """A progress bar on stderr when it is a terminal (bytes, percent, rate and time left when the
    size is known); a no-op otherwise."""

    def __init__(self, quiet: bool, paths: list[str] | None = None) -> None:
        self.enabled = not quiet and sys.stderr.isatty() and not os.environ.get("CI")
        self._progress: Any = None
        self._paths = paths or []
        self._files = 0

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskProgressColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )  # fmt: skip

        files, total = input_size(self._paths)
        self._progress = Progress(
            "{task.description}", BarColumn(), TaskProgressColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), transient=True, console=Console(stderr=True),
        )  # fmt: skip
        self._progress.start()
        label = f"ingesting {files:,} file{'s' * (files != 1)}" if files else "ingesting"
        task = self._progress.add_task(label, total=total)
        self._files = files
        return lambda n: self._progress.advance(task, n)

    def file_done(self, f: Any) -> None:
        """One line per file above the bar, when there are several (a folder, a glob)."""
        if self._progress is None or self._files < 2:
            return
        from rich.text import Text

        what = (
            "already ingested: skipped" if f.skipped
            else f"{f.loaded:,} loaded, {f.rejected:,} rejected, {f.duplicates:,} duplicates"
        )  # fmt: skip
        self._progress.console.print(
            Text(f"{f.path}  {f.format}  {what}"), no_wrap=True, overflow="ellipsis"
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# ---------------------------------------------------------------- report


@app.command()
def report(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="feature, customer, user, task, model, provider, tier, plan, status, request, day, week, month, attrs.NAME (comma-separated)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="start (inclusive): 2026-08-01, an RFC 3339 time, or 30d / 3m (back from now)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end: a date includes that day (2026-10-31), a time is exclusive")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="FIELD=VALUE or FIELD!=VALUE on feature, customer, user, task, model, provider, tier, plan, status, request, batch, cache_hit, attrs.NAME (repeatable)")] = None,
    allocate: Annotated[str, typer.Option("--allocate", help="split customer revenue to features by requests | cost | equal")] = "requests",
    source: Annotated[str | None, typer.Option("--source", help="requests (request logs) | exports (provider usage exports; by model, provider, project, workspace, api_key, day, week, month) [default: exports when there are no request logs]")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    table: TableOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="rows of each table the terminal shows (default 50; 0 for all); other formats hold every row", min=0)] = None,
    sort: Annotated[str | None, typer.Option("--sort", help="order the terminal's tables by this column (numbers largest first), e.g. margin_usd")] = None,
) -> None:  # fmt: skip
    """The P&L: cost per request, task, user, customer and feature; coverage of the price table.

    \b
    Examples:
      llmcost report                                    this period vs the previous one
      llmcost report --by feature --since 30d           the last 30 days, per feature
      llmcost report --by customer,month -o margins.csv
      llmcost report --format html -o report.html       one self-contained file
    """
    from llmcost import metrics
    from llmcost.render import infer_format, render
    from llmcost.report.markdown import summary_markdown

    state = _state(ctx)
    fmt = infer_format(fmt, output)
    window = _window(since, until)
    if source != "exports":  # a bad flag or price file is reported before a missing database
        query.parse_by(by), query.parse_where(where)
    state.prices()
    con = state.connect()
    if _exports_source(con, source, fmt):
        return _report_exports(state, con, by, window, fmt, output, table)
    # the summary with no window: the last full month vs the one before
    window, rule = query.report_window(con, query.parse_by(by), window)
    result = metrics.report(
        con, state.prices(), by=query.parse_by(by), window=window, where=query.parse_where(where),
        allocate=allocate, targets=state.settings.section("targets"),
    )  # fmt: skip
    if rule is not None:
        result.doc["window_rule"] = rule
    if fmt == "html":  # charts need their own series; other formats render the result as it is
        from llmcost import series
        from llmcost.report import charts
        from llmcost.report.context import HtmlReport

        charts.warm_up()  # overlaps vl-convert's start-up with the series' queries
        extras = series.html_extras(result, con, window, state.settings, state.prices())
        emit(render(HtmlReport(result, extras), fmt, output))
    else:
        emit(render(result, fmt, output, table=table, limit=limit, sort=sort, stream=sys.stdout))
    step_summary(lambda: summary_markdown(result))


def _exports_source(con: Any, source: str | None, fmt: str) -> bool:
    from llmcost import exports

    if source not in (None, "requests", "exports"):
        raise LlmcostError(f"unknown --source {source!r}", hint="choose requests or exports")
    if source is None and fmt == "html":  # the HTML report is about request logs
        return False
    return (source or exports.default_source(con)) == "exports"


def _report_exports(
    state: State,
    con: Any,
    by: str | None,
    window: Any,
    fmt: str,
    output: Path | None,
    table: str | None,
) -> None:
    from llmcost import exports
    from llmcost.render import render
    from llmcost.report.markdown import to_markdown

    if fmt == "html":
        raise LlmcostError(
            "--format html is not available with --source exports",
            hint="use table, json, csv, markdown or parquet",
        )
    result = exports.report(con, state.prices(), by=exports.parse_by(by), window=window)
    emit(render(result, fmt, output, table=table))
    step_summary(lambda: to_markdown(result))


@app.command()
def reconcile(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="period: day | month")] = "month",
    since: Annotated[str | None, typer.Option("--since", help="start (inclusive): 2026-08-01, an RFC 3339 time, or 30d / 3m (back from now)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end: a date includes that day (2026-10-31), a time is exclusive")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:  # fmt: skip
    """Request logs vs provider usage exports vs billed cost, per period, provider and model.

    \b
    Examples:
      llmcost reconcile                   by month
      llmcost reconcile --by day --since 2026-10-01 -o gaps.csv
    """
    from llmcost import exports
    from llmcost.render import infer_format, render

    state = _state(ctx)
    fmt = infer_format(fmt, output)
    if fmt == "html":
        raise LlmcostError(
            "--format html is not available for reconcile",
            hint="use table, json, csv, markdown or parquet",
        )
    exports.check_period(by)
    window = _window(since, until)
    result = exports.reconcile(state.connect(), state.prices(), by=by, window=window)
    emit(render(result, fmt, output, title="llmcost reconcile"))


# ---------------------------------------------------------------- prices


@prices_app.command("list")
def prices_list(
    ctx: typer.Context,
    match: Annotated[
        str | None, typer.Argument(help="only models whose id or an alias contains this")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="only this host's models (openai, bedrock, azure, vertex, ...)"
        ),
    ] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:
    """Every model in the table with its current rates (as a table: one row per host, unless
    MATCH or --host narrows it).

    \b
    Examples:
      llmcost prices list
      llmcost prices list claude --host bedrock
      llmcost --pricing negotiated.toml prices list -o prices.csv
    """
    from llmcost.render import render
    from llmcost.views import prices_list_table

    summary = fmt == "table" and match is None and host is None
    emit(render(prices_list_table(_state(ctx).prices(), match, host, summary=summary), fmt, output))


@prices_app.command("show")
def prices_show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="model id, alias or logged name")],
    fmt: FormatOpt = "table",
) -> None:
    """All dated versions of one model's price.

    \b
    Examples:
      llmcost prices show haiku
      llmcost prices show gpt-4.1-mini-2025-04-14 --format json
    """
    from llmcost.render import render
    from llmcost.views import prices_show_table

    table = _state(ctx).prices()
    found = table.resolve(model)
    if found is None:
        raise LlmcostError(
            f"no price for {model!r}",
            hint="`llmcost prices list` shows the models; add one with --pricing",
        )
    emit(render(prices_show_table(found), fmt))


@prices_app.command("check")
def prices_check(
    ctx: typer.Context,
    fmt: FormatOpt = "table",
    since: Annotated[
        str | None,
        typer.Option("--since", help="start (inclusive): 2026-08-01, an RFC 3339 time, or 30d"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="end: a date includes that day (2026-10-31), a time is exclusive"
        ),
    ] = None,
) -> None:
    """Models seen in the data with no price at their time, or priced by fallback, and rates the
    table lacks. Exits 1 when any request in the window is unpriced (a CI gate), 0 otherwise.

    \b
    Examples:
      llmcost prices check
      llmcost --pricing private.toml prices check --since 30d
    """
    from llmcost.render import render
    from llmcost.store import connect
    from llmcost.views import prices_check_result

    state = _state(ctx)
    prices = state.prices()
    # with no database yet, the table's own gaps are still worth reporting: an empty one in memory
    has_data = state.lake is not None or state.settings.db.exists()
    con = state.connect() if has_data else connect(":memory:")
    result = prices_check_result(con, prices, _window(since, until))
    emit(render(result, fmt))
    if result.doc["unpriced_requests"]:
        raise typer.Exit(1)


@prices_app.command("import")
def prices_import(
    genai_prices: Annotated[
        Path | None,
        typer.Option(
            "--genai-prices",
            help="genai-prices data JSON (.json or .json.gz) [default: the installed genai-prices package, extra `import`]",
        ),
    ] = None,
    litellm: Annotated[
        Path | None,
        typer.Option(
            "--litellm",
            help="LiteLLM's model_prices_and_context_window JSON, or the litellm wheel (pip download --no-deps litellm)",
        ),
    ] = None,
    into: Annotated[
        Path, typer.Option("--into", help="the table's directory (its overrides.toml is applied)")
    ] = Path("pricing"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="date a changed price starts, YYYY-MM-DD [default: today]"),
    ] = None,
) -> None:
    """Rebuild the bundled price table from the public sources (a maintainer's command).

    Keeps every version already in the table, appends the sources' new ones, applies
    overrides.toml, keeps the exact inputs in sources/, and prints where the sources disagree.

    \b
    Examples:
      llmcost prices import                    genai-prices from pip install 'llmcost[import]'
      llmcost prices import --genai-prices data.json --litellm model_prices_and_context_window.json
    """
    from llmcost import price_import as pi

    day = _day(as_of)
    docs: dict[str, Any] = {}
    versions: dict[str, str] = {}
    if genai_prices is None:
        docs["genai-prices"], versions["genai-prices"] = pi.installed_genai_prices()
    else:
        docs["genai-prices"], _, versions["genai-prices"] = pi.read_source(genai_prices)
    if litellm is not None:
        docs["litellm"], _, versions["litellm"] = pi.read_source(litellm)
    paths = {k: pi.snapshot(doc, into / "sources", f"{k}-{versions[k]}") for k, doc in docs.items()}
    disagreements, changes, counts = pi.run(
        genai_prices=paths["genai-prices"], litellm=paths.get("litellm"), table_dir=into, out_dir=into,
        as_of=day, versions=versions,
    )  # fmt: skip
    for line in disagreements:
        warn(f"sources disagree: {line}")
    emit(
        "\n".join(
            [
                *changes,
                f"{sum(counts.values())} models in {len(counts)} files under {into}; {len(disagreements)} disagreement(s) to review",
            ]
        )
        + "\n"
    )


@prices_app.command("update")
def prices_update(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Option(
            "--from", help="a genai-prices data JSON or LiteLLM price file (or the litellm wheel)"
        ),
    ],
    into: Annotated[
        Path | None,
        typer.Option(
            "--into",
            help="your pricing directory [default: the first --pricing directory, else .llmcost/pricing]",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="date a changed price starts, YYYY-MM-DD [default: today]"),
    ] = None,
) -> None:
    """Write what FILE prices differently from the table as a dated overlay (bundled files untouched).

    \b
    Examples:
      llmcost prices update --from model_prices_and_context_window.json
      llmcost prices update --from data.json --into pricing/ --as-of 2026-12-01
    """
    from llmcost import price_import as pi

    state = _state(ctx)
    target = into or next(
        (p for p in state.settings.pricing if p.is_dir()), Path(".llmcost/pricing")
    )
    path, n, disagreements = pi.update_overlay(
        source, config.bundled_pricing_dir(), target, _day(as_of)
    )
    for line in disagreements:
        warn(f"sources disagree: {line}")
    emit(
        f'{n} model(s) written to {path}; use it with --pricing {target} (or pricing = ["{target}"] in llmcost.toml)\n'
    )


def _day(text: str | None) -> Any:
    from datetime import date

    if text is None:
        return query.now().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise LlmcostError(f"--as-of {text!r} is not a date", hint="give YYYY-MM-DD") from None


# ---------------------------------------------------------------- what-if and estimate


@app.command()
def whatif(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="a scenario from [scenarios.NAME] in llmcost.toml (flags given add to it)")] = None,
    feature: Annotated[list[str] | None, typer.Option("--feature", help="scope: this feature (repeatable)")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="scope: requests of this model (alias allowed; repeatable: any of them)")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="scope: FIELD=VALUE or FIELD!=VALUE on a canonical field (repeatable)")] = None,
    route_to: Annotated[str | None, typer.Option("--route-to", help="price the scope at MODEL (alias allowed, e.g. haiku)")] = None,
    share: Annotated[float | None, typer.Option("--share", help="route only this fraction of the scope (by a hash of request_id)")] = None,
    cache_hit_rate: Annotated[float | None, typer.Option("--cache-hit-rate", help="a semantic cache answers this fraction of the scope")] = None,
    cache_lookup_cost: Annotated[float | None, typer.Option("--cache-lookup-cost", help="USD per request for the cache lookup [0]")] = None,
    prompt_cache: Annotated[int | None, typer.Option("--prompt-cache", help="a static prefix of TOKENS input tokens becomes prompt-cacheable")] = None,
    cache_ttl: Annotated[str | None, typer.Option("--cache-ttl", help="prompt-cache TTL: 5m or 1h [5m]")] = None,
    batch: Annotated[bool, typer.Option("--batch", help="send the scope through the batch API")] = False,
    max_output_tokens: Annotated[int | None, typer.Option("--max-output-tokens", help="cut output tokens above N")] = None,
    compress_input: Annotated[float | None, typer.Option("--compress-input", help="uncached input shrinks by this fraction")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="agent tasks stop after N steps")] = None,
    cap_user_cost: Annotated[float | None, typer.Option("--cap-user-cost", help="USD per user and month: later requests are not served")] = None,
    plan_price: Annotated[list[str] | None, typer.Option("--plan-price", help="PLAN=USD: what a customer-month on PLAN pays (repeatable)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every configured scenario side by side")] = False,
    suggest: Annotated[bool, typer.Option("--suggest", help="rank the levers by what they would save on this data")] = False,
    by: Annotated[str | None, typer.Option("--by", help="group rows by these dimensions (as in report)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="start (inclusive)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end: a date includes that day (2026-10-31), a time is exclusive")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    table: TableOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="rows of each table the terminal shows (default 50; 0 for all); other formats hold every row", min=0)] = None,
    sort: Annotated[str | None, typer.Option("--sort", help="order the terminal's tables by this column (numbers largest first), e.g. savings_usd")] = None,
) -> None:  # fmt: skip
    """Re-price history under a scenario: routing, caching, batching, caps. Quality is not measured.

    \b
    Examples:
      llmcost whatif --route-to haiku --feature support-chat
      llmcost whatif --batch --model gpt-4.1 --model gpt-4.1-mini --by feature
      llmcost whatif support-on-haiku      a [scenarios.NAME] of llmcost.toml
      llmcost whatif --all                 every configured scenario side by side
    """
    from llmcost import whatif as wi
    from llmcost.render import render

    state = _state(ctx)
    window = _window(since, until)
    prices, raw = state.prices(), state.settings.raw
    if all_ or suggest:
        con = state.connect()
        result: Any = (
            wi.compare_all(con, prices, raw, window=window)
            if all_
            else wi.suggest(con, prices, window=window)
        )
    else:
        levers = dict(route_to=route_to, share=share, cache_hit_rate=cache_hit_rate, cache_lookup_cost=cache_lookup_cost,
                      prompt_cache=prompt_cache, cache_ttl=cache_ttl, batch=batch, max_output_tokens=max_output_tokens,
                      compress_input=compress_input, max_steps=max_steps, cap_user_cost=cap_user_cost,
                      plan_price=wi.parse_plan_prices(plan_price))  # fmt: skip
        feats, wheres, models = list(feature or []), list(where or []), list(model or [])
        scenario = wi.from_options(
            name, raw, features=feats, model=models, where=wheres, levers=levers
        )
        if state.engine.get("name") == "spark":  # a configured scenario's levers too
            from llmcost import spark

            spark.check_whatif(scenario.levers)
        group, con = query.parse_by(by), state.connect()
        query.check_attrs(con, group)
        result = wi.run(con, prices, scenario, by=group, window=window)
    emit(render(result, fmt, output, title="llmcost what-if", table=table, limit=limit, sort=sort))


@app.command()
def explain(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="this period's start (inclusive) [default: the month of the last request]")] = None,
    until: Annotated[str | None, typer.Option("--until", help="this period's end: a date includes that day (2026-10-31), a time is exclusive")] = None,
    compare_to: Annotated[str, typer.Option("--compare-to", help="previous | a month (2026-09) | SINCE..UNTIL (a date-only UNTIL includes that day)")] = "previous",
    by: Annotated[str, typer.Option("--by", help="feature | customer | model")] = "feature",
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:  # fmt: skip
    """Why the cost moved: the bridge from one period to the next, by driver; its parts add up exactly.

    \b
    Examples:
      llmcost explain                          the month of the last request vs the month before
      llmcost explain --by customer --compare-to 2026-08
      llmcost explain --compare-to 2026-09-01..2026-09-15 --format json
    """
    from llmcost import explain as explain_mod
    from llmcost.render import render

    state = _state(ctx)
    result = explain_mod.explain(
        state.connect(), state.prices(), window=_window(since, until), compare_to=compare_to, by=by
    )
    emit(render(result, fmt, output, title="llmcost explain"))


@app.command()
def estimate(
    ctx: typer.Context,
    prompt: Annotated[str | None, typer.Argument(help="prompt file, or - / nothing for stdin")] = None,
    system: Annotated[Path | None, typer.Option("--system", help="static prefix (system prompt) file: prompt-cached after the first call")] = None,
    output_tokens: Annotated[int, typer.Option("--output-tokens", help="expected output tokens per call")] = 0,
    calls: Annotated[int, typer.Option("--calls", "-n", help="number of calls")] = 1,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="price at this model (repeatable) [default: every model of the table]")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="only models of this tier: small, mid, frontier")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:  # fmt: skip
    """Pre-flight: count a prompt's tokens (tiktoken, offline) and price calls across models.

    \b
    Examples:
      llmcost estimate prompt.txt --output-tokens 300 --calls 10000 --tier small
      echo "Summarise this ticket" | llmcost estimate - -m haiku -m gpt-4.1-mini
    """
    from llmcost import whatif as wi
    from llmcost.render import render

    text = wi.read_text(prompt)
    system_text = wi.read_text(str(system)) if system is not None else ""
    if not text.strip() and not system_text.strip():
        raise LlmcostError(
            f"the prompt {'on stdin' if prompt in (None, '-') else prompt} is empty: nothing to price",
            hint="give a prompt file with text in it, or pipe one on stdin",
        )
    result = wi.estimate(_state(ctx).prices(), text, system=system_text, output_tokens=output_tokens, calls=calls,
                         models=list(model or []), tier=tier)  # fmt: skip
    emit(render(result, fmt, output, title="llmcost estimate"))


# ---------------------------------------------------------------- CI: check and diff


@app.command()
def check(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="start (inclusive): 2026-08-01, an RFC 3339 time, or 30d / 3m (back from now)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end: a date includes that day (2026-10-31), a time is exclusive")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:  # fmt: skip
    """CI gate: evaluate the [check] rules of llmcost.toml; exit 1 when one is breached.

    \b
    Examples:
      llmcost check                        the rules of llmcost.toml
      llmcost check --since 7d --format json
    """
    from llmcost import checks
    from llmcost.render import render
    from llmcost.report.markdown import summary_markdown

    state = _state(ctx)
    window = _window(since, until)
    result = checks.run(state.connect(), state.prices(), state.settings.section("check"), window)
    emit(render(result, fmt, output, title="llmcost check"))
    step_summary(lambda: summary_markdown(result, "llmcost check"))
    if not result.ok:
        raise typer.Exit(ExitCode.GATE)


@app.command()
def diff(
    ctx: typer.Context,
    current: Annotated[Path | None, typer.Argument(help="the newer saved report (JSON) [default: a report of the database now, grouped like the base]")] = None,
    compare_to: Annotated[Path, typer.Option("--compare-to", help="the base report: a file written by `llmcost report --format json`")] = ...,  # type: ignore[assignment]
    since: Annotated[str | None, typer.Option("--since", help="window of the current report when it is computed")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end of that window: a date includes that day")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    table: TableOpt = None,
) -> None:  # fmt: skip
    """Compare two saved JSON reports: totals and per-group deltas.

    \b
    Examples:
      llmcost report --by feature -o last-week.json
      llmcost diff --compare-to last-week.json             against the database now
      llmcost diff this-week.json --compare-to last-week.json
    """
    from llmcost import diff as diff_mod
    from llmcost import metrics
    from llmcost.documents import materialise
    from llmcost.render import render
    from llmcost.values import jsonable

    state = _state(ctx)
    target: Any = current
    if current is None:
        base = diff_mod.load_report(compare_to)
        window = _window(since, until)
        by = [str(b) for b in base.get("by") or []]
        doc = metrics.report(state.connect(), state.prices(), by=by, window=window).document()
        # the rows stay a frame (no dict per group); the rest the diff reads, as JSON values
        target = {k: jsonable(materialise(doc.get(k))) for k in diff_mod.READS}
        target["rows"] = doc.get("rows")
    emit(render(diff_mod.diff(compare_to, target), fmt, output, title="llmcost diff", table=table))


# ---------------------------------------------------------------- export


@app.command()
def export(
    ctx: typer.Context,
    lake: Annotated[str | None, typer.Option("--lake", help="write the database as a Parquet lake to this folder or s3://bucket/prefix (only changed months are rewritten)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="focus: FinOps FOCUS 1.4 cost and usage rows to -o FILE [default]; with --lake, the summary as table | json")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="FILE.csv or FILE.parquet (FOCUS)")] = None,
    grain: Annotated[str, typer.Option("--grain", help="FOCUS: one row per token type of each request | of each day")] = "request",
    since: Annotated[str | None, typer.Option("--since", help="start (inclusive): 2026-08-01, an RFC 3339 time, or 30d")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end: a date includes that day (2026-10-31), a time is exclusive")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="FIELD=VALUE or FIELD!=VALUE, as in report (repeatable)")] = None,
) -> None:  # fmt: skip
    """Send the priced requests elsewhere: FOCUS rows for a FinOps tool (docs/focus.md), or the
    whole store as a Parquet lake (`--lake DIR`, docs/scale.md).

    \b
    Examples:
      llmcost export -o focus.csv --grain day          FOCUS rows, one per token type and day
      llmcost export -o focus.parquet --since 30d
      llmcost export --lake s3://acme-finops/llmcost   only changed months are rewritten
    """
    if lake is not None:
        if fmt not in (None, "table", "json"):
            raise LlmcostError(f"export --lake prints its summary as table or json, not {fmt!r}")
        return _export_lake(_state(ctx), lake, fmt or "table")
    _export_focus(_state(ctx), fmt or "focus", output, grain, since, until, where)


def _export_focus(
    state: State,
    fmt: str,
    output: Path | None,
    grain: str,
    since: str | None,
    until: str | None,
    where: list[str] | None,
) -> None:
    from llmcost import focus

    if fmt != "focus":
        raise LlmcostError(
            f"unknown export --format {fmt!r}", hint="choose focus, or give --lake DIR"
        )
    if output is None:
        raise LlmcostError(
            "export needs -o FILE",
            hint="e.g. -o focus.csv or -o focus.parquet; or give --lake DIR to write a Parquet lake",
        )
    focus.output_format(output)
    window = _window(since, until)
    wsql = query.where_sql(query.parse_where(where))
    summary = focus.export(
        state.connect(), state.prices(), output, grain=grain, window=window, where=wsql
    )
    for line in summary.lines():
        warn(line)


def _export_lake(state: State, target: str, fmt: str) -> None:
    from llmcost import lake
    from llmcost.views import lake_export_summary

    state.require_db("export --lake")
    summary = lake.export(state.connect(), state.prices(), target)
    emit(_render_simple(lake_export_summary(summary), fmt))


# ---------------------------------------------------------------- sample data


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="folder to write logs/ and revenue.csv into")],
    requests: Annotated[int, typer.Option("--requests", "-n", help="how many requests")] = 20_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    months: Annotated[int, typer.Option("--months")] = 3,
    compress: Annotated[bool, typer.Option("--gzip", help="write .jsonl.gz")] = False,
) -> None:  # fmt: skip
    """Generate a realistic, deterministic fictional AI SaaS data set.

    \b
    Examples:
      llmcost synth demo/ --requests 5000
      llmcost synth demo/ --months 6 --gzip
    """
    from llmcost.synth import generate

    if requests <= 0:
        raise LlmcostError("--requests must be positive")
    summary = generate(out_dir, requests=requests, seed=seed, months=months, compress=compress)
    warn(
        f"wrote {summary.requests:,} requests for {summary.customers} customers ({summary.users} users) to {out_dir}"
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="the file to write")] = Path("llmcost.toml"),
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:  # fmt: skip
    """Write an annotated llmcost.toml: targets, check rules, what-if scenarios, field mapping.

    \b
    Examples:
      llmcost init
      llmcost init ci/llmcost.toml --force
    """
    from llmcost.starter import write_config

    written = write_config(path, force=force)
    warn(f"wrote {written}: edit the targets, rules and scenarios, then run `llmcost check`")


# ---------------------------------------------------------------- entry point

GLOBAL_OPTIONS = ("--db", "--pricing", "--config", "--lake")
# a command's own option of the same name stays with it: `export --lake DIR` writes DIR
OWN_OPTIONS = {"export": ("--lake",)}
# the options before the command that take a value (not hoisted: they are given before it)
VALUE_OPTIONS = (*GLOBAL_OPTIONS, "--engine", "--spark-master", "--spark-conf")


def hoist_globals(argv: list[str]) -> list[str]:
    """`llmcost report --db x.duckdb` works as `llmcost --db x.duckdb report`: the global options
    given after the command move before it."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):  # the options before the command
        i += 2 if argv[i] in VALUE_OPTIONS else 1
    if i >= len(argv):
        return argv
    head, rest, moved = argv[: i + 1], argv[i + 1 :], []
    hoisted = [o for o in GLOBAL_OPTIONS if o not in OWN_OPTIONS.get(argv[i], ())]
    out: list[str] = []
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg == "--":
            out += rest[j:]
            break
        if arg in hoisted and j + 1 < len(rest):
            moved += rest[j : j + 2]
            j += 2
            continue
        if arg.split("=", 1)[0] in hoisted and "=" in arg:
            moved.append(arg)
        else:
            out.append(arg)
        j += 1
    return [*head[:-1], *moved, head[-1], *out]


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import signal

    # `kill` (SIGTERM) ends the process as Ctrl-C does: the file in progress is rolled back and
    # its part files removed, by the same handlers
    before = None
    with contextlib.suppress(ValueError):  # not the main thread (tests)
        before = signal.signal(signal.SIGTERM, _terminated)
    try:
        _main()
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)


def _main() -> None:
    try:
        # standalone_mode=False returns a typer.Exit's code (ingest --strict) instead of exiting
        code = app(args=hoist_globals(sys.argv[1:]), standalone_mode=False)
    except LlmcostError as exc:
        warn(f"llmcost: error: {exc}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        warn("llmcost: aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        warn(
            "llmcost: interrupted; the file being loaded was rolled back, run the same command again to finish"
        )
        sys.exit(130)
    except (
        typer.TyperException
    ) as exc:  # click's errors (bad flag...): typer vendors click as typer._click
        warn(f"llmcost: error: {exc.format_message()} (see --help)")
        sys.exit(ExitCode.USAGE)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # the machine's or the database file's: one line, not a traceback
        known = describe(exc)
        if known is None or os.environ.get("LLMCOST_DEBUG"):
            raise
        message, exit_code = known
        if exit_code == INTERRUPTED:
            message = "interrupted; the file being loaded was rolled back, run the same command again to finish"
        warn(f"llmcost: error: {message}")
        sys.exit(exit_code)
    if code == 130:  # typer turns KeyboardInterrupt into Exit(130)
        warn(
            "llmcost: interrupted; the file being loaded was rolled back, run the same command again to finish"
        )
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
