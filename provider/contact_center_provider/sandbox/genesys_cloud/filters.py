"""Analytics query filters: ``{type: and|or, clauses: [{type, predicates}], predicates: [...]}``.

A predicate carries its operator in ``operator`` (the SDK's ``*DetailQueryPredicate``
models): ``matches`` (the default; exact string equality, lists match on any element,
booleans as ``"true"``/``"false"``), ``exists`` and ``notExists``; a ``metric`` predicate
takes a ``range`` ``{gt, gte, lt, lte}`` (or a ``value``). A segment filter holds when one
segment - seen with its session's and participant's dimensions - satisfies it; several
filters in a list must all hold. Conversation filters look at conversation-level dimensions
and at the metrics of every session.

:func:`check_filters` validates a request's filters up front, as the platform does before it
runs a query, so a malformed filter is a 400 even when no record would reach it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .errors import GenesysApiError
from .timefmt import parse_ts

View = Mapping[str, Any]

#: Wire dimension name -> record key, where the session keeps a plural list.
_ALIASES = {
    "requestedRouting": "requestedRoutings",
    "callbackNumber": "callbackNumbers",
    "divisionId": "divisionIds",
}


def _bad(message: str) -> GenesysApiError:
    return GenesysApiError(400, message, "bad.request")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dimension(view: View, name: str) -> Any:
    value = view.get(name)
    if value is None and name in _ALIASES:
        value = view.get(_ALIASES[name])
    return value


def _in_range(value: float, spec: Mapping[str, Any]) -> bool:
    checks: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
        ("gt", operator.gt),
        ("gte", operator.ge),
        ("lt", operator.lt),
        ("lte", operator.le),
    )
    return all(op(value, spec[key]) for key, op in checks if spec.get(key) is not None)


OPERATORS = ("matches", "exists", "notExists")
_COMMON_KEYS = frozenset({"type", "dimension", "operator", "value", "range"})
#: Wire fields of each predicate model (``SDK:models.*_detail_query_predicate`` attribute maps).
PREDICATE_KEYS: dict[str, frozenset[str]] = {
    "conversationFilters": _COMMON_KEYS | {"metric"},
    "segmentFilters": _COMMON_KEYS | {"metric", "propertyType", "property"},
    "userFilters": _COMMON_KEYS,
    "presenceFilters": _COMMON_KEYS,
    "routingStatusFilters": _COMMON_KEYS,
}
_FILTER_KEYS = frozenset({"type", "clauses", "predicates"})
_CLAUSE_KEYS = frozenset({"type", "predicates"})
_RANGE_KEYS = frozenset({"gt", "gte", "lt", "lte"})


def _check_keys(item: Mapping[str, Any], allowed: frozenset[str], where: str, strict: bool) -> None:
    unknown = sorted(str(key) for key in item if key not in allowed)
    if unknown and strict:
        raise _bad(
            f"Unrecognized field '{unknown[0]}' in {where}; known fields: {', '.join(sorted(allowed))}"
        )


def _check_predicate(pred: Any, allowed: frozenset[str], where: str, strict: bool) -> None:
    if not isinstance(pred, Mapping):
        raise _bad(f"{where} must be an object")
    _check_keys(pred, allowed, where, strict)
    operator_ = pred.get("operator", "matches")
    if operator_ not in OPERATORS:
        raise _bad(f"Invalid operator {operator_!r} in {where}; expected one of {', '.join(OPERATORS)}")
    if pred.get("type", "dimension") not in ("dimension", "property", "metric"):
        raise _bad(f"Invalid type {pred.get('type')!r} in {where}")
    if not (pred.get("dimension") or pred.get("property") or pred.get("metric")):
        raise _bad(f"{where} needs a dimension, a property or a metric")
    range_ = pred.get("range")
    if range_ is not None:
        if not isinstance(range_, Mapping):
            raise _bad(f"range in {where} must be an object")
        _check_keys(range_, _RANGE_KEYS, f"range of {where}", strict)
    if operator_ == "matches" and pred.get("value") is None and range_ is None:
        raise _bad(f"{where} with operator matches needs a value or a range")


def check_filters(body: Mapping[str, Any], strict: bool = True) -> None:
    """Validate every filter list of a query body (``conversationFilters``, ``segmentFilters``...).

    :param strict: fields the platform's models do not have are a 400 (otherwise ignored).
    :raises GenesysApiError: 400 naming the filter list, the position and the bad field.
    """
    for list_name, predicate_keys in PREDICATE_KEYS.items():
        filters = body.get(list_name) or []
        if not isinstance(filters, list):
            raise _bad(f"{list_name} must be a list")
        for f, filter_ in enumerate(filters):
            where = f"{list_name}[{f}]"
            if not isinstance(filter_, Mapping):
                raise _bad(f"{where} must be an object")
            _check_keys(filter_, _FILTER_KEYS, where, strict)
            if filter_.get("type") not in ("and", "or"):
                raise _bad(f"{where}: filter type must be 'and' or 'or', got {filter_.get('type')!r}")
            clauses, predicates = filter_.get("clauses") or [], filter_.get("predicates") or []
            if not isinstance(clauses, list) or not isinstance(predicates, list):
                raise _bad(f"{where}: clauses and predicates must be lists")
            if not clauses and not predicates:
                raise _bad(f"{where} needs clauses or predicates")
            for c, clause in enumerate(clauses):
                clause_where = f"{where}.clauses[{c}]"
                if not isinstance(clause, Mapping):
                    raise _bad(f"{clause_where} must be an object")
                _check_keys(clause, _CLAUSE_KEYS, clause_where, strict)
                if clause.get("type") not in ("and", "or"):
                    raise _bad(f"{clause_where}: type must be 'and' or 'or', got {clause.get('type')!r}")
                inner = clause.get("predicates") or []
                if not isinstance(inner, list):
                    raise _bad(f"{clause_where}.predicates must be a list")
                for p, pred in enumerate(inner):
                    _check_predicate(pred, predicate_keys, f"{clause_where}.predicates[{p}]", strict)
            for p, pred in enumerate(predicates):
                _check_predicate(pred, predicate_keys, f"{where}.predicates[{p}]", strict)


def _predicate(pred: Any, view: View, metrics: Callable[[str], list[float]]) -> bool:
    if not isinstance(pred, Mapping):
        raise _bad("Each predicate must be an object")
    operator_ = pred.get("operator", "matches")
    if operator_ not in OPERATORS:
        raise _bad(f"Invalid predicate operator: {operator_}")
    if pred.get("metric"):
        values = metrics(str(pred["metric"]))
        if operator_ == "exists":
            return bool(values)
        if operator_ == "notExists":
            return not values
        if isinstance(pred.get("range"), Mapping):
            return any(_in_range(v, pred["range"]) for v in values)
        if pred.get("value") is not None:
            return any(_text(int(v)) == _text(pred["value"]) for v in values)
        raise _bad("A metric predicate needs a range or a value")
    name = pred.get("dimension") or pred.get("property")
    if not name:
        raise _bad("A predicate needs a dimension, a property or a metric")
    value = _dimension(view, str(name))
    if operator_ == "exists":
        return value is not None
    if operator_ == "notExists":
        return value is None
    if value is None:
        return False
    wanted = pred.get("value")
    if wanted is None:
        raise _bad(f"Predicate on {name} with operator matches needs a value")
    if isinstance(value, list):
        return any(_text(item) == _text(wanted) for item in value)
    return _text(value) == _text(wanted)


def _combine(kind: Any, results: Iterator[bool]) -> bool:
    if kind == "and":
        return all(results)
    if kind == "or":
        return any(results)
    raise _bad(f"Filter type must be 'and' or 'or', got {kind!r}")


def evaluate(filter_: Any, view: View, metrics: Callable[[str], list[float]]) -> bool:
    """Whether ``view`` satisfies one filter object.

    :raises GenesysApiError: 400 for a malformed filter.
    """
    if not isinstance(filter_, Mapping):
        raise _bad("Each filter must be an object")
    clauses = filter_.get("clauses") or []
    predicates = filter_.get("predicates") or []
    if not clauses and not predicates:
        raise _bad("A filter needs clauses or predicates")

    def results() -> Iterator[bool]:
        for clause in clauses:
            if not isinstance(clause, Mapping):
                raise _bad("Each clause must be an object")
            yield _combine(
                clause.get("type"), (_predicate(p, view, metrics) for p in clause.get("predicates") or [])
            )
        for pred in predicates:
            yield _predicate(pred, view, metrics)

    return _combine(filter_.get("type"), results())


def _scalars(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.items()
        if not isinstance(v, dict) and k not in ("segments", "sessions", "metrics")
    }


def segment_views(
    conversation: Mapping[str, Any],
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], int]]:
    """Yield ``(view, session metrics, segment duration ms)`` for every segment."""
    base = _scalars({k: v for k, v in conversation.items() if k != "participants"})
    for participant in conversation.get("participants", []):
        p_view = _scalars(participant)
        for session in participant.get("sessions", []):
            s_view = {**base, **p_view, **_scalars(session)}
            metrics = session.get("metrics", [])
            for segment in session.get("segments", []):
                duration = 0
                if segment.get("segmentStart") and segment.get("segmentEnd"):
                    delta = parse_ts(segment["segmentEnd"]) - parse_ts(segment["segmentStart"])
                    duration = int(delta.total_seconds() * 1000)
                yield {**s_view, **segment}, metrics, duration


def conversation_matches(
    conversation: Mapping[str, Any], conversation_filters: list[Any], segment_filters: list[Any]
) -> bool:
    """Apply ``conversationFilters`` and ``segmentFilters`` (all filters must hold)."""
    if conversation_filters:
        view = _scalars({k: v for k, v in conversation.items() if k != "participants"})
        all_metrics = [
            m
            for p in conversation.get("participants", [])
            for s in p.get("sessions", [])
            for m in s.get("metrics", [])
        ]

        def conv_metrics(name: str) -> list[float]:
            return [m["value"] for m in all_metrics if m["name"] == name]

        if not all(evaluate(f, view, conv_metrics) for f in conversation_filters):
            return False
    for filter_ in segment_filters:
        if not any(
            evaluate(filter_, view, _metric_lookup(metrics, duration))
            for view, metrics, duration in segment_views(conversation)
        ):
            return False
    return True


def _metric_lookup(metrics: list[dict[str, Any]], duration: int) -> Callable[[str], list[float]]:
    def lookup(name: str) -> list[float]:
        if name == "tSegmentDuration":
            return [duration]
        return [m["value"] for m in metrics if m["name"] == name]

    return lookup


def user_detail_matches(
    detail: Mapping[str, Any],
    user_filters: list[Any],
    presence_filters: list[Any],
    routing_filters: list[Any],
) -> bool:
    """Apply ``userFilters`` (userId), ``presenceFilters`` and ``routingStatusFilters``."""

    def no_metrics(_: str) -> list[float]:
        return []

    if not all(evaluate(f, {"userId": detail["userId"]}, no_metrics) for f in user_filters):
        return False
    for filter_ in presence_filters:
        if not any(evaluate(filter_, rec, no_metrics) for rec in detail.get("primaryPresence", [])):
            return False
    for filter_ in routing_filters:
        if not any(evaluate(filter_, rec, no_metrics) for rec in detail.get("routingStatus", [])):
            return False
    return True
