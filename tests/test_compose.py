"""The docker-compose stack, checked without a Docker daemon.

Static: docker-compose.yaml, .env.example and the Dockerfile are parsed and cross-checked
(service names, shared Airflow settings, URLs that must name compose services, the
Airflow pin). Native: the sandbox service's own command runs as a local process and
answers its own healthcheck, and every ``airflow ...`` command line the stack runs is
parsed by the real Airflow CLI parser of this venv (one subprocess for all of them).
"""

from __future__ import annotations

import graphlib
import importlib.metadata
import importlib.util
import json
import os
import queue
import re
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from e2e.airflow_stack import COMPONENT_COMMANDS

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SETTINGS_MODULE = REPO / "dags" / "cc_example_settings.py"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}
OTHER_SERVICES = {"postgres", "sandbox", "minio", "minio-init"}
#: One-shot services: others wait for them with ``service_completed_successfully``.
ONE_SHOT = {"airflow-init", "minio-init"}
#: Top-level CLI groups that only exist when the FAB auth manager is installed and configured.
FAB_COMMANDS = {"users", "roles", "permissions", "sync-perm"}
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
#: Compose service -> the Airflow component (a key of the e2e harness' COMPONENT_COMMANDS).
COMPONENT_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
#: Where the sandbox is reached from the Airflow containers.
SANDBOX_ROOT = "http://sandbox:8765"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as compose reads them (comments, blank lines, single quotes)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"{path.name}:{number} is not KEY=VALUE"
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        assert key not in values, f"{path.name}: {key} set twice"
        values[key] = value
    return values


def command_argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    """The healthcheck as an argv (``CMD`` form) or a shell line (``CMD-SHELL`` form)."""
    test = service["healthcheck"]["test"]
    kind, *rest = test
    assert kind in {"CMD", "CMD-SHELL"}
    return rest if kind == "CMD" else shlex.split(rest[0].replace("$$", "$"))


def healthcheck_url(service: dict[str, Any]) -> str:
    urls = [arg for arg in healthcheck_argv(service) if arg.startswith("http://")]
    assert len(urls) == 1, urls
    return urls[0]


def container_ports(service: dict[str, Any]) -> set[int]:
    """Container-side ports of ``ports: ["HOST:CONTAINER"]``."""
    return {int(str(mapping).rsplit(":", 1)[-1]) for mapping in service.get("ports", [])}


def listening_port(name: str, service: dict[str, Any]) -> int:
    """The port a non-Airflow service's command listens on."""
    argv = command_argv(service)
    if name == "sandbox":
        return int(option(argv, "--port"))
    if name == "minio":
        return int(option(argv, "--address").rsplit(":", 1)[-1])
    raise AssertionError(f"no known listening port for {name}")


