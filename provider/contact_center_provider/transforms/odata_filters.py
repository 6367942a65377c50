"""Brightmetrics OData request options, built and checked before a request is spent.

Every request to Brightmetrics costs one of the company's 150 a day, so a ``$filter``
the service would refuse is refused here first, with the documented rule it breaks
(vendor document "Exporting Using Brightmetrics API", section *Filtering*):

* operators ``eq``, ``in``, ``ne``, ``gt``, ``ge``, ``lt``, ``le``, combined with ``and``;
* ``eq``/``in`` (and ``ne``, whose only example is on text) on text values;
  ``gt``/``ge``/``lt``/``le`` on dates and numbers;
* a property appears at most once, except one ``ge``/``le`` pair;
* identifiers are the filter labels with spaces and punctuation replaced by
  underscores, "never more than one underscore" (``Time - Call - Total`` ->
  ``Time_Call_Total``);
* ``Agent_Name`` and its proxies (``Agent_Name_by_Skill``...) are all "Agent Name"
  filters and cannot be combined;
* with the report's ``$metadata``: only its (unlocked) filters, with their EDM types.

Also here: the ``$format`` values with their media types, the ``timezone`` option and
the query string (spaces escaped as ``%20``, as the document asks). Pure: no I/O, no
Airflow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote

__all__ = [
    "FORMATS",
    "Condition",
    "FilterRule",
    "FilterRuleError",
    "FormatSpec",
    "ValueKind",
    "build_filter",
    "build_query",
    "check_timezone",
    "conditions_from",
    "edm_kind",
    "format_spec",
    "interval_conditions",
    "odata_identifier",
]

TEXT_OPERATORS = ("eq", "in", "ne")
RANGE_OPERATORS = ("gt", "ge", "lt", "le")
OPERATORS = TEXT_OPERATORS + RANGE_OPERATORS

ValueKind = Literal["text", "date", "number"]


class FilterRule(StrEnum):
    """The documented rules a ``$filter`` (or request option) can break; the value says the rule."""

    OPERATOR = "only the operators eq, in, ne, gt, ge, lt and le, combined with 'and'"
    TEXT_OPERATOR = "eq, in and ne apply to text values only"
    RANGE_OPERATOR = "gt, ge, lt and le apply to dates and numbers only"
    REPEATED_PROPERTY = "a property can be listed only once, except one ge/le pair"
    IDENTIFIER = (
        "property names are the filter labels with spaces and punctuation replaced by underscores, "
        "never more than one underscore in a row"
    )
    PROXY_FILTER = (
        "Agent_Name and its proxies (Agent_Name_by_Queue_Membership, Agent_Name_by_Skill, ...) "
        "are all one 'Agent Name' filter and cannot be combined"
    )
    UNKNOWN_FILTER = "only the report's own unlocked filters (listed by its $metadata) can be set"
    VALUE = "values: text as a string, dates as timezone-aware datetimes (sent as YYYY-MM-DDTHH:mm:ssZ), numbers as numbers, 'in' as a non-empty list of text"
    FORMAT = (
        "$format is one of csv, csv;unformatted, csv;formatted, json, pdf, pdf;portrait, pdf;landscape, xlsx"
    )
    TIMEZONE = (
        "timezone is a Windows time zone name such as 'Eastern Standard Time' (tzutil /l), not an IANA name"
    )


class FilterRuleError(ValueError):
    """A request option breaks a documented rule; ``rule`` says which, ``prop`` names the property."""

    def __init__(self, rule: FilterRule, detail: str, *, prop: str | None = None) -> None:
        self.rule = rule
        self.prop = prop
        self.detail = detail
        super().__init__(f"Brightmetrics {detail}. Rule: {rule.value}.")


# -- identifiers ---------------------------------------------------------------------------------

_RUNS = re.compile(r"[\W_]+")
_WORD_ONLY = re.compile(r"^\w+$")
#: A proxy of a filter: ``<base>_by_<proxy>`` (the document's ``Agent_Name_by_Skill``).
_PROXY = re.compile(r"^(?P<base>.+?)_by_.+$")


def odata_identifier(label: str) -> str:
    """The property name of a filter or column label: spaces and punctuation -> one underscore.

    ``"Time - Call - Total"`` -> ``"Time_Call_Total"``; ``"Call Date/Time"`` -> ``"Call_Date_Time"``.
    Leading and trailing separators are dropped (the document does not show a label that
    starts with punctuation; this is our reading).
    """
    return _RUNS.sub("_", label.strip()).strip("_")


def check_identifier(name: str) -> str:
    """Return the property name for ``name``, a label or an identifier.

    A label (with spaces or punctuation) is converted. A name made of word characters only
    is taken as an identifier and must already be in the collapsed form.

    :raises FilterRuleError: :attr:`FilterRule.IDENTIFIER` for ``Time___Call___Total`` and the like.
    """
    if not isinstance(name, str) or not name.strip():
        raise FilterRuleError(FilterRule.IDENTIFIER, f"filter property name {name!r} is empty or not text")
    ident = odata_identifier(name)
    if not ident:
        raise FilterRuleError(FilterRule.IDENTIFIER, f"filter property {name!r} has no letters or digits")
    if _WORD_ONLY.match(name) and ident != name:
        raise FilterRuleError(
            FilterRule.IDENTIFIER,
            f"$filter property {name!r} is not a valid property name; write {ident!r}",
            prop=name,
        )
    return ident


def proxy_family(name: str, known: Iterable[str] = ()) -> str:
    """The filter family of a property: ``Agent_Name_by_Skill`` -> ``Agent_Name``.

    When the report's filters are known, ``X_by_Y`` is a proxy only if ``X`` is one of them;
    without them the ``_by_`` pattern alone decides.
    """
    match = _PROXY.match(name)
    if match is None:
        return name
    base = match.group("base")
    known_set = set(known)
    if known_set and base not in known_set:
        return name
    return base


# -- values --------------------------------------------------------------------------------------

_NUMBER_TYPES = frozenset(
    {
        "Edm.Double",
        "Edm.Single",
        "Edm.Decimal",
        "Edm.Int16",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.Byte",
        "Edm.SByte",
    }
)
_DATE_TYPES = frozenset({"Edm.DateTimeOffset", "Edm.Date", "Edm.DateTime"})


def edm_kind(edm_type: str | None) -> ValueKind | None:
    """Kind of values of an EDM type: ``text``, ``date``, ``number``; ``None`` when it is neither."""
    if edm_type is None:
        return None
    if edm_type == "Edm.String":
        return "text"
    if edm_type in _DATE_TYPES:
        return "date"
    if edm_type in _NUMBER_TYPES:
        return "number"
    return None


def _parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def _value_kind(value: Any) -> ValueKind | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime | date):
        return "date"
    if isinstance(value, int | float):
        return "number"
    return None


def format_date(value: datetime | date, prop: str) -> str:
    """``YYYY-MM-DDTHH:mm:ssZ`` in UTC, the form the document asks for."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=UTC)
    if value.tzinfo is None or value.utcoffset() is None:
        raise FilterRuleError(
            FilterRule.VALUE,
            f"$filter date for {prop} is naive ({value.isoformat()}); give it a timezone (UTC is sent)",
            prop=prop,
        )
    if value.microsecond:
        raise FilterRuleError(
            FilterRule.VALUE,
            f"$filter date for {prop} has fractions of a second ({value.isoformat()}); "
            "the API takes whole seconds",
            prop=prop,
        )
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_text(value: str) -> str:
    """An OData string literal: single quotes, an inner quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def format_number(value: float, prop: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterRuleError(FilterRule.VALUE, f"$filter number for {prop} is {value!r}", prop=prop)
    return str(value) if isinstance(value, int) else repr(float(value))


# -- conditions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One ``<property> <operator> <value>`` clause.

    :param prop: the property name or its label (labels are converted).
    :param op: one of eq, in, ne, gt, ge, lt, le.
    :param value: text, a timezone-aware datetime (or a date: midnight UTC), a number, or a
        list of text for ``in``. A text value compared with gt/ge/lt/le is read as an ISO 8601
        datetime (templated data intervals arrive as text).
    """

    prop: str
    op: str
    value: Any


