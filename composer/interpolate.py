"""Variable interpolation with Docker Compose v2's exact rules, quirks included.

Compose's matcher is a regular expression plus a brace counter; this module reproduces the
same decisions with a linear scanner so that results (and refusals) match the reference
implementation byte for byte, without backtracking on long strings.
"""

from __future__ import annotations

import math
import re
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarbool import ScalarBoolean

from composer.errors import InterpolationError, Location, Problem
from composer.findings import format_where

Lookup = Callable[[str], "str | None"]
ModelPath = tuple["str | int", ...]

# Compose matches names case-insensitively against [_a-z][_a-z0-9]*; Unicode case folding
# makes LATIN SMALL LETTER LONG S and KELVIN SIGN name characters too.
_NAME_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\u017f\u212a")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_OP_CHARS = "-+?"
_EXPRESSION = re.compile("\\$[${_A-Za-z\u017f\u212a]")
_BRACE = re.compile("[{}]")


def has_interpolation(text: str) -> bool:
    """Cheap test: False means interpolation returns the text unchanged."""
    return "$" in text and _EXPRESSION.search(text) is not None


def interpolate_string(
    text: str,
    lookup: Lookup,
    unset: Callable[[str], None] | None = None,
) -> str:
    """Substitute like Compose; `unset` hears every variable that silently became ""."""
    if "$" not in text:
        return text
    return _Scanner(lookup, unset).substitute(text)


def referenced_variables(text: str) -> set[str]:
    """Every variable name the text reads, including those inside defaults and messages."""
    names: set[str] = set()
    if "$" not in text:
        return names

    def record(name: str) -> str:
        names.add(name)
        return "x"  # non-empty so `:?` never stops the walk

    _Scanner(record, None).substitute(text)
    return names


class _InvalidSyntax(Exception):
    def __init__(self, template: str, at: int, reason: str) -> None:
        super().__init__(reason)
        self.template = template
        self.at = at
        self.reason = reason

    def message(self) -> str:
        end = self.template.find("\n", self.at)
        fragment = self.template[self.at : end if end >= 0 else len(self.template)]
        if len(fragment) > 60:
            fragment = fragment[:57] + "..."
        return f"invalid interpolation {_quote(fragment)}: {self.reason} (write $$ for a literal $)"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _required_message(name: str, reason: str) -> str:
    if reason:
        return f"required variable {name} is missing a value: {reason}"
    return f"required variable {name} is missing a value"


_MAX_DEPTH = 100


