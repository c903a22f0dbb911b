"""Where a value of the merged model came from: file, line and column, even after merging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from composer.errors import Location
from composer.nodes import key_origin
from composer.yamlio import ORIGIN_ATTR


def _position(container: Any, key: Any, *, value: bool) -> tuple[Path | None, int, int]:
    source, key = key_origin(container, key)
    path = getattr(source, ORIGIN_ATTR, None)
    lc = getattr(source, "lc", None)
    line = col = 0
    if lc is not None:
        try:
            if isinstance(source, list):
                pos = lc.item(key)
            elif value:
                pos = lc.value(key)
            else:
                pos = lc.key(key)
        except (KeyError, IndexError, TypeError):
            pos = None
        if pos is not None and pos[0] is not None:
            line, col = pos[0] + 1, pos[1] + 1
        elif lc.line is not None:
            line, col = lc.line + 1, (lc.col or 0) + 1
    return path, line, col


def locate_item(root: Any, path: tuple[str | int, ...]) -> Location:
    """The deepest known source position along path (a value, else its key, else its parent)."""
    node = root
    best = Location(getattr(root, ORIGIN_ATTR, None), 0, 0)
    for part in path:
        if isinstance(node, dict):
            key: Any = part
            if key not in node:
                matches = [k for k in node if str(k) == str(part)]
                if not matches:
                    break
                key = matches[0]
        elif isinstance(node, list):
            try:
                key = int(part)
            except ValueError:
                break
            if not 0 <= key < len(node):
                break
        else:
            break
        file, line, col = _position(node, key, value=True)
        if file is not None and line:
            best = Location(file, line, col)
        node = node[key]
    return best