def conditions_from(filters: Mapping[str, Any] | Sequence[Any] | None) -> list[Condition]:
    """Read the forms a DAG author writes into :class:`Condition` objects.

    * ``{"Queue_Name": "Sales"}`` -> ``eq``; ``{"Queue_Name": ["Sales", "Support"]}`` -> ``in``;
    * ``{"Time_Talk_Total": {"gt": 10}}``, ``{"Agent_Name": {"ne": "Spare 1"}}`` -> those operators;
    * ``[["Queue_Name", "eq", "Sales"], ...]`` (or :class:`Condition` objects) -> as given.

    :raises FilterRuleError: :attr:`FilterRule.OPERATOR` for a shape that is none of these.
    """
    if filters is None:
        return []
    out: list[Condition] = []
    if isinstance(filters, Mapping):
        for prop, spec in filters.items():
            if isinstance(spec, Mapping):
                if not spec:
                    raise FilterRuleError(FilterRule.OPERATOR, f"$filter for {prop!r} names no operator")
                out.extend(Condition(str(prop), str(op), value) for op, value in spec.items())
            elif isinstance(spec, list | tuple):
                out.append(Condition(str(prop), "in", list(spec)))
            else:
                out.append(Condition(str(prop), "eq", spec))
        return out
    if isinstance(filters, str | bytes):
        raise FilterRuleError(
            FilterRule.OPERATOR,
            "filters must be a mapping or a list of [property, operator, value]; a raw $filter string "
            "is not accepted (it could not be checked)",
        )
    for item in filters:
        if isinstance(item, Condition):
            out.append(item)
        elif isinstance(item, list | tuple) and len(item) == 3:
            out.append(Condition(str(item[0]), str(item[1]), item[2]))
        else:
            raise FilterRuleError(FilterRule.OPERATOR, f"filter {item!r} is not [property, operator, value]")
    return out


