"""`--engine spark`: the same metric code over a lake, on Apache Spark (optional extra llmcost[spark]).

metrics.py and whatif.py talk to a DuckDB connection: `execute(sql, params)`, `executemany`,
`fetchone`, `fetchall`, `description`. `SparkConnection` is that connection over a SparkSession:
each statement is the metric definition itself, its parameters bound as literals, transpiled from
DuckDB's dialect to Spark SQL by sqlglot, with a few rewrites where the two dialects differ in
meaning (RENAMES, _spark_nodes, and _expand_replace for `SELECT * REPLACE`). Temp tables become
cached temp views. Nothing of a report or a scenario is written twice. What runs and what does
not: docs/scale.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from llmcost.errors import LlmcostError
from llmcost.lake import STORE_TABLES, Target

# DuckDB functions whose Spark namesake means something else, or that Spark lacks: renamed on the
# DuckDB text (sqlglot passes an unknown function through), then written as Spark's in the tree.
RENAMES = (
    (re.compile(r"\bepoch_ms\(", re.I), "lc_epoch_ms("),  # sqlglot reads epoch_ms(x) as ms -> time
    (re.compile(r"\bepoch\(", re.I), "lc_epoch("),  # seconds with their fraction, not whole ones
    (re.compile(r"\bfsum\(", re.I), "sum("),
)
SPARK_TYPES = {
    "VARCHAR": "STRING", "JSON": "STRING", "BIGINT": "BIGINT", "INTEGER": "INT",
    "UBIGINT": "DECIMAL(20,0)", "HUGEINT": "DECIMAL(38,0)", "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN", "TIMESTAMP": "TIMESTAMP_NTZ", "DATE": "DATE",
}  # fmt: skip
_CREATE_AS = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+TABLE\s+(\w+)\s+AS\s+(.*)$", re.I | re.S
)
_CREATE_COLS = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+TABLE\s+(\w+)\s*\((.*)\)\s*$", re.I | re.S
)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s+VALUES", re.I)
_DROP = re.compile(r"^\s*DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?(\w+)\s*$", re.I)
_TEMP_LOOKUP = re.compile(r"FROM\s+duckdb_tables\(\)", re.I)


# What runs on Spark: report over requests (every --by, window, --where, allocation, the summary),
# and whatif's levers that re-price each request on its own (route, share, batch, output cap,
# compress, semantic cache). The others need a request's neighbours or a second pass in Python
# (docs/scale.md). Anything else says so before a session starts.
SPARK_COMMANDS = ("report", "whatif")
NOT_ON_SPARK: dict[str, dict[str, tuple[str, ...] | None]] = {
    "report": {"fmt": ("html",), "source": ("exports",)},
    "whatif": {
        name: None
        for name in ("prompt_cache", "max_steps", "cap_user_cost", "plan_price", "all_", "suggest")
    },
}
ON_SPARK = {
    "report": "on Spark: report over the request logs, not html; drop --engine spark for the rest",
    "whatif": "on Spark: --route-to, --share, --batch, --max-output-tokens, --compress-input, "
    "--cache-hit-rate; drop --engine spark for the rest",
}


def check_whatif(levers: Any) -> None:
    """A scenario (flags, or a [scenarios.NAME] of the config) whose levers all run on Spark."""
    used = {
        "--max-steps": levers.max_steps is not None,
        "--cap-user-cost": levers.cap_user_cost is not None,
        "--prompt-cache": levers.prompt_cache is not None,
        "--plan-price": bool(levers.plan_price),
    }
    for option, on in used.items():
        if on:
            raise LlmcostError(f"whatif {option} does not run on Spark", hint=ON_SPARK["whatif"])


def open_for(lake: str | None, engine: dict[str, Any]) -> SparkConnection:
    """The Spark connection for the CLI's --engine spark, once the command is known to run there."""
    command, params = engine.get("command"), engine.get("params") or {}
    if lake is None:
        raise LlmcostError(
            "--engine spark reads a lake",
            hint="add --lake DIR (written by `llmcost export --lake DIR`)",
        )
    if command not in SPARK_COMMANDS:
        raise LlmcostError(
            f"{command} does not run on Spark",
            hint="--engine spark runs report and whatif; drop it here",
        )
    for name, bad in NOT_ON_SPARK[command].items():
        value = params.get(name)
        given = value not in (None, False) and not (isinstance(value, list | tuple) and not value)
        if (bad is None and given) or (bad is not None and value in bad):
            option = "--format" if name == "fmt" else "--" + name.rstrip("_").replace("_", "-")
            shown = option if value is True or bad is None else f"{option} {value}"
            raise LlmcostError(f"{command} {shown} does not run on Spark", hint=ON_SPARK[command])
    return connect(lake, engine.get("master") or "local[*]", engine.get("conf") or [])


