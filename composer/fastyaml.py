"""Fast round-trip loading: libyaml's parser for structure, the source text for comments.

ruamel's pure-Python round-trip loader is exact but slow (seconds for a thousand services).
Here the C parser shipped as ruamel.yaml.clib gives events with positions; this module builds the
same CommentedMap/CommentedSeq trees from them (scalars typed by ruamel's own resolver and
constructor) and reads comments straight from the text, already in the form composer.comments
gives: full-line comments before the entry below them, end-of-line comments on their entry.
Each container also remembers the source text of its plain and quoted scalars, so output can
reuse it verbatim. Anything unusual makes the caller fall back to the pure loader.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, LineCol, TaggedScalar
from ruamel.yaml.error import CommentMark
from ruamel.yaml.events import (
    AliasEvent,
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
from ruamel.yaml.mergevalue import MergeValue
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tag import Tag
from ruamel.yaml.tokens import CommentToken

from composer.comments import END_ATTR

try:  # the C parser is optional: without it, the pure loader serves
    from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the installation
    CParser = None

TAGGED_ATTR = "_composer_tagged"  # False on a document known to carry no tag at all
ALIASED_ATTR = "_composer_aliased"  # False on a document known to have no alias (nor `<<`)
ODD_KEYS_ATTR = "_composer_odd_keys"  # False on a document whose keys are all text
ORIGIN_ATTR = "_composer_origin"  # the source file of a container (see composer.yamlio)
RAW_ATTR = "_composer_raw"  # {key or index: (value as read, its source text)}
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


class Unsupported(Exception):
    """A construct this fast path leaves to the pure loader."""


def available() -> bool:
    return CParser is not None


def parser_for(text: str) -> Any:
    """libyaml's event parser over text (only call when available())."""
    return CParser(io.StringIO(text))


_contains = OrderedDict.__contains__
_set_item = OrderedDict.__setitem__


@dataclass(slots=True)
class _Entry:
    """A mapping key or sequence item, in document order, for placing comments."""

    line: int
    container: Any
    key: Any
    is_map: bool
    scalar_end: tuple[int, int] | None  # where a scalar value ends (line, column)
    key_end: tuple[int, int] | None  # where the key ends, for `key:  # comment` on containers
    value: Any = None
    flow_end: tuple[int, int] | None = None  # where a flow collection value ends


@dataclass(slots=True)
class _Frame:
    node: Any
    is_map: bool
    lines: dict[Any, list[int]]  # the node's line/column table, filled directly
    flow: bool = False
    key: Any = None
    key_event: Any = None
    has_key: bool = False
    merges: list[tuple[int, Any, Any]] = field(default_factory=list)  # (position, value, seq)
    raw: dict[Any, tuple[Any, str]] = field(default_factory=dict)


