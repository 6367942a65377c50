"""The files a report is made of, and how the secondary ones are named.

A report is one *main* file (``abandons.txt``, ``call_detail.html``, ``presence.html``)
and, for the large ones, secondary files in a folder next to it named after the main
file (``presence_files/``, ``call_detail_files/``). A secondary file is named by a hash
of its bytes, so:

* a re-render of the same data writes the same names with the same bytes (re-runs are
  byte-identical);
* a re-render of changed data writes *new* names and leaves the files the previous
  main file links to in place; the main file is written last, so a reader (or a failed
  re-render) always sees one complete report; files no longer linked are removed only
  after the new main file is published.

Builders yield :class:`ReportFile` objects, secondary files first and the main file last.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Renderer", "ReportFile", "content_name", "files_dir"]

#: ``(template name, context) -> text``: how builders render without knowing the search path.
Renderer = Callable[[str, Mapping[str, Any]], str]

_HASH_CHARS = 20  # 80 bits: no collision among millions of files


@dataclass(frozen=True)
class ReportFile:
    """One file of a report.

    :param name: path relative to the main file's folder (``presence_files/ab12.html``).
    :param data: the file's bytes.
    :param main: True for the main file (yielded last).
    :param summary: on the main file, counts for the task's result (``{"agents": 10000}``).
    """

    name: str
    data: bytes
    main: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict)


def files_dir(main_name: str) -> str:
    """The folder of a report's secondary files: ``presence.html`` -> ``presence_files``."""
    base = posixpath.basename(main_name)
    stem = base.split(".", 1)[0] or base
    return f"{stem}_files"


def content_name(main_name: str, data: bytes, prefix: str = "", extension: str = "html") -> str:
    """``<files_dir>/<prefix><hash of data>.<extension>``: the name of a secondary file."""
    digest = hashlib.sha256(data).hexdigest()[:_HASH_CHARS]
    return f"{files_dir(main_name)}/{prefix}{digest}.{extension}"
