"""The Brightmetrics example DAG in real Airflow (``dag.test``, deferred) against the sandbox."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from contact_center_provider.http.limits import FileLimitStore, RequestBudget
from contact_center_provider.sandbox.brightmetrics import VENDOR
from contact_center_provider.storage.raw_zone import read_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))

pytestmark = pytest.mark.usefixtures("airflow_db")

REPORT = "6f40b845-fb28-4547-b73b-e11ce29f481b"
LOGICAL = datetime(2026, 11, 2, 1, tzinfo=UTC)  # the daily 01:00 run covering the day before
PARTITION = "interval_start=20261101T010000Z/interval_end=20261102T010000Z"
FILTER = (
    "Call_Date_Time ge 2026-11-01T01:00:00Z and Call_Date_Time le 2026-11-02T00:59:59Z "
    "and Media_Type in ('Voice', 'Callback')"
)
SCALE = 900.0


@pytest.fixture
def env(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    assert VENDOR.airflow_connection is not None
    monkeypatch.setenv(
        "AIRFLOW_CONN_BRIGHTMETRICS_DEFAULT", json.dumps(VENDOR.airflow_connection(sandbox.url))
    )
    store = tmp_path / "limits"
    monkeypatch.setenv("CC_LIMITS_STORE", store.as_uri())
    settings = requests.patch(
        f"{sandbox.url}/_sandbox/vendors/brightmetrics/settings",
        json={"time_scale": SCALE, "job_seconds": 1800},
        timeout=10,
    )
    settings.raise_for_status()
    return {"url": sandbox.url, "store": store, "base": tmp_path / "out"}


def example_dag(**poll: float) -> Any:
    dag = importlib.import_module("brightmetrics_report_export").dag
    export = dag.get_task("export")
    # The sandbox's clock runs SCALE times faster: so does the schedule (5 s, then 10 s doubling to 10 min).
    export.first_poll_delay, export.poll_interval = 5 / SCALE, 10 / SCALE
    export.max_poll_interval = 600 / SCALE
    return dag


def run(dag: Any, base: Path) -> dict[str, str]:
    dag_run = dag.test(logical_date=LOGICAL, run_conf={"output_base_uri": base.as_uri()})
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def sandbox_requests(url: str) -> list[dict[str, Any]]:
    log = requests.get(f"{url}/_sandbox/requests", params={"path": "^/brightmetrics/"}, timeout=10).json()
    return list(log["requests"])


def test_the_example_dag_exports_a_30_minute_report_to_parquet_and_csv(env: dict[str, Any]) -> None:
    base: Path = env["base"]
    assert run(example_dag(), base) == {"export": "success", "tables": "success"}
    sent = sandbox_requests(env["url"])
    assert len(sent) <= 12, [(r["method"], r["path"], r["status"]) for r in sent]
    assert [r["path"].rsplit("/", 1)[-1] for r in sent[:2]] == ["$metadata", REPORT]
    assert sum(1 for r in sent if r["path"].endswith(REPORT)) == 1  # requested once, never again
    assert all("/status/" in r["path"] for r in sent[2:]) and sent[-1]["status"] == 200
    manifest = read_manifest(str(base / "raw" / "brightmetrics" / "agent_detail" / PARTITION))
    assert manifest["requests_spent"] == len(sent) and manifest["budget_left"] == 150 - len(sent)
    landed = Path(manifest["pages"][0].removeprefix("file://")).read_bytes()
    expected = requests.get(
        f"{env['url']}/brightmetrics/OData.ashx/{REPORT}?$filter={quote(FILTER, safe=chr(39) + '(),:')}",
        auth=("user@example.com", "*passpassword"),
        timeout=10,
    ).content
    assert landed == expected  # exactly what the vendor sent
    rows = json.loads(landed)["value"]
    assert rows and {r["Media_Type"] for r in rows} <= {"Voice", "Callback"}
    tables = base / "tables" / "brightmetrics" / "agent_detail" / PARTITION
    table = pq.read_table(tables / "part-00000.parquet")
    assert table.num_rows == len(rows) == manifest["records"]
    assert table.schema.field("Call_Date_Time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("Time_Talk_Total").type == pa.float64()
    assert (
        (tables / "part-00000.csv").read_text().splitlines()[0].startswith('"Call_Date_Time","Agent_Name",')
    )


def test_with_the_budget_nearly_spent_the_dag_fails_before_sending(
    env: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    account = VENDOR.airflow_connection(env["url"])["extra"]["account"]  # type: ignore[misc]
    budget = RequestBudget(FileLimitStore(env["store"]), f"brightmetrics:{account}", 150, 86400)
    for _ in range(148):
        budget.acquire()
    states = run(example_dag(), env["base"])  # the example DAG has retries=1: not used here
    assert states["export"] == "failed"
    assert sandbox_requests(env["url"]) == []
    out = capfd.readouterr().out
    assert "ExportBudgetExhausted" in out and "not retried" in out
    assert "2 of 150 requests left" in out and "frees at" in out


# -- the other operators, from tests/dags/brightmetrics_test_dags.py ------------------------------


def _test_dags() -> Any:
    sys.path.insert(0, str(Path(__file__).parent / "dags"))
    return importlib.import_module("brightmetrics_test_dags")


def run_test_dag(dag: Any, base: Path, conn: str = "brightmetrics_default") -> dict[str, str]:
    dag_run = dag.test(logical_date=LOGICAL, run_conf={"base": base.as_uri(), "conn": conn})
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_discovery_lists_reports_and_refuses_a_missing_filter(
    env: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    states = run_test_dag(_test_dags().discovery_dag, env["base"])
    assert states == {"reports": "success", "filters": "success", "missing_filter": "failed"}
    out = capfd.readouterr().out
    assert "has no filter(s) ['Queue_Name']" in out and "Media_Type" in out
    assert len(sandbox_requests(env["url"])) == 3  # one request each


def test_xlsx_lands_unchanged_and_becomes_the_same_table_as_json(env: dict[str, Any]) -> None:
    requests.patch(
        f"{env['url']}/_sandbox/vendors/brightmetrics/settings", json={"job_seconds": 0}, timeout=10
    )
    assert run_test_dag(_test_dags().xlsx_dag, env["base"]) == {"export": "success", "tables": "success"}
    hour = "interval_start=20261102T000000Z/interval_end=20261102T010000Z"
    manifest = read_manifest(str(env["base"] / "raw" / "brightmetrics" / "caller_id" / hour))
    assert manifest["pages"][0].endswith(".xlsx") and manifest["format"] == "xlsx"
    table = pq.read_table(
        env["base"] / "tables" / "brightmetrics" / "caller_id" / hour / "part-00000.parquet"
    )
    assert table.num_rows == 2  # the sandbox's rows between 00:00 and 00:59:59 on Nov 2
    assert table.schema.field("Call_Date_Time").type == pa.timestamp("us", tz="UTC")


def test_a_value_that_does_not_fit_fails_the_tables_task_and_keeps_the_raw(
    env: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    requests.patch(
        f"{env['url']}/_sandbox/vendors/brightmetrics/settings", json={"job_seconds": 0}, timeout=10
    )
    states = run_test_dag(_test_dags().csv_typed_dag, env["base"])
    assert states == {"export": "success", "tables": "failed"}
    out = capfd.readouterr().out
    assert "row 1, column Call_Type: 'Outbound' is not a int64" in out
    assert not (env["base"] / "tables").exists()
    hour = "interval_start=20261102T000000Z/interval_end=20261102T010000Z"
    assert read_manifest(str(env["base"] / "raw" / "brightmetrics" / "caller_id" / hour))["records"] == 2


def test_operators_refuse_bad_options_when_the_dag_is_parsed() -> None:
    from contact_center_provider.operators.brightmetrics import BrightmetricsExportOperator
    from contact_center_provider.transforms.odata_filters import FilterRule, FilterRuleError

    def make(**options: Any) -> Any:
        return BrightmetricsExportOperator(
            task_id="x", report_id=REPORT, output_base_uri="file:///tmp/x", **options
        )

    with pytest.raises(FilterRuleError) as repeated:
        make(filters=[["Media_Type", "eq", "Voice"], ["Media_Type", "eq", "Chat"]])
    assert repeated.value.rule is FilterRule.REPEATED_PROPERTY
    with pytest.raises(FilterRuleError) as bad_format:
        make(format="parquet")
    assert bad_format.value.rule is FilterRule.FORMAT
    with pytest.raises(ValueError, match="not a report id"):
        BrightmetricsExportOperator(task_id="y", report_id="Agent Detail", output_base_uri="file:///tmp/x")
    assert make(filters={"Media_Type": "{{ params.media }}"}).dataset == "report_6f40b845"
