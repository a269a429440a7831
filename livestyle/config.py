"""Configs are dataclasses; YAML files in configs/ fill them. Unknown keys are errors, not silence."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from livestyle.errors import UserError

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "config") -> T:
    """Build dataclass `cls` from a (nested) dict, checking key names."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    kwargs = {}
    for name, value in data.items():
        kind = _dataclass_in(hints[name])
        if kind is not None and isinstance(value, dict):
            value = from_dict(kind, value, f"{where}.{name}")
        elif isinstance(value, list) and typing.get_origin(hints[name]) is tuple:
            value = tuple(value)
        else:
            check_scalar(hints[name], value, f"{where}: {name}")
        kwargs[name] = value
    return cls(**kwargs)


# A YAML scalar of the wrong kind would otherwise pass silently ("yes" is truthy) or fail deep
# inside a run with a traceback ("1e-4" is a string to YAML 1.1: write 1.0e-4).
_SCALARS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def check_scalar(hint: Any, value: Any, where: str) -> None:
    """Refuse `value` for a bool, int, float or str setting when its YAML type does not fit (an int
    is a fine float; a bool is neither number). Other hints are left to the code that uses them."""
    if hint not in _SCALARS:
        return
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        hint_1e = " (YAML reads 1e-4 as text: write 1.0e-4)" if hint is float and isinstance(value, str) else ""
        raise UserError(f"{where} must be {_SCALARS[hint]}, not {value!r}{hint_1e}")


def _dataclass_in(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of settings at the top level")
    return data


def load_config(cls: type[T], path: str | Path | None = None, section: str | None = None) -> T:
    """Dataclass defaults, overridden by the YAML file (optionally one top-level section of it)."""
    if path is None:
        return cls()
    data = load_yaml(path)
    if section is not None:
        data = data.get(section, {}) or {}
    return from_dict(cls, data, str(path) + (f":{section}" if section else ""))


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict (tuples as lists), for manifests and checkpoints."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
