"""The Parquet lake: the store's tables, priced, partitioned by month, for data past one file.

`export` writes the priced requests (their cost columns and the price version used), the price
rows, revenue, the usage and billed tables and the file manifest as Parquet under a local folder
or `s3://bucket/prefix`; `connect` opens a lake as an in-memory DuckDB whose tables look like the
store's, so every read command runs unchanged over it. Layout and guarantees: docs/scale.md.

A lake is what its `_manifest.json` lists. An export writes new part files under new names, then
the manifest (write and rename; one PUT on S3), then deletes what the old manifest listed and the
new one does not: a reader sees the old lake or the new one, never half of each. A partition is
rewritten only when its fingerprint (row count, a sum of row hashes, the price set for requests)
changed, so exporting unchanged data writes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmcost import pricing
from llmcost.errors import InputError, LlmcostError
from llmcost.query import now
from llmcost.store.sql import ident, literal

FORMAT = "llmcost.lake/1"
MANIFEST = "_manifest.json"
STAGING = "_staging-"
# The cost columns a lake's requests carry beside the store's columns.
PRICED_COLUMNS = (
    "price_model", "price_provider", "tier", "price_valid_from", "list_cost_usd", "cost_usd",
)  # fmt: skip


@dataclass(frozen=True)
class Spec:
    """One table of the lake: its partition key and the SQL of its value (None: one part)."""

    name: str
    key: str | None = None
    value: str | None = None


# revenue has a `month` column of its own (a DATE): its partitions are named `period=` (SPEC §6's alias)
TABLES = (
    Spec("requests", "month", "strftime(ts, '%Y-%m')"),
    Spec("usage", "month", "strftime(bucket_start, '%Y-%m')"),
    Spec("billed", "month", "strftime(period_start, '%Y-%m')"),
    Spec("revenue", "period", "strftime(month, '%Y-%m')"),
    Spec("files"),
    Spec("prices"),
)
STORE_TABLES = ("requests", "usage", "billed", "revenue", "files")
WHOLE = "all"  # the partition name of a table that is not partitioned


# ---------------------------------------------------------------- where the lake lives


class Target:
    """A lake's root on a filesystem: a local folder, or `s3://bucket/prefix` (pyarrow's S3 client,
    credentials and region from the usual AWS environment; AWS_ENDPOINT_URL for another endpoint)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.remote = text.startswith("s3://")
        if self.remote:
            self.root = text[len("s3://") :].strip("/")
            if not self.root:
                raise InputError(f"--lake {text}: no bucket", hint="use s3://BUCKET/PREFIX")
            self.fs: Any = _s3()
        else:
            from pyarrow import fs

            path = Path(text).expanduser().resolve()
            if path.exists() and not path.is_dir():
                raise InputError(f"--lake {text} is a file", hint="give a folder for the lake")
            self.root = str(path)
            self.fs = fs.LocalFileSystem()

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def read_manifest(self) -> dict[str, Any] | None:
        from pyarrow import fs

        try:
            info = self.fs.get_file_info(self.path(MANIFEST))
            if info.type == fs.FileType.NotFound:
                return None
            with self.fs.open_input_stream(self.path(MANIFEST)) as fh:
                doc = json.loads(fh.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot read the lake manifest {self.text}/{MANIFEST}: {exc}"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(
                f"{self.text}/{MANIFEST} is not a lake this llmcost reads (format {doc.get('format') if isinstance(doc, dict) else None!r})",
                hint=f"it reads {FORMAT}; export the database again into a new folder",
            )
        return doc

    def write_manifest(self, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")
        if self.remote:  # one PUT: S3 replaces an object whole
            with self.fs.open_output_stream(self.path(MANIFEST)) as fh:
                fh.write(data)
            return
        tmp = Path(self.root) / f".{MANIFEST}.{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        os.replace(tmp, Path(self.root) / MANIFEST)

    def put(self, local: Path, rel: str) -> None:
        """Place a finished part file at REL (a rename on a local lake, an upload to S3)."""
        if self.remote:
            from pyarrow import fs

            fs.copy_files(
                str(local), self.path(rel),
                source_filesystem=fs.LocalFileSystem(), destination_filesystem=self.fs,
            )  # fmt: skip
            return
        dest = Path(self.path(rel))
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, dest)

    def stray(self, keep: set[str]) -> list[str]:
        """Part files under the table folders that KEEP (the manifest's files) does not list."""
        from pyarrow import fs

        out = []
        for spec in TABLES:
            sel = fs.FileSelector(self.path(spec.name), allow_not_found=True, recursive=True)
            for info in self.fs.get_file_info(sel):
                rel = info.path[len(self.root) + 1 :]
                if info.type == fs.FileType.File and rel.endswith(".parquet") and rel not in keep:
                    out.append(rel)
        return out

    def delete(self, rels: list[str]) -> None:
        for rel in rels:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(self.path(rel))
        if not self.remote:  # empty partition folders of deleted parts
            for spec in TABLES:
                base = Path(self.root) / spec.name
                if base.is_dir():
                    for sub in sorted(base.iterdir()):
                        if sub.is_dir() and not any(sub.iterdir()):
                            sub.rmdir()

    def staging(self) -> Path:
        """A fresh folder for the parts being written: inside the lake when local (a rename then
        places them), a temporary folder when the lake is remote. Leftovers of an interrupted
        export are removed first."""
        if self.remote:
            return Path(tempfile.mkdtemp(prefix="llmcost-lake-"))
        root = Path(self.root)
        root.mkdir(parents=True, exist_ok=True)
        for old in root.glob(f"{STAGING}*"):
            shutil.rmtree(old, ignore_errors=True)
        stage = root / f"{STAGING}{uuid.uuid4().hex}"
        stage.mkdir()
        return stage


