"""NICE CXone result files without Arrow: the documented columns, names, and a streaming row counter.

Light enough for DAG-parse paths (hooks and operators import it); the Arrow side is
:mod:`contact_center_provider.transforms.nice_cxone`.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Literal

__all__ = [
    "HEADER_PROBE",
    "QM_WORKFLOWS_COLUMNS",
    "QM_WORKFLOWS_ENTITY",
    "CsvRowCounter",
    "Kind",
    "is_typed_entity",
    "normalize_header",
    "snake_case",
    "table_name",
]

Kind = Literal["string", "int", "double", "bool", "timestamp"]

QM_WORKFLOWS_ENTITY = "qm-workflows"

#: ``(documented header, column name, type)`` in the document's order.
QM_WORKFLOWS_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("Tenant Name", "tenant_name", "string"),
    ("Agent ID", "agent_id", "string"),
    ("Type", "type", "string"),
    ("Evaluation Flow Trigger", "evaluation_flow_trigger", "string"),
    ("Workflow Status", "workflow_status", "string"),
    ("Auto Acknowledged", "auto_acknowledged", "bool"),
    ("Workflow State", "workflow_state", "string"),
    ("Plan Name", "plan_name", "string"),
    ("Form Name", "form_name", "string"),
    ("Form Version", "form_version", "int"),
    ("Start Date", "start_date", "timestamp"),
    ("Submission Date", "submission_date", "timestamp"),
    ("Last Updated", "last_updated", "timestamp"),
    ("Score \u2013 Percentage", "score_percentage", "double"),
    ("Score", "score", "double"),
    ("Maximum Possible Score", "maximum_possible_score", "double"),
    ("Rank", "rank", "string"),
    ("Failed Critical Question", "failed_critical_question", "bool"),
    ("User Review Comments", "user_review_comments", "string"),
    ("Dispute Resolver Comments", "dispute_resolver_comments", "string"),
    ("Segment ID", "segment_id", "string"),
    ("ACD ID", "acd_id", "string"),
    ("Interaction Type", "interaction_type", "string"),
    ("Interaction Start Date", "interaction_start_date", "timestamp"),
    ("Interaction End Date", "interaction_end_date", "timestamp"),
    ("Interaction Direction", "interaction_direction", "string"),
    ("Team ID", "team_id", "string"),
    ("Team Name", "team_name", "string"),
    ("Phone Number", "phone_number", "string"),
    ("FirstName (Eva)", "evaluator_first_name", "string"),
    ("LastName (Eva)", "evaluator_last_name", "string"),
    ("FirstName (Agent)", "agent_first_name", "string"),
    ("LastName (Agent)", "agent_last_name", "string"),
    ("FirstName (Disp)", "dispute_resolver_first_name", "string"),
    ("LastName (Disp)", "dispute_resolver_last_name", "string"),
    ("FirstName (Assigner)", "assigner_first_name", "string"),
    ("LastName (Assigner)", "assigner_last_name", "string"),
)

_DASHES = re.compile("[\u2010-\u2015\u2212-]")
_SPACES = re.compile(r"\s+")
#: Bytes read ahead to find a header row.
HEADER_PROBE = 64 * 1024


def normalize_header(header: str) -> str:
    """Compare headers without caring about case, spacing or the kind of dash."""
    return _SPACES.sub(" ", _DASHES.sub("-", header)).strip().casefold()


QM_BY_HEADER = {normalize_header(header): (name, kind) for header, name, kind in QM_WORKFLOWS_COLUMNS}


def snake_case(header: str) -> str:
    """A column name for a CSV header: ``"Agent 1 Skills"`` -> ``agent_1_skills``,
    ``"ACD Call ID"`` -> ``acd_call_id``, ``"FirstName (Eva)"`` -> ``first_name_eva``."""
    ascii_only = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", ascii_only.strip())
    name = re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower()
    return name or "column"


def table_name(entity: str) -> str:
    """The table an entity lands in: ``qm-workflows`` -> ``qm_workflows``."""
    return snake_case(entity)


def is_typed_entity(entity: str) -> bool:
    """Whether the entity has a typed table (else every column is text)."""
    return entity == QM_WORKFLOWS_ENTITY


class CsvRowCounter:
    """Count the records of a CSV as its bytes stream past, without parsing it, and keep its header.

    A line break ends a record unless it lies inside double quotes; a doubled quote inside a
    quoted value toggles the state twice, so counting quotes is enough. Feed every chunk
    through :meth:`feed` (it returns the chunk unchanged); :attr:`data_rows` excludes the
    header row, :attr:`header` parses it.
    """

    def __init__(self) -> None:
        self._quoted = False
        self._breaks = 0
        self._tail = b""
        self._head = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        if not self._breaks and len(self._head) < HEADER_PROBE:
            self._head += chunk[: HEADER_PROBE - len(self._head)]
        segments = chunk.split(b'"')
        for index, segment in enumerate(segments):
            if index:
                self._quoted = not self._quoted
            if not self._quoted:
                self._breaks += segment.count(b"\n")
        if chunk:
            self._tail = chunk[-1:]
        return chunk

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` through, counting."""
        for chunk in chunks:
            yield self.feed(chunk)

    @property
    def data_rows(self) -> int:
        """Records seen, minus the header (a last record without a final line break counts)."""
        records = self._breaks + (1 if self._tail not in (b"", b"\n") else 0)
        return max(0, records - 1)

    def rows_so_far(self) -> int:
        """:attr:`data_rows` as a callable (for a landing that asks once the stream is consumed)."""
        return self.data_rows

    @property
    def header(self) -> list[str]:
        """The header row's cells (``[]`` for an empty file)."""
        text = bytes(self._head).decode("utf-8", errors="replace").removeprefix("\ufeff")
        return next(csv.reader(io.StringIO(text, newline="")), [])