def interval_conditions(prop: str, start: datetime, end: datetime) -> list[Condition]:
    """The data interval ``[start, end)`` as the ge/le pair the document allows.

    A ge/lt pair would list the property twice, which only ge/le may; so the upper bound
    is ``end - 1 s`` (the API takes whole seconds; the document's own example is
    ``le 2020-05-31T23:59:59Z``).
    """
    if end <= start:
        raise ValueError(f"data interval end {end.isoformat()} is not after its start {start.isoformat()}")
    return [Condition(prop, "ge", start), Condition(prop, "le", end - timedelta(seconds=1))]


def _kind_of(cond: Condition, prop: str, declared: ValueKind | None, op: str) -> ValueKind:
    value = cond.value
    if op == "in":
        if not isinstance(value, list | tuple) or not value:
            raise FilterRuleError(
                FilterRule.VALUE, f"$filter {prop} in (...) needs a non-empty list, got {value!r}", prop=prop
            )
        kinds = {_value_kind(v) for v in value}
        if kinds != {"text"}:
            raise FilterRuleError(
                FilterRule.TEXT_OPERATOR,
                f"$filter {prop} in {list(value)!r}: not all values are text",
                prop=prop,
            )
        return "text"
    if isinstance(value, list | tuple):
        raise FilterRuleError(
            FilterRule.VALUE,
            f"$filter {prop} {op} takes one value, got a list (use 'in' for text)",
            prop=prop,
        )
    kind = _value_kind(value)
    if kind is None:
        raise FilterRuleError(
            FilterRule.VALUE, f"$filter {prop} {op} {value!r}: unsupported value", prop=prop
        )
    # Templated intervals and dates arrive as text: an ISO 8601 datetime compared with a range
    # operator is a date.
    if kind == "text" and op in RANGE_OPERATORS and declared in (None, "date") and _parse_datetime(value):
        return "date"
    return kind


def _render(cond: Condition, prop: str, kind: ValueKind, op: str) -> str:
    value = cond.value
    if op == "in":
        return f"{prop} in ({', '.join(format_text(v) for v in value)})"
    if kind == "date":
        parsed = _parse_datetime(value) if isinstance(value, str) else value
        assert parsed is not None
        return f"{prop} {op} {format_date(parsed, prop)}"
    if kind == "number":
        return f"{prop} {op} {format_number(value, prop)}"
    return f"{prop} {op} {format_text(value)}"