def _s3() -> Any:
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    options: dict[str, Any] = {"region": region}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return fs.S3FileSystem(**options)


# ---------------------------------------------------------------- export


@dataclass
class TableExport:
    table: str
    partitions: int = 0
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: int = 0

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExportSummary:
    lake: str
    tables: list[TableExport] = field(default_factory=list)
    files_written: int = 0
    files_deleted: int = 0

    @property
    def changed(self) -> bool:
        return self.files_written > 0 or self.files_deleted > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": "llmcost.lake_export/1",
            "lake": self.lake,
            "changed": self.changed,
            "files_written": self.files_written,
            "files_deleted": self.files_deleted,
            "tables": [t.as_json() for t in self.tables],
        }


def _columns(con: Any, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {relation}").fetchall()]


def _priced_requests_sql() -> str:
    return f"""SELECT r.*, p.model_id AS price_model, p.price_provider, p.tier,
                      p.valid_from AS price_valid_from,
                      {pricing.cost_sql()} AS list_cost_usd, {pricing.cost_usd_sql()} AS cost_usd
               FROM requests r
               LEFT JOIN lc_prices p ON p.model = r.model AND p.host = coalesce(r.provider, '')
                                     AND r.ts >= p.valid_from AND r.ts < p.valid_to"""


def _stored(name: str) -> str:
    """The relation a lake table comes from: a store table, or the price rows of this export."""
    return "lc_prices" if name == "prices" else name


def _source(name: str) -> str:
    """What the lake table holds: the stored rows; the requests with their costs."""
    return f"({_priced_requests_sql()})" if name == "requests" else _stored(name)


def _fingerprints(con: Any, spec: Spec, hashed: list[str], salt: str) -> dict[str, tuple[int, str]]:
    """partition -> (rows, fingerprint) of the table as it is in the store now."""
    part = spec.value or literal(WHOLE)
    cols = ", ".join(ident(c) for c in hashed)
    rows = con.execute(
        f"SELECT {part} AS part, count(*), sum(hash({cols})::HUGEINT)::VARCHAR FROM {_stored(spec.name)} GROUP BY 1"
    ).fetchall()
    return {str(p): (int(n), f"{n}:{h}:{salt}") for p, n, h in rows}


def export(con: Any, prices: pricing.PriceTable, target_text: str) -> ExportSummary:
    """Write the store behind CON into the lake at TARGET_TEXT, rewriting only changed partitions."""
    target = Target(target_text)
    try:
        return _export(con, prices, target)
    except OSError as exc:  # a full disk, a denied write, a missing bucket, bad credentials
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"cannot write the lake {target_text}: {first}",
            hint="parts already written are not listed in the manifest; run the export again",
        ) from None


