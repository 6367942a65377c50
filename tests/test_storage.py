"""Object storage layer against the local filesystem and a real S3 API (moto server on loopback)."""

from __future__ import annotations

import os
import tempfile

# Airflow reads its configuration on import; tests/conftest.py normally sets this
# up first, the defaults below only matter when this module runs on its own.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cc-storage-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import csv
import datetime as dt
import gc
import gzip
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contact_center_provider.storage import (
    AtomicWriter,
    CsvTableWriter,
    Manifest,
    ManifestEntry,
    MissingStorageExtraError,
    ParquetTableWriter,
    atomic_open,
    clear_client_cache,
    delete_prefix,
    exists,
    is_local,
    join_uri,
    list_uris,
    read_bytes,
    read_manifest,
    split_uri,
    transport_params,
    write_bytes,
    write_manifest,
    write_table,
)

BUCKET = "cc-storage-tests"
CONN_ID = "test_s3"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class S3Env:
    endpoint: str
    client: Any
    bucket: str


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Env]:
    """moto's S3 server on a kernel-chosen loopback port, reached through an Airflow connection."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
            # Defensive: nothing here may ever reach real AWS credentials.
            for key, value in {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SECURITY_TOKEN": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }.items():
                mp.setenv(key, value)
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            client.create_bucket(Bucket=BUCKET)
            yield S3Env(endpoint=endpoint, client=client, bucket=BUCKET)
            clear_client_cache()
    finally:
        server.stop()


@dataclass
class Target:
    """A fresh, empty place to write: a local directory or an S3 prefix."""

    kind: str
    base: str
    conn_id: str | None
    s3: S3Env | None = None

    def uri(self, *parts: str) -> str:
        return join_uri(self.base, *parts)

    def raw_listing(self) -> list[str]:
        """Everything under the base, temp files and all (not via the code under test)."""
        if self.s3 is None:
            root = Path(split_uri(self.base)[2])
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        prefix = split_uri(self.base)[2]
        response = self.s3.client.list_objects_v2(Bucket=self.s3.bucket, Prefix=prefix)
        return sorted(item["Key"][len(prefix) :] for item in response.get("Contents", []))

    def open_uploads(self) -> list[str]:
        """Multipart uploads still open under the base (S3 only)."""
        if self.s3 is None:
            return []
        prefix = split_uri(self.base)[2]
        response = self.s3.client.list_multipart_uploads(Bucket=self.s3.bucket, Prefix=prefix)
        return [u["Key"][len(prefix) :] for u in response.get("Uploads", [])]


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "local":
        return Target(kind="local", base=str(tmp_path / "zone"), conn_id=None)
    env: S3Env = request.getfixturevalue("s3")
    return Target(kind="s3", base=f"s3://{env.bucket}/{uuid.uuid4().hex}/", conn_id=CONN_ID, s3=env)


@pytest.fixture
def s3_target(s3: S3Env) -> Target:
    return Target(kind="s3", base=f"s3://{s3.bucket}/{uuid.uuid4().hex}/", conn_id=CONN_ID, s3=s3)


class Boom(RuntimeError):
    """The failure injected half-way through a write."""


# --------------------------------------------------------------------------- URIs


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/raw/genesys/a.json", ("s3", "bucket", "raw/genesys/a.json")),
        ("S3A://bucket/k?v=1#x", ("s3a", "bucket", "k?v=1#x")),
        ("gs://bucket", ("gs", "bucket", "")),
        ("azure://container/dir/blob.csv", ("azure", "container", "dir/blob.csv")),
        ("file:///tmp/out%20dir/x.parquet", ("file", None, "/tmp/out dir/x.parquet")),
        ("file://localhost/tmp/x", ("file", None, "/tmp/x")),
        ("/var/data/x.csv", ("file", None, "/var/data/x.csv")),
        ("relative/x.csv", ("file", None, "relative/x.csv")),
    ],
)
def test_split_uri(uri: str, expected: tuple[str, str | None, str]) -> None:
    assert split_uri(uri) == expected


@pytest.mark.parametrize(
    ("base", "parts", "expected"),
    [
        ("s3://bucket/", ("/raw/", "genesys", "x.json"), "s3://bucket/raw/genesys/x.json"),
        ("s3://bucket", ("tables", "conv/"), "s3://bucket/tables/conv/"),
        ("s3://bucket/a//b", ("", "c"), "s3://bucket/a/b/c"),
        ("file:///tmp/out", ("a", "b.parquet"), "file:///tmp/out/a/b.parquet"),
        ("/tmp/out/", ("/a/",), "/tmp/out/a/"),
        ("out", ("a", "b"), "out/a/b"),
        ("gs://b/p", ("dt=2024-01-01", "part-0.parquet"), "gs://b/p/dt=2024-01-01/part-0.parquet"),
    ],
)
def test_join_uri(base: str, parts: tuple[str, ...], expected: str) -> None:
    assert join_uri(base, *parts) == expected


def test_join_uri_refuses_to_climb_out_of_the_base() -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        join_uri("s3://bucket/raw", "../../etc/passwd")


def test_is_local() -> None:
    assert is_local("/tmp/x") and is_local("file:///tmp/x") and is_local("x.csv")
    assert not is_local("s3://b/x") and not is_local("gs://b/x")


def test_s3_client_comes_from_the_airflow_connection(s3: S3Env) -> None:
    client = transport_params(f"s3://{s3.bucket}/x", CONN_ID)["client"]
    assert client.meta.endpoint_url == s3.endpoint
    assert client.meta.region_name == "us-east-1"
    assert transport_params("/tmp/x", CONN_ID) == {}


def test_missing_cloud_provider_names_the_extra() -> None:
    pytest.importorskip("airflow")
    try:
        import airflow.providers.google  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the google provider is installed here")
    with pytest.raises(MissingStorageExtraError, match=r"airflow-provider-contact-center\[gcs\]"):
        transport_params("gs://bucket/x", "google_cloud_default")


def test_every_exported_name_resolves() -> None:
    import contact_center_provider.storage as storage

    assert sorted(storage.__all__) == sorted(storage._EXPORTS)
    for name in storage.__all__:
        assert getattr(storage, name).__name__ == name


def test_package_import_stays_light() -> None:
    code = (
        "import sys, contact_center_provider.storage as s; s.join_uri; s.split_uri;"
        "heavy = [m for m in ('pyarrow', 'boto3', 'smart_open', 'airflow') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------- atomic writes


def test_atomic_open_publishes_only_on_success(target: Target) -> None:
    uri = target.uri("raw", "page-1.json")
    with atomic_open(uri, "w", conn_id=target.conn_id) as handle:
        handle.write('{"page": 1}')
        handle.flush()
        assert not exists(uri, target.conn_id)
    assert exists(uri, target.conn_id)
    assert read_bytes(uri, target.conn_id) == b'{"page": 1}'
    assert target.raw_listing() == ["raw/page-1.json"]
    assert target.open_uploads() == []


def test_atomic_open_error_leaves_nothing(target: Target) -> None:
    uri = target.uri("raw", "page-1.json.gz")
    with pytest.raises(Boom), atomic_open(uri, "wb", conn_id=target.conn_id) as handle:
        handle.write(b"x" * 10_000)
        if target.kind == "s3":
            # The multipart upload exists while writing, so its absence later means it was aborted.
            assert target.open_uploads() == ["raw/page-1.json.gz"]
        raise Boom
    assert not exists(uri, target.conn_id)
    assert target.raw_listing() == []
    assert target.open_uploads() == []


def test_s3_error_after_parts_were_uploaded_aborts_the_upload(s3_target: Target) -> None:
    uri = s3_target.uri("big.bin")
    five_mib = 5 * 1024 * 1024
    writer = AtomicWriter(uri, conn_id=s3_target.conn_id, transport_params={"min_part_size": five_mib})
    writer.stream.write(os.urandom(five_mib + 1024))  # forces one uploaded part
    env = s3_target.s3
    assert env is not None
    (upload,) = env.client.list_multipart_uploads(Bucket=env.bucket)["Uploads"]
    parts = env.client.list_parts(Bucket=env.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    assert len(parts["Parts"]) == 1
    writer.abort()
    assert writer.state == "aborted"
    assert s3_target.raw_listing() == []
    assert s3_target.open_uploads() == []


def test_unfinished_writer_is_never_published_by_garbage_collection(target: Target) -> None:
    uri = target.uri("forgotten.csv")
    writer = AtomicWriter(uri, "w", conn_id=target.conn_id)
    writer.stream.write("a,b\n1,2\n")
    del writer
    gc.collect()
    assert not exists(uri, target.conn_id)
    assert target.raw_listing() == []
    assert target.open_uploads() == []


def test_atomic_replace_keeps_the_old_object_until_commit(target: Target) -> None:
    uri = target.uri("report.txt")
    write_bytes(uri, b"version 1", target.conn_id)
    with pytest.raises(Boom), atomic_open(uri, "wb", conn_id=target.conn_id) as handle:
        handle.write(b"version 2, half")
        raise Boom
    assert read_bytes(uri, target.conn_id) == b"version 1"
    with atomic_open(uri, "wb", conn_id=target.conn_id) as handle:
        handle.write(b"version 2")
        assert read_bytes(uri, target.conn_id) == b"version 1"
    assert read_bytes(uri, target.conn_id) == b"version 2"
    assert target.raw_listing() == ["report.txt"]


def test_gzip_by_extension_is_atomic_and_counted(target: Target) -> None:
    uri = target.uri("raw", "pages.txt.gz")
    payload = ("línea\n" * 2000).encode("utf-8")
    stored = write_bytes(uri, payload, target.conn_id)
    raw = read_bytes(uri, target.conn_id)
    assert raw[:2] == GZIP_MAGIC
    assert stored == len(raw) < len(payload)
    assert gzip.decompress(raw) == payload
    assert read_bytes(uri, target.conn_id, decompress=True) == payload


def test_local_temp_file_is_hidden_and_in_the_target_directory(tmp_path: Path) -> None:
    uri = str(tmp_path / "deep" / "dir" / "x.bin")
    with atomic_open(uri) as handle:
        handle.write(b"abc")
        handle.flush()
        names = os.listdir(tmp_path / "deep" / "dir")
        assert len(names) == 1 and names[0].startswith(".x.bin.tmp-")
        assert list_uris(str(tmp_path)) == []
    assert os.listdir(tmp_path / "deep" / "dir") == ["x.bin"]


# --------------------------------------------------------------------------- table writers

SCHEMA = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("start", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("duration_ms", pa.int64()),
        pa.field("queue", pa.dictionary(pa.int32(), pa.string())),
        pa.field("score", pa.float64()),
    ],
    metadata={b"cc.table": b"conversations"},
)
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _batch(first: int, n: int) -> pa.RecordBatch:
    # Deliberately not the declared shape: other column order, int32 durations,
    # plain strings for the dictionary column. The writer must conform it.
    return pa.RecordBatch.from_pydict(
        {
            "score": [float(i) / 3 for i in range(first, first + n)],
            "queue": [f"q{i % 3}" for i in range(first, first + n)],
            "duration_ms": pa.array(
                [None if i % 7 == 0 else i * 10 for i in range(first, first + n)], pa.int32()
            ),
            "start": pa.array(
                [START + dt.timedelta(seconds=i) for i in range(first, first + n)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "conversation_id": [f"c-{i}" for i in range(first, first + n)],
        }
    )


def _expected_rows(n: int) -> list[dict[str, Any]]:
    return pa.Table.from_batches([_batch(0, n)]).select(SCHEMA.names).to_pylist()


def test_parquet_writer_streams_row_groups_with_the_declared_schema(target: Target) -> None:
    uri = target.uri("tables", "conversations", "part-0.parquet")
    with ParquetTableWriter(
        uri, SCHEMA, conn_id=target.conn_id, row_group_size=1000, table_name="conversations"
    ) as writer:
        for index in range(10):
            batch = _batch(index * 250, 250)
            writer.write(batch if index % 2 else pa.Table.from_batches([batch]))
        assert not exists(uri, target.conn_id)
    entry = writer.close()  # idempotent after the with block
    data = read_bytes(uri, target.conn_id)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [
        1000,
        1000,
        500,
    ]
    table = parquet.read()
    assert table.schema.equals(SCHEMA, check_metadata=True)
    assert [f.nullable for f in table.schema] == [False, False, True, True, True]
    assert table.to_pylist() == _expected_rows(2500)
    assert entry == ManifestEntry(
        uri=uri, rows=2500, bytes=len(data), format="parquet", table="conversations"
    )


@pytest.mark.parametrize(
    ("mutate", "field", "why"),
    [
        (
            lambda b: b.append_column("surprise", pa.array([1] * b.num_rows)),
            "surprise",
            "not in the declared",
        ),
        (lambda b: b.drop_columns(["queue"]), "queue", "missing"),
        (
            lambda b: b.set_column(2, "duration_ms", pa.array(["x"] * b.num_rows)),
            "duration_ms",
            "does not cast",
        ),
        (
            lambda b: b.set_column(4, "conversation_id", pa.array([None] * b.num_rows, pa.string())),
            "conversation_id",
            "non-nullable",
        ),
    ],
)
def test_parquet_schema_mismatch_names_uri_and_field(
    tmp_path: Path, mutate: Any, field: str, why: str
) -> None:
    uri = str(tmp_path / "part-0.parquet")
    bad = mutate(pa.Table.from_batches([_batch(0, 5)]))
    with pytest.raises(ValueError, match=why) as info, ParquetTableWriter(uri, SCHEMA) as writer:
        writer.write(_batch(0, 5))
        writer.write(bad)
    assert uri in str(info.value) and repr(field) in str(info.value)
    assert os.listdir(tmp_path) == []


def test_parquet_writer_encodes_on_an_executor_and_cuts_row_groups_by_bytes(target: Target) -> None:
    uri = target.uri("tables", "conversations", "part-0.parquet")
    with (
        ThreadPoolExecutor(1) as encoder,
        ParquetTableWriter(
            uri, SCHEMA, conn_id=target.conn_id, row_group_bytes=1, executor=encoder
        ) as writer,
    ):
        for index in range(10):
            writer.write(_batch(index * 250, 250))  # each write passes the byte cap: one group
        assert not exists(uri, target.conn_id)
    parquet = pq.ParquetFile(io.BytesIO(read_bytes(uri, target.conn_id)))
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [250] * 10
    assert parquet.read().to_pylist() == _expected_rows(2500)


@pytest.mark.parametrize("encode", ["inline", "on an executor"])
def test_parquet_writer_failing_midway_leaves_nothing(target: Target, encode: str) -> None:
    uri = target.uri("tables", "conversations", "part-0.parquet")
    with (
        ThreadPoolExecutor(1) as encoder,
        pytest.raises(Boom),
        ParquetTableWriter(
            uri,
            SCHEMA,
            conn_id=target.conn_id,
            row_group_size=100,
            executor=encoder if encode != "inline" else None,
        ) as writer,
    ):
        writer.write(_batch(0, 450))  # four row groups handed to the store (or being encoded)
        assert writer.bytes_written > 0 or encode != "inline"
        raise Boom
    assert writer.closed and writer.entry is None
    assert not exists(uri, target.conn_id)
    assert target.raw_listing() == []
    assert target.open_uploads() == []


def test_csv_formula_neutralisation(target: Target) -> None:
    schema = pa.schema([("note", pa.string()), ("label", pa.large_string()), ("delta", pa.int64())])
    notes = ["=SUM(A1:A9)", "+1 555 0100", "-2", "@cmd", "\tlead", "\rcr", "a=b", "plain", None]
    table = pa.table(
        {
            "note": notes,
            "label": ["=HYPERLINK(x)"] * len(notes),
            "delta": [-5, 1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    safe_uri = target.uri("reports", "safe.csv")
    raw_uri = target.uri("reports", "raw.csv")
    entry = write_table(
        safe_uri, table, fmt="csv", conn_id=target.conn_id, schema=schema, neutralize_formulas=True
    )
    write_table(raw_uri, table, fmt="csv", conn_id=target.conn_id, schema=schema)

    def rows(uri: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(read_bytes(uri, target.conn_id).decode("utf-8"), newline="")))

    safe = rows(safe_uri)
    assert safe[0] == ["note", "label", "delta"]
    assert [r[0] for r in safe[1:]] == [
        "'=SUM(A1:A9)",
        "'+1 555 0100",
        "'-2",
        "'@cmd",
        "'\tlead",
        "'\rcr",
        "a=b",
        "plain",
        "",
    ]
    assert {r[1] for r in safe[1:]} == {"'=HYPERLINK(x)"}
    assert safe[1][2] == "-5"  # numbers are not formulas
    assert [r[0] for r in rows(raw_uri)[1:]][:2] == ["=SUM(A1:A9)", "+1 555 0100"]
    assert entry.rows == len(notes) and entry.format == "csv"


def test_csv_gzip_and_no_header(tmp_path: Path) -> None:
    uri = str(tmp_path / "out.csv.gz")
    schema = pa.schema([("id", pa.int32()), ("name", pa.string())])
    with CsvTableWriter(uri, schema, header=False) as writer:
        writer.write(pa.table({"name": ["a", "b,c"], "id": [1, 2]}))
        writer.write(pa.table({"id": [3], "name": ['say "hi"']}))
    raw = Path(uri).read_bytes()
    assert raw[:2] == GZIP_MAGIC
    assert list(csv.reader(io.StringIO(gzip.decompress(raw).decode()))) == [
        ["1", "a"],
        ["2", "b,c"],
        ["3", 'say "hi"'],
    ]
    assert writer.close().rows == 3


def test_csv_writes_nested_values_as_json(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string()))])
    uri = str(tmp_path / "x.csv")
    with CsvTableWriter(uri, schema) as writer:
        writer.write(pa.table({"id": ["a", "b"], "tags": [["x", "y,z"], None]}, schema=schema))
    rows = list(csv.reader(io.StringIO(read_bytes(uri).decode())))
    assert rows == [["id", "tags"], ["a", '["x", "y,z"]'], ["b", ""]]


# --------------------------------------------------------------------------- listing and deleting


def test_list_and_delete_prefix(target: Target) -> None:
    for name in ("p/a.json", "p/b.json", "p/sub/c.json", "p2/d.json"):
        write_bytes(target.uri(name), b"{}", target.conn_id)
    listed = list_uris(target.uri("p"), target.conn_id)
    assert listed == [target.uri("p", "a.json"), target.uri("p", "b.json"), target.uri("p", "sub", "c.json")]
    assert list_uris(target.uri("missing"), target.conn_id) == []
    assert delete_prefix(target.uri("p"), target.conn_id) == 3
    assert list_uris(target.uri("p"), target.conn_id) == []
    assert delete_prefix(target.uri("p"), target.conn_id) == 0
    assert target.raw_listing() == ["p2/d.json"]


def test_reading_a_missing_object_is_file_not_found(target: Target) -> None:
    uri = target.uri("nothing", "here.json")
    assert not exists(uri, target.conn_id)
    with pytest.raises(FileNotFoundError):
        read_bytes(uri, target.conn_id)


def test_delete_prefix_refuses_a_bucket_root(s3: S3Env) -> None:
    with pytest.raises(ValueError, match="whole bucket"):
        delete_prefix(f"s3://{s3.bucket}/", CONN_ID)


def test_list_uris_keeps_file_uri_form(tmp_path: Path) -> None:
    write_bytes(str(tmp_path / "a" / "x.csv"), b"1")
    assert list_uris(f"file://{tmp_path}") == [f"file://{tmp_path}/a/x.csv"]


# --------------------------------------------------------------------------- manifests


def _manifest(base: str) -> Manifest:
    manifest = Manifest(extra={"vendor": "genesys", "interval": ["2024-05-01", "2024-05-02"]})
    manifest.add(
        ManifestEntry(
            join_uri(base, "t", "conversations", "part-0.parquet"), 2500, 1234, "parquet", "conversations"
        ),
        ManifestEntry(
            join_uri(base, "t", "conversations", "part-1.parquet"), 10, 99, "parquet", "conversations"
        ),
        ManifestEntry(join_uri(base, "t", "segments", "part-0.parquet"), 7, 50, "parquet", "segments"),
        ManifestEntry(join_uri(base, "raw", "page-1.json"), None, 12, "json"),
    )
    return manifest


def test_manifest_round_trip_is_json_native() -> None:
    manifest = _manifest("s3://bucket/base")
    data = manifest.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = Manifest.from_dict(data)
    assert again == manifest
    assert again.total_rows("conversations") == 2510 and again.total_rows() == 2517
    assert again.uris("segments") == ["s3://bucket/base/t/segments/part-0.parquet"]
    assert len(again.uris()) == 4


def test_manifest_rejects_non_json_extra() -> None:
    with pytest.raises(TypeError):
        Manifest(extra={"when": dt.date(2024, 5, 1)}).to_dict()


def test_write_and_read_manifest(target: Target) -> None:
    manifest = _manifest(target.base)
    uri = target.uri("_manifest.json")
    entry = write_manifest(uri, manifest, target.conn_id)
    assert entry.format == "json" and entry.bytes == len(read_bytes(uri, target.conn_id))
    assert read_manifest(uri, target.conn_id) == manifest
