"""Hide the values of secret-looking variables in anything composer prints.

Masking works on the text of a file, so a masked file still lines up with the original line for
line: a diff of two masked files, or an annotation's line number, points at the same place as in
the real file. Values are found through the YAML node graph, which knows each scalar's exact span
(quoted, multi-line, flow style, anchors); text that is not YAML falls back to a line scanner.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MASK = "********"
MIN_SCRUB_LENGTH = 6

IsSecret = Callable[[str], bool]
Span = tuple[int, int, str, str]  # start, end, what to show instead, the hidden value

# `KEY: value`, `- KEY: value`, `- KEY=value`, with an optionally quoted key.
_LINE_ENTRY = re.compile(
    r"""^(?P<lead>\s*(?:-\s+)?["']?)(?P<name>[^\s:="'#{}\[\],]+)["']?"""
    r"""(?P<sep>\s*:(?:\s+|$)|=)(?P<rest>.*)$"""
)
# The same inside a flow collection: `{KEY: value, ...}` or `[KEY=value, ...]`.
_FLOW_ENTRY = re.compile(
    r"""(?P<lead>[{\[,]\s*["']?)(?P<name>[A-Za-z_][\w.-]*)["']?"""
    r"""(?P<sep>\s*:\s+|=)(?P<rest>[^,}\]]*)"""
)


class Masker:
    """Masks values whose key matches the project's secret patterns (Project.is_secret).

    Besides the values it finds next to their keys, it remembers every secret value it has
    seen (in a file, a model or the variables used for interpolation) and `scrub` removes
    those from free text, such as an error message quoting a value or a URL embedding one.
    """

    def __init__(self, is_secret: IsSecret) -> None:
        self.is_secret = is_secret
        self._known: set[str] = set()

    def text(self, text: str) -> str:
        """The text with every secret value replaced by MASK; the line count is unchanged."""
        spans = self._spans(text)
        if spans is None:
            return self.scrub(self.lines(text))
        out: list[str] = []
        pos = 0
        for start, end, replacement, value in sorted(spans):
            if start < pos:  # an alias reached the same node twice
                continue
            self._learn(value)
            out.append(text[pos:start])
            out.append(replacement + "\n" * text.count("\n", start, end))
            pos = end
        out.append(text[pos:])
        return self.scrub("".join(out))

    def scrub(self, text: str) -> str:
        """Free text with every known secret value replaced (line breaks are kept)."""
        for value in sorted(self._known, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK + "\n" * value.count("\n"))
        return text

    def learn_environ(self, variables: Mapping[str, str]) -> None:
        """Remember the values of secret-looking variables (interpolation can copy them)."""
        for key, value in variables.items():
            if self.is_secret(key):
                self._learn(value)

    def learn_model(self, node: object) -> None:
        """Remember secret values of a plain model (after interpolation)."""
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str) and self.is_secret(key) and isinstance(value, str):
                    self._learn(value)
                else:
                    self.learn_model(value)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, str):
                    name, sep, rest = item.partition("=")
                    if sep and self.is_secret(name.strip()):
                        self._learn(rest)
                else:
                    self.learn_model(item)

    def _learn(self, value: str) -> None:
        # Short values ("1", "true") are everywhere in a file; they stay masked at their key.
        if len(value.strip()) >= MIN_SCRUB_LENGTH:
            self._known.add(value)

    # ------------------------------------------------------------------ YAML structure

    def _spans(self, text: str) -> list[Span] | None:
        try:
            roots = list(YAML(typ="rt").compose_all(text))
        except (YAMLError, RecursionError, ValueError, TypeError):
            return None
        spans: list[Span] = []
        seen: set[int] = set()
        for root in roots:
            if root is not None:
                spans.extend(self._walk(root, seen))
        return spans

    def _walk(self, node: Node, seen: set[int]) -> Iterator[Span]:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if (
                    isinstance(key, ScalarNode)
                    and isinstance(value, ScalarNode)
                    and isinstance(key.value, str)
                    and self.is_secret(key.value)
                    and value.value not in ("", None)
                ):
                    yield _span(value, MASK, value.value)
                else:
                    yield from self._walk(key, seen)
                    yield from self._walk(value, seen)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                if isinstance(item, ScalarNode) and isinstance(item.value, str):
                    name, sep, rest = item.value.partition("=")
                    if sep and rest and self.is_secret(name.strip()):
                        yield _span(item, f"{name}={MASK}", rest)
                        continue
                yield from self._walk(item, seen)

    # ------------------------------------------------------------------ plain text fallback

    def lines(self, text: str) -> str:
        """Line by line, for text YAML cannot read (a hand-edited file may be broken)."""
        out: list[str] = []
        block_indent: int | None = None  # continuation lines of a masked value are deeper
        for line in text.split("\n"):
            indent = len(line) - len(line.lstrip(" "))
            if block_indent is not None:
                if not line.strip() or indent > block_indent:
                    out.append("")
                    continue
                block_indent = None
            match = _LINE_ENTRY.match(line)
            if match and self.is_secret(match["name"]):
                rest = match["rest"].strip()
                if rest and not rest.startswith("#"):
                    out.append(line[: match.start("rest")] + MASK)
                    block_indent = indent
                    continue
            out.append(_FLOW_ENTRY.sub(self._flow_entry, line))
        return "\n".join(out)

    def _flow_entry(self, match: re.Match[str]) -> str:
        if not self.is_secret(match["name"]) or not match["rest"].strip():
            return match[0]
        return match[0][: match.start("rest") - match.start()] + MASK


def _span(node: ScalarNode, replacement: str, value: str) -> Span:
    start: Any = node.start_mark.index
    end: Any = node.end_mark.index
    return int(start), int(end), replacement, str(value)
