"""An s3:// lake round trip against a local S3 endpoint (moto's server on 127.0.0.1): export, export
again (nothing written), then report and whatif from the bucket, as from the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import write_jsonl
from tests.test_lake import _doc, _req, _same

BUCKET = "llmcost-lake"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server_mod = pytest.importorskip(
        "moto.server", reason="moto[server] is not installed: pip install 'moto[server]'"
    )
    pytest.importorskip("flask", reason="moto's server needs flask: pip install 'moto[server]'")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The AWS environment a user would set, pointed at the local endpoint; an empty bucket."""
    from pyarrow import fs

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    client = fs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"), scheme="http", region="us-east-1",
        allow_bucket_creation=True, allow_bucket_deletion=True,
    )  # fmt: skip
    if client.get_file_info(BUCKET).type != fs.FileType.NotFound:
        client.delete_dir(BUCKET)
    client.create_dir(BUCKET)
    return client


def test_s3_round_trip(s3: Any, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from pyarrow import fs

    from llmcost.synth import generate

    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    generate(tmp_path / "logs", requests=600, seed=5)
    assert run_cli("ingest", "-q", str(tmp_path / "logs"))[0] == 0
    lake = f"s3://{BUCKET}/acme/llmcost"
    code, out, err = run_cli("export", "--lake", lake, "-f", "json")
    assert code == 0, err
    assert json.loads(out)["files_written"] == 8  # 3 months of requests and revenue, files, prices
    stored = s3.get_file_info(fs.FileSelector(f"{BUCKET}/acme/llmcost", recursive=True))
    names = sorted(i.path for i in stored if i.type == fs.FileType.File)
    assert f"{BUCKET}/acme/llmcost/_manifest.json" in names
    assert len([n for n in names if "/requests/month=" in n]) == 3

    code, out, err = run_cli("export", "--lake", lake, "-f", "json")
    assert code == 0 and json.loads(out)["changed"] is False, err

    for args in (
        ["report"],
        ["report", "--by", "feature,customer,user,month"],
        ["whatif", "--max-steps", "2", "--route-to", "haiku", "--by", "feature"],
    ):
        code, db_out, err = run_cli(*args, "-f", "json")
        assert code == 0, err
        code, lake_out, err = run_cli("--lake", lake, *args, "-f", "json")
        assert code == 0, err
        _same(_doc(lake_out), _doc(db_out))


def test_s3_errors_are_one_line(s3: Any, run_cli: Any, tmp_path: Path) -> None:
    code, _, err = run_cli("--lake", f"s3://{BUCKET}/nothing-here", "report")
    assert code == 2 and "no lake at s3://" in err
    # a database to export: with none, export stops before the lake (no llmcost database at ...)
    write_jsonl(tmp_path / "one.jsonl", [_req("a", "2026-01-10T10:00:00Z")])
    assert run_cli("ingest", "-q", str(tmp_path / "one.jsonl"))[0] == 0
    code, _, err = run_cli("export", "--lake", "s3://no-such-bucket-here/x")
    assert code == 2 and "cannot write the lake s3://no-such-bucket-here/x" in err, err
    assert err.count("\n") == 1
    code, _, err = run_cli("export", "--lake", "s3://")
    assert code == 2 and "no bucket" in err
