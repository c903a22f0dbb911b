"""Identity of list entries, as Docker Compose v2 tells them apart when de-duplicating merged lists.

A key that is too fine only leaves a duplicate that Compose itself removes on load (the last entry
wins at the first one's place, so the result is the same); a key that is too coarse would drop an
entry Compose keeps. So where an entry's identity is unclear, it gets no key.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from typing import Any

from composer.nodes import scalar
from composer.rules import Unique

Resolve = Callable[[str], str]

_PORT_RE = re.compile(
    r"^(?:(?P<ip>\[[^\]]*\]|[^:\[\]]*):)??(?:(?P<published>[^:]*):)?(?P<target>[^:/]+)(?:/(?P<proto>[a-z]+))?$"
)


def _text(value: Any, resolve: Resolve) -> Any:
    value = scalar(value)
    if isinstance(value, str) and "$" in value:
        return resolve(value)
    return value


def _go_s(value: Any) -> str:
    """Go's %s of a value decoded from YAML (ints show as %!s(int=N))."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return f"%!s(bool={'true' if value else 'false'})"
    if isinstance(value, int):
        return f"%!s(int={value})"
    if isinstance(value, float):
        from composer.nodes import go_format

        return f"%!s(float64={go_format(value)})"
    return str(value)


def _go_d(value: Any) -> str:
    if isinstance(value, bool):
        return f"%!d(bool={'true' if value else 'false'})"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "%!d(<nil>)"
    if isinstance(value, str):
        return f"%!d(string={value})"
    return f"%!d({value!r})"


def entry_key(kind: Unique, entry: Any, resolve: Resolve) -> str | None:
    """The identity of one list entry, or None when it has none composer can be sure of."""
    if isinstance(entry, dict):
        return _mapping_key(kind, entry, resolve)
    value = _text(entry, resolve)
    if kind is Unique.KEY:
        return value.split("=", 1)[0] if isinstance(value, str) else None
    if kind is Unique.EXPOSE:
        if isinstance(value, bool):
            return None
        return str(value) if isinstance(value, (str, int)) else None
    if kind is Unique.ENV_FILE:
        return value if isinstance(value, str) else None
    if kind is Unique.SECRET:
        return f"/run/secrets/{value}" if isinstance(value, str) else None
    if kind is Unique.CONFIG:
        return f"/{value}" if isinstance(value, str) else None
    if kind is Unique.DEVICE:
        if not isinstance(value, str):
            return None
        parts = value.split(":")
        return parts[0] if len(parts) == 1 else parts[1]
    if kind is Unique.VOLUME:
        return _volume_target(value) if isinstance(value, str) else None
    if kind is Unique.PORT:
        return _port_key(value)
    return None


def _mapping_key(kind: Unique, entry: dict[str, Any], resolve: Resolve) -> str | None:
    def get(name: str) -> Any:
        return _text(entry.get(name), resolve) if name in entry else None

    if kind in (Unique.VOLUME, Unique.DEVICE):
        target = get("target")
        return target if isinstance(target, str) else None
    if kind is Unique.ENV_FILE:
        path = get("path")
        return path if isinstance(path, str) else None
    if kind in (Unique.SECRET, Unique.CONFIG):
        target = get("target")
        if target is not None:
            return target if isinstance(target, str) else None
        prefix = "/run/secrets" if kind is Unique.SECRET else ""
        return f"{prefix}/{_go_s(get('source'))}"
    if kind is Unique.PORT:
        if "target" not in entry:
            return None
        host = get("host_ip") if "host_ip" in entry else "0.0.0.0"
        protocol = get("protocol") if "protocol" in entry else "tcp"
        published = get("published") if "published" in entry else None
        return f"{_go_s(host)}:{_go_s(published)}:{_go_d(get('target'))}/{_go_s(protocol)}"
    return None


def _volume_target(spec: str) -> str | None:
    """The container path of a short volume spec (`src:dst[:mode]` or `dst`)."""
    if "\\" in spec or re.match(r"^[A-Za-z]:", spec):
        return None  # Windows paths: leave them to Compose
    parts = spec.split(":")
    if len(parts) == 1:
        target = parts[0]
    elif len(parts) in (2, 3):
        target = parts[1]
    else:
        return None
    if not target:
        return None
    return _clean(target)


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _port_key(value: Any) -> str | None:
    """Key of a short port spec as Compose's canonical form would give it; None for ranges."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    match = _PORT_RE.match(value.strip())
    if not match:
        return None
    target = match.group("target")
    published = match.group("published")
    if "-" in target or (published and "-" in published):
        return None  # a range stands for several ports
    if not target.isdigit():
        return None
    ip = match.group("ip") or "0.0.0.0"
    if ip.startswith("["):
        ip = ip[1:-1]
    pub = published if published else None
    proto = match.group("proto") or "tcp"
    return f"{ip}:{_go_s(pub)}:{int(target)}/{proto}"
