"""Values as Docker Compose's Go code parses them: numbers, sizes, durations, IP addresses,
port and volume specs, paths, and command lines split into words (go-shellwords).

The schema only knows these as strings; what Compose refuses when it decodes them is refused
here the same way, each parser returning the value or the problem in Compose's words.
"""

from __future__ import annotations

import functools
import ipaddress
import posixpath
import re
import struct
from dataclasses import dataclass
from typing import Any


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)\Z"
)


def parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat for the forms people write (decimal, exponent, hex float)."""
    if not _GO_FLOAT.match(text):
        return None
    if text.lstrip("+-")[:2].lower() == "0x":
        return float.fromhex(text)
    return float(text)


_SIZE_SPLIT = re.compile(r"[0-9. ][^0-9. ]*\Z")
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


@functools.lru_cache(maxsize=4096)
def parse_ram_size(text: str) -> int | str:
    """docker/go-units RAMInBytes: the bytes, or the problem."""
    invalid = f"invalid size {text!r}: use a number of bytes or a value like 512m or 2g"
    split = _SIZE_SPLIT.search(text)
    if split is None:
        return invalid
    sep = split.start()
    num, sfx = (text[:sep], text[sep + 1 :]) if text[sep] == " " else (
        text[: sep + 1], text[sep + 1 :])
    size = parse_go_float(num)
    if size is None or size < 0:
        return invalid
    if not sfx:
        return int(size)
    sfx = sfx.lower()
    if len(sfx) > 3:
        return invalid
    if sfx[0] == "b":
        return int(size) if len(sfx) == 1 else invalid
    if sfx[0] not in _SIZE_UNITS:
        return invalid
    if (len(sfx) == 2 and sfx[1] != "b") or (len(sfx) == 3 and sfx[1:] != "ib"):
        return invalid
    return int(size * _SIZE_UNITS[sfx[0]])


_DURATION_UNITS = {"ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h", "d", "w"}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


@functools.lru_cache(maxsize=4096)
def duration_error(text: str) -> str | None:
    """go-str2duration ParseDuration (Go durations plus d and w): None when valid."""
    invalid = f"invalid duration {text!r}: use a value like 30s, 1m30s or 2h"
    s = text[1:] if text[:1] in ("+", "-") else text
    if s == "0":
        return None
    if not s:
        return invalid
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            return invalid
        match = _DURATION_PART.match(s)
        assert match is not None  # the pattern matches the empty string
        whole, frac, unit = match.groups()
        if not whole and not frac:
            return invalid
        if not unit:
            return f"invalid duration {text!r}: missing unit (e.g. s, m, h)"
        if unit not in _DURATION_UNITS:
            return f"invalid duration {text!r}: unknown unit {unit!r}"
        s = s[match.end() :]
    return None


@functools.lru_cache(maxsize=1024)
def is_ip(text: str) -> bool:
    """Go net.ParseIP: an IPv4 or IPv6 literal, no zone."""
    if "%" in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_start: int | None  # None: nothing published (Docker picks a port)
    host_end: int | None
    container_start: int
    container_end: int
    protocol: str


def _uint16(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) <= 65535 else None


def port_range(text: str) -> tuple[int, int] | None:
    """go-connections ParsePortRange: "80" or "8000-8010"."""
    if not text:
        return None
    if "-" not in text:
        single = _uint16(text)
        return None if single is None else (single, single)
    parts = text.split("-")
    start, end = _uint16(parts[0]), _uint16(parts[1])
    if start is None or end is None or end < start:
        return None
    return start, end


@functools.lru_cache(maxsize=4096)
def parse_port_spec(raw: str) -> PortMapping | str:
    """go-connections ParsePortSpec (short port syntax): the mapping, or Compose's error."""
    parts = raw.split(":")
    if len(parts) == 1:
        ip, host, container = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, container = "", parts[0], parts[1]
    else:
        ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    port, _, proto = container.partition("/")
    proto = (proto or "tcp").lower() if port else ""
    if proto not in ("tcp", "udp", "sctp"):
        return f"invalid proto: {proto}"
    if ip.startswith("["):
        if not ip.endswith("]"):
            return f"invalid IP address {ip}"
        ip = ip[1:-1]
    if ip and not is_ip(ip):
        return f"invalid IP address: {ip}"
    if not port:
        return f"no port specified: {raw}<empty>"
    container_range = port_range(port)
    if container_range is None:
        return f"invalid containerPort: {port}"
    host_range: tuple[int, int] | None = None
    if host:
        host_range = port_range(host)
        if host_range is None:
            return f"invalid hostPort: {host}"
        span = container_range[1] - container_range[0]
        if span and span != host_range[1] - host_range[0]:
            return f"invalid ranges specified for container and host Ports: {port} and {host}"
    return PortMapping(
        ip,
        host_range[0] if host_range else None,
        host_range[1] if host_range else None,
        container_range[0],
        container_range[1],
        proto,
    )


