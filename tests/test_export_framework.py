"""The shared export framework: what every vendor inherits, shown through Genesys Cloud.

Partitions, landings that survive a failed re-run, table sets published together,
no duplicate vendor job from retries, clear-versus-retry, asset events, the contract's
state mapping. Real Airflow (``dag.test``), the sandbox over HTTP, local files and moto.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from contact_center_provider.storage.raw_zone import read_manifest
from contact_center_provider.storage.uri import read_bytes
from contact_center_provider.storage.zones import Partition

sys.path.insert(0, str(Path(__file__).parent / "dags"))
import framework_test_dags as fw

DAY_END = datetime(2026, 11, 2, tzinfo=UTC)  # daily DAGs: the day ending here
DAY = Partition(datetime(2026, 11, 1, tzinfo=UTC), DAY_END)
FIRST_HOUR = Partition(DAY.start, datetime(2026, 11, 1, 1, tzinfo=UTC))

pytestmark = pytest.mark.usefixtures("airflow_db")


def admin(sandbox: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def created_jobs(sandbox: Any) -> int:
    return int(admin(sandbox, "GET", "counters")["jobs"]["genesys_cloud"]["created"])


def run(dag: Any, base: Path, conn: str, logical_date: datetime = DAY_END) -> dict[str, str]:
    dag_run = dag.test(logical_date=logical_date, run_conf={"base": base.as_uri(), "conn": conn})
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def raw(base: Path, partition: Partition, dataset: str = "conversations") -> Path:
    return base / "raw" / "genesys_cloud" / dataset / partition.path


# -- partitions ------------------------------------------------------------------------------
def test_a_partition_is_named_by_both_ends_of_its_interval() -> None:
    assert FIRST_HOUR.path == "interval_start=20261101T000000Z/interval_end=20261101T010000Z"
    assert DAY.with_export("abandons").path.startswith("export=abandons/interval_start=20261101T000000Z/")
    assert Partition.parse(DAY.interval) == DAY
    assert Partition.from_dict(DAY.with_export("x").to_dict()) == DAY.with_export("x")
    with pytest.raises(ValueError, match="not after its start"):
        Partition(DAY_END, DAY.start)
    with pytest.raises(ValueError, match="neither '/' nor '='"):
        DAY.with_export("a/b")


def test_hourly_and_daily_runs_that_start_together_land_apart(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    assert run(fw.fw_hourly, tmp_path, genesys_conn, logical_date=FIRST_HOUR.end) == {"export": "success"}
    assert run(fw.fw_daily, tmp_path, genesys_conn) == {"export": "success"}
    hour, day = read_manifest(str(raw(tmp_path, FIRST_HOUR))), read_manifest(str(raw(tmp_path, DAY)))
    assert hour["interval"] == FIRST_HOUR.interval and day["interval"] == DAY.interval
    # Neither overwrote the other: the hour holds fewer conversations than the whole day.
    assert 0 < hour["records"] < day["records"]
    assert all(read_bytes(uri) for uri in hour["pages"] + day["pages"])


# -- landings --------------------------------------------------------------------------------
def test_a_failed_rerun_leaves_the_previous_landing_readable(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    assert run(fw.fw_daily, tmp_path, genesys_conn) == {"export": "success"}
    before = read_manifest(str(raw(tmp_path, DAY)))
    first_bytes = [read_bytes(uri) for uri in before["pages"]]
    # The re-run's job succeeds, but its second result page keeps failing: landing stops half-way.
    admin(
        sandbox,
        "POST",
        "faults",
        {"method": "GET", "path": r"/results$", "status": 502, "skip": 1, "times": 50},
    )
    assert run(fw.fw_daily, tmp_path, genesys_conn) == {"export": "failed"}
    after = read_manifest(str(raw(tmp_path, DAY)))
    assert after == before
    assert [read_bytes(uri) for uri in after["pages"]] == first_bytes
    # The failed attempt wrote its first page under its own prefix, never over the published one.
    attempts = sorted(p.name for p in (raw(tmp_path, DAY) / "_attempts").iterdir())
    assert len(attempts) == 2 and before["attempt"] in attempts


def test_a_successful_rerun_replaces_the_landing_and_drops_older_attempts(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    run(fw.fw_daily, tmp_path, genesys_conn)
    first = read_manifest(str(raw(tmp_path, DAY)))
    run(fw.fw_daily, tmp_path, genesys_conn)
    second = read_manifest(str(raw(tmp_path, DAY)))
    assert second["attempt"] != first["attempt"] and second["records"] == first["records"]
    assert [p.name for p in (raw(tmp_path, DAY) / "_attempts").iterdir()] == [second["attempt"]]


# -- no duplicate vendor job -----------------------------------------------------------------
def test_an_ambiguous_submit_is_not_retried_even_with_retries(
    sandbox: Any,
    genesys_conn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The vendor creates the job, then the connection breaks before its answer arrives.
    admin(
        sandbox,
        "POST",
        "faults",
        {"method": "POST", "path": r"/details/jobs$", "kind": "reset", "phase": "after"},
    )
    states = run(fw.ambiguous_dag, tmp_path, genesys_conn)
    assert states == {"export": "failed"}  # not up_for_retry: retries=2 did not resubmit
    assert created_jobs(sandbox) == 1
    logged = caplog.text + "".join(capfd.readouterr())
    assert "Check the vendor's console for a job for this interval" in logged


def test_bad_credentials_fail_without_retries(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import genesys_connection_env

    monkeypatch.setenv(
        "AIRFLOW_CONN_GENESYS_WRONG", genesys_connection_env(sandbox.url, secret="wrong-secret")
    )
    assert run(fw.ambiguous_dag, tmp_path, "genesys_wrong") == {"export": "failed"}
    token_requests = admin(sandbox, "GET", "requests?path=/oauth/token")["requests"]
    assert len(token_requests) == 1 and created_jobs(sandbox) == 0


class _Store:
    """Airflow's task_state_store as the operator sees it (get/set of JSON values)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.data[key] = value