def build_filter(
    conditions: Iterable[Condition],
    *,
    properties: Mapping[str, str] | None = None,
    report: str | None = None,
) -> str:
    """Check the conditions against every documented rule and return the ``$filter`` text.

    :param conditions: the clauses, combined with ``and`` in the order given.
    :param properties: the report's filters and their EDM types (from its ``$metadata``).
        When given, unknown properties are refused and the operator is checked against the
        declared type; when not, against the value's type.
    :param report: the report's id, named in errors.
    :raises FilterRuleError: naming the rule broken and the property.
    """
    where = f" of report {report}" if report else ""
    seen: dict[str, list[str]] = {}
    families: dict[str, str] = {}
    known = list(properties or ())
    clauses: list[str] = []
    for cond in conditions:
        op = str(cond.op).strip().lower()
        if op not in OPERATORS:
            raise FilterRuleError(
                FilterRule.OPERATOR,
                f"$filter operator {cond.op!r} on {cond.prop!r} is not supported",
                prop=cond.prop,
            )
        prop = check_identifier(cond.prop)
        declared: ValueKind | None = None
        if properties is not None:
            if prop not in properties:
                listed = ", ".join(sorted(properties)) or "none"
                raise FilterRuleError(
                    FilterRule.UNKNOWN_FILTER,
                    f"$filter property {prop!r} is not a filter{where} (its filters: {listed})",
                    prop=prop,
                )
            declared = edm_kind(properties[prop])
        kind = _kind_of(cond, prop, declared, op)
        effective = declared or kind
        if op in TEXT_OPERATORS and effective != "text":
            raise FilterRuleError(
                FilterRule.TEXT_OPERATOR,
                f"$filter {prop} {op} ...: {prop} is a {effective}; use gt, ge, lt or le",
                prop=prop,
            )
        if op in RANGE_OPERATORS and effective == "text":
            raise FilterRuleError(
                FilterRule.RANGE_OPERATOR,
                f"$filter {prop} {op} ...: {prop} is text; use eq, in or ne",
                prop=prop,
            )
        if declared is not None and kind != declared:
            raise FilterRuleError(
                FilterRule.VALUE,
                f"$filter {prop} {op} {cond.value!r}: {prop} holds {declared} values ({properties[prop]})"  # type: ignore[index]
                f", not {kind}",
                prop=prop,
            )
        ops = seen.setdefault(prop, [])
        ops.append(op)
        if len(ops) > 1 and sorted(ops) != ["ge", "le"]:
            raise FilterRuleError(
                FilterRule.REPEATED_PROPERTY,
                f"$filter lists {prop} more than once ({' and '.join(f'{prop} {o}' for o in ops)})",
                prop=prop,
            )
        family = proxy_family(prop, known)
        other = families.setdefault(family, prop)
        if other != prop:
            raise FilterRuleError(FilterRule.PROXY_FILTER, f"$filter sets both {other} and {prop}", prop=prop)
        clauses.append(_render(cond, prop, effective, op))
    return " and ".join(clauses)


# -- $format and timezone ------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatSpec:
    """One supported output format.

    :param param: the ``$format`` value to send (``None``: JSON is the default, send none).
    :param media_type: the media type of the result body.
    :param extension: file extension in the raw zone.
    :param tabular: whether rows can be read from it (PDF cannot).
    """

    name: str
    param: str | None
    media_type: str
    extension: str
    tabular: bool


#: ``$format`` values from the document, plus ``json`` (the default, sent as no ``$format``).
FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("json", None, "application/json", ".json", True),
        FormatSpec("csv", "csv", "text/csv", ".csv", True),
        FormatSpec("csv;unformatted", "csv;unformatted", "text/csv", ".csv", True),
        FormatSpec("csv;formatted", "csv;formatted", "text/csv; formatted", ".csv", True),
        FormatSpec(
            "xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", True
        ),
        FormatSpec("pdf", "pdf", "application/pdf", ".pdf", False),
        FormatSpec("pdf;portrait", "pdf;portrait", "application/pdf", ".pdf", False),
        FormatSpec("pdf;landscape", "pdf;landscape", "application/pdf; landscape", ".pdf", False),
    )
}


def format_spec(name: str) -> FormatSpec:
    """The :class:`FormatSpec` of ``name`` (case and spaces around ``;`` ignored).

    :raises FilterRuleError: :attr:`FilterRule.FORMAT` for anything else.
    """
    key = ";".join(part.strip() for part in str(name).lower().split(";"))
    spec = FORMATS.get(key)
    if spec is None:
        raise FilterRuleError(FilterRule.FORMAT, f"$format {name!r} is not supported")
    return spec


_WINDOWS_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9 .()+&'\-]*$")


def check_timezone(name: str | None) -> str | None:
    """Check a ``timezone`` value: a Windows zone name (``Eastern Standard Time``); ``None`` is UTC.

    The document lists a few names and points at ``tzutil /l`` for the rest, so only the
    shape is checked here (an IANA ``Area/City`` name is the common mistake); the service
    judges the name itself.

    :raises FilterRuleError: :attr:`FilterRule.TIMEZONE`.
    """
    if name is None or not str(name).strip():
        return None
    value = str(name).strip()
    if "/" in value or not _WINDOWS_ZONE.match(value):
        raise FilterRuleError(FilterRule.TIMEZONE, f"timezone {name!r} is not a Windows time zone name")
    return value


def _escape(value: str) -> str:
    # quote() escapes a space as %20 (the document insists on it; urlencode would send '+').
    return quote(value, safe="'(),:")


def build_query(*, filter_text: str | None, fmt: FormatSpec, timezone: str | None) -> str:
    """The query string of a report request: ``$filter``, ``$format``, ``timezone`` (in that order)."""
    parts: list[str] = []
    if filter_text:
        parts.append(f"$filter={_escape(filter_text)}")
    if fmt.param:
        parts.append(f"$format={_escape(fmt.param)}")
    if timezone:
        parts.append(f"timezone={_escape(timezone)}")
    return "&".join(parts)