def airflow_command_lines(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Every ``airflow ...`` argv (without the ``airflow``) the stack runs.

    Taken from the Airflow services' commands, the airflow-init script (where each call
    goes through ``/entrypoint``) and the healthchecks.
    """
    found: list[list[str]] = []
    for name in sorted(AIRFLOW_SERVICES):
        service = services[name]
        if name != "airflow-init":
            found.append(command_argv(service))
        shell_lines: list[str] = []
        if name == "airflow-init":
            shell_lines += command_argv(service)[-1].splitlines()
        if "healthcheck" in service and service["healthcheck"]["test"][0] == "CMD-SHELL":
            shell_lines.append(service["healthcheck"]["test"][1])
        for line in shell_lines:
            tokens = shlex.split(line.replace("$$", "$"), comments=True)
            if "airflow" not in tokens:
                continue
            argv: list[str] = []
            for token in tokens[tokens.index("airflow") + 1 :]:
                if token.startswith((">", "<", "|", "&", ";")):
                    break
                argv.append(token)
            found.append(argv)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- static


def test_services_are_the_local_executor_stack(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == AIRFLOW_SERVICES | OTHER_SERVICES
    assert services["postgres"]["image"] == "postgres:16"
    assert container_ports(services["airflow-apiserver"]) == {8080}
    # Each Airflow component runs the very command line the end-to-end tests run natively
    # (they add only the loopback address and port of the api-server), so what CI proves
    # is what the stack runs. A triggerer is among them: without one deferred exports hang.
    assert {service: command_argv(services[service]) for service in COMPONENT_SERVICES} == {
        service: COMPONENT_COMMANDS[component] for service, component in COMPONENT_SERVICES.items()
    }


def test_airflow_services_share_the_common_anchor(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    common = compose["x-airflow-common"]
    env = common["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "true"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    assert common["build"] == "."
    assert common["env_file"] == ".env"
    assert "./dags:/opt/airflow/dags" in [v.replace("${AIRFLOW_PROJ_DIR:-.}", ".") for v in common["volumes"]]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        # Every anchor setting reaches the service unchanged (services may only add).
        assert {k: service["environment"].get(k) for k in env} == env, name
        assert (service["image"], service["build"], service["env_file"]) == (
            common["image"],
            ".",
            ".env",
        ), name
        assert service["volumes"] == common["volumes"], name
    # The sandbox runs from the same image, so it serves the installed provider's code.
    assert (services["sandbox"]["image"], services["sandbox"]["build"]) == (common["image"], ".")


def test_execution_api_url_points_at_the_api_server(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    url = urlsplit(compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver"
    assert command_argv(services[url.hostname])[0] == "api-server"
    assert url.port in container_ports(services[url.hostname])
    assert url.path == "/execution/"
    health = urlsplit(healthcheck_url(services["airflow-apiserver"]))
    assert (health.port, health.path) == (url.port, "/api/v2/version")


def test_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    sandbox = services["sandbox"]
    health = urlsplit(healthcheck_url(sandbox))
    assert (health.port, health.path) == (listening_port("sandbox", sandbox), "/_sandbox/health")
    assert healthcheck_argv(services["minio"]) == ["mc", "ready", "local"]
    scheduler = urlsplit(healthcheck_url(services["airflow-scheduler"]))
    assert (scheduler.port, scheduler.path) == (8974, "/health")
    # Every long-running service can be waited on with service_healthy.
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert "healthcheck" in service, name


def test_depends_on_names_existing_services_without_cycles(services: dict[str, dict[str, Any]]) -> None:
    graph: dict[str, set[str]] = {}
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use the long form with a condition"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if target in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, target)
            else:
                assert condition == "service_healthy", (name, target)
                assert "healthcheck" in services[target], (name, target)
        graph[name] = set(depends)
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    # Tasks run in the scheduler (LocalExecutor) and call the sandbox and MinIO.
    assert {"sandbox", "minio-init", "airflow-apiserver", "airflow-init"} <= set(
        services["airflow-scheduler"]["depends_on"]
    )
    assert "sandbox" in services["airflow-triggerer"]["depends_on"]
    assert order.index("airflow-init") > order.index("postgres")


def vendor_connections(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` of every sandbox vendor as its VendorSpec builds it for the compose sandbox.

    Built in a subprocess with the sandbox service's own environment (its export share), so
    the result is what the sandbox container itself would hand out.
    """
    env = {**os.environ, **{k: str(v) for k, v in services["sandbox"].get("environment", {}).items()}}
    script = (
        "import json, sys; sys.path.insert(0, 'scripts'); from demo import sandbox_connections; "
        f"print(json.dumps(sandbox_connections({SANDBOX_ROOT!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    connections: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return connections


def test_env_example_presets_every_vendor_connection_from_its_vendor_spec(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    expected = vendor_connections(services)
    assert expected, "no sandbox vendor declares an Airflow connection"
    found = {key: env_example.get(key) for key in expected}
    lines = "\n".join(f"{key}='{value}'" for key, value in sorted(expected.items()))
    # Compared decoded (key order and spacing do not matter); the message is the block to paste.
    same = {k: json.loads(v) if v else None for k, v in found.items()} == {
        k: json.loads(v) for k, v in expected.items()
    }
    assert same, f".env.example's vendor connections differ from the VendorSpecs; paste:\n{lines}"
    assert all("'" not in value for value in expected.values()), "a single quote would end the .env value"


def test_env_example_connections_point_at_compose_services(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    from airflow.sdk import Connection

    conns = {
        key.removeprefix("AIRFLOW_CONN_").lower(): Connection.from_json(
            value, conn_id=key.removeprefix("AIRFLOW_CONN_").lower()
        )
        for key, value in env_example.items()
        if key.startswith("AIRFLOW_CONN_")
    }
    vendor_ids = {key.removeprefix("AIRFLOW_CONN_").lower() for key in vendor_connections(services)}
    assert set(conns) == vendor_ids | {"minio_s3"}
    assert env_example["CC_GENESYS_CONN_ID"] in vendor_ids

    # Every vendor URL of every connection names the sandbox service on its listening port.
    vendor_urls = [
        value
        for conn_id in vendor_ids
        for value in [conns[conn_id].host or "", *map(str, conns[conn_id].extra_dejson.values())]
        if value.startswith("http")
    ]
    assert len(vendor_urls) >= len(vendor_ids)
    genesys_urls = [
        conns["genesys_cloud_default"].extra_dejson["api_base_url"],
        conns["genesys_cloud_default"].extra_dejson["login_base_url"],
    ]
    assert [urlsplit(u).path for u in genesys_urls] == ["/genesys-cloud", "/genesys-cloud/login"]

    storage = conns[env_example["CC_OUTPUT_CONN_ID"]]
    assert storage.conn_type == "aws"
    # Compared as a boolean so a mismatch never prints the secrets.
    same_credentials = (storage.login, storage.password) == (
        env_example["MINIO_ROOT_USER"],
        env_example["MINIO_ROOT_PASSWORD"],
    )
    assert same_credentials, "AIRFLOW_CONN_MINIO_S3 must use MINIO_ROOT_USER / MINIO_ROOT_PASSWORD"

    for url in [*vendor_urls, storage.extra_dejson["endpoint_url"]]:
        parts = urlsplit(url)
        assert parts.hostname in services, url
        assert parts.port == listening_port(parts.hostname, services[parts.hostname]), url

    bucket = urlsplit(env_example["CC_OUTPUT_BASE_URI"])
    assert bucket.scheme == "s3"
    assert f"local/{bucket.netloc}" in command_argv(services["minio-init"])[-1]
    assert env_example["AIRFLOW_UID"] == "50000"
    settings_source = SETTINGS_MODULE.read_text()
    for key in env_example:
        if key.startswith("CC_"):
            assert f'"{key}"' in settings_source, f"{key} is not read by dags/cc_example_settings.py"


def test_minio_connection_addresses_the_compose_host_path_style(
    env_example: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Virtual-hosted addressing would resolve ``<bucket>.minio``, unknown in the compose network."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    monkeypatch.setenv("AIRFLOW_CONN_MINIO_S3", env_example["AIRFLOW_CONN_MINIO_S3"])
    hook = S3Hook(aws_conn_id="minio_s3")
    assert getattr(hook.conn_config.botocore_config, "s3", None) == {"addressing_style": "path"}
    client = hook.get_conn()
    bucket = urlsplit(env_example["CC_OUTPUT_BASE_URI"]).netloc
    # Signing is local: no request is sent. Only host and path are compared (never printed whole).
    url = urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}))
    assert (url.netloc, url.path) == ("minio:9000", f"/{bucket}/k")


def test_dockerfile_pins_airflow_to_the_image_version() -> None:
    text = DOCKERFILE.read_text()
    match = re.search(r"^FROM apache/airflow:(\d+\.\d+\.\d+)\s*$", text, re.MULTILINE)
    assert match, "Dockerfile must start from an apache/airflow:X.Y.Z image"
    # The tests here run against the same Airflow as the image.
    assert match.group(1) == importlib.metadata.version("apache-airflow")
    run = re.search(r"^RUN pip install --no-cache-dir (.+)$", text, re.MULTILINE)
    assert run
    assert shlex.split(run.group(1)) == ["apache-airflow==${AIRFLOW_VERSION}", ".[s3]"]
    assert text.index("USER airflow") < run.start()
    for source in ("pyproject.toml", "README.md", "provider/", "include/"):
        assert re.search(rf"^COPY .*\b{re.escape(source)}", text, re.MULTILINE), source
    ignored = set(DOCKERIGNORE.read_text().split())
    assert {".git", ".venv", "output", ".airflow-demo", ".env", ".pytest_cache"} <= ignored


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """``{container path: source}`` of a service's volumes."""
    return {v.rsplit(":", 1)[1]: v.rsplit(":", 1)[0] for v in (str(x) for x in service.get("volumes", []))}


def test_files_shared_between_containers_are_on_shared_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """What one container writes and another reads must be on a volume both mount."""
    named = set(compose.get("volumes") or {})
    # The limits store: tasks (scheduler container) and triggers (triggerer container) count in it.
    store = urlsplit(compose["x-airflow-common"]["environment"]["CC_LIMITS_STORE"])
    assert store.scheme == "file"
    for name in ("airflow-scheduler", "airflow-triggerer"):
        assert mounts(services[name]).get(store.path) in named, (name, store.path)
    # Context Services' export share: the sandbox writes, the Airflow side reads files_base_url.
    share = services["sandbox"]["environment"]["CC_SANDBOX_GMS_EXPORT_DIR"]
    volume = mounts(services["sandbox"]).get(share)
    assert volume in named
    for name in ("airflow-scheduler", "airflow-triggerer"):
        assert mounts(services[name]).get(share) == volume, name
    gms = json.loads(vendor_connections(services)["AIRFLOW_CONN_GENESYS_CONTEXT_SERVICES_DEFAULT"])
    assert urlsplit(gms["extra"]["files_base_url"]).path == share


# --------------------------------------------------------------------------- native


def test_sandbox_service_command_runs_natively(services: dict[str, dict[str, Any]]) -> None:
    sandbox = services["sandbox"]
    argv = command_argv(sandbox)
    assert argv[:3] == ["python", "-m", "contact_center_provider.sandbox"]
    assert option(argv, "--host") == "0.0.0.0"
    port = free_port()
    argv[0] = sys.executable
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)

    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=os.environ.copy()
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    output: list[str] = []
    try:
        while True:
            # The timeout only turns a hang into a failure; readiness is the printed line.
            line = lines.get(timeout=60)
            assert line is not None, "sandbox exited before ready:\n" + "".join(output)
            output.append(line)
            if line.startswith("sandbox ready:"):
                break
        assert f"http://127.0.0.1:{port}" in output[-1]
        health = urlsplit(healthcheck_url(sandbox))
        response = requests.get(f"http://127.0.0.1:{port}{health.path}", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "seed": int(option(argv, "--seed"))}
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=30)
        reader.join(timeout=30)
    assert returncode == 0
    remaining: list[str] = []
    while (line := lines.get_nowait()) is not None:
        remaining.append(line)
    assert "sandbox stopped\n" in remaining


