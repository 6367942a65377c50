"""Processes of the end-to-end harness: a generic service, PostgreSQL and Redis on loopback.

Each service is a child process of the test session with its output in a log file under the
harness' temp dir; it is stopped (SIGTERM, then SIGKILL) by the harness and never by name.
Readiness is waited for by polling something real (a log line, a TCP answer) with a deadline,
never by sleeping a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")

#: Debian's packages that provide the servers (installed by ``.ci/run``).
DEBIAN_PACKAGES = {"postgres": "postgresql", "redis": "redis-server"}


class HarnessError(RuntimeError):
    """A service did not start, or a wait ran out of time."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    what: str,
    check: Callable[[], _T | None],
    *,
    timeout: float,
    interval: float = 0.5,
    on_timeout: Callable[[], str] | None = None,
) -> _T:
    """Poll ``check`` until it returns something other than ``None``/``False``; return it.

    The deadline turns a hang into a failure naming ``what``; ``on_timeout`` adds context
    (e.g. the tail of a service log) to the error.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@dataclass
class Service:
    """One long-running child process with its output in ``log``.

    :param name: label in errors and log file names.
    :param argv: the command.
    :param env: its whole environment.
    :param log: file receiving stdout and stderr.
    :param user: run as this user (``Popen(user=...)``), e.g. ``postgres`` when the session is root.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log: Path
    cwd: Path | None = None
    user: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                list(self.argv),
                env=dict(self.env),
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group: a SIGKILL of the service reaches its children too.
                start_new_session=True,
                **kwargs,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, needle: str, timeout: float, *, after: int = 0) -> int:
        """Wait until ``needle`` appears in the log past offset ``after``; return the offset after it."""

        def check() -> int | None:
            if not self.alive():
                raise HarnessError(
                    f"{self.name} exited ({self.proc and self.proc.returncode}):\n{tail(self.log)}"
                )
            text = self.log_text()
            index = text.find(needle, after)
            return None if index < 0 else index + len(needle)

        return wait_until(f"{self.name} to log {needle!r}", check, timeout=timeout, on_timeout=self._tail)

    def _tail(self) -> str:
        return f"--- {self.log}:\n{tail(self.log)}"

    def kill(self) -> int:
        """SIGKILL the whole process group (what an OOM killer or a lost node does); return its pid."""
        assert self.proc is not None
        pid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return pid

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` (idempotent)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def _server_binary(name: str, debian_globs: Sequence[str]) -> Path | None:
    for pattern in debian_globs:
        found = sorted(Path("/").glob(pattern.lstrip("/")), key=lambda p: p.parts)
        if found:
            return found[-1]
    which = shutil.which(name)
    return Path(which) if which else None


def postgres_bindir() -> Path | None:
    """Debian's ``/usr/lib/postgresql/<version>/bin`` (newest), or where ``initdb`` is on PATH."""
    initdb = _server_binary("initdb", ["/usr/lib/postgresql/*/bin/initdb"])
    return initdb.resolve().parent if initdb else None


def redis_binary() -> Path | None:
    return _server_binary("redis-server", ["/usr/bin/redis-server"])


def _drop_to() -> str | None:
    """The user a server that refuses root runs as: ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    for candidate in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(candidate)
            return candidate
    raise HarnessError("running as root and neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port, its log in ``log_dir``.

    ``initdb`` makes the cluster with a random password (SCRAM) for the superuser ``airflow``;
    durability is switched off because the cluster dies with the test session. The cluster
    lives in its own folder under the system temp dir: as root it belongs to the ``postgres``
    user (PostgreSQL refuses to run as root), which must reach it.
    """

    log_dir: Path
    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cc-e2e-pg-")))
    port: int = field(default_factory=free_port)
    user: str = "airflow"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    database: str = "airflow"
    service: Service | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> PostgresServer:
        run_as = _drop_to()
        data = self.root / "data"
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        kwargs: dict[str, Any] = {}
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
            env["HOME"] = str(self.root)
        done = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )
        pwfile.unlink()
        if done.returncode:
            raise HarnessError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        self.service = Service(
            "postgres",
            [
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            env,
            self.log_dir / "postgres.log",
            user=run_as,
        ).start()
        self.service.wait_for_log("database system is ready to accept connections", timeout=120)
        self._create_database()
        return self

    def connect(self, database: str | None = None) -> Any:
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
        )

    def _create_database(self) -> None:
        conn = self.connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def dump(self, target: Path) -> Path:
        """``pg_dump`` of the whole database as plain SQL (what a backup would hold)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGPASSWORD": self.password,
            "LC_ALL": "C.UTF-8",
        }
        with target.open("wb") as out:
            done = subprocess.run(
                [
                    str(self.bindir / "pg_dump"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    self.user,
                    "--no-owner",
                    self.database,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.PIPE,
                check=False,
            )
        if done.returncode:
            raise HarnessError(f"pg_dump failed: {done.stderr.decode(errors='replace')}")
        return target

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    """``redis-server`` on a free loopback port, no persistence, password protected."""

    root: Path
    binary: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    service: Service | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "redis.conf"
        # The password goes in a file, not on the command line where `ps` shows it.
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {self.root}",
                    'save ""',
                    "appendonly no",
                    "protected-mode yes",
                    f"requirepass {self.password}",
                    "",
                ]
            )
        )
        os.chmod(conf, 0o600)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.service = Service(
            "redis", [str(self.binary), str(conf)], env, self.root.parent / "logs" / "redis.log"
        ).start()
        self.service.wait_for_log("Ready to accept connections", timeout=60)
        return self

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
