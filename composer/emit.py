"""A direct writer for the common shape of Compose files, reusing each scalar's source text.

ruamel's serializer is exact but slow, and it re-spells what it writes (quotes, `~`, folded
text, trailing spaces). This writer handles block mappings and sequences with plain, quoted and
block scalars, flow leaves and comments; it writes a scalar exactly as its source spelled it
whenever the value is still the one that was read. Anything else (anchors, merge keys, tags,
nested sequences) raises Unsupported, and every result is read back and compared with the
document, so the caller can fall back to ruamel whenever the two would not mean the same.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml.anchor import Anchor
from ruamel.yaml.comments import (
    Comment,
    CommentedMap,
    CommentedSeq,
    Format,
    TaggedScalar,
    merge_attrib,
)
from ruamel.yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import ScalarInt
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tag import Tag

from composer.fastyaml import RAW_ATTR
from composer.nodes import key_origin
from composer.nodes import scalar as plain_scalar
from composer.yamlio import go_flow_plain_problem

_PLAIN = re.compile(r"^[A-Za-z0-9_./${}@(=+][^\n]*$")
_RESERVED = frozenset(
    {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
     "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "n",
     "Y", "N", "<<", "=", "-", "?", ":"}
)
_NUMBER = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^0[xob]|^[-+]?\.(inf|nan)$"
    r"|^[0-9]{4}-[0-9]{2}-[0-9]{2}|^[0-9:]+$",
    re.IGNORECASE,
)


_ANCHOR, _MERGE, _TAG = Anchor.attrib, merge_attrib, Tag.attrib
_FORMAT, _COMMENT = Format.attrib, Comment.attrib


class Unsupported(Exception):
    """A node this writer leaves to ruamel."""


# Characters YAML does not allow in a document, the BOM, and the line breaks of YAML 1.1
# (NEL, LS, PS), which a loader may fold: all escaped in double quotes.
_NON_PRINTABLE = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
    "\U00010000-\U0010ffff]")
_FLOW_INDICATORS = ",[]{}"


@functools.lru_cache(maxsize=4096)
def _reads_as_text(text: str) -> bool:
    """Whether the loader's resolver takes this plain scalar for text (not a number, ...)."""
    from composer.yamlio import new_yaml

    tag = _resolver(new_yaml).resolve(ScalarNode, text, (True, False))
    return str(getattr(tag, "value", tag)) == "tag:yaml.org,2002:str"


@functools.cache
def _resolver(factory: Any) -> Any:
    return factory().resolver


