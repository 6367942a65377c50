"""The service side of ``$filter``: parse the text, enforce the documented rules, match rows.

Written independently of the provider's builder (``transforms/odata_filters.py``) so the
tests compare two readings of the document, not one with itself. Every violation is a
400 OData error naming the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .catalog import Report
from .errors import ODataError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2}))
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<word>[A-Za-z_]\w*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)

_OPS = {"eq", "ne", "in", "gt", "ge", "lt", "le"}
_RANGE = {"gt", "ge", "lt", "le"}


@dataclass(frozen=True)
class Clause:
    prop: str
    op: str
    value: Any  # str, datetime, float, or list[str] for "in"


def _bad(message: str) -> ODataError:
    return ODataError(400, message, "InvalidFilter", target="$filter")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _bad(f"Syntax error in $filter at position {pos}: {text[pos : pos + 20]!r}.")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "string":
        return raw[1:-1].replace("''", "'")
    if kind == "datetime":
        text = raw.replace("Z", "+00:00")
        if "." in text:  # Python takes at most 6 fractional digits
            head, _, tail = text.partition(".")
            digits = re.match(r"\d+", tail)
            assert digits is not None
            text = f"{head}.{digits.group(0)[:6].ljust(6, '0')}{tail[digits.end() :]}"
        return datetime.fromisoformat(text).astimezone(UTC)
    return float(raw)


def parse_filter(text: str) -> list[Clause]:
    """Parse ``<prop> <op> <value> [and ...]``; anything else is a 400."""
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0
    while i < len(tokens):
        if clauses:
            if tokens[i] != ("word", "and"):
                raise _bad(f"Only 'and' can combine filters; found {tokens[i][1]!r}.")
            i += 1
        if len(tokens) - i < 2:
            raise _bad("Incomplete filter expression.")
        kind, prop = tokens[i]
        op_kind, op = tokens[i + 1]
        if kind != "word" or op_kind != "word":
            raise _bad(f"Expected '<property> <operator> <value>' at {prop!r}.")
        if op not in _OPS:
            raise _bad(
                f"The operator '{op}' is not supported. Supported operators: eq, in, gt, ge, lt, le, ne."
            )
        i += 2
        if op == "in":
            if i >= len(tokens) or tokens[i] != ("punct", "("):
                raise _bad(f"'{prop} in' needs a parenthesised list of values.")
            i += 1
            values: list[Any] = []
            while True:
                if i >= len(tokens):
                    raise _bad("Unterminated 'in' list.")
                vkind, raw = tokens[i]
                if vkind not in ("string", "datetime", "number"):
                    raise _bad(f"Unexpected {raw!r} in the 'in' list of {prop}.")
                values.append(_literal(vkind, raw))
                i += 1
                if i < len(tokens) and tokens[i] == ("punct", ","):
                    i += 1
                    continue
                if i < len(tokens) and tokens[i] == ("punct", ")"):
                    i += 1
                    break
                raise _bad(f"Unterminated 'in' list of {prop}.")
            clauses.append(Clause(prop, op, values))
            continue
        if i >= len(tokens):
            raise _bad(f"Missing value after '{prop} {op}'.")
        vkind, raw = tokens[i]
        if vkind not in ("string", "datetime", "number"):
            raise _bad(f"Unexpected {raw!r} after '{prop} {op}'.")
        clauses.append(Clause(prop, op, _literal(vkind, raw)))
        i += 1
    return clauses


def validate(clauses: list[Clause], report: Report) -> None:
    """Apply the document's rules for this report; the first violation is a 400."""
    types = report.filter_types
    seen: dict[str, list[str]] = {}
    agent: str | None = None
    for clause in clauses:
        if "__" in clause.prop or clause.prop.startswith("_") or clause.prop.endswith("_"):
            raise _bad(
                f"'{clause.prop}' is not a valid property name: spaces and punctuation in filter names "
                "are replaced with a single underscore."
            )
        if clause.prop in report.locked:
            raise _bad(
                f"The filter '{clause.prop}' is locked on report '{report.title}' and cannot be changed."
            )
        edm = types.get(clause.prop)
        if edm is None:
            raise _bad(
                f"'{clause.prop}' is not a filter of report '{report.title}'. "
                f"Available filters: {', '.join(types)}."
            )
        text = edm == "Edm.String"
        if clause.op in _RANGE and text:
            raise _bad(f"Greater/Less Than filters apply only to dates and numbers; '{clause.prop}' is text.")
        if clause.op in ("eq", "in", "ne") and not text:
            raise _bad(
                f"Equal, In and Not Equal filters apply only to text values; '{clause.prop}' is not text."
            )
        values = clause.value if isinstance(clause.value, list) else [clause.value]
        wanted: type = str if text else (datetime if edm == "Edm.DateTimeOffset" else float)
        if not all(isinstance(v, wanted) for v in values):
            raise _bad(f"The value for '{clause.prop}' does not match its type {edm}.")
        ops = seen.setdefault(clause.prop, [])
        ops.append(clause.op)
        if len(ops) > 1 and sorted(ops) != ["ge", "le"]:
            raise _bad(
                f"The property '{clause.prop}' is listed more than once; only a ge/le pair may repeat a property."
            )
        if clause.prop == "Agent_Name" or clause.prop.startswith("Agent_Name_by_"):
            if agent is not None and agent != clause.prop:
                raise _bad(
                    f"'{agent}' and '{clause.prop}' are both Agent Name filters and cannot be combined."
                )
            agent = clause.prop


def time_range(clauses: list[Clause], report: Report) -> tuple[datetime | None, datetime | None]:
    """The report's time range from its date filter (inclusive bounds; ``None`` = not given)."""
    start: datetime | None = None
    end: datetime | None = None
    for clause in clauses:
        if clause.prop != report.time_filter or not isinstance(clause.value, datetime):
            continue
        if clause.op in ("ge", "gt"):
            start = clause.value
        elif clause.op in ("le", "lt"):
            end = clause.value
    return start, end


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if op == "eq":
        return bool(value == wanted)
    if op == "ne":
        return bool(value != wanted)
    if op == "in":
        return value in wanted
    if op == "gt":
        return bool(value > wanted)
    if op == "ge":
        return bool(value >= wanted)
    if op == "lt":
        return bool(value < wanted)
    return bool(value <= wanted)


def matches(row: dict[str, Any], clauses: list[Clause], report: Report) -> bool:
    """Whether a row passes the non-time filters that are also columns.

    Proxy filters (``Agent_Name_by_Skill``...) select agents by membership the sandbox
    does not model; they are accepted and do not narrow the rows.
    """
    for clause in clauses:
        if clause.prop == report.time_filter or clause.prop not in row:
            continue
        if not _compare(row[clause.prop], clause.op, clause.value):
            return False
    return True