def _export(con: Any, prices: pricing.PriceTable, target: Target) -> ExportSummary:
    target_text = target.text
    old = target.read_manifest()
    pricing.register(con, prices)
    old_tables: dict[str, Any] = (old or {}).get("tables", {})
    summary = ExportSummary(lake=target_text)
    job = _Job(con, target, prices.sha256)
    try:
        new_tables = {
            spec.name: job.table(spec, old_tables.get(spec.name, {}), summary) for spec in TABLES
        }
    finally:
        job.close()
    keep = _listed(new_tables)
    gone = (_listed(old_tables) - keep) | set(target.stray(keep))
    if summary.files_written or gone or old is None:
        target.write_manifest(
            {
                "format": FORMAT,
                "exported_at": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "pricing": {"files": prices.files, "sha256": prices.sha256},
                "tables": new_tables,
            }
        )
    summary.files_deleted = len(gone)
    target.delete(sorted(gone))  # after the commit: until then the old manifest's files are read
    return summary


def _listed(tables: dict[str, Any]) -> set[str]:
    """Every part file a manifest's tables list."""
    return {
        f for t in tables.values() for p in t.get("partitions", {}).values() for f in p["files"]
    }


class _Job:
    """One export: the parts it writes share a staging folder and a name token."""

    def __init__(self, con: Any, target: Target, price_sha: str) -> None:
        self.con, self.target, self.price_sha = con, target, price_sha
        self.stage: Path | None = None
        self.token = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]

    def close(self) -> None:
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)

    def table(self, spec: Spec, before: dict[str, Any], summary: ExportSummary) -> dict[str, Any]:
        """Export one table: write its changed partitions; its manifest entry."""
        con = self.con
        store_cols = _columns(con, _stored(spec.name))
        # the requests' cost columns follow from their tokens and the price set
        salt = self.price_sha if spec.name in ("requests", "prices") else ""
        now_parts = _fingerprints(con, spec, [c for c, _ in store_cols], salt)
        old_parts = before.get("partitions", {})
        changed = sorted(
            p for p, (_, fp) in now_parts.items() if old_parts.get(p, {}).get("fingerprint") != fp
        )
        stats = TableExport(
            spec.name, partitions=len(now_parts), unchanged=len(now_parts) - len(changed),
            removed=len(set(old_parts) - set(now_parts)), rows=sum(n for n, _ in now_parts.values()),
        )  # fmt: skip
        parts = {p: old_parts[p] for p in now_parts if p not in changed}
        if changed:
            self.stage = self.stage or self.target.staging()
            for part, files in _write(con, spec, changed, self.stage).items():
                placed = []
                for i, local in enumerate(files):
                    rel = _part_path(spec, part, f"part-{self.token}-{i}.parquet")
                    self.target.put(local, rel)
                    placed.append(rel)
                n, fp = now_parts[part]
                parts[part] = {"rows": n, "fingerprint": fp, "files": placed}
                summary.files_written += len(placed)
                stats.written += 1
        summary.tables.append(stats)
        cols = _columns(con, _source(spec.name)) if spec.name == "requests" else store_cols
        return {
            "partitioned_by": spec.key,
            "columns": [{"name": c, "type": t} for c, t in cols],
            "partitions": dict(sorted(parts.items())),
        }


def _part_path(spec: Spec, part: str, name: str) -> str:
    return f"{spec.name}/{spec.key}={part}/{name}" if spec.key else f"{spec.name}/{name}"