def session(master: str, conf: list[str]) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise LlmcostError(
            "--engine spark needs PySpark", hint="pip install 'llmcost[spark]' (and Java 17)"
        ) from None
    base = SparkSession.builder
    base = base.remote(master) if master.startswith("sc://") else base.master(master)
    builder = (
        base.appName("llmcost")
        .config("spark.sql.session.timeZone", "UTC")
        # exact money: a DECIMAL product keeps its scale (Spark would round it to 6 places)
        .config("spark.sql.decimalOperations.allowPrecisionLoss", "false")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
    )
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep:
            raise LlmcostError(f"cannot read --spark-conf {item!r}", hint="use KEY=VALUE")
        builder = builder.config(key.strip(), value.strip())
    spark = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    spark.sparkContext.setLogLevel("OFF")  # a handled error is not news
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return spark


def _literal(value: Any) -> str:
    """A bound parameter as DuckDB SQL text (before transpiling)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, Decimal)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def bind(sql: str, params: list[Any] | None) -> str:
    """SQL with each `?` outside a string literal replaced by its parameter."""
    if not params:
        return sql
    out, values, quoted = [], iter(params), False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            out.append(_literal(next(values)))
        else:
            out.append(ch)
    return "".join(out)


def _wide_integers() -> dict[Any, str]:
    from sqlglot import exp

    t = exp.DataType.Type
    wide = "DECIMAL(38,0)"
    return {t.INT128: wide, t.UINT128: wide, t.UBIGINT: "DECIMAL(20,0)", t.BIGINT: wide}


WIDE_INTEGERS: dict[Any, str] = {}


def _spark_nodes(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.DataType) and node.this in WIDE_INTEGERS:
        # Spark has no 128-bit integer, and its sum of BIGINTs wraps past 2^63 where DuckDB's widens
        # to HUGEINT: integers the metric code computes (cost units, sums of 1M requests' units
        # pass 2^63) are DECIMAL(38,0) on Spark, whose sums stay exact
        return exp.DataType.build(WIDE_INTEGERS[node.this])
    limit = node.args.get("limit") if isinstance(node, exp.Select) else None
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Subquery):
        # Spark's LIMIT takes a constant only: the first rows by a row number instead
        top = node.copy()
        order, cap = top.args.pop("order", None), top.args.pop("limit").expression
        top = top.select(
            exp.alias_(exp.Window(this=exp.Anonymous(this="ROW_NUMBER"), order=order), "lc_rn")
        )
        return (
            exp.select("*")
            .from_(top.subquery("lc_top"))
            .where(exp.LTE(this=exp.column("lc_rn"), expression=cap))
        )
    if (
        isinstance(node, exp.Cast)
        and node.to.this in WIDE_INTEGERS
        and isinstance(node.this.unnest(), exp.DPipe)
        and node.this.unnest().this == exp.Literal.string("0x")
    ):
        # DuckDB reads '0x…' as a hex integer (whatif's --share by the md5 of request_id);
        # Spark casts it to NULL: conv(…, 16, 10) says it in decimal digits
        digits = exp.Anonymous(
            this="CONV",
            expressions=[
                node.this.unnest().expression,
                exp.Literal.number(16),
                exp.Literal.number(10),
            ],
        )
        return exp.cast(digits, exp.DataType.build(WIDE_INTEGERS[node.to.this]))
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArrayAgg):
        # list(DISTINCT x ORDER BY x) FILTER (WHERE …): Spark's collect_list keeps no order, and
        # gives [] where DuckDB gives NULL; the sorted set, NULL when empty, is the same list
        inner = node.this.this
        order = inner if isinstance(inner, exp.Order) else None
        arg = order.this if order is not None else inner
        if isinstance(arg, exp.Distinct) and (order is None or len(order.expressions) == 1):
            value = arg.expressions[0]
            agg = exp.Filter(
                this=exp.Anonymous(this="COLLECT_SET", expressions=[value.copy()]),
                expression=node.expression.copy(),
            )
            sorted_ = exp.Anonymous(this="ARRAY_SORT", expressions=[agg])
            size = exp.Anonymous(this="SIZE", expressions=[sorted_.copy()])
            filled = exp.GT(this=size, expression=exp.Literal.number(0))
            return exp.Case(ifs=[exp.If(this=filled, true=sorted_.copy())])
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        # DuckDB's quantile_cont is Spark's exact `percentile` (both interpolate linearly), not
        # percentile_approx; Spark's percentile_cont takes no list of fractions
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        if name == "list_position":  # DuckDB: NULL when absent; Spark's array_position: 0
            pos = exp.Anonymous(this="ARRAY_POSITION", expressions=node.expressions)
            return exp.Nullif(this=pos, expression=exp.Literal.number(0))
        if name in ("lc_epoch_ms", "lc_epoch"):  # of a DATE too, as DuckDB's are
            ts = [exp.cast(e, exp.DataType.build("TIMESTAMP")) for e in node.expressions]
            if name == "lc_epoch_ms":
                return exp.Anonymous(this="UNIX_MILLIS", expressions=ts)
            micros = exp.Anonymous(this="UNIX_MICROS", expressions=ts)
            return exp.Div(this=micros, expression=exp.Literal.number("1e6"))
    return node


def _key(name: str) -> str:
    """A Select's argument as this sqlglot names it (`from_`, `with_` since 28; `from`, `with` before)."""
    from sqlglot import exp

    return name + "_" if name + "_" in exp.Select.arg_types else name


