"""Env files (`.env`, `--env-file`) read exactly as Docker Compose v2 reads them.

python-dotenv is deliberately not used: Compose's parser differs from it on most details that
matter (`$VAR` without braces, `${VAR:?msg}`, YAML-style `KEY: value`, comments after a tab,
escapes inside single quotes, `\\$`, octal escapes, a byte-order mark, keys without `=` that
inherit from the environment), and every one of those changes interpolation results.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

from composer.errors import InputError, InterpolationError, Location
from composer.interpolate import interpolate_string

__all__ = ["load_env_files", "project_environment"]

# Go's unicode.IsSpace (used to find statements and trim keys and unquoted values).
_WHITESPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_STR = "".join(_WHITESPACE)
# Compose's own "space but not a line break" set (inside a statement).
_BLANK = frozenset("\t\v\f\r \x85\xa0")
_BLANK_STR = "".join(_BLANK)
_KEY_PUNCTUATION = frozenset("_.-[]")
_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})')
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
}
_BOM = "\ufeff"
_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class _ParseError(Exception):
    def __init__(self, message: str, offset: int, *, interpolation: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.interpolation = interpolation


def _is_key_char(char: str) -> bool:
    return char in _KEY_PUNCTUATION or unicodedata.category(char)[0] in "LN"


def _unescape(match: re.Match[str]) -> str:
    text = match.group()
    if text == "\\$":
        return "$$"  # stays literal through interpolation
    if text[1] != "0":
        return _SIMPLE_ESCAPES.get(text[1], text)
    rewritten = "\\" + text[2:]  # Compose rewrites \0ddd to \ddd before decoding
    digits = text[2:]
    if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
        return chr(int(digits, 8))
    return rewritten


class _Parser:
    def __init__(self, src: str, out: dict[str, str], environ: Mapping[str, str]) -> None:
        self.src = src
        self.out = out
        self.environ = environ

    def lookup(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value if value is not None else self.out.get(name)

    def expand(self, value: str, offset: int) -> str:
        try:
            return interpolate_string(value, self.lookup)
        except InterpolationError as exc:
            raise _ParseError(exc.message, offset, interpolation=True) from None

    def parse(self) -> None:
        src = self.src
        n = len(src)
        pos = 0
        while True:
            pos = self.statement_start(pos)
            if pos >= n:
                return
            pos = self.statement(pos)

    def statement_start(self, pos: int) -> int:
        src = self.src
        n = len(src)
        while True:
            while pos < n and src[pos] in _WHITESPACE:
                pos += 1
            if pos >= n or src[pos] != "#":
                return pos
            newline = src.find("\n", pos)
            if newline < 0:
                return n
            pos = newline

    def statement(self, start: int) -> int:
        src = self.src
        n = len(src)
        pos = start
        export = _EXPORT.match(src, pos)
        if export is not None:
            pos += len("export")
            while pos < n and src[pos] in _BLANK:
                pos += 1
            if pos >= n:
                raise _ParseError('"export" is not followed by a variable name', start)
        key_start = pos
        value_start = pos
        inherited = False
        key = ""
        i = pos
        while i < n:
            char = src[i]
            if char in "=:\n":
                key = src[key_start:i]
                value_start = i + 1
                inherited = char == "\n"
                break
            if char not in _BLANK and not _is_key_char(char):
                # The text around it is not shown: after a quoted value it may be a secret.
                raise _ParseError(f'unexpected character "{char}" in a variable name', start)
            i += 1
        # A last line with neither "=" nor a line break yields an empty key (no effect).
        key = key.rstrip(_WHITESPACE_STR)
        while value_start < n and src[value_start] in _BLANK:
            value_start += 1
        if " " in key:
            raise _ParseError(f'variable name "{key}" cannot contain a space', start)
        if inherited:
            inherited_value = self.lookup(key)
            if inherited_value is not None:
                self.out[key] = inherited_value
            return value_start
        value, end = self.value(value_start, start)
        self.out[key] = value
        return end

    def value(self, pos: int, statement: int) -> tuple[str, int]:
        src = self.src
        n = len(src)
        quote = src[pos] if pos < n else ""
        if quote not in ("'", '"'):
            newline = src.find("\n", pos)
            end = newline if newline >= 0 else n
            raw = src[pos:end]
            comment = raw.find(" #")
            if comment >= 0:
                raw = raw[:comment]
            raw = raw.rstrip(_WHITESPACE_STR)
            return self.expand(raw, statement), (end + 1 if newline >= 0 else n)
        chars: list[str] = []
        escaped = False
        i = pos + 1
        while i < n:
            char = src[i]
            i += 1
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:  # \" or \' keeps the quote character
                escaped = False
                chars.append(char)
                continue
            text = "".join(chars)
            if quote == '"':
                text = self.expand(_ESCAPE.sub(_unescape, text), statement)
            return text, i
        # The value itself is not shown: it may be a secret.
        raise _ParseError(f"unterminated quoted value: no closing {quote}", statement)


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise InputError("env file is a directory, not a file", Location(path))
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("env file not found", Location(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read env file: {exc.strerror or exc}", Location(path)) from None
    try:
        return data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"env file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
            Location(path, line),
        ) from None


def load_env_files(paths: Sequence[Path], environ: Mapping[str, str]) -> dict[str, str]:
    """Variables the files define, later files winning; the caller layers `environ` on top."""
    defined: dict[str, str] = {}
    for path in paths:
        text = _read_text(path)
        try:
            _Parser(text, defined, environ).parse()
        except _ParseError as exc:
            location = Location(path, text.count("\n", 0, exc.offset) + 1)
            kind = InterpolationError if exc.interpolation else InputError
            raise kind(exc.message, location) from None
    defined.pop("", None)
    return defined


def _env_file_disabled(environ: Mapping[str, str]) -> bool:
    raw = environ.get("COMPOSE_DISABLE_ENV_FILE")
    if raw is None:
        return False
    if raw in _GO_TRUE:
        return True
    if raw in _GO_FALSE:
        return False
    raise InputError(f'COMPOSE_DISABLE_ENV_FILE must be true or false, not "{raw}"')


def project_environment(
    project_dir: Path,
    env_files: Sequence[Path] | None,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Everything Compose interpolates with: env files first, the process environment wins.

    With env_files None, `<project_dir>/.env` is read when it is a file (unless
    COMPOSE_DISABLE_ENV_FILE is true); explicit files replace that default.
    """
    if env_files is None:
        default = project_dir / ".env"
        disabled = _env_file_disabled(environ)
        paths = [default] if not disabled and default.exists() and not default.is_dir() else []
    else:
        paths = list(env_files)
    variables = load_env_files(paths, environ)
    variables.update(environ)
    return variables
