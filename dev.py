#!/usr/bin/env python3
"""The two README commands, with nothing but Python 3.11+ and the package index.

    python3 dev.py demo    # example DAGs against the built-in sandbox -> ./output/
    python3 dev.py test    # lint, format check, mypy --strict and the test suite

Each creates ./.venv on first use and installs the project into it (editable, with
the ``dev`` extra). ``uv`` is used when it can be installed from the index because it
is several times faster than pip; pip is the fallback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"


def run(*cmd: str | Path, **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_venv() -> None:
    pyproject = ROOT / "pyproject.toml"
    if STAMP.exists() and STAMP.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    try:
        run(PY, "-m", "pip", "install", "--quiet", "uv")
        run(BIN / "uv", "pip", "install", "--python", PY, "-e", ".[dev]")
    except subprocess.CalledProcessError:
        run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    ensure_venv()
    if argv[0] == "test":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "mypy")
        run(PY, "-m", "pytest", *argv[1:])
    else:
        run(PY, ROOT / "scripts" / "demo.py", *argv[1:])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
