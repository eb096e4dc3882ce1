"""Typed configuration from Kedro parameter dicts, with clear errors for unknown keys."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def _cast(value: Any, default: Any, path: str) -> Any:
    """``value`` as the type of ``default``; a string that is no number is named, not cast."""
    kind = type(default)
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"{path}={value!r}: expected true or false")
    if kind in (int, float) and isinstance(value, str | bool):
        raise ValueError(f"{path}={value!r}: expected a number ({kind.__name__})")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{path}={value!r}: expected an integer")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}={value!r}: expected {kind.__name__}") from None


def from_params(cls: type[T], params: dict[str, Any] | None, prefix: str) -> T:
    """Instantiate dataclass ``cls`` from a (nested) parameter dict.

    Missing keys keep their defaults; nested dataclasses recurse; tuples are rebuilt from YAML
    lists; scalars are cast to the default's type. An unknown key raises ``ValueError`` naming
    its full dotted path and the known keys.
    """
    params = params or {}
    if not isinstance(params, dict):
        raise TypeError(f"{prefix}: expected a mapping, got {type(params).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"{prefix}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    defaults = cls()
    kwargs = {}
    for name, value in params.items():
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = from_params(type(default), value, f"{prefix}.{name}")
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        elif isinstance(default, bool | int | float | str) and value is not None:
            kwargs[name] = _cast(value, default, f"{prefix}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def deep_merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """Deep merge of parameter dicts (``override`` wins), e.g. a variant over its base group."""
    out = dict(base)
    for key, value in (override or {}).items():
        both_dicts = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = deep_merge(out[key], value) if both_dicts else value
    return out


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict as ``{"a.b.c": value}`` (dotted paths, as parameters are named)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