class _TI:
    def __init__(self, max_tries: int) -> None:
        self.max_tries = max_tries
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _export_operator(tmp_path: Path, conn: str, *, deferrable: bool, poll_interval: float) -> Any:
    """A Genesys export run by hand (``execute`` with a context), outside a DAG run."""
    from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsJobOperator

    return GenesysCloudDetailsJobOperator(
        task_id="export",
        output_base_uri=tmp_path.as_uri(),
        genesys_cloud_conn_id=conn,
        availability="ignore",
        deferrable=deferrable,
        poll_interval=poll_interval,
        max_poll_interval=2 * poll_interval,
    )


def test_a_retry_resumes_its_job_and_a_clear_exports_afresh(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    operator = _export_operator(tmp_path, genesys_conn, deferrable=False, poll_interval=0.05)
    store = _Store()

    def execute(max_tries: int) -> list[str]:
        ti = _TI(max_tries)
        context = {
            "ti": ti,
            "task_state_store": store,
            "data_interval_start": DAY.start,
            "data_interval_end": DAY.end,
        }
        operator.execute(context)
        return list(ti.xcom["job_ids"])

    first = execute(max_tries=2)
    assert execute(max_tries=2) == first and created_jobs(sandbox) == 1  # an automatic retry
    # Clearing sets max_tries = try_number + retries: the task exports afresh.
    cleared = execute(max_tries=4)
    assert cleared != first and created_jobs(sandbox) == 2

    # OpenLineage facets (the ``openlineage`` extra) name what the landing wrote.
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("file", f"{tmp_path}/raw/genesys_cloud/conversations")
    ]


