"""What the consistency checks report: model paths, their locations and order, and the small
helpers every rule shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from composer.errors import Location, Problem
from composer.goparse import is_int

ModelPath = tuple[str | int, ...]
Locator = Callable[[ModelPath], Location]
Finding = tuple[ModelPath, Problem]
Local = tuple[ModelPath, str, str]  # path inside a service, message, severity

SERVICE_PREFIX = "service:"
CONTAINER_PREFIX = "container:"




def format_where(path: ModelPath) -> str:
    """services.gateway.ports[0]: keys joined by dots, list indexes in brackets."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate_safely(locate: Locator, path: ModelPath) -> Location:
    """The nearest located ancestor: injected or missing values have no position of their own."""
    for n in range(len(path), -1, -1):
        try:
            loc = locate(path[:n])
        except LookupError:
            continue
        if loc.path is not None:
            return loc
    return Location()


def path_sort_key(path: ModelPath) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def sort_findings(findings: list[Finding]) -> list[Problem]:
    """Deterministic: by model path, then errors before warnings, then message; no repeats."""
    ordered = sorted(
        findings,
        key=lambda f: (path_sort_key(f[0]), f[1].severity != "error", f[1].message),
    )
    seen: set[tuple[str, str, str]] = set()
    out: list[Problem] = []
    for _, problem in ordered:
        ident = (problem.where, problem.severity, problem.message)
        if ident not in seen:
            seen.add(ident)
            out.append(problem)
    return out


def describe(value: Any) -> str:
    """A short rendering of a value for messages (never a dump of a whole mapping)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def canonical_key(value: Any) -> str | None:
    """Structural identity of a definition, to check identical ones once."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None  # keys of mixed types or foreign values: no sharing


_EMPTY: dict[str, Any] = {}


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def int_or_none(value: Any) -> int | None:
    return int(value) if is_int(value) else None
