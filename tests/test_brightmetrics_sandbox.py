"""The Brightmetrics sandbox over real HTTP: what the vendor document says, on the wire."""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from urllib.parse import quote

import pytest
import requests

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
CLEAR = ("user@example.com", "*passpassword")
HASHED = ("user@example.com", "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=")  # the document's example
API_KEY = "4df21f67c293413fa988d8f1535cd12f"
DAY = "Call_Date_Time ge 2024-05-01T00:00:00Z and Call_Date_Time le 2024-05-01T23:59:59Z"


def root(sandbox: Any) -> str:
    return f"{sandbox.url}/brightmetrics/OData.ashx"


def admin(sandbox: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def settings(sandbox: Any, **values: Any) -> None:
    admin(sandbox, "PATCH", "vendors/brightmetrics/settings", values)


def get(sandbox: Any, path: str, query: str = "", auth: Any = CLEAR, **headers: str) -> requests.Response:
    url = f"{root(sandbox)}/{path}" if path else root(sandbox)
    if query:
        url += "?" + query
    return requests.get(url, auth=auth, headers=headers, timeout=10)


def filt(text: str) -> str:
    return "$filter=" + quote(text, safe="'(),:")


def test_service_document_lists_reports_named_like_the_document(sandbox: Any) -> None:
    doc = get(sandbox, "").json()
    names = {r["url"]: r["name"] for r in doc["value"]}
    assert doc["@odata.context"].endswith("/$metadata")
    assert names["041cee41-ac5f-4455-a02d-022705afe417"] == (
        "Agent_Activity_Summary___All__Saved_MSC_Agents__041cee41ac5f4455a02d022705afe417"
    )
    assert names[SERVICE_SUMMARY] == "Service_Summary_03bd1235eb2c410fa415fefacd98df41"
    assert all(r["kind"] == "EntitySet" for r in doc["value"])


def test_metadata_lists_the_report_filters_as_the_document_shows(sandbox: Any) -> None:
    response = get(sandbox, f"{AGENT_DETAIL}/$metadata")
    assert response.headers["Content-Type"].startswith("application/xml")
    assert b'<EntityType Name="filters_6f40b845-fb28-4547-b73b-e11ce29f481b">' in response.content
    assert b'<Property Name="Agent_Name_by_Skill" Type="Edm.String" />' in response.content
    assert b'EntitySet Name="Agent_Detail_6f40b845fb284547b73be11ce29f481b_filters"' in response.content


@pytest.mark.parametrize(
    "auth",
    [CLEAR, HASHED, ("apikey", API_KEY)],
    ids=["clear-password", "sha256-hash", "basic-apikey"],
)
def test_basic_auth_forms(sandbox: Any, auth: tuple[str, str]) -> None:
    assert get(sandbox, "", auth=auth).status_code == 200


def test_bearer_api_key_and_refusals(sandbox: Any) -> None:
    assert get(sandbox, "", auth=None, Authorization=f"Bearer {API_KEY}").status_code == 200
    for auth in (("user@example.com", "password"), ("user@example.com", "*passwrong"), ("apikey", "nope")):
        refused = get(sandbox, "", auth=auth)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "Unauthorized"
        assert "Basic" in refused.headers["WWW-Authenticate"]


def test_synchronous_json_is_paged_with_skiptoken_links(sandbox: Any) -> None:
    settings(sandbox, page_span_hours=8)
    first = get(sandbox, CALLER_ID, filt(DAY)).json()
    link = first["@odata.nextLink"]
    assert "$skiptoken=" in link and "$filter" not in link
    token = json.loads(base64.b64decode(link.split("$skiptoken=")[1].replace("%3D", "=")))
    assert set(token) == {"Id", "NextStart", "End"}
    assert token["NextStart"] == "2024-05-01T08:00:00Z" and token["End"] == "2024-05-01T23:59:59.000Z"
    rows = list(first["value"])
    pages = 1
    while link:
        page = requests.get(link, auth=CLEAR, timeout=10).json()
        rows += page["value"]
        link = page.get("@odata.nextLink")
        pages += 1
    assert pages == 3
    whole = get(sandbox, CALLER_ID, filt(DAY) + "&$format=csv").text.splitlines()
    assert len(rows) == len(whole) - 1 == 48
    assert rows[0]["Call_Date_Time"].endswith(".0000000Z")


def test_async_export_202_then_200_with_the_data_then_410(sandbox: Any) -> None:
    settings(sandbox, time_scale=1000, job_seconds=3000, status_ttl_seconds=4000)
    accepted = get(sandbox, CALLER_ID, filt(DAY) + "&$format=csv", Prefer="respond-async")
    assert accepted.status_code == 202
    assert accepted.headers["OData-Version"] == "4.0"
    assert float(accepted.headers["Retry-After"]) == pytest.approx(0.005)
    location = accepted.headers["Location"]
    assert accepted.json() == {"statusUrl": location}
    running = requests.get(location, auth=CLEAR, timeout=10)
    assert running.status_code == 202 and running.headers["Location"] == location
    admin(sandbox, "POST", "vendors/brightmetrics/advance", {"seconds": 3000})
    done = requests.get(location, auth=CLEAR, timeout=10)
    assert done.status_code == 200
    assert done.headers["AsyncResult"] == "200"
    assert done.headers["Content-Type"].startswith("text/csv")
    assert done.text.startswith("Call Date/Time,Call Type,")
    wrapped = requests.get(location, auth=CLEAR, headers={"Accept": "application/http"}, timeout=10)
    assert wrapped.headers["Content-Type"] == "application/http"
    assert wrapped.content.startswith(b"HTTP/1.1 200 OK\r\n")
    assert wrapped.content.endswith(done.content)
    admin(sandbox, "POST", "vendors/brightmetrics/advance", {"seconds": 2000})
    gone = requests.get(location, auth=CLEAR, timeout=10)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "Gone"


def test_failed_export_and_cancel(sandbox: Any) -> None:
    settings(sandbox, job_seconds=0, job_outcome="failed")
    location = get(sandbox, CALLER_ID, filt(DAY), Prefer="respond-async").headers["Location"]
    failed = requests.get(location, auth=CLEAR, timeout=10)
    assert failed.status_code == 200 and failed.headers["AsyncResult"] == "500"
    assert failed.json()["error"]["code"] == "ReportFailed"
    settings(sandbox, job_seconds=3600, job_outcome="succeeded")
    location = get(sandbox, CALLER_ID, filt(DAY), Prefer="respond-async").headers["Location"]
    assert requests.delete(location, auth=CLEAR, timeout=10).status_code == 204
    assert requests.get(location, auth=CLEAR, timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Queue_Name eq 'Sales'", "locked"),
        ("Media_Type gt 'Voice'", "Greater/Less Than filters apply only to dates and numbers"),
        ("Time_Talk_Total eq 10", "Equal, In and Not Equal filters apply only to text"),
        ("Media_Type eq 'Voice' and Media_Type eq 'Chat'", "listed more than once"),
        ("Agent_Name eq 'Ava Brooks' and Agent_Name_by_Skill eq 'Tier 2'", "cannot be combined"),
        ("Time___Talk___Total gt 10", "single underscore"),
        ("Media_Type eq 'Voice' or Media_Type eq 'Chat'", "Only 'and'"),
        ("contains(Media_Type, 'V')", "Expected"),
        ("Nope eq 'x'", "is not a filter"),
    ],
)
def test_filter_violations_are_odata_errors(sandbox: Any, text: str, says: str) -> None:
    response = get(sandbox, AGENT_DETAIL, filt(text))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidFilter" and says in error["message"]


