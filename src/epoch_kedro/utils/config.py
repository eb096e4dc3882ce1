"""Typed configuration from Kedro parameter dicts, with clear errors for unknown keys."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


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
            kwargs[name] = type(default)(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