def _replacing(node: Any) -> bool:
    """A `*` or `t.*` with DuckDB's REPLACE modifier."""
    from sqlglot import exp

    if isinstance(node, exp.Star) and isinstance(node.parent, exp.Column):
        return False  # seen as its column, `t.*`
    star = node.this if isinstance(node, exp.Column) else node
    return isinstance(star, exp.Star) and bool(star.args.get("replace"))


def _expand_replace(tree: Any, columns: Callable[[str], list[str]]) -> Any:
    """DuckDB's `SELECT * REPLACE (e AS c)` as Spark's explicit column list: the star's columns
    are Spark's own answer for the same FROM (an analysed, not run, `SELECT * ... LIMIT 0` with the
    CTEs before it), each replaced one in its place. Innermost and earliest first, so that every
    probe is plain Spark SQL."""
    from sqlglot import exp

    while True:
        stars = [n for n in tree.find_all(exp.Star, exp.Column) if _replacing(n)]
        if not stars:
            return tree
        for node in stars:
            select = node.find_ancestor(exp.Select)
            before: list[Any] = []  # the CTEs the star's FROM may name
            up: Any = node.parent
            while up is not None:
                if isinstance(up, exp.CTE):
                    ctes = list(getattr(up.parent, "expressions", []))
                    before = ctes[: next(i for i, c in enumerate(ctes) if c is up)]
                    break
                if isinstance(up, exp.Select) and up.args.get(_key("with")) is not None:
                    before = list(up.args[_key("with")].expressions)
                    break
                up = up.parent
            probe = exp.select(
                exp.Column(this=exp.Star(), table=node.args.get("table"))
                if isinstance(node, exp.Column)
                else exp.Star()
            )
            probe.set(_key("from"), select.args[_key("from")].copy())
            probe.set("joins", [j.copy() for j in select.args.get("joins") or []])
            pending = [n for n in probe.find_all(exp.Star, exp.Column) if _replacing(n)]
            pending += [
                n for c in before for n in c.find_all(exp.Star, exp.Column) if _replacing(n)
            ]
            if pending:
                continue
            if before:
                probe.set(_key("with"), exp.With(expressions=[c.copy() for c in before]))
            probe = probe.limit(0)
            names = columns(_to_spark_sql(probe))
            star = node.this if isinstance(node, exp.Column) else node
            new = {a.alias.lower(): a for a in star.args["replace"]}
            table = node.args.get("table")
            out = [
                new[c.lower()].copy()
                if c.lower() in new
                else exp.column(c, table=table.copy() if table else None, quoted=True)
                for c in names
            ]
            position = select.expressions.index(node)
            select.set(
                "expressions",
                select.expressions[:position] + out + select.expressions[position + 1 :],
            )
            break
        else:
            raise LlmcostError("the Spark engine cannot expand a SELECT * REPLACE here")


