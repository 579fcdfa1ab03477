"""The command line: parse, call one library function, render, map errors to exit codes.

Heavy libraries (duckdb, pyarrow, jinja2, tiktoken) are imported inside the functions that need
them, so `llmcost --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llmcost import config
from llmcost.errors import ExitCode, LlmcostError

app = typer.Typer(
    name="llmcost",
    help="Cost analytics for LLM features: ingest logs, price every request, report the P&L.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
prices_app = typer.Typer(help="Inspect the price table.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table | json | csv | markdown | html | parquet")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="write to FILE instead of stdout")]


class State:
    def __init__(self, db: Path | None, pricing: list[Path], config_path: Path | None) -> None:
        self._db, self._pricing, self._config = db, pricing, config_path
        self._settings: config.Settings | None = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.resolve(self._db, self._pricing, self._config)
        return self._settings

    def connect(self) -> Any:
        from llmcost.store import connect

        return connect(self.settings.db)

    def prices(self) -> Any:
        from llmcost import pricing

        return pricing.load(self.settings.pricing)


def _state(ctx: typer.Context) -> State:
    return ctx.find_root().obj  # type: ignore[no-any-return]


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option("--db", help="database file [env LLMCOST_DB; default .llmcost/llmcost.duckdb]")] = None,
    pricing: Annotated[list[Path] | None, typer.Option("--pricing", help="extra price file or folder, overlays the bundled table (repeatable)")] = None,
    config_path: Annotated[Path | None, typer.Option("--config", help="config file [default llmcost.toml, then [tool.llmcost] in pyproject.toml]")] = None,
) -> None:  # fmt: skip
    ctx.obj = State(db, list(pricing or []), config_path)


def emit(text: str | None) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def step_summary(markdown: str) -> None:
    """Append to $GITHUB_STEP_SUMMARY when set (GitHub caps it at 1 MiB)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        data = markdown.encode("utf-8")[: 1024 * 1024 - 1024]
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
) -> None:  # fmt: skip
    """Load request logs, provider exports and revenue CSVs into the database."""
    from llmcost import ingest as ingest_mod
    from llmcost.ingest import formats
    from llmcost.views import ingest_summary, rejects_table

    if list_formats:
        for f in formats.ordered():
            emit(f"{f.name:<22} {f.description}\n")
        return
    state = _state(ctx)
    con = state.connect()
    if show_rejects:
        emit(_render_simple(rejects_table(ingest_mod.rejects(con, limit=None)), fmt))
        return
    if not paths:
        raise LlmcostError("nothing to ingest", hint="give files, folders, globs or - (stdin)")
    with _progress(quiet) as advance:
        summary = ingest_mod.ingest_paths(
            con, paths, as_format=as_format, strict=strict, keep_text=keep_text, progress=advance
        )
    emit(_render_simple(ingest_summary(summary), fmt))
    for name in summary.passed_over[:5]:
        warn(f"passed over (not a log file by its name): {name}")
    if summary.totals["rejected"] and not quiet:
        warn("some lines were rejected: `llmcost ingest --show-rejects` lists them with their reasons")
    if summary.strict_failed:
        raise typer.Exit(ExitCode.GATE)


def _render_simple(result: Any, fmt: str) -> str | None:
    from llmcost.render import render

    if fmt not in ("table", "json", "csv", "markdown"):
        raise LlmcostError(f"unknown --format {fmt!r} here", hint="choose table, json, csv or markdown")
    return render(result, fmt)


class _progress:
    """A byte progress bar on stderr when it is a terminal; a no-op otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty() and not os.environ.get("CI")
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self._progress = Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            transient=True, console=__import__("rich.console").console.Console(stderr=True),
        )  # fmt: skip
        self._progress.start()
        task = self._progress.add_task("ingesting", total=None)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# ---------------------------------------------------------------- report


@app.command()
def report(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="feature, customer, user, task, model, provider, tier, plan, status, request, day, week, month, attrs.NAME (comma-separated)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="start (inclusive): 2026-08-01, an RFC 3339 time, or 30d")] = None,
    until: Annotated[str | None, typer.Option("--until", help="end (exclusive)")] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:  # fmt: skip
    """The P&L: cost per request, task, user, customer and feature; coverage of the price table."""
    from llmcost import metrics
    from llmcost.render import render, to_markdown

    state = _state(ctx)
    window = metrics.Window(metrics.parse_when(since), metrics.parse_when(until))
    result = metrics.report(state.connect(), state.prices(), by=metrics.parse_by(by), window=window)
    emit(render(result, fmt, output))
    step_summary(to_markdown(result))


# ---------------------------------------------------------------- prices


@prices_app.command("list")
def prices_list(ctx: typer.Context, fmt: FormatOpt = "table", output: OutputOpt = None) -> None:
    """Every model in the table with its current rates."""
    from llmcost.render import render
    from llmcost.views import prices_list_table

    emit(render(prices_list_table(_state(ctx).prices()), fmt, output))


@prices_app.command("show")
def prices_show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="model id, alias or logged name")],
    fmt: FormatOpt = "table",
) -> None:
    """All dated versions of one model's price."""
    from llmcost.render import render
    from llmcost.views import prices_show_table

    table = _state(ctx).prices()
    found = table.resolve(model)
    if found is None:
        raise LlmcostError(f"no price for {model!r}", hint="`llmcost prices list` shows the models; add one with --pricing")
    emit(render(prices_show_table(found), fmt))


@prices_app.command("check")
def prices_check(ctx: typer.Context, fmt: FormatOpt = "table") -> None:
    """Models seen in the data with no price at their time, and rates the table lacks."""
    from llmcost.render import render
    from llmcost.views import prices_check_result

    state = _state(ctx)
    result = prices_check_result(state.connect(), state.prices())
    emit(render(result, fmt))


# ---------------------------------------------------------------- sample data


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="folder to write logs/ and revenue.csv into")],
    requests: Annotated[int, typer.Option("--requests", "-n", help="how many requests")] = 20_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    months: Annotated[int, typer.Option("--months")] = 3,
    compress: Annotated[bool, typer.Option("--gzip", help="write .jsonl.gz")] = False,
) -> None:  # fmt: skip
    """Generate a realistic, deterministic fictional AI SaaS data set."""
    from llmcost.synth import generate

    if requests <= 0:
        raise LlmcostError("--requests must be positive")
    summary = generate(out_dir, requests=requests, seed=seed, months=months, compress=compress)
    warn(f"wrote {summary.requests:,} requests for {summary.customers} customers ({summary.users} users) to {out_dir}")


# ---------------------------------------------------------------- entry point


def main() -> None:
    try:
        app(standalone_mode=False)
    except LlmcostError as exc:
        warn(f"llmcost: error: {exc}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        warn("llmcost: aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        warn("llmcost: interrupted; the file being loaded was rolled back, run the same command again to finish")
        sys.exit(130)
    except __import__("click").exceptions.ClickException as exc:
        warn(f"llmcost: error: {exc.format_message()} (see --help)")
        sys.exit(ExitCode.USAGE)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
