"""The installed package registers with Airflow: what ``airflow providers ...`` shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contact_center_provider.get_provider_info import get_provider_info

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
CONNECTION_TYPES = {
    "genesys_cloud",
    "nice_cxone",
    "brightmetrics",
    "genesys_context_services",
    "genesys_cdds",
}


@pytest.fixture(scope="module")
def providers_cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the three CLI listings once, in a fresh AIRFLOW_HOME, in parallel."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home"))}
    procs = {
        cmd: subprocess.Popen(
            [AIRFLOW, "providers", cmd, "--output", "plain"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in ("list", "hooks", "widgets")
    }
    results = {}
    for cmd, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[cmd] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def test_providers_list_shows_the_package(providers_cli: dict[str, subprocess.CompletedProcess[str]]) -> None:
    listing = providers_cli["list"]
    assert listing.returncode == 0, listing.stderr
    assert "airflow-provider-contact-center" in listing.stdout


def test_hooks_and_widgets_show_the_five_connection_types(
    providers_cli: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    hooks = providers_cli["hooks"].stdout
    for conn_type in CONNECTION_TYPES:
        assert re.search(rf"^{conn_type}\s+contact_center_provider\.hooks\.{conn_type}\.", hooks, re.M), (
            conn_type
        )
    widgets = providers_cli["widgets"].stdout
    for field in (
        "extra__genesys_cloud__region",
        "extra__genesys_cloud__api_base_url",
        "extra__nice_cxone__client_secret",
        "extra__brightmetrics__api_key",
        "extra__genesys_context_services__files_base_url",
        "extra__genesys_cdds__private_key",
    ):
        assert field in widgets


def test_no_warning_mentions_our_package(providers_cli: dict[str, subprocess.CompletedProcess[str]]) -> None:
    for cmd, result in providers_cli.items():
        noise = [
            line
            for line in (result.stderr + result.stdout).splitlines()
            if "contact_center" in line and ("warn" in line.lower() or "error" in line.lower())
        ]
        assert noise == [], cmd


def test_provider_info_is_declarative_and_consistent() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-contact-center"
    types = {c["connection-type"]: c for c in info["connection-types"]}
    assert set(types) == CONNECTION_TYPES
    import importlib

    for conn_type, spec in types.items():
        module, _, name = spec["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert hook.conn_type == conn_type
        # Forms come from conn-fields, not the hook methods Airflow 3.2 deprecated.
        assert "get_connection_form_widgets" not in vars(hook)
        assert "get_ui_field_behaviour" not in vars(hook)
        for field in spec["conn-fields"].values():
            assert field["label"] and "type" in field["schema"]
    secrets = {
        (t, f)
        for t, c in types.items()
        for f, v in c["conn-fields"].items()
        if v["schema"].get("format") == "password"
    }
    assert ("nice_cxone", "client_secret") in secrets and ("genesys_cdds", "private_key") in secrets
    assert types["genesys_cloud"]["ui-field-behaviour"]["relabeling"] == {
        "login": "Client ID",
        "password": "Client Secret",
    }


def test_every_connection_type_builds_its_hook_and_tests_it_like_the_ui_button(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Connection.get_hook()`` (what the UI's Test button uses) builds each vendor's hook
    from ``{conn_name_attr: conn_id}``, and ``test_connection()`` reaches the sandbox."""
    import json

    from airflow.sdk import BaseHook

    from contact_center_provider.get_provider_info import get_provider_info
    from contact_center_provider.sandbox.vendors import discover_vendors

    types = {c["connection-type"]: c["hook-class-name"] for c in get_provider_info()["connection-types"]}
    specs = {spec.name: spec for spec in discover_vendors().values()}
    assert set(types) == set(specs)
    for conn_type, hook_class in types.items():
        connection = specs[conn_type].airflow_connection(sandbox.url)  # type: ignore[misc]
        assert connection["conn_type"] == conn_type
        monkeypatch.setenv(f"AIRFLOW_CONN_UI_{conn_type.upper()}", json.dumps(connection))
        hook = BaseHook.get_connection(f"ui_{conn_type}").get_hook()
        assert f"{type(hook).__module__}.{type(hook).__qualname__}" == hook_class
        ok, message = hook.test_connection()
        assert ok, f"{conn_type}: {message}"


def test_readme_documents_every_table_and_column() -> None:
    from contact_center_provider.transforms.genesys_schemas import ALL_TABLES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for table, schema in ALL_TABLES.items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{table}` |")), None)
        assert row is not None, f"README has no row for table {table}"
        assert [name for name in schema.names if f"`{name}`" not in row] == [], table
