"""Typed, validated sandbox settings.

Settings are frozen dataclasses. A PATCH builds a new instance with
:func:`patch_settings`; nothing ever mutates a class attribute, so tests and
concurrent clients cannot leak state into one another beyond a reset.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")


class SettingsError(ValueError):
    """A settings patch names an unknown key or carries a value of the wrong type."""


@dataclasses.dataclass(frozen=True)
class GlobalSettings:
    """Settings that apply to every vendor.

    :param latency_ms: extra delay added before every vendor response (not admin routes).
    """

    latency_ms: float = 0

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise SettingsError("latency_ms must be >= 0")


def _check_value(key: str, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            try:
                return _check_value(key, value, option)
            except SettingsError as exc:
                errors.append(str(exc))
        raise SettingsError(f"setting {key!r}: {value!r} does not fit {annotation}")
    if origin is Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise SettingsError(f"setting {key!r} must be one of {list(allowed)}, got {value!r}")
        return value
    if annotation is type(None):
        if value is not None:
            raise SettingsError(f"setting {key!r} must be null")
        return None
    if annotation is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"setting {key!r} must be a boolean, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"setting {key!r} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"setting {key!r} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise SettingsError(f"setting {key!r} must be a string, got {value!r}")
        return value
    return value


def patch_settings(current: T, patch: dict[str, Any]) -> T:
    """Return a copy of the dataclass ``current`` with ``patch`` applied.

    :raises SettingsError: naming the first unknown key, a badly typed value, or the
        dataclass's own ``__post_init__`` complaint.
    """
    if not isinstance(patch, dict):
        raise SettingsError("settings body must be a JSON object")
    cls = type(current)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(current)}  # type: ignore[arg-type]
    checked: dict[str, Any] = {}
    for key, value in patch.items():
        if key not in names:
            raise SettingsError(f"unknown setting {key!r}; known settings: {', '.join(sorted(names))}")
        checked[key] = _check_value(key, value, hints[key])
    try:
        return dataclasses.replace(current, **checked)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc)) from exc


def settings_to_dict(settings: Any) -> dict[str, Any]:
    """Serialise a settings dataclass to a JSON-ready dict."""
    return dataclasses.asdict(settings)