def _to_spark_sql(tree: Any) -> str:
    return str(tree.transform(_spark_nodes).sql(dialect="spark"))


def to_spark(sql: str, columns: Callable[[str], list[str]] | None = None) -> str:
    """One DuckDB statement of the metric code as Spark SQL. `columns` answers the column names of
    a Spark query, for the star modifiers Spark lacks (whatif's scenario steps)."""
    import sqlglot

    if not WIDE_INTEGERS:
        WIDE_INTEGERS.update(_wide_integers())
    for pattern, repl in RENAMES:
        sql = pattern.sub(repl, sql)
    tree = sqlglot.parse_one(sql, read="duckdb")
    if columns is not None:
        tree = _expand_replace(tree, columns)
    elif any(_replacing(n) for n in tree.find_all(sqlglot.exp.Star, sqlglot.exp.Column)):
        raise LlmcostError("the Spark engine needs a session to expand SELECT * REPLACE")
    return _to_spark_sql(tree)


class _Result:
    def __init__(self, rows: list[tuple[Any, ...]], names: list[str]) -> None:
        self.rows, self.description = rows, [(n,) for n in names]

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def to_arrow_table(self) -> Any:
        """The rows as an Arrow table, as DuckDB's result gives it (documents.fetch_frame)."""
        import pyarrow as pa

        columns = {}
        for i, (name,) in enumerate(self.description):
            values = [r[i] for r in self.rows]
            try:
                columns[name] = pa.array(values)
            except OverflowError:  # a HUGEINT beyond int64, as DuckDB's DECIMAL(38,0)
                columns[name] = pa.array(
                    [None if v is None else Decimal(v) for v in values], pa.decimal128(38, 0)
                )
        return pa.table(columns)