def _write(con: Any, spec: Spec, parts: list[str], stage: Path) -> dict[str, list[Path]]:
    """Write the rows of PARTS of SPEC under STAGE with one COPY; partition -> its part files."""
    out = stage / spec.name
    if spec.key is None:
        out.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT * FROM {_source(spec.name)}) TO {literal(str(out / 'data.parquet'))} (FORMAT PARQUET)"
        )
        return {WHOLE: [out / "data.parquet"]}
    wanted = ", ".join(literal(p) for p in parts)
    con.execute(
        f"""COPY (SELECT * FROM (SELECT *, {spec.value} AS {ident(spec.key)} FROM {_source(spec.name)})
                  WHERE {ident(spec.key)} IN ({wanted}))
            TO {literal(str(out))} (FORMAT PARQUET, PARTITION_BY ({ident(spec.key)}))"""
    )
    found: dict[str, list[Path]] = {}
    for part in parts:
        folder = out / f"{spec.key}={part}"
        found[part] = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    return found


# ---------------------------------------------------------------- read


def connect(target_text: str) -> Any:
    """An in-memory DuckDB whose requests, usage, billed, revenue and files are the lake's (views
    over local Parquet; read into memory from S3), every other table empty, as a fresh store has
    them. No report rollups: those are kept only in a database file."""
    import duckdb

    from llmcost.store.migrations import migrate

    target = Target(target_text)
    manifest = target.read_manifest()
    if manifest is None:
        raise InputError(
            f"no lake at {target_text} (no {MANIFEST})",
            hint=f"write one with `llmcost export --lake {target_text}`",
        )
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    migrate(con)
    for name in ("report_rollups", "rollup_fine", "rollup_groups", "rollup_tasks"):
        con.execute(f"DROP TABLE {name}")
    tables = manifest.get("tables", {})
    for name in STORE_TABLES:
        files = [f for p in tables.get(name, {}).get("partitions", {}).values() for f in p["files"]]
        if not files:
            continue  # an empty table stays the empty table of the schema
        want = _columns(con, name)
        con.execute(f"DROP TABLE {name}")
        try:
            if target.remote:
                _load_remote(con, target, name, files, want)
            else:
                _view_local(con, target, name, files, want)
        except duckdb.Error as exc:
            raise InputError(
                f"cannot read the lake's {name} at {target_text}: {str(exc).splitlines()[0]}",
                hint="export the database to it again",
            ) from None
    return con


def _select(have: dict[str, str], want: list[tuple[str, str]]) -> str:
    """The store's columns from a part's: cast only where Parquet gave another type (a cast to JSON
    parses every value)."""
    return ", ".join(
        ident(c) if have.get(c) == t else f"CAST({ident(c)} AS {t}) AS {ident(c)}" for c, t in want
    )


def _view_local(
    con: Any, target: Target, name: str, files: list[str], want: list[tuple[str, str]]
) -> None:
    paths = [literal(target.path(f)) for f in files]
    have = dict(_columns(con, f"SELECT * FROM read_parquet({paths[0]}, hive_partitioning = false)"))
    # whatif reads `rowid` (a row's identity): a view has none, so each file's row number stands in
    scans = " UNION ALL ".join(
        f"SELECT *, file_row_number + {i << 40} AS rowid FROM read_parquet({p}, "
        "file_row_number = true, hive_partitioning = false)"
        for i, p in enumerate(paths)
    )
    con.execute(f"CREATE VIEW {name} AS SELECT {_select(have, want)}, rowid FROM ({scans})")


def _load_remote(
    con: Any, target: Target, name: str, files: list[str], want: list[tuple[str, str]]
) -> None:
    import pyarrow.dataset as ds

    try:
        data = ds.dataset([target.path(f) for f in files], filesystem=target.fs, format="parquet")
        arrow = data.to_table()
    except OSError as exc:
        raise InputError(f"cannot read the lake's {name} at {target.text}: {exc}") from None
    con.register("lc_lake_arrow", arrow)
    have = dict(_columns(con, "lc_lake_arrow"))
    con.execute(f"CREATE TABLE {name} AS SELECT {_select(have, want)} FROM lc_lake_arrow")
    con.unregister("lc_lake_arrow")


def describe(target_text: str) -> dict[str, Any]:
    """The manifest of the lake at TARGET_TEXT (an error when there is none)."""
    manifest = Target(target_text).read_manifest()
    if manifest is None:
        raise LlmcostError(f"no lake at {target_text} (no {MANIFEST})")
    return manifest