class _Scanner:
    """One evaluation; scans index ranges of the text so nothing is sliced or re-scanned."""

    __slots__ = ("lookup", "unset")

    def __init__(self, lookup: Lookup, unset: Callable[[str], None] | None) -> None:
        self.lookup = lookup
        self.unset = unset

    def substitute(self, text: str) -> str:
        try:
            return self._substitute(text, 0, len(text), 0)
        except _InvalidSyntax as exc:
            raise InterpolationError(exc.message()) from None

    def _value(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            if self.unset is not None:
                self.unset(name)
            return ""
        return value

    def _substitute(self, text: str, lo: int, hi: int, depth: int) -> str:
        """Evaluate text[lo:hi] as a template of its own."""
        if depth > _MAX_DEPTH:
            raise InterpolationError(f"expressions are nested more than {_MAX_DEPTH} levels deep")
        out: list[str] = []
        last_brace: dict[int, int] = {}  # line end -> last "}" before it
        pos = lo
        while True:
            j = text.find("$", pos, hi)
            if j < 0:
                out.append(text[pos:hi])
                return "".join(out)
            out.append(text[pos:j])
            nxt = text[j + 1] if j + 1 < hi else ""
            if nxt == "$":
                out.append("$")
                pos = j + 2
            elif nxt and nxt in _NAME_START:
                end = _name_end(text, j + 2, hi)
                out.append(self._value(text[j + 1 : end]))
                pos = end
            elif nxt == "{":
                value, pos = self._braced(text, j, hi, depth, last_brace)
                out.append(value)
            else:  # a lone $ is literal text
                out.append("$")
                pos = j + 1

    def _braced(
        self, text: str, start: int, hi: int, depth: int, last_brace: dict[int, int]
    ) -> tuple[str, int]:
        """Evaluate the `${...}` at `start`; return its value and where scanning resumes."""
        k = start + 2
        if k >= hi:
            raise _InvalidSyntax(text, start, 'unterminated "${"')
        if text[k] not in _NAME_START:
            if text[k] == "}":
                raise _InvalidSyntax(text, start, "empty variable name")
            raise _InvalidSyntax(
                text, start, f'"${{" must be followed by a variable name, found {text[k]!r}'
            )
        m = _name_end(text, k + 1, hi)
        name = text[k:m]
        if m < hi and text[m] == "}":
            return self._value(name), m + 1
        if m + 1 < hi and text[m] == ":" and text[m + 1] in _OP_CHARS:
            op = text[m : m + 2]
        elif m < hi and text[m] in _OP_CHARS:
            op = text[m]
        elif m >= hi:
            raise _InvalidSyntax(text, start, f'missing "}}" to close "${{{name}"')
        else:
            raise _InvalidSyntax(
                text,
                start,
                f"unexpected {text[m]!r} after variable name {name}: expected "
                '"}" or one of :-, -, :+, +, :?, ?',
            )
        body = m + len(op)
        line_end = text.find("\n", body, hi)
        if line_end < 0:
            line_end = hi
        close = last_brace.get(line_end)
        if close is None:
            close = last_brace[line_end] = text.rfind("}", 0, line_end)
        if close < body:
            where = " on the same line" if line_end < hi else ""
            raise _InvalidSyntax(text, start, f'missing "}}"{where} to close "${{{name}{op}"')
        # Compose matches up to the last "}" on the line, then cuts that match where its
        # brace depth first returns to zero; what follows the cut is evaluated as a template
        # of its own, which is the same as scanning on from the cut.
        cut = _first_balanced_close(text, start, close + 1)
        inner_end = cut if cut >= 0 else close
        resume = cut + 1 if cut >= 0 else close + 1
        argument = self._substitute(text, body, inner_end, depth + 1)  # evaluated even if unused
        current = self.lookup(name)
        if op == ":-":
            value = current or argument
        elif op == "-":
            value = argument if current is None else current
        elif op == ":+":
            value = argument if current else ""
        elif op == "+":
            value = argument if current is not None else ""
        elif op == ":?":
            if not current:
                raise InterpolationError(_required_message(name, argument))
            value = current
        else:  # "?"
            if current is None:
                raise InterpolationError(_required_message(name, argument))
            value = current
        return value, resume


def _name_end(text: str, pos: int, hi: int) -> int:
    while pos < hi and text[pos] in _NAME_CHARS:
        pos += 1
    return pos


def _first_balanced_close(text: str, start: int, stop: int) -> int:
    """Compose's brace counter: any "{" opens (and hides the next character), "}" closes."""
    depth = 0
    i = start
    while True:
        found = _BRACE.search(text, i, stop)
        if found is None:
            return -1
        i = found.start()
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
            i += 1
        else:
            depth += 1
            i += 2


# --- typed values -----------------------------------------------------------------------

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
_FLOAT_WORDS = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan"}
_INT64 = 1 << 63
_TRUE = {"true"}
_FALSE = {"false"}
_LEGACY_TRUE = {"y", "yes", "on"}
_LEGACY_FALSE = {"n", "no", "off"}


class _CastError(ValueError):
    pass


def _to_int(text: str) -> tuple[object, str]:
    if not _INT.fullmatch(text):
        raise _CastError(f"expected an integer, got {_quote(text)}")
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise _CastError(f"integer {text} is out of range")
    return value, ""


def _underscores_ok(text: str) -> bool:
    """Go number literals allow "_" only between digits (a base prefix counts as a digit)."""
    body = text[1:] if text[:1] in "+-" else text
    hexadecimal = body[:2].lower() == "0x"
    seen = "0" if body[:2].lower() in ("0x", "0o", "0b") else "^"
    digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
    for char in body[2:] if seen == "0" else body:
        if char in digits:
            seen = "0"
        elif char == "_":
            if seen != "0":
                return False
            seen = "_"
        elif seen == "_":
            return False
        else:
            seen = "!"
    return seen != "_"


def _parse_float(text: str) -> float:
    """Accept what Go's strconv.ParseFloat accepts: decimal, hex with p exponent, inf, nan."""
    plain = text
    if "_" in text:
        if not _underscores_ok(text):
            raise _CastError(f"expected a number, got {_quote(text)}")
        plain = text.replace("_", "")
    try:
        if _FLOAT.fullmatch(plain):
            value = float(plain)
        elif _HEX_FLOAT.fullmatch(plain):
            value = float.fromhex(plain)
        elif plain.lower() in _FLOAT_WORDS and plain == text:
            return float(plain)
        else:
            raise _CastError(f"expected a number, got {_quote(text)}")
    except OverflowError:
        value = math.inf
    if math.isinf(value):
        raise _CastError(f"number {text} is out of range")
    return value


def _to_float(text: str) -> tuple[object, str]:
    return _parse_float(text), ""


def _to_float32(text: str) -> tuple[object, str]:
    value = _parse_float(text)
    try:
        struct.pack("<f", value)
    except OverflowError:
        raise _CastError(f"number {text} is out of range") from None
    return value, ""


def _to_bool(text: str) -> tuple[object, str]:
    lowered = text.lower()
    if lowered in _TRUE:
        return True, ""
    if lowered in _FALSE:
        return False, ""
    if lowered in _LEGACY_TRUE:
        return True, f'"{text}" as a boolean is not YAML 1.2; write true'
    if lowered in _LEGACY_FALSE:
        return False, f'"{text}" as a boolean is not YAML 1.2; write false'
    raise _CastError(f"expected a boolean (true or false), got {_quote(text)}")


Cast = Callable[[str], "tuple[object, str]"]

ANY = "*"  # any mapping key or list position
ITEM = "[]"  # any list position

_S = ("services", ANY)

# Fields whose interpolated strings Compose turns into typed values before validating.
CAST_PATHS: tuple[tuple[tuple[str, ...], Cast], ...] = (
    ((*_S, "cpu_count"), _to_int),
    ((*_S, "cpu_percent"), _to_float),
    ((*_S, "cpu_period"), _to_int),
    ((*_S, "cpu_quota"), _to_int),
    ((*_S, "cpu_rt_period"), _to_int),
    ((*_S, "cpu_rt_runtime"), _to_int),
    ((*_S, "cpus"), _to_float32),
    ((*_S, "cpu_shares"), _to_int),
    ((*_S, "init"), _to_bool),
    ((*_S, "deploy", "replicas"), _to_int),
    ((*_S, "deploy", "update_config", "parallelism"), _to_int),
    ((*_S, "deploy", "update_config", "max_failure_ratio"), _to_float),
    ((*_S, "deploy", "rollback_config", "parallelism"), _to_int),
    ((*_S, "deploy", "rollback_config", "max_failure_ratio"), _to_float),
    ((*_S, "deploy", "restart_policy", "max_attempts"), _to_int),
    ((*_S, "deploy", "placement", "max_replicas_per_node"), _to_int),
    ((*_S, "healthcheck", "retries"), _to_int),
    ((*_S, "healthcheck", "disable"), _to_bool),
    ((*_S, "oom_kill_disable"), _to_bool),
    ((*_S, "oom_score_adj"), _to_int),
    ((*_S, "pids_limit"), _to_int),
    ((*_S, "ports", ITEM, "target"), _to_int),
    ((*_S, "privileged"), _to_bool),
    ((*_S, "read_only"), _to_bool),
    ((*_S, "scale"), _to_int),
    ((*_S, "stdin_open"), _to_bool),
    ((*_S, "tty"), _to_bool),
    ((*_S, "ulimits", ANY), _to_int),
    ((*_S, "ulimits", ANY, "hard"), _to_int),
    ((*_S, "ulimits", ANY, "soft"), _to_int),
    ((*_S, "volumes", ITEM, "read_only"), _to_bool),
    ((*_S, "volumes", ITEM, "volume", "nocopy"), _to_bool),
    (("networks", ANY, "external"), _to_bool),
    (("networks", ANY, "internal"), _to_bool),
    (("networks", ANY, "attachable"), _to_bool),
    (("networks", ANY, "enable_ipv4"), _to_bool),
    (("networks", ANY, "enable_ipv6"), _to_bool),
    (("volumes", ANY, "external"), _to_bool),
    (("secrets", ANY, "external"), _to_bool),
    (("configs", ANY, "external"), _to_bool),
)


@dataclass
class _Trie:
    cast: Cast | None = None
    keys: dict[str, _Trie] = field(default_factory=dict)
    any: _Trie | None = None
    item: _Trie | None = None

    def child(self, part: str) -> _Trie:
        if part == ANY:
            self.any = self.any or _Trie()
            return self.any
        if part == ITEM:
            self.item = self.item or _Trie()
            return self.item
        return self.keys.setdefault(part, _Trie())


def _build_trie() -> _Trie:
    root = _Trie()
    for parts, cast in CAST_PATHS:
        node = root
        for part in parts:
            node = node.child(part)
        node.cast = cast
    return root


_ROOT = _build_trie()
_NO_STATES: tuple[_Trie, ...] = ()


def _step(states: tuple[_Trie, ...], part: str | int) -> tuple[_Trie, ...]:
    nxt: list[_Trie] = []
    for state in states:
        if isinstance(part, str):
            keyed = state.keys.get(part)
            if keyed is not None:
                nxt.append(keyed)
        elif state.item is not None:
            nxt.append(state.item)
        if state.any is not None:
            nxt.append(state.any)
    return tuple(nxt)


def cast_for(path: ModelPath) -> Cast | None:
    """The conversion Compose applies to a string at `path`, if any."""
    states: tuple[_Trie, ...] = (_ROOT,)
    for part in path:
        states = _step(states, part)
        if not states:
            return None
    return next((s.cast for s in states if s.cast is not None), None)


# --- whole models -----------------------------------------------------------------------


class _TreeWalker:
    def __init__(
        self,
        env: Mapping[str, str],
        locate: Callable[[ModelPath], Location] | None,
    ) -> None:
        self.lookup: Lookup = env.get
        self.locate = locate
        self.problems: list[Problem] = []
        self.path: list[str | int] = []

    def _location(self) -> Location:
        return self.locate(tuple(self.path)) if self.locate is not None else Location()

    def _warn(self, message: str) -> None:
        self.problems.append(
            Problem(message, self._location(), format_where(tuple(self.path)), "warning")
        )

    def _fail(self, message: str) -> InterpolationError:
        return InterpolationError(message, self._location(), format_where(tuple(self.path)))

    def walk(self, node: object, states: tuple[_Trie, ...]) -> object:
        kind = type(node)
        if kind is str:
            return self._string(node, states)  # type: ignore[arg-type]
        if kind in _BUILTIN_SCALARS:
            return node
        if isinstance(node, str):
            return self._string(str(node), states)
        if isinstance(node, Mapping):
            out: dict[object, object] = {}
            path = self.path
            for key, value in _mapping_items(node):
                plain_key = key if type(key) is str else _plain_scalar(key)
                part = plain_key if isinstance(plain_key, str) else str(plain_key)
                path.append(part)
                out[plain_key] = self.walk(value, _step(states, part) if states else _NO_STATES)
                path.pop()
            return out
        if isinstance(node, (list, tuple)):
            items: list[object] = []
            path = self.path
            values = list.__iter__(node) if isinstance(node, list) else iter(node)
            for index, value in enumerate(values):
                path.append(index)
                items.append(self.walk(value, _step(states, index) if states else _NO_STATES))
                path.pop()
            return items
        return _plain_scalar(node)

    def _string(self, text: str, states: tuple[_Trie, ...]) -> object:
        if "$" in text:
            missing: list[str] = []
            try:
                text = interpolate_string(text, self.lookup, missing.append)
            except InterpolationError as exc:
                raise self._fail(exc.message) from None
            for name in dict.fromkeys(missing):
                self._warn(f'the "{name}" variable is not set, using an empty string')
        for state in states:
            if state.cast is not None:
                try:
                    value, warning = state.cast(text)
                except _CastError as exc:
                    raise self._fail(str(exc)) from None
                if warning:
                    self._warn(warning)
                return value
        return text


_BUILTIN_SCALARS = frozenset({int, float, bool, type(None)})


def _mapping_items(node: Mapping[object, object]) -> Iterable[tuple[object, object]]:
    """A mapping's items; for ruamel's maps straight from the ordered dict underneath.

    CommentedMap.items() looks every key up again through its merge-aware __getitem__;
    the keys come from the ordered dict itself, so the values it finds are the same.
    """
    if isinstance(node, CommentedMap):
        return OrderedDict.items(node)
    return node.items()


def _plain_scalar(value: object) -> object:
    """Strip ruamel's scalar wrappers (kept formatting, anchors) down to Python builtins."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def interpolate_tree(
    node: object,
    env: Mapping[str, str],
    *,
    locate: Callable[[ModelPath], Location] | None = None,
) -> tuple[object, list[Problem]]:
    """A plain copy of a loaded model with Compose's interpolation and type casts applied.

    Mapping keys are left as written, as Compose does. Warnings name unset variables and
    YAML 1.1 booleans; malformed expressions and required variables raise InterpolationError.
    """
    walker = _TreeWalker(env, locate)
    result = walker.walk(node, (_ROOT,))
    return result, walker.problems
