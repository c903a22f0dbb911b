"""`!reset` and `!override`: resolved per document, as Docker Compose v2 does, before merging.

A `!reset` node disappears from its own document and removes the same path from everything merged
before it; an `!override` node stays (without the tag) and replaces that path instead of merging.
Paths through a list are recorded but never match earlier content (Compose does the same).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.mergevalue import MergeValue
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from composer.errors import Location, MergeError
from composer.fastyaml import TAGGED_ATTR
from composer.nodes import clone_map, clone_seq, move_comment, set_key_origin, tag_of
from composer.source import locate_item
from composer.yamlio import ORIGIN_ATTR, new_yaml

RESET = "!reset"
OVERRIDE = "!override"
_REMOVED = object()


@dataclass
class Tagged:
    """A document without its tags, and the paths the tags name."""

    document: CommentedMap
    resets: list[tuple[str, ...]] = field(default_factory=list)
    overrides: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def cleared(self) -> list[tuple[str, ...]]:
        return [*self.resets, *self.overrides]


def resolve_tags(doc: CommentedMap) -> Tagged:
    out = Tagged(doc)
    if getattr(doc, TAGGED_ATTR, True) is False:
        return out  # read by the fast loader, which saw no tag
    walker = _Walker(out)
    try:
        result = walker.walk(doc, (), False)
    except MergeError as exc:
        if exc.location.path is None and exc.where:  # a scalar keeps no position: use its key's
            loc = locate_item(doc, tuple(exc.where.split(".")))
            raise MergeError(exc.message, loc, exc.where) from None
        raise
    if result is _REMOVED:
        result = CommentedMap()
    out.document = result
    return out


class _Walker:
    """Walks a document once in document order, like Compose's decoder.

    A shared node (anchor) is stripped of its `!reset` children the first time it is met, so
    later aliases of it see it without them and record nothing, exactly as Compose behaves;
    `!override` stays on the node and is recorded at every place the node is used.
    """

    def __init__(self, out: Tagged) -> None:
        self.out = out
        self.stack: set[int] = set()
        self.done: dict[int, Any] = {}

    def walk(self, node: Any, path: tuple[str, ...], in_list: bool) -> Any:
        tag = tag_of(node)
        if tag == RESET:
            if not in_list:
                self.out.resets.append(path)
            return _REMOVED
        if tag == OVERRIDE:
            if not in_list:
                self.out.overrides.append(path)
        elif tag is not None and tag.startswith("!") and not tag.startswith("!!"):
            raise MergeError(
                f"unknown tag {tag} (Compose knows !reset and !override)",
                _location(node),
                where=".".join(path),
            )
        if not isinstance(node, (dict, list)):
            return _untag(node) if tag == OVERRIDE else node
        key = id(node)
        if key in self.stack:
            raise MergeError(
                "an alias refers to a node that contains it (cycle)",
                _location(node),
                ".".join(path),
            )
        if key in self.done:
            # met before through another alias: its resets are gone, overrides still count
            self._record_overrides(self.done[key], path, in_list)
            result = self.done[key]
        else:
            self.stack.add(key)
            try:
                if isinstance(node, dict):
                    result = self._walk_map(node, path, in_list)
                else:
                    result = self._walk_seq(node, path)
            finally:
                self.stack.discard(key)
            self.done[key] = result
        return _untag(result) if tag == OVERRIDE else result

    def _record_overrides(self, node: Any, path: tuple[str, ...], in_list: bool) -> None:
        if in_list:
            return
        marks = getattr(node, _OVERRIDES_ATTR, ())
        for sub in marks:
            self.out.overrides.append((*path, *sub))

    def _walk_map(self, node: Any, path: tuple[str, ...], in_list: bool) -> Any:
        changes: dict[Any, Any] = {}
        before = len(self.out.overrides)
        if isinstance(node, CommentedMap):
            own = list(node.non_merged_items())
            sources = list(getattr(node, "merge", None) or [])
        else:
            own, sources = list(node.items()), []
        for key, value in own:
            new = self.walk(value, (*path, str(key)), in_list)
            if new is not value:
                changes[key] = new
        new_sources = [self.walk(src, path, in_list) for src in sources]
        sources_changed = any(a is not b for a, b in zip(new_sources, sources, strict=True))
        marks = [o[len(path) :] for o in self.out.overrides[before:] if o[: len(path)] == path]
        if not changes and not sources_changed:
            if marks:
                _remember(node, marks)
            return node
        if isinstance(node, CommentedMap):
            result = clone_map(node, keep_merge=not sources_changed)
            if sources_changed:
                for key in list(result.keys()):
                    if key not in dict(own):
                        del result[key]
                live = [s for s in new_sources if isinstance(s, dict)]
                if live:
                    merge = MergeValue()
                    merge.extend(live)
                    merge.merge_pos = getattr(node.merge, "merge_pos", 0)
                    result.add_yaml_merge(merge)
        else:
            result = CommentedMap(node)
        for key, new in changes.items():
            if new is _REMOVED:
                if key in result:
                    del result[key]
            else:
                result[key] = new
        if marks:
            _remember(result, marks)
        return result

    def _walk_seq(self, node: Any, path: tuple[str, ...]) -> Any:
        items = []
        changed = False
        for index, value in enumerate(node):
            new = self.walk(value, (*path, str(index)), True)
            changed = changed or new is not value
            if new is not _REMOVED:
                items.append((index, new))
        if not changed:
            return node
        result = clone_seq(node) if isinstance(node, CommentedSeq) else CommentedSeq()
        del result[:]
        result.ca.items.clear()
        for index, new in items:
            result.append(new)
            move_comment(node, index, result, len(result) - 1)
            set_key_origin(result, len(result) - 1, node, index)
        return result


_OVERRIDES_ATTR = "_composer_override_marks"


def _remember(node: Any, marks: list[tuple[str, ...]]) -> None:
    """Keep the relative paths of `!override` below node, for later aliases of it."""
    with contextlib.suppress(AttributeError):
        setattr(node, _OVERRIDES_ATTR, tuple(marks))


def _untag(node: Any) -> Any:
    if isinstance(node, TaggedScalar):
        return _scalar_from_text(node.value, node.style)
    if isinstance(node, CommentedMap):
        return clone_map(node)
    if isinstance(node, CommentedSeq):
        return clone_seq(node)
    return node


def _scalar_from_text(text: str, style: str | None) -> Any:
    if style == '"':
        return DoubleQuotedScalarString(text)
    if style == "'":
        return SingleQuotedScalarString(text)
    if text == "":
        return None
    return new_yaml().load(text)


def _location(node: Any) -> Location:
    lc = getattr(node, "lc", None)
    path = getattr(node, ORIGIN_ATTR, None)
    if lc is not None and lc.line is not None:
        return Location(path, lc.line + 1, (lc.col or 0) + 1)
    return Location(path)


def clear_paths(model: Any, paths: list[tuple[str, ...]]) -> Any:
    """Remove each path from an earlier model (copy-on-write); lists are never entered."""
    for path in paths:
        model = _clear(model, path)
    return model


def _clear(node: Any, path: tuple[str, ...]) -> Any:
    if not path or not isinstance(node, dict):
        return node
    head, rest = path[0], path[1:]
    matches = [k for k in node if str(k) == head]
    if not matches:
        return node
    key = matches[0]
    if isinstance(node, CommentedMap):
        # a key deleted from a map with `<<` merges would come back from the merge source
        result = clone_map(node, keep_merge=not (rest == () and getattr(node, "merge", None)))
    else:
        result = CommentedMap(node)
    if not rest:
        del result[key]
        return result
    child = _clear(node[key], rest)
    if child is node[key]:
        return node
    result[key] = child
    return result
