"""The demo: the example DAGs against the built-in sandbox, writing under ./output/.

Run it with ``python3 dev.py demo`` (which makes the virtualenv). It

1. starts the vendor sandbox on a free loopback port,
2. prepares a private Airflow home (``./.airflow-demo``, SQLite) and points the
   ``genesys_cloud_default`` connection at the sandbox,
3. runs ``airflow dags test`` for each example DAG on a fixed interval (real
   deferral: the triggers run inline), and
4. prints where each report landed.

Options: ``--output DIR`` (default ./output), ``--date`` the logical date to test
(default 2026-11-02T15:00:00+00:00; ``dags test D`` covers the interval *ending* at D),
``--dag`` to run only some DAGs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATE = "2026-11-02T15:00:00+00:00"


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "contact_center_provider.sandbox", "--port", "0", "--seed", "42"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("sandbox ready: "):
            return proc, line.split()[2]
    raise SystemExit("the sandbox exited before it was ready")


def sandbox_connections(sandbox_url: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables for every sandbox vendor, as each vendor declares them."""
    from contact_center_provider.sandbox.vendors import discover_vendors

    env = {}
    for spec in discover_vendors().values():
        if spec.airflow_connection is not None and spec.default_conn_id:
            env[f"AIRFLOW_CONN_{spec.default_conn_id.upper()}"] = json.dumps(
                spec.airflow_connection(sandbox_url)
            )
    return env


def example_dags() -> list[str]:
    """Every example DAG id in ``dags/`` (one DAG per file, named like the file)."""
    return sorted(p.stem for p in (ROOT / "dags").glob("*.py") if not p.stem.startswith(("_", "cc_example")))


def airflow_env(home: Path, output: Path, sandbox_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "CC_OUTPUT_BASE_URI": output.resolve().as_uri(),
            **sandbox_connections(sandbox_url),
        }
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default=str(ROOT / "output"))
    parser.add_argument("--date", default=DEFAULT_DATE)
    parser.add_argument("--dag", action="append", choices=example_dags())
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    home = ROOT / ".airflow-demo"
    home.mkdir(exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))

    sandbox, url = start_sandbox()
    print(f"sandbox: {url}", flush=True)
    try:
        env = airflow_env(home, output, url)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        failed = []
        for dag_id in args.dag or example_dags():
            print(f"== airflow dags test {dag_id} {args.date}", flush=True)
            log = home / f"{dag_id}.log"
            with log.open("w") as handle:
                result = subprocess.run(
                    [airflow, "dags", "test", dag_id, args.date],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            print(f"   {'ok' if result.returncode == 0 else 'FAILED'} (log: {log})", flush=True)
            if result.returncode:
                failed.append(dag_id)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    tables = sorted(p.parent for p in (output / "tables").rglob("part-00000.parquet"))
    print("\nTables (Parquet, and CSV where the DAG asks):")
    for folder in tables:
        print(f"  {folder.relative_to(output)}")
    # The main file of each report (pages it links to sit in its "*_files/" folder beside it).
    reports = sorted(
        p
        for p in (output / "reports").rglob("*")
        if p.is_file() and not p.name.startswith(".") and not p.parent.name.endswith("_files")
    )
    print("\nReports:")
    for path in reports:
        print(f"  {path}")
    if failed:
        print(f"\nFailed DAGs: {', '.join(failed)} — see their logs above.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