class _Builder:
    def __init__(self, text: str, yaml: Any) -> None:
        self.text = text
        self.lines = text.split("\n")
        # where each line starts in text (one more entry at the end, never read)
        self.starts = list(accumulate(map((1).__add__, map(len, self.lines)), initial=0))
        self.constructor = yaml.constructor
        self.resolver = yaml.resolver
        self.anchors: dict[str, Any] = {}
        self.entries: list[_Entry] = []
        self.content_lines: set[int] = set()  # lines inside multi-line scalars
        self.scalar_cache: dict[tuple[str, str], Any] = {}
        # First characters an implicit type (number, bool, null, ...) can start with: any other
        # plain scalar is text without asking the resolver's regular expressions.
        table = self.resolver.versioned_resolver
        self.typed_first: frozenset[str] | None = (
            None if None in table else frozenset(k for k in table if k))
        self.container_entry: dict[int, _Entry] = {}
        self.max_depth = getattr(yaml, "max_depth", None)
        self.tagged = False  # whether the current document has any `!tag`
        self.aliased = False  # ... any alias
        self.odd_keys = False  # ... any key that is not text
        self.origin: Any = None  # the file every container is marked with
        self.merge_lines: set[int] = set()  # `<<:` lines: structure, not comments

    # -- scalars ----------------------------------------------------------------------------
    def scalar(self, ev: Any) -> Any:
        style = ev.style or None
        custom = ev.tag is not None and ev.tag not in ("!", _STR)
        if custom and not ev.tag.startswith("tag:yaml.org"):
            return TaggedScalar(value=ev.value, style=style, tag=Tag(suffix=ev.tag))
        if ev.anchor is not None or ev.tag is not None:
            return self._construct(ev, style)
        if style == '"':
            return DoubleQuotedScalarString(ev.value)
        if style == "'":
            return SingleQuotedScalarString(ev.value)
        if style is not None:
            return self._construct(ev, style)
        text = ev.value
        if text and self.typed_first is not None and text[0] not in self.typed_first:
            return text
        key = ("", text)
        cached = self.scalar_cache.get(key)
        if cached is not None:
            return cached[0]
        tag = self.resolver.resolve(ScalarNode, ev.value, (True, False))
        if _tag_text(tag) == _STR:
            value: Any = ev.value
            self.scalar_cache[key] = (value,)
            return value
        return self._construct(ev, style, tag)

    def _construct(self, ev: Any, style: str | None, tag: Any = None) -> Any:
        if tag is None:
            tag = ev.tag if ev.tag not in (None, "!") else self.resolver.resolve(
                ScalarNode, ev.value, ev.implicit
            )
        if not isinstance(tag, Tag):
            tag = Tag(suffix=tag)
        node = ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=style, anchor=ev.anchor)
        return self.constructor.construct_object(node, deep=True)

    def raw(self, ev: Any) -> str | None:
        if ev.anchor is not None or ev.tag is not None:
            return None
        sm, em = ev.start_mark, ev.end_mark
        style = ev.style or ""
        start = self.starts[sm.line] + sm.column
        if style in ("|", ">"):
            end_line = em.line - 1 if em.column == 0 else em.line
            while end_line > sm.line and not self.lines[end_line].strip():
                end_line -= 1
            for line in range(sm.line + 1, end_line + 1):
                self.content_lines.add(line)
            return self.text[start : self.starts[end_line] + len(self.lines[end_line])]
        for line in range(sm.line + 1, em.line + 1):
            self.content_lines.add(line)
        return self.text[start : self.starts[em.line] + em.column]

    # -- structure --------------------------------------------------------------------------
    def build(self, events: list[Any]) -> list[Any]:
        docs: list[Any] = []
        stack: list[_Frame] = []
        root: Any = None
        doc_start = 0
        self.doc_ranges: list[tuple[Any, int, int]] = []
        for ev in events:
            if getattr(ev, "tag", None) is not None:
                self.tagged = True
            if isinstance(ev, ScalarEvent):
                raw = self.raw(ev)
                value = self.scalar(ev)
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = value
                if not stack:
                    root = value
                    continue
                end = (ev.end_mark.line, ev.end_mark.column)
                self._add(stack[-1], value, ev, raw, scalar_end=end)
            elif isinstance(ev, (MappingStartEvent, SequenceStartEvent)):
                is_map = isinstance(ev, MappingStartEvent)
                node: Any = CommentedMap() if is_map else CommentedSeq()
                if self.origin is not None:
                    setattr(node, ORIGIN_ATTR, self.origin)
                table = LineCol()
                table.line, table.col, table.data = ev.start_mark.line, ev.start_mark.column, {}
                setattr(node, LineCol.attrib, table)
                if not ev.flow_style:
                    node.fa.set_block_style()
                if ev.tag is not None and ev.tag != "!":
                    if ev.tag.startswith("tag:yaml.org"):
                        raise Unsupported("explicit standard tag on a collection")
                    node.yaml_set_ctag(Tag(suffix=ev.tag))
                if ev.anchor is not None:
                    node.yaml_set_anchor(ev.anchor)
                    self.anchors[ev.anchor] = node
                if stack:
                    self._add(stack[-1], node, ev, None, scalar_end=None)
                    self.container_entry[id(node)] = self.entries[-1]
                stack.append(_Frame(node, is_map, table.data, bool(ev.flow_style)))
                if self.max_depth and len(stack) > self.max_depth:
                    raise Unsupported("nested too deep")  # the pure loader says where
            elif isinstance(ev, (MappingEndEvent, SequenceEndEvent)):
                frame = stack.pop()
                self._finish(frame)
                if frame.flow:
                    if len(frame.node):
                        frame.node.fa.set_flow_style()  # like ruamel: an empty `{}` has none
                    entry = self.container_entry.get(id(frame.node))
                    if entry is not None:
                        entry.flow_end = (ev.end_mark.line, ev.end_mark.column)
                if frame.raw:
                    setattr(frame.node, RAW_ATTR, frame.raw)
                if not stack:
                    root = frame.node
            elif isinstance(ev, AliasEvent):
                self.aliased = True
                if ev.anchor not in self.anchors:
                    raise Unsupported("unknown anchor")
                value = self.anchors[ev.anchor]
                if any(frame.node is value for frame in stack):
                    raise Unsupported("an alias inside its own anchor")
                if not stack:
                    root = value
                    continue
                self._add(stack[-1], value, ev, None, scalar_end=None, alias=True)
            elif isinstance(ev, DocumentStartEvent):
                root = None
                doc_start = ev.start_mark.line if ev.explicit else 0
            elif isinstance(ev, DocumentEndEvent):
                if isinstance(root, CommentedMap):
                    setattr(root, TAGGED_ATTR, self.tagged)
                    setattr(root, ALIASED_ATTR, self.aliased)
                    setattr(root, ODD_KEYS_ATTR, self.odd_keys)
                self.tagged = self.aliased = self.odd_keys = False
                docs.append(root)
                self.doc_ranges.append((root, doc_start, len(self.entries)))
            elif isinstance(ev, (StreamStartEvent, StreamEndEvent)):
                continue
        return docs

    def _add(
        self,
        frame: _Frame,
        value: Any,
        ev: Any,
        raw: str | None,
        *,
        scalar_end: tuple[int, int] | None,
        alias: bool = False,
    ) -> None:
        line, col = ev.start_mark.line, ev.start_mark.column
        node = frame.node
        if not frame.is_map:
            index = len(node)
            node.append(value)
            frame.lines[index] = [line, col]
            if raw is not None:
                frame.raw[index] = (value, raw)
            self.entries.append(
                _Entry(line, node, index, False, None if alias else scalar_end, None, value)
            )
            return
        if not frame.has_key:
            if isinstance(value, (dict, list)) or alias:
                raise Unsupported("complex or aliased mapping key")
            if type(value) is not str:
                self.odd_keys = True
            frame.key, frame.key_event, frame.has_key = value, ev, True
            return
        key, key_ev = frame.key, frame.key_event
        frame.has_key = False
        if key_ev.value == "<<" and not key_ev.style and key_ev.tag is None:
            self.merge_lines.add(key_ev.start_mark.line)
            if isinstance(value, list):  # filled later: read in _finish
                frame.merges.append((len(node), value, value))
            elif isinstance(value, dict):
                frame.merges.append((len(node), [value], None))
            else:
                raise Unsupported("merge key with a scalar")
            return
        if _contains(node, key):
            raise Unsupported("duplicate key")
        kl, kc = key_ev.start_mark.line, key_ev.start_mark.column
        _set_item(node, key, value)  # a new key of a new map: none of ruamel's checks apply
        node._ok.add(key)
        frame.lines[key] = [kl, kc, line, col]
        if raw is not None:
            frame.raw[key] = (value, raw)
        key_end = (key_ev.end_mark.line, key_ev.end_mark.column)
        self.entries.append(
            _Entry(kl, node, key, True, None if alias else scalar_end, key_end, value)
        )

    def _finish(self, frame: _Frame) -> None:
        if not frame.merges:
            return
        if len(frame.merges) > 1:
            raise Unsupported("several merge keys")
        position, maps, seq = frame.merges[0]
        maps = list(maps)
        if not all(isinstance(m, dict) for m in maps):
            raise Unsupported("merge of a non-mapping")
        merge = MergeValue()
        merge.extend(maps)
        merge.merge_pos = position
        if seq is not None:
            merge.set_sequence(seq)
        frame.node.add_yaml_merge(merge)

    # -- comments ---------------------------------------------------------------------------
    def attach_comments(self) -> None:
        """Full-line comments go before the next entry; end-of-line ones onto their entry."""
        first_entry_at: dict[int, _Entry] = {}
        last_on_line: dict[int, _Entry] = {}
        for entry in self.entries:
            first_entry_at.setdefault(entry.line, entry)
            end = entry.scalar_end or entry.flow_end
            line = end[0] if end else entry.line
            # the entry reaching furthest right owns the line's end-of-line comment
            held: _Entry | None = last_on_line.get(line)
            held_end = held.scalar_end or held.flow_end if held is not None else None
            if held is None or (end is not None and (held_end is None or end[1] >= held_end[1])):
                last_on_line[line] = entry
        pending: list[CommentToken] = []
        doc_iter = iter(self.doc_ranges)
        current = next(doc_iter, None)
        next_doc = next(doc_iter, None)
        seen_entry = False
        for number, text in enumerate(self.lines):
            if next_doc is not None and number >= next_doc[1] and next_doc[1] > 0:
                self._end(current, pending)
                pending, seen_entry = [], False
                current, next_doc = next_doc, next(doc_iter, None)
            if current is not None and number < current[1]:
                continue  # above `---`: the preamble, kept by the loader
            starting = first_entry_at.get(number)
            if starting is not None:
                if pending:
                    if not seen_entry and current is not None and starting.container is current[0]:
                        current[0].ca.comment = [None, pending]
                    else:
                        self._before(starting, pending)
                    pending = []
                seen_entry = True
            elif number not in self.content_lines:
                stripped = text.strip()
                if not stripped:
                    pending.append(CommentToken("\n", CommentMark(0), None))
                elif stripped.startswith("#"):
                    column = len(text) - len(text.lstrip(" "))
                    pending.append(CommentToken(text.lstrip(" ") + "\n", CommentMark(column), None))
                elif (
                    seen_entry
                    and number not in self.merge_lines
                    and stripped not in ("---", "...")
                    and not stripped.startswith(("-", "]", "}", ","))
                ):
                    raise Unsupported(f"unplaced line {number + 1}")
            eol_entry = last_on_line.get(number)
            if eol_entry is not None and number not in self.content_lines:
                self._eol(eol_entry, text)
        # trailing blank line of the final newline is not a line of its own
        if pending and not self.lines[-1]:
            pending.pop()
        self._end(current, pending)

    def _before(self, entry: _Entry, tokens: list[CommentToken]) -> None:
        slot = entry.container.ca.items.setdefault(entry.key, [None, None, None, None])
        slot[1] = tokens

    def _eol(self, entry: _Entry, text: str) -> None:
        if entry.scalar_end is not None:
            start = entry.scalar_end[1]
        elif entry.flow_end is not None:
            start = entry.flow_end[1]
        elif entry.is_map and entry.key_end is not None and isinstance(entry.value, (dict, list)):
            if entry.key_end[0] != entry.line:
                return
            start = text.find(":", entry.key_end[1]) + 1
            if start <= 0:
                return
        else:
            return
        rest = text[start:]
        stripped = rest.lstrip(" \t")
        if not stripped.startswith("#") or (stripped is rest and start > 0):
            return
        column = start + (len(rest) - len(stripped))
        token = CommentToken(stripped + "\n", CommentMark(column), None)
        if entry.is_map:
            slot = entry.container.ca.items.setdefault(entry.key, [None, None, None, None])
            slot[2] = token
            if entry.scalar_end is None and isinstance(entry.value, (CommentedMap, CommentedSeq)):
                entry.value.ca.comment = [token, None]
        else:
            slot = entry.container.ca.items.setdefault(entry.key, [None, None, None, None])
            slot[0] = token

    def _end(self, current: Any, pending: list[CommentToken]) -> None:
        if current is None or current[0] is None or not isinstance(current[0], CommentedMap):
            return
        text = "".join(" " * t.column + t.value for t in pending)
        setattr(current[0], END_ATTR, text)


def _tag_text(tag: Any) -> str:
    return str(tag.value) if isinstance(tag, Tag) else str(tag)


def load_documents(
    text: str, yaml: Any, *, comments: bool = True, origin: Any = None
) -> list[Any] | None:
    """Documents as the round-trip loader would give them (comments placed), or None to fall
    back to the pure loader (no C parser, invalid YAML, or a construct left to it)."""
    if CParser is None or "\t" in text:
        return None
    try:
        parser = CParser(io.StringIO(text))
        events = []
        while parser.check_event():
            events.append(parser.get_event())
        builder = _Builder(text, yaml)
        builder.origin = origin
        docs = builder.build(events)
        if comments:
            builder.attach_comments()
    except Exception:  # the pure loader gives the precise, located error
        return None
    return docs
