"""Re-home comments so they travel with the entry they describe.

ruamel keeps a comment line with whatever node precedes it (often the last value of a nested block),
so replacing or removing that node would lose or misplace comments about the *next* key. After
loading, every full-line comment is moved to the entry it stands above ("before" comments); only
end-of-line comments stay where they were. Dumping an untouched tree still gives the same text.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken


def _lines(tokens: list[Any] | None) -> list[CommentToken]:
    return [t for t in tokens or [] if t is not None]


def _split(token: CommentToken | None) -> tuple[CommentToken | None, list[CommentToken]]:
    """An end-of-line token -> (its own-line part or None, the full lines after it)."""
    if token is None:
        return None, []
    text = token.value
    first, _, rest = text.partition("\n")
    eol = None
    if first.strip():
        eol = CommentToken(first + "\n", token.start_mark, None)
    if not rest:
        return eol, []
    trailing: list[CommentToken] = []
    for line in rest.split("\n")[:-1] if rest.endswith("\n") else rest.split("\n"):
        stripped = line.lstrip(" ")
        column = len(line) - len(stripped)
        trailing.append(CommentToken(stripped + "\n", CommentMark(column), None))
    return eol, trailing


class _Normalizer:
    def __init__(self) -> None:
        self.pending: list[CommentToken] = []

    def take(self) -> list[CommentToken]:
        out, self.pending = self.pending, []
        return out

    def entry_pre(self, container: Any, key: Any) -> None:
        """Attach pending comment lines as before-comments of container[key]."""
        if not self.pending:
            return
        slot = container.ca.items.setdefault(key, [None, None, None, None])
        slot[1] = self.take() + _lines(slot[1])

    def container(self, node: Any) -> None:
        ca = node.ca
        if ca.comment is not None and len(ca.comment) > 1 and ca.comment[1]:
            self.pending.extend(_lines(ca.comment[1]))
            ca.comment[1] = None
            if not any(ca.comment):
                ca.comment = None
        if isinstance(node, CommentedMap):
            for key in [k for k, _ in node.non_merged_items()]:
                self.map_entry(node, key)
        elif isinstance(node, CommentedSeq):
            for index in range(len(node)):
                self.seq_entry(node, index)

    def map_entry(self, node: CommentedMap, key: Any) -> None:
        self.entry_pre(node, key)
        slot = node.ca.items.get(key)
        value = node[key]
        if slot is not None:
            if slot[2] is not None:
                eol, trailing = _split(slot[2])
                slot[2] = eol
                self._defer(trailing)
            if slot[3]:
                self.pending.extend(_lines(slot[3]))
                slot[3] = None
            if isinstance(value, (CommentedMap, CommentedSeq)) and value.ca.comment:
                comment = value.ca.comment
                if len(comment) > 1 and comment[1]:
                    comment[1] = None
                    if not any(comment):
                        value.ca.comment = None
            if not any(slot):
                del node.ca.items[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and not _is_flow(value):
            self.container(value)

    def seq_entry(self, node: CommentedSeq, index: int) -> None:
        self.entry_pre(node, index)
        slot = node.ca.items.get(index)
        value = node[index]
        if slot is not None and slot[0] is not None:
            eol, trailing = _split(slot[0])
            slot[0] = eol
            self._defer(trailing)
            if not any(slot):
                del node.ca.items[index]
        if isinstance(value, (CommentedMap, CommentedSeq)) and not _is_flow(value):
            self.container(value)

    def _defer(self, trailing: list[CommentToken]) -> None:
        self.pending.extend(trailing)


def _is_flow(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return bool(fa is not None and fa.flow_style())


END_ATTR = "_composer_end_comments"
PRE_ATTR = "_composer_preamble"
_DOC_START = re.compile(r"^---(\s|$)")


def preamble(text: str) -> str:
    """Comment lines above a leading `---`, which the YAML parser drops; '' when there are none."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _DOC_START.match(line):
            head = "".join(lines[:index])
            return head if head.strip() else ""
        if stripped and not stripped.startswith("#"):
            return ""
    return ""


def pre_text(doc: Any) -> str:
    text = getattr(doc, PRE_ATTR, "")
    return text if isinstance(text, str) else ""


def combine_edges(result: Any, earlier: Any, later: Any) -> None:
    """A merged document keeps the leading and trailing comments of both sides, in order."""
    for attr in (PRE_ATTR, END_ATTR):
        parts = [getattr(d, attr, "") for d in (earlier, later)]
        text = "".join(p for p in parts if isinstance(p, str) and p)
        if text:
            setattr(result, attr, text)


def normalize(doc: CommentedMap) -> None:
    """Move every full-line comment to the entry below it; leftovers end the document."""
    walker = _Normalizer()
    head = doc.ca.comment
    saved_head = head[1] if head is not None and len(head) > 1 else None
    if head is not None and len(head) > 1:
        head[1] = None
    walker.container(doc)
    if head is not None and len(head) > 1:
        head[1] = saved_head
    setattr(doc, END_ATTR, "".join(" " * t.column + t.value for t in walker.take()))


def end_text(doc: Any) -> str:
    """Comment lines after the last entry, which the renderer writes after the dump."""
    text = getattr(doc, END_ATTR, "")
    return text if isinstance(text, str) else ""