_PARSE_SCRIPT = """
import contextlib, io, json, sys
from airflow.cli.cli_parser import get_parser
from airflow.configuration import conf

parser = get_parser()
results = {}
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = parser.parse_args(argv)
        results[" ".join(argv)] = "ok" if callable(getattr(args, "func", None)) else "no command"
    except SystemExit as exc:
        results[" ".join(argv)] = f"exit {exc.code}: " + err.getvalue().strip().splitlines()[-1]
print(json.dumps({
    "results": results,
    "api_port": conf.getint("api", "port"),
    "scheduler_health_port": conf.getint("scheduler", "scheduler_health_check_server_port"),
}))
"""


@pytest.fixture(scope="module")
def cli_check(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Parse every airflow command line of the stack with this venv's CLI, in ONE process.

    ``parse_args`` of the full argv is stricter than ``<cmd> --help``: it also rejects an
    unknown option or choice, and it never runs the command.
    """
    fab_installed = importlib.util.find_spec("airflow.providers.fab") is not None
    commands = airflow_command_lines(services)
    env = os.environ.copy()
    env["AIRFLOW__CORE__EXECUTOR"] = compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__EXECUTOR"]
    if fab_installed:
        env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB_AUTH_MANAGER
    else:
        commands = [c for c in commands if c[0] not in FAB_COMMANDS]
    airflow = Path(sys.executable).with_name("airflow")
    assert airflow.exists(), "the venv has no airflow console script"
    done = subprocess.run(
        [sys.executable, "-c", _PARSE_SCRIPT, json.dumps(commands)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["fab_installed"] = fab_installed
    result["all_commands"] = airflow_command_lines(services)
    return result


def test_airflow_commands_of_the_stack_exist(cli_check: dict[str, Any]) -> None:
    found = {" ".join(c[:2]) if c[0] in {"db", "config", "jobs"} else c[0] for c in cli_check["all_commands"]}
    assert {"api-server", "scheduler", "dag-processor", "triggerer", "db migrate", "config list"} <= found
    assert {"jobs check", "users"} <= found
    failures = {cmd: res for cmd, res in cli_check["results"].items() if res != "ok"}
    assert not failures
    # The healthchecks and the execution API URL use Airflow's default ports.
    assert cli_check["api_port"] == 8080
    assert cli_check["scheduler_health_port"] == 8974


def test_fab_user_creation_command_exists(cli_check: dict[str, Any]) -> None:
    if not cli_check["fab_installed"]:
        pytest.skip("apache-airflow-providers-fab is in the apache/airflow image but not in this venv")
    users = [" ".join(c) for c in cli_check["all_commands"] if c[0] == "users"]
    assert users
    assert all(cli_check["results"][cmd] == "ok" for cmd in users)