@dataclass(frozen=True)
class VolumeSpec:
    source: str
    target: str
    kind: str  # "volume" or "bind"


def _windows_drive(buffer: str, char: str) -> bool:
    return char == ":" and len(buffer) == 1 and buffer.isalpha()


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and _windows_drive(source[0], source[1])


_NEEDS_SCAN = re.compile(r"\$\{|(?:^|:)[^\W\d_]:")


@functools.lru_cache(maxsize=4096)
def parse_volume_spec(spec: str) -> VolumeSpec | str:
    """compose-go format.ParseVolume (short volume syntax): the mount, or Compose's error."""
    if not spec:
        return "invalid empty volume spec"
    if len(spec) <= 2:
        return VolumeSpec("", spec, "volume")
    if _NEEDS_SCAN.search(spec) is None:  # no drive letter, no ${...}: plain colons
        sections = spec.split(":")
        if "" in sections:
            return f"invalid spec: {spec}: empty section between colons"
        if len(sections) > 3:
            return f"invalid spec: {spec}: too many colons"
        if len(sections) == 1:
            return VolumeSpec("", spec, "volume")
        source, target = sections[0], sections[1]
        return VolumeSpec(source, target, "bind" if _is_file_path(source) else "volume")
    source = target = buffer = ""
    depth = 0
    end = "\0"
    for i, char in enumerate(spec + end):
        if char == "$" and i + 1 < len(spec) and spec[i + 1] == "{":
            depth += 1
            buffer += char
        elif char == "}" and depth > 0:
            depth -= 1
            buffer += char
        elif _windows_drive(buffer, char):
            buffer += char
        elif char in (":", end) and depth == 0:
            if not buffer:
                return f"invalid spec: {spec}: empty section between colons"
            if not source and char == end:
                target = buffer
            elif not source:
                source = buffer
            elif not target:
                target = buffer
            elif char == ":":
                return f"invalid spec: {spec}: too many colons"
            buffer = ""
        else:
            buffer += char
    return VolumeSpec(source, target, "bind" if _is_file_path(source) else "volume")


def go_path_clean(target: str) -> str:
    """path.Clean: POSIX normalisation where a leading // collapses as well."""
    if not target:
        return ""
    cleaned = posixpath.normpath(target)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def unit_bytes(value: Any) -> int | None:
    """UnitBytes decoding: ints as they are, strings parsed, anything else (even floats) 0."""
    if is_int(value):
        return int(value)
    if isinstance(value, str):
        parsed = parse_ram_size(value)
        return parsed if isinstance(parsed, int) else None
    return 0


def nano_cpus(value: Any) -> float | None:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float32(float(value))
    if isinstance(value, str):
        parsed = parse_go_float(value)
        return None if parsed is None else float32(parsed)
    return None


def pids_limit(value: Any) -> int | None:
    if value is None:
        return 0
    return int(value) if is_int(value) else None


def shell_words_error(line: str) -> str | None:
    """Why Compose cannot split a command string into words, or None."""
    return split_shell_words(line)[0]


def split_shell_words(line: str) -> tuple[str | None, int | None]:
    """go-shellwords Parse as Compose splits a command string: (the problem, or None; where
    it stopped reading, or None when it read everything).

    Parsing stops silently at an unquoted ; & | < or >: the rest of the line is dropped, and
    nothing after it can fail.
    """
    buf = ""
    escaped = double = single = back = dollar = False
    for at, char in enumerate(line):
        if escaped:
            buf += char
            escaped = False
            continue
        if char == "\\":
            if single:
                buf += char
            else:
                escaped = True
            continue
        if char in " \t\r\n":
            buf = buf + char if (single or double or back or dollar) else ""
            continue
        if char == "`" and not (single or double or dollar):
            back = not back
        elif char == ")" and not (single or double or back):
            dollar = not dollar
        elif char == "(" and not (single or double or back):
            if dollar or not buf.endswith("$"):
                return "'(' outside of '$(...)'", None
            dollar = True
        elif char == '"' and not (single or dollar):
            double = not double
            continue
        elif char == "'" and not (double or dollar):
            single = not single
            continue
        elif char in ";&|<>" and not (single or double or back or dollar):
            return None, at
        buf += char
    for state, what in ((escaped, "a trailing backslash"), (single, "an unclosed single quote"),
                        (double, "an unclosed double quote"), (back, "an unclosed backquote"),
                        (dollar, "an unclosed '$(' or a stray ')'")):
        if state:
            return what, None
    return None, None