def test_filters_narrow_rows_and_quotes_are_escaped(sandbox: Any) -> None:
    day = filt(DAY + " and Agent_Name in ('Mia O''Neil', 'Liam Chen') and Time_Talk_Total ge 100")
    rows = get(sandbox, AGENT_DETAIL, day).json()["value"]
    assert rows and {r["Agent_Name"] for r in rows} <= {"Mia O'Neil", "Liam Chen"}
    assert all(r["Time_Talk_Total"] >= 100 for r in rows)


def test_formats_csv_formatted_xlsx_pdf_and_timezone(sandbox: Any) -> None:
    from openpyxl import load_workbook

    formatted = get(sandbox, SERVICE_SUMMARY, filt(DAY) + "&$format=csv;formatted").text.splitlines()
    assert formatted[0].startswith("Date,Queue Name,Calls Offered")
    assert formatted[1].startswith("5/1/2024 12:00:00 AM,") and "%" in formatted[1]
    xlsx = get(sandbox, SERVICE_SUMMARY, filt(DAY) + "&$format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert [c.value for c in sheet[1]][:2] == ["Date", "Queue Name"] and sheet.max_row == 5
    pdf = get(sandbox, SERVICE_SUMMARY, filt(DAY), Accept="application/pdf; landscape")
    assert pdf.content.startswith(b"%PDF-1.4") and b"/MediaBox [0 0 792 612]" in pdf.content
    eastern = get(sandbox, CALLER_ID, filt(DAY) + "&timezone=Eastern%20Standard%20Time").json()["value"]
    assert eastern[0]["Call_Date_Time"].endswith("-04:00")
    unknown = get(sandbox, CALLER_ID, "timezone=America/New_York")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "InvalidTimeZone"


def test_budget_counts_per_company_and_answers_429(sandbox: Any) -> None:
    settings(sandbox, budget_limit=3)
    assert (
        admin(sandbox, "POST", "vendors/brightmetrics/spend", {"company": "acme", "requests": 2})["used"] == 2
    )
    assert get(sandbox, "").status_code == 200
    over = get(sandbox, "", auth=("analyst@example.com", "*passabcd1234"))  # same company
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "RequestLimitExceeded"
    assert "150" not in over.json()["error"]["message"] and "3 requests" in over.json()["error"]["message"]
    assert float(over.headers["Retry-After"]) > 0
    assert get(sandbox, "", auth=("ops@globex.example", "*passglobex-pass")).status_code == 200
    assert get(sandbox, "", auth=("user@example.com", "*passwrong")).status_code == 401  # not counted
    budget = admin(sandbox, "GET", "counters")["jobs"]["brightmetrics"]["budget"]
    assert budget["acme"] == {"used": 3, "limit": 3, "rejected": 1}
    assert budget["globex"]["used"] == 1
    admin(sandbox, "POST", "vendors/brightmetrics/reset-budget", {"company": "acme"})
    assert get(sandbox, "").status_code == 200


def test_status_polls_can_be_left_uncounted_and_the_hour_can_start_at_completion(sandbox: Any) -> None:
    settings(
        sandbox,
        count_status_polls=False,
        job_seconds=100,
        status_ttl_from="completed",
        preference_applied=True,
    )
    accepted = get(sandbox, CALLER_ID, filt(DAY), Prefer="respond-async")
    assert accepted.headers["Preference-Applied"] == "respond-async"
    location = accepted.headers["Location"]
    for _ in range(3):
        assert requests.get(location, auth=CLEAR, timeout=10).status_code == 202
    admin(sandbox, "POST", "vendors/brightmetrics/advance", {"seconds": 3650})  # > 1 h after the request
    assert requests.get(location, auth=CLEAR, timeout=10).status_code == 200
    assert admin(sandbox, "GET", "counters")["jobs"]["brightmetrics"]["budget"]["acme"]["used"] == 1