def _plain_ok(text: str, flow: bool = False) -> bool:
    if text in _RESERVED or _NUMBER.match(text) or not _PLAIN.match(text):
        return False
    if not _reads_as_text(text):
        return False
    if text != text.strip() or ": " in text or " #" in text or text.endswith(":"):
        return False
    if flow and (any(c in text for c in _FLOW_INDICATORS) or go_flow_plain_problem(text)):
        return False
    if _NON_PRINTABLE.search(text):
        return False
    return not any(c in text for c in "\t\r\x85\u2028\u2029") and not text.startswith(
        ("{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`", "#")
    )


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        raise Unsupported("a lone surrogate")
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def double_quoted(text: str) -> str:
    """JSON's string syntax is YAML's double-quoted one, but for the characters YAML forbids."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _NON_PRINTABLE.sub(_escape, quoted) if _NON_PRINTABLE.search(quoted) else quoted


def represent(value: Any, flow: bool = False) -> str:
    """The spelling of a scalar that has no source text to reuse (`flow`: inside [...]/{...})."""
    if isinstance(value, TaggedScalar):
        raise Unsupported("tagged scalar")
    if getattr(value, "anchor", None) is not None and getattr(value.anchor, "value", None):
        raise Unsupported("anchored scalar")
    if isinstance(value, (LiteralScalarString, FoldedScalarString)):
        raise Unsupported("block scalar without source")
    if isinstance(value, DoubleQuotedScalarString):
        return double_quoted(str(value))
    if isinstance(value, SingleQuotedScalarString):
        text = str(value)
        if "\n" in text or _NON_PRINTABLE.search(text):  # single quotes fold line breaks
            return double_quoted(text)
        return "'" + text.replace("'", "''") + "'"
    if value is None:
        return "null" if flow else ""
    if isinstance(value, (bool, ScalarBoolean)):
        return "true" if value else "false"
    if isinstance(value, ScalarFloat):
        raise Unsupported("float without source")
    if isinstance(value, (int, ScalarInt)):
        if isinstance(value, ScalarInt) and type(value) is not ScalarInt:
            raise Unsupported("formatted int without source")
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        text = str(value)
        return text if _plain_ok(text, flow) else double_quoted(text)
    raise Unsupported(type(value).__name__)


class Writer:
    def __init__(self, mapping: int, sequence: int, offset: int) -> None:
        self.mapping_indent = mapping
        self.sequence_indent = sequence
        self.offset = offset
        self.out: list[str] = []
        self.seen: set[int] = set()
        self.key_texts: dict[str, str] = {}

    # -- pieces -----------------------------------------------------------------------------
    def _raw(self, container: Any, key: Any, value: Any) -> tuple[str, int] | None:
        """(source text, source column) of container[key] when it is still what was read."""
        source, skey = key_origin(container, key)
        raws = getattr(source, RAW_ATTR, None)
        if not raws or skey not in raws:
            return None
        read, text = raws[skey]
        if read is not value:  # replaced since it was read: its old spelling does not apply
            return None
        lc = getattr(source, "lc", None)
        column = 0
        if lc is not None:
            try:
                pos = lc.item(skey) if isinstance(source, list) else lc.key(skey)
                column = pos[1] if pos and pos[1] is not None else 0
            except (KeyError, IndexError, TypeError):
                column = 0
        return text, column

    def scalar(self, container: Any, key: Any, value: Any, column: int) -> str:
        found = self._raw(container, key, value)
        if found is None:
            return represent(value)
        text, source_column = found
        if "\n" not in text:
            return text
        shift = column - source_column
        lines = text.split("\n")
        if shift > 0:
            lines = [lines[0], *((" " * shift + ln) if ln.strip() else ln for ln in lines[1:])]
        elif shift < 0:
            cut = -shift
            if any(ln.strip() and len(ln) - len(ln.lstrip(" ")) < cut for ln in lines[1:]):
                raise Unsupported("cannot dedent a multi-line scalar")
            lines = [lines[0], *(ln[cut:] if ln.strip() else ln for ln in lines[1:])]
        return "\n".join(lines)

    def flow(self, node: Any) -> str:
        self._enter(node)
        if isinstance(node, dict):
            parts = [f"{self.key(k, flow=True)}: {self.flow_value(node, k, v)}"
                     for k, v in node.items()]
            return "{" + ", ".join(parts) + "}" if parts else "{}"
        return "[" + ", ".join(self.flow_value(node, i, v) for i, v in enumerate(node)) + "]"

    def flow_value(self, container: Any, key: Any, value: Any) -> str:
        if isinstance(value, (dict, list)):
            return self.flow(value)
        text = self.scalar(container, key, value, 0)
        if "\n" in text:
            raise Unsupported("multi-line scalar in a flow collection")
        if not text:
            return represent(value, flow=True)
        if text[0] not in "\"'" and (any(c in text for c in _FLOW_INDICATORS) or " #" in text
                                     or go_flow_plain_problem(text)):
            return represent(value, flow=True)  # block-plain text from another source
        return text

    def key(self, key: Any, flow: bool = False) -> str:
        if type(key) is str and not flow:  # the same few keys recur in every service
            text = self.key_texts.get(key)
            if text is None:
                text = self.key_texts[key] = key if _plain_ok(key) else double_quoted(key)
            return text
        if isinstance(key, str) and not isinstance(key, TaggedScalar):
            return key if _plain_ok(key, flow) else double_quoted(key)
        if isinstance(key, (int, ScalarInt)) and not isinstance(key, bool):
            return str(int(key))
        raise Unsupported("key type")

    def _enter(self, node: Any) -> None:
        # ruamel's attributes are read directly: its properties create them when absent.
        anchor = getattr(node, _ANCHOR, None)
        named = anchor is not None and bool(getattr(anchor, "value", None))
        if id(node) in self.seen and named:
            raise Unsupported("alias of a named anchor")  # ruamel keeps `&name` / `*name`
        # a node shared only by merging (extends, an overlay's alias) is written out again
        self.seen.add(id(node))
        if getattr(node, _MERGE, None):
            raise Unsupported("merge key")
        tag = getattr(getattr(node, _TAG, None), "value", None)
        if tag:
            raise Unsupported("tagged collection")
        if named and anchor is not None and anchor.always_dump:
            raise Unsupported("anchor")

    def comments(self, tokens: Any) -> None:
        for token in tokens or ():
            value = token.value
            self.out.append(value if not value.strip() else " " * token.column + value)

    def eol(self, line: str, token: Any) -> str:
        if token is None or not token.value.strip():
            return line + "\n"
        gap = max(token.column - len(line), 1)
        return f"{line}{' ' * gap}{str(token.value).rstrip(chr(10))}\n"

    @staticmethod
    def is_block(value: Any) -> bool:
        if not isinstance(value, (CommentedMap, CommentedSeq)) or not len(value):
            return False
        fa = getattr(value, _FORMAT, None)
        return not (fa is not None and fa.flow_style())

    # -- blocks ------------------------------------------------------------------------------
    def block_map(self, node: Any, indent: int, first_prefix: str | None = None) -> None:
        self._enter(node)
        ca = getattr(node, _COMMENT, None)
        items = ca.items if ca is not None else {}
        pad = " " * indent
        for index, (key, value) in enumerate(node.items()):
            slot = items.get(key)
            lead = pad
            if index == 0 and first_prefix is not None:
                if slot and slot[1]:
                    raise Unsupported("comment before the first key of a list item")
                lead = first_prefix
            elif slot:
                self.comments(slot[1])
            head = f"{lead}{self.key(key)}:"
            eol_token = slot[2] if slot else None
            if self.is_block(value):
                self.out.append(self.eol(head, eol_token))
                if isinstance(value, CommentedMap):
                    self.block_map(value, indent + self.mapping_indent)
                else:
                    self.block_seq(value, indent + self.offset)
                continue
            if isinstance(value, (dict, list)):
                text = self.flow(value)
            else:
                text = self.scalar(node, key, value, indent)
            line = f"{head} {text}" if text else head
            self.out.append(self._finish(line, eol_token))

    def block_seq(self, node: Any, indent: int) -> None:
        self._enter(node)
        ca = getattr(node, _COMMENT, None)
        items = ca.items if ca is not None else {}
        pad = " " * indent
        content = indent + (self.sequence_indent - self.offset)
        for index, value in enumerate(node):
            slot = items.get(index)
            if slot and len(slot) > 1:
                self.comments(slot[1])
            eol_token = slot[0] if slot else None
            if self.is_block(value):
                if isinstance(value, CommentedMap):
                    dash = pad + "- " + " " * (content - indent - 2)
                    self.block_map(value, content, first_prefix=dash)
                    continue
                raise Unsupported("nested block sequence")
            if isinstance(value, (dict, list)):
                text = self.flow(value)
            else:
                text = self.scalar(node, index, value, content)
            line = f"{pad}-" + (f" {text}" if text else "")
            self.out.append(self._finish(line, eol_token))

    def _finish(self, line: str, token: Any) -> str:
        if "\n" in line:  # a block scalar: its lines end themselves, a comment cannot follow
            return line + "\n"
        return self.eol(line, token)


def emit(doc: CommentedMap, mapping: int, sequence: int, offset: int) -> str:
    """The block YAML of doc (without preamble and trailing comments), or Unsupported."""
    if sequence - offset < 2:
        raise Unsupported("sequence indent")
    writer = Writer(mapping, sequence, offset)
    head = doc.ca.comment
    if head is not None and len(head) > 1:
        writer.comments(head[1])
    if not len(doc):
        writer.out.append("{}\n")
    else:
        writer.block_map(doc, 0)
    return "".join(writer.out)


def same_model(text: str, doc: Any, yaml: Any) -> bool:
    """Whether text reads back as doc, walking the parser's events against the tree directly
    (no second tree is built: this check runs on every write)."""
    from composer.fastyaml import _Builder, available, parser_for

    if not available():
        return False
    builder = _Builder(text, yaml)
    parser = parser_for(text)
    get = parser.get_event
    try:
        if type(get()) is not StreamStartEvent or type(get()) is not DocumentStartEvent:
            return False
        if not _Comparer(builder, get).same(doc):
            return False
        return (type(get()) is DocumentEndEvent and type(get()) is StreamEndEvent
                and not parser.check_event())
    except Exception:  # unreadable text is simply not the same
        return False


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


class _Comparer:
    """The event stream against the tree, node by node."""

    def __init__(self, builder: Any, get: Callable[[], Any]) -> None:
        self.construct = builder.scalar
        self.get = get

    def scalar(self, event: Any, expected: Any) -> bool:
        if event.tag is None and isinstance(expected, str):
            style = event.style
            if style is None:
                if type(expected) is str and event.value == expected:
                    # the same plain text: equal when it still reads as text
                    return type(self.construct(event)) is str
            elif style == '"' or style == "'":  # quoted: always the text itself
                return bool(event.value == expected)
        return _same_scalar(plain_scalar(self.construct(event)), plain_scalar(expected))

    def same(self, expected: Any) -> bool:
        event = self.get()
        if event.anchor is not None:
            return False
        kind = type(event)
        if kind is ScalarEvent:
            if isinstance(expected, (dict, list)):
                return False
            return self.scalar(event, expected)
        if kind is MappingStartEvent:
            if not isinstance(expected, dict):
                return False
            get, scalar, same = self.get, self.scalar, self.same
            for key, value in expected.items():
                key_event = get()
                if type(key_event) is not ScalarEvent or key_event.anchor is not None:
                    return False
                if not scalar(key_event, key) or not same(value):
                    return False
            return type(self.get()) is MappingEndEvent
        if kind is SequenceStartEvent:
            if not isinstance(expected, list):
                return False
            same = self.same
            for value in expected:
                if not same(value):
                    return False
            return type(self.get()) is SequenceEndEvent
        return False