class SparkConnection:
    """What metrics.py needs of a DuckDB connection, over a SparkSession."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.schemas: dict[str, list[tuple[str, str]]] = {}
        self.cached: dict[str, Any] = {}

    def columns(self, sql: str) -> list[str]:
        """A Spark query's column names (analysed, not run)."""
        return list(self.spark.sql(sql).columns)

    def execute(self, sql: str, params: list[Any] | None = None) -> _Result:
        import duckdb
        from pyspark.errors import AnalysisException

        try:
            return self._execute(bind(sql, params))
        except AnalysisException as exc:
            if "TABLE_OR_VIEW_NOT_FOUND" in str(exc):  # as DuckDB says it: the rollups are absent
                raise duckdb.CatalogException(str(exc).splitlines()[0]) from None
            raise

    def _execute(self, sql: str) -> _Result:
        if _TEMP_LOOKUP.search(sql):  # metrics._drop_temp: is NAME a temp table or view?
            found = re.findall(r"'([^']*)'", sql)
            name = found[-1] if found else ""
            exists = self.spark.catalog.tableExists(name)
            return _Result([("VIEW",)] if exists else [], ["kind"])
        m = _DROP.match(sql)
        if m:
            self._drop(m.group(1))
            return _Result([], [])
        m = _CREATE_COLS.match(sql)
        if m and not _CREATE_AS.match(sql):
            self._table(m.group(1), m.group(2), [])
            return _Result([], [])
        m = _CREATE_AS.match(sql)
        if m:
            df = self.spark.sql(to_spark(m.group(2), self.columns))
            self._drop(m.group(1))
            df = df.cache()
            df.count()  # materialise now, as a DuckDB temp table is
            self.cached[m.group(1)] = df
            df.createOrReplaceTempView(m.group(1))
            return _Result([], [])
        df = self.spark.sql(to_spark(sql, self.columns))
        if not df.columns:
            return _Result([], [])
        return _Result([tuple(map(_integral, r)) for r in df.collect()], list(df.columns))

    def executemany(self, sql: str, rows: list[Any]) -> None:
        m = _INSERT.match(sql)
        if not m or m.group(1) not in self.schemas:
            raise LlmcostError(f"the Spark engine cannot run {sql.split()[0]} here")
        name = m.group(1)
        self._table(name, None, [tuple(r) for r in rows])

    def _drop(self, name: str) -> None:
        old = self.cached.pop(name, None)
        if old is not None:
            old.unpersist()
        self.spark.catalog.dropTempView(name)

    def _table(self, name: str, columns: str | None, rows: list[tuple[Any, ...]]) -> None:
        """A temp table of declared columns (the price rows), with ROWS."""
        if columns is not None:
            cols = [
                c.strip().split(None, 1) for c in re.split(r",(?![^()]*\))", columns) if c.strip()
            ]
            self.schemas[name] = [(c[0], c[1].strip()) for c in cols]
        schema = ", ".join(f"{c} {_spark_type(t)}" for c, t in self.schemas[name])
        df = (
            self.spark.createDataFrame(rows, schema)
            if rows
            else self.spark.createDataFrame([], schema)
        )
        df.createOrReplaceTempView(name)

    def close(self) -> None:
        for df in self.cached.values():
            df.unpersist()


def _integral(value: Any) -> Any:
    """A DECIMAL(p,0) back as the int DuckDB's HUGEINT gives."""
    if isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent == 0:
        return int(value)
    return value


def _spark_type(duck: str) -> str:
    t = duck.strip().upper()
    return t if t.startswith("DECIMAL") else SPARK_TYPES.get(t, t)


def connect(lake: str, master: str = "local[*]", conf: list[str] | None = None) -> SparkConnection:
    """The lake's tables as Spark temp views named as the store's, for the metric code."""
    import duckdb

    from llmcost.store.migrations import migrate

    spark = session(master, conf or [])
    target = Target(lake)
    manifest = target.read_manifest()
    if manifest is None:
        raise LlmcostError(
            f"no lake at {lake}", hint=f"write one with `llmcost export --lake {lake}`"
        )
    schema = duckdb.connect(":memory:")
    migrate(schema)
    tables = manifest.get("tables", {})
    for name in STORE_TABLES:
        cols = [(r[0], r[1]) for r in schema.execute(f"DESCRIBE {name}").fetchall()]
        select = ", ".join(f"CAST({c} AS {_spark_type(t)}) AS {c}" for c, t in cols)
        files = [f for p in tables.get(name, {}).get("partitions", {}).values() for f in p["files"]]
        if files:
            prefix = "s3a://" if target.remote else "file://"
            df = spark.read.parquet(*(prefix + target.path(f) for f in files))
            df.createOrReplaceTempView(f"lc_lake_{name}")
            rowid = ", xxhash64(source_kind, request_id) AS rowid" if name == "requests" else ""
            spark.sql(
                f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {select}{rowid} FROM lc_lake_{name}"
            )
        else:
            empty = ", ".join(f"CAST(NULL AS {_spark_type(t)}) AS {c}" for c, t in cols)
            spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {empty} WHERE false")
    return SparkConnection(spark)
