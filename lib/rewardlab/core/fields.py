"""Declaring and checking config fields: the metadata that :mod:`rewardlab.core.config` validates from,
and overrides by stage dict or dotted path (``{"ppo": {"steps": 3}}`` or ``{"bo.ppo.steps": 3}``).

A field declared with ``positive``, ``nonnegative``, ``fraction`` or ``choice`` carries its check in its
metadata; :func:`check_fields` walks a config (stages included) and refuses a wrong type, a NaN or
infinite number, or a value outside its declared range, naming the field by its dotted path.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field


def positive(default):
    return field(default=default, metadata={"check": "positive"})


def nonnegative(default):
    return field(default=default, metadata={"check": "nonnegative"})


def fraction(default):
    """A value strictly between 0 and 1."""
    return field(default=default, metadata={"check": "fraction"})


def choice(default, options: tuple):
    return field(default=default, metadata={"check": "choice", "options": options})


def study_size(default):
    """A positive count that says how much a study runs (seeds, prompts evaluated), not how an artifact is
    built: left out of cache keys, so running more seeds reuses what is cached."""
    return field(default=default, metadata={"check": "positive", "cache_key": False})


def stage(factory):
    return field(default_factory=factory)


def _type_ok(value: object, annotation: str) -> bool:
    expected = {"str": str, "int": int, "float": (int, float), "bool": bool}.get(annotation)
    if expected is None:  # a nested stage config
        return dataclasses.is_dataclass(value)
    if annotation in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, expected)


def check_fields(config, path: str, what: str = "preset field") -> None:
    """Type and metadata checks of every field of ``config`` (recursively); errors name ``what 'path.field'``."""
    for f in dataclasses.fields(config):
        value, name = getattr(config, f.name), f"{path}.{f.name}" if path else f.name
        if not _type_ok(value, f.type):
            raise ValueError(f"{what} {name!r} must be {f.type}, got {value!r} ({type(value).__name__})")
        if dataclasses.is_dataclass(value):
            check_fields(value, name, what)
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{what} {name!r} must be a finite number, got {value}")
        check = f.metadata.get("check")
        if check == "positive" and value <= 0:
            raise ValueError(f"{what} {name!r} must be positive, got {value}")
        if check == "nonnegative" and value < 0:
            raise ValueError(f"{what} {name!r} must be >= 0, got {value}")
        if check == "fraction" and not 0 < value < 1:
            raise ValueError(f"{what} {name!r} must lie strictly between 0 and 1, got {value}")
        if check == "choice" and value not in f.metadata["options"]:
            raise ValueError(f"{what} {name!r} must be one of {', '.join(map(repr, f.metadata['options']))}, "
                             f"got {value!r}")


def field_paths(config, prefix: str = "") -> list[str]:
    """Every settable field as a dotted path (``ppo.steps``, ``bo.ppo.steps``, ...)."""
    paths = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        paths += field_paths(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return paths


def with_overrides(config, overrides: dict, prefix: str = "", root=None):
    """``config`` with ``overrides`` applied: ``{"steps": 3}``, nested dicts for stages, or dotted paths."""
    nested: dict = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        nested.setdefault(head, {})
        if rest:
            nested[head][rest] = value
        elif isinstance(value, dict):
            nested[head].update(value)
        else:
            nested[head] = value
    names = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for head, value in nested.items():
        if head not in names:
            valid = field_paths(config, prefix)
            close = [p for p in field_paths(root or config) if p.split(".")[-1] == head.split("_", 1)[-1]]
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ValueError(f"unknown preset override {prefix + head!r}{hint} valid fields: {', '.join(valid)}")
        current = getattr(config, head)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"preset field {prefix + head!r} is a stage config; pass a dict of its fields or dotted "
                                 f"names like '{prefix + head}.<field>'")
            changes[head] = with_overrides(current, value, f"{prefix}{head}.", root or config)
        else:
            changes[head] = value
    if not changes:
        return config
    try:
        return dataclasses.replace(config, **changes)
    except ValueError as error:  # a config that checks itself when made (PPOConfig) names its fields by its type
        raise ValueError(str(error).replace(f"{type(config).__name__}.", prefix)) from None