def test_a_resumed_job_that_already_finished_lands_without_deferring_again(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    """A deferred wait never fires at once (Airflow 3.3 may fail a task whose trigger does,
    apache/airflow#71580): the first poll waits an interval, and a retry that finds its job
    finished lands it in the worker."""
    from airflow.sdk.exceptions import TaskDeferred

    operator = _export_operator(tmp_path, genesys_conn, deferrable=True, poll_interval=0.2)
    context = {
        "ti": _TI(max_tries=2),
        "task_state_store": _Store(),
        "data_interval_start": DAY.start,
        "data_interval_end": DAY.end,
    }
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "job_finished"
    assert trigger.schedule["first_delay"] == 0.2  # not at once
    # The deferred try is lost (its trigger's event never reaches the task); the job finishes.
    assert trigger.poll_in_worker().succeeded
    summary = operator.execute(context)  # the retry: no TaskDeferred
    assert summary["records"] > 0 and created_jobs(sandbox) == 1
    assert context["ti"].xcom["job_ids"] == [trigger.job["job_id"]]


async def test_concurrent_triggers_of_one_connection_share_one_token(sandbox: Any, genesys_conn: str) -> None:
    """A triggerer's waits on one connection fetch (and mask) one token between them, not one each."""
    import asyncio

    from contact_center_provider.hooks.genesys_cloud import GenesysCloudHook
    from contact_center_provider.triggers.job_poll import JobPollTrigger
    from contact_center_provider.triggers.polling import PollSchedule

    hook = GenesysCloudHook(genesys_conn)
    jobs = [hook.submit_job("conversations", DAY.start, DAY.end, {}) for _ in range(6)]
    hook.close()
    tokens_before = len(admin(sandbox, "GET", "requests?path=/oauth/token")["requests"])
    triggers = [
        JobPollTrigger(
            hook_class="contact_center_provider.hooks.genesys_cloud.GenesysCloudHook",
            conn_id=genesys_conn,
            job=job,
            schedule=PollSchedule.starting_now(60, interval=0.05, max_interval=0.1).to_dict(),
        )
        for job in jobs
    ]
    events = await asyncio.gather(*(trigger.poll() for trigger in triggers))
    assert all(event.succeeded for event in events)
    assert len(admin(sandbox, "GET", "requests?path=/oauth/token")["requests"]) == tokens_before + 1


def test_only_grants_with_the_same_identity_are_shared() -> None:
    from contact_center_provider.http.auth import BearerToken, OAuth2ClientCredentials, TokenInfo, shared_auth

    def grant(secret: str, parser: Any = None) -> OAuth2ClientCredentials:
        return OAuth2ClientCredentials(
            "https://login.example/oauth/token", "client", secret, vendor="v", token_parser=parser
        )

    first = grant("one")
    assert shared_auth(first) is first
    assert shared_auth(grant("one")) is first  # same endpoint, client and secret: one token
    assert shared_auth(grant("two")) is not first  # another secret: its own token

    class Tenant:  # a parser bound to one hook (NICE's tenant discovery): never shared
        def parse(self, payload: Any) -> TokenInfo:
            return TokenInfo(access_token="t", expires_in=60)

    bound = grant("one", Tenant().parse)
    assert shared_auth(bound) is bound and shared_auth(grant("one", Tenant().parse)) is not bound
    static = BearerToken("a-static-token")
    assert shared_auth(static) is static


# -- tables ----------------------------------------------------------------------------------
def test_presence_tables_are_the_same_whichever_runs_first_lookup_or_export(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    rows = {}
    for order in ("lookup_first", "export_first"):
        base = tmp_path / order
        assert set(run(getattr(fw, f"fw_presence_{order}"), base, genesys_conn).values()) == {"success"}
        table = base / "tables/genesys_cloud/presence" / DAY.path / "part-00000.parquet"
        rows[order] = pq.read_table(table).to_pylist()
    assert rows["lookup_first"] and rows["lookup_first"] == rows["export_first"]


def test_tables_and_landings_announce_asset_events_with_row_counts(
    sandbox: Any, genesys_conn: str, tmp_path: Path
) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    assert run(fw.export_then_tables_dag, tmp_path, genesys_conn) == {
        "export": "success",
        "tables": "success",
    }
    landing = read_manifest(str(raw(tmp_path, DAY)))
    base = tmp_path.as_uri()
    with create_session() as session:
        events = {
            model.name: event.extra
            for event, model in session.query(AssetEvent, AssetModel).join(
                AssetModel, AssetEvent.asset_id == AssetModel.id
            )
            if str(event.extra.get("uri", "")).startswith(base)
        }
    # Static assets named for the dataset (created at parse time, so concurrent first events
    # cannot collide); the storage URI is in the event.
    raw_event = events["contact_center/raw/genesys_cloud/conversations"]
    assert raw_event["uri"] == f"{base}/raw/genesys_cloud/conversations"
    assert raw_event["rows"] == landing["records"] > 0 and raw_event["interval"] == DAY.interval
    assert raw_event["job_ids"] == landing["job_ids"]
    tables_event = events["contact_center/tables/genesys_cloud/tables"]
    assert tables_event["uri"] == f"{base}/tables/genesys_cloud"
    assert tables_event["partitions"] == [DAY.interval]
    table = pq.read_table(tmp_path / "tables/genesys_cloud/conversations" / DAY.path / "part-00000.parquet")
    assert tables_event["rows"]["conversations"] == table.num_rows > 0


def test_outlets_are_static_assets_and_a_submit_only_task_declares_none() -> None:
    from airflow.sdk import Asset

    from contact_center_provider.operators.genesys_cloud import GenesysCloudDetailsJobOperator

    submit_only = GenesysCloudDetailsJobOperator(
        task_id="submit_only", output_base_uri="{{ params.base }}", wait_for_completion=False
    )
    landing = GenesysCloudDetailsJobOperator(task_id="landing", output_base_uri="{{ params.base }}")
    assert submit_only.outlets == []
    assert landing.outlets == [Asset(name="contact_center/raw/genesys_cloud/conversations")]


def _two_tables(value: int) -> dict[str, pa.Table]:
    return {name: pa.table({"v": pa.array([value], pa.int64())}) for name in ("first", "second")}


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_table_set_failing_half_way_publishes_nothing(where: str, tmp_path: Path, request: Any) -> None:
    from contact_center_provider.storage.table_set import TableSet
    from contact_center_provider.storage.zones import table_uri

    if where == "s3":
        base, conn = f"s3://{request.getfixturevalue('s3_bucket')}/cc", "cc_test_s3"
    else:
        base, conn = tmp_path.as_uri(), None

    def read(name: str) -> list[Any]:
        uri = table_uri(base, "v", name, DAY)
        return pq.read_table(pa.BufferReader(read_bytes(uri, conn))).column("v").to_pylist()

    with TableSet(base, "v", ("parquet",), conn) as tables:
        for name, table in _two_tables(1).items():
            tables.write(DAY, name, table)
        tables.publish()
    with (
        pytest.raises(RuntimeError, match="transform failed"),
        TableSet(base, "v", ("parquet",), conn) as tables,
    ):
        for name, table in _two_tables(2).items():
            tables.write(DAY, name, table)
        # Both tables have rows written; computing the next batch fails: nothing is published.
        raise RuntimeError("transform failed")
    assert read("first") == [1] and read("second") == [1]


# -- the contract ----------------------------------------------------------------------------
def test_an_unknown_vendor_state_is_an_error_naming_it() -> None:
    from contact_center_provider.hooks.genesys_cloud import GENESYS_CLOUD_STATES
    from contact_center_provider.jobs import JobOutcome, UnknownJobStateError, map_state

    assert (
        map_state(GENESYS_CLOUD_STATES, "fulfilled", vendor="genesys_cloud", job_id="j")
        is JobOutcome.SUCCEEDED
    )
    with pytest.raises(UnknownJobStateError, match=r"'ARCHIVED'.*known: CANCELLED"):
        map_state(GENESYS_CLOUD_STATES, "ARCHIVED", vendor="genesys_cloud", job_id="j1")
    with pytest.raises(UnknownJobStateError, match="no state at all"):
        map_state(GENESYS_CLOUD_STATES, None, vendor="genesys_cloud", job_id="j1")


def test_a_union_of_partitions_reads_back_with_its_partition_columns(tmp_path: Path) -> None:
    from contact_center_provider.storage.table_set import TableSet
    from contact_center_provider.storage.tables_reader import read_frame, read_table

    base = tmp_path.as_uri()
    second_hour = Partition(FIRST_HOUR.end, datetime(2026, 11, 1, 2, tzinfo=UTC))
    with TableSet(base, "v", ("parquet", "csv")) as tables:
        tables.write(FIRST_HOUR, "calls", pa.table({"id": ["a", "b"]}))
        tables.write(second_hour, "calls", pa.table({"id": ["c"]}))
        tables.write(DAY, "calls", pa.table({"id": ["daily"]}))  # another grain, same table
        tables.publish()
    hours = read_table(base, "v", "calls", start=DAY.start, end=second_hour.end)
    assert sorted(hours.column("id").to_pylist()) == ["a", "b", "c"]
    frame = read_frame(base, "v", "calls", start=second_hour.start, end=second_hour.end)
    assert frame["id"].tolist() == ["c"] and frame["interval_start"].iloc[0] == second_hour.start
    with pytest.raises(FileNotFoundError, match="No partition of v/calls"):
        read_table(base, "v", "calls", export="other")
