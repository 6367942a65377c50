"""Helpers for the Genesys Context Services tests: the sandbox's export folder and a connection to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from contact_center_provider.sandbox.genesys_context_services import VENDOR

NAME = "genesys_context_services"
EXPORT = "/genesys/1/cs/maintenance/services/files"
STREAM = "/genesys/1/cs/maintenance/services/stream"
#: The server's "now" in most tests: the day after the interval, so every service's state is fixed.
CLOCK = "2026-11-03T00:00:00Z"
FROM = "2026-11-02T14:00:00.000Z"
TO = "2026-11-02T15:00:00.000Z"
AUTH = ("sandbox-user", "sandbox-password")


@dataclass
class Gms:
    """The reset session sandbox, exporting into ``export_dir``; ``conn_id`` points at both."""

    url: str
    root: str
    export_dir: Path
    conn_id: str

    def settings(self, **values: Any) -> dict[str, Any]:
        response = requests.patch(f"{self.root}/_sandbox/vendors/{NAME}/settings", json=values, timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def finish_writes(self) -> dict[str, Any]:
        response = requests.post(f"{self.root}/_sandbox/vendors/{NAME}/finish-writes", timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def export(self, auth: tuple[str, str] | None = AUTH, **params: str) -> requests.Response:
        query = {"time_from": FROM, "time_to": TO, "file_prefix": "/var/gms/export/t_", **params}
        return requests.post(f"{self.url}{EXPORT}", params=query, auth=auth, timeout=30)

    def read(self, server_path: str) -> bytes:
        return (self.export_dir / server_path.replace("\\", "/").rsplit("/", 1)[-1]).read_bytes()


def connection(root: str, export_dir: Path, **extra: Any) -> dict[str, Any]:
    """The VendorSpec's connection, with files_base_url moved to ``export_dir``."""
    conn = VENDOR.airflow_connection(root)  # type: ignore[misc]
    conn["extra"] = {**conn["extra"], "files_base_url": export_dir.as_uri(), **extra}
    return conn


@pytest.fixture
def gms(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gms:
    export_dir = tmp_path / "gms-export"
    export_dir.mkdir()
    env = Gms(sandbox.vendor_url(NAME), sandbox.url, export_dir, "gms_test")
    env.settings(export_dir=str(export_dir), clock=CLOCK)
    monkeypatch.setenv("AIRFLOW_CONN_GMS_TEST", json.dumps(connection(sandbox.url, export_dir)))
    return env
