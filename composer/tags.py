"""`!reset` and `!override`: resolved per document, as Docker Compose v2 does, before merging.

A `!reset` node disappears from its own document and removes the same path from everything merged
before it; an `!override` node stays (without the tag) and replaces that path instead of merging.
Paths through a list are recorded but never match earlier content (Compose does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from composer.errors import Location, MergeError
from composer.nodes import clone_map, clone_seq, tag_of
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
    stack: set[int] = set()
    result = _walk(doc, (), False, out, stack)
    if result is _REMOVED:
        result = CommentedMap()
    out.document = result
    return out


def _walk(node: Any, path: tuple[str, ...], in_list: bool, out: Tagged, stack: set[int]) -> Any:
    tag = tag_of(node)
    if tag == RESET:
        if not in_list:
            out.resets.append(path)
        return _REMOVED
    if tag == OVERRIDE:
        if not in_list:
            out.overrides.append(path)
        node = _untag(node)
    elif tag is not None and tag.startswith("!") and not tag.startswith("!!"):
        raise MergeError(
            f"unknown tag {tag} (Compose knows !reset and !override)",
            _location(node),
            where=".".join(path),
        )
    if not isinstance(node, (dict, list)):
        return node
    if id(node) in stack:
        raise MergeError("an alias refers to a node that contains it (cycle)", _location(node))
    stack.add(id(node))
    try:
        if isinstance(node, dict):
            return _walk_map(node, path, in_list, out, stack)
        return _walk_seq(node, path, out, stack)
    finally:
        stack.discard(id(node))


def _walk_map(node: Any, path: tuple[str, ...], in_list: bool, out: Tagged, stack: set[int]) -> Any:
    changes: dict[Any, Any] = {}
    merged_change = False
    own = set(k for k, _ in node.non_merged_items()) if isinstance(node, CommentedMap) else None
    for key, value in node.items():
        new = _walk(value, (*path, str(key)), in_list, out, stack)
        if new is not value:
            changes[key] = new
            if own is not None and key not in own:
                merged_change = True
    if not changes:
        return node
    if isinstance(node, CommentedMap):
        result = clone_map(node, keep_merge=not merged_change)
    else:
        result = CommentedMap(node)
    for key, new in changes.items():
        if new is _REMOVED:
            if key in result:
                del result[key]
        else:
            result[key] = new
    return result


def _walk_seq(node: Any, path: tuple[str, ...], out: Tagged, stack: set[int]) -> Any:
    items = []
    changed = False
    for index, value in enumerate(node):
        new = _walk(value, (*path, str(index)), True, out, stack)
        changed = changed or new is not value
        if new is not _REMOVED:
            items.append(new)
    if not changed:
        return node
    result = clone_seq(node) if isinstance(node, CommentedSeq) else CommentedSeq()
    del result[:]
    result.ca.items.clear()
    result.extend(items)
    return result


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
