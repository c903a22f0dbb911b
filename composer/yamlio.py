"""Round-trip YAML: comments, quoting and key order survive; bad YAML is a located error."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, Format, LineCol, TaggedScalar, merge_attrib
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLFutureWarning, YAMLWarning
from ruamel.yaml.events import AliasEvent, CollectionStartEvent
from ruamel.yaml.nodes import CollectionNode, MappingNode
from ruamel.yaml.reader import ReaderError

from composer.comments import PRE_ATTR, end_text, normalize, pre_text, preamble
from composer.errors import Location, YamlError
from composer.fastyaml import ALIASED_ATTR, ODD_KEYS_ATTR, TAGGED_ATTR, load_documents
from composer.fastyaml import ORIGIN_ATTR as FAST_ORIGIN_ATTR

# Larger Compose files do not exist in practice (a thousand services take about 1 MiB), and a
# round-trip parse costs about ten seconds and 150 MiB per MiB: refusing keeps both bounded.
MAX_FILE_BYTES = int(os.environ.get("COMPOSER_MAX_FILE_BYTES", str(4 * 1024 * 1024)))
# Compose files nest a few levels; far deeper input would only exhaust Python's stack later.
MAX_DEPTH = 100
# Nodes a document may expand to once aliases are followed (billion-laughs guard).
MAX_EXPANDED_NODES = int(os.environ.get("COMPOSER_MAX_EXPANDED_NODES", "2000000"))

ORIGIN_ATTR = FAST_ORIGIN_ATTR  # one name for both loaders


@dataclass(frozen=True)
class Style:
    """Indentation of a source file, so output looks like the base it came from."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2


@dataclass
class YamlFile:
    """One loaded source file: its documents (each a top-level mapping) and its style."""

    path: Path
    text: str
    documents: list[CommentedMap]
    style: Style = field(default_factory=Style)


class _Composer(Composer):
    """ruamel's node composer, refusing an alias inside the node it names, and complex keys.

    ruamel would construct such a cycle as a null (or fail on `<<: *self`); Compose calls it a
    cycle, and so does composer, at the alias.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._open: list[Any] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        if index is None and isinstance(parent, MappingNode):  # a key
            event = self.parser.peek_event()
            node = self.anchors.get(event.anchor) if isinstance(event, AliasEvent) else None
            if isinstance(event, CollectionStartEvent) or isinstance(node, CollectionNode):
                raise ComposerError(
                    None, None, "a key must be a name, not a list or a mapping",
                    event.start_mark,
                )
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and any(node is target for node in (*self._open, parent)):
                raise ComposerError(
                    None, None, "an alias refers to a node that contains it (a cycle)",
                    event.start_mark,
                )
        self._open.append(parent)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()


def new_yaml(style: Style | None = None) -> YAML:
    """A fresh round-trip YAML instance: ruamel instances carry state between calls."""
    yaml = YAML(typ="rt")
    yaml.Composer = _Composer
    yaml.max_depth = MAX_DEPTH
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never re-wrap long lines
    yaml.allow_duplicate_keys = False
    style = style or Style()
    yaml.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    return yaml


def read_text(path: Path) -> str:
    """Read a source file as strict UTF-8 (an optional BOM is dropped)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise YamlError("file not found", Location(path)) from None
    except OSError as exc:
        raise YamlError(f"cannot read file: {exc.strerror}", Location(path)) from exc
    if path.is_dir():
        raise YamlError("is a directory, not a file", Location(path))
    if size > MAX_FILE_BYTES:
        raise YamlError(
            f"file is {size} bytes, more than the {MAX_FILE_BYTES} bytes composer reads "
            "(set COMPOSER_MAX_FILE_BYTES to raise the limit)",
            Location(path),
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise YamlError(f"cannot read file: {exc.strerror}", Location(path)) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            Location(path, line, column),
        ) from None
    return text.removeprefix("\ufeff")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cycle collection while a tree is built or written.

    Loading or dumping allocates hundreds of thousands of objects, and each burst makes CPython's
    collector walk the whole, still growing tree again: a fifth of the CPU time of a merge at
    a thousand services. Reference counting still frees garbage; cycles wait for the next run.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_file(path: Path) -> YamlFile:
    """Load every document of a Compose file, each checked to be a mapping."""
    text = read_text(path)
    return load_text(text, path)


@_gc_paused()
def load_text(text: str, path: Path) -> YamlFile:
    yaml = new_yaml()
    try:
        with warnings.catch_warnings():
            # A redefined anchor is valid YAML (the later one counts, in Compose too), and
            # ruamel's other notes are not the user's problem: none reaches stderr.
            warnings.simplefilter("ignore", YAMLWarning)
            warnings.simplefilter("ignore", YAMLFutureWarning)
            fast = load_documents(text, yaml, origin=path)
            raw_docs = fast if fast is not None else list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        raise _located(exc, path) from None
    except ReaderError as exc:
        raise _unreadable(exc, text, path) from None
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for text input
        raise YamlError(str(exc).split("\n")[0], Location(path)) from None
    except RecursionError:
        raise YamlError("nesting too deep", Location(path)) from None
    except (ValueError, OverflowError):  # a scalar Python cannot convert, e.g. 5000 digits
        raise YamlError(
            "a number is too long to read; quote it if it is meant as text",
            _position(text, path, _LONG_NUMBER.search(text)),
        ) from None
    documents: list[CommentedMap] = []
    head = preamble(text)
    for doc in raw_docs:
        if doc is None:
            continue  # an empty document changes nothing, as in Compose
        if not isinstance(doc, CommentedMap):
            kind = "a list" if isinstance(doc, list) else "a scalar"
            raise YamlError(
                f"top-level value must be a mapping (services:, volumes:, ...), not {kind}",
                _document_location(text, path, len(documents)),
            )
        # The fast loader knows when a document has no alias, tag or odd key: no walk then.
        if getattr(doc, ALIASED_ATTR, True):
            check_expansion(doc, path)
        if getattr(doc, TAGGED_ATTR, True):
            untag_keys(doc, path)
        if getattr(doc, ODD_KEYS_ATTR, True):
            refuse_non_text_keys(doc, path)
        if _FLOW_SUSPECT.search(text):
            refuse_flow_plain_go_rejects(doc, path)
        if fast is None:  # the fast loader takes no text with a tab in it
            refuse_tabbed_blank_lines(doc, path)
        if fast is None:
            normalize(doc)  # the fast loader places comments itself
        if head and not documents:
            setattr(doc, PRE_ATTR, head)
        if fast is None:  # the fast loader marks its containers as it builds them
            mark_origin(doc, path)
        documents.append(doc)
    return YamlFile(path=path, text=text, documents=documents, style=guess_style(text))


_LONG_NUMBER = re.compile(r"[-+]?[0-9_]{4000,}")


def _position(text: str, path: Path, match: re.Match[str] | None) -> Location:
    if match is None:
        return Location(path)
    start = match.start()
    line = text.count("\n", 0, start) + 1
    return Location(path, line, start - (text.rfind("\n", 0, start) + 1) + 1)


def _unreadable(exc: ReaderError, text: str, path: Path) -> YamlError:
    """A character YAML does not allow (NUL, other control characters), with its position."""
    char = exc.character
    shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
    position = exc.position if isinstance(exc.position, int) else -1
    line = text.count("\n", 0, position) + 1 if position >= 0 else 0
    column = position - (text.rfind("\n", 0, position) + 1) + 1 if position >= 0 else 0
    return YamlError(
        f"control character {shown} is not allowed in YAML; remove it or write it escaped "
        "in a double-quoted string",
        Location(path, line, column),
    )


def _document_location(text: str, path: Path, index: int) -> Location:
    """Where the index-th non-empty document starts (found again only on this error path)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", YAMLWarning)
            nodes = [n for n in new_yaml().compose_all(text) if n is not None]
        mark = nodes[index].start_mark
    except (YAMLError, IndexError, RecursionError):
        return Location(path, 1, 1)
    return Location(path, mark.line + 1, mark.column + 1)


_TABBED_BLANK = re.compile(r"^[ ]*\t[ \t]*$", re.MULTILINE)
# Where a plain scalar Compose's parser refuses may stand in a flow collection (a first look).
_FLOW_SUSPECT = re.compile(r"[\[{,]\s*[:-]|:[ \t]+[:-]|:[ \t]*\n\s*:|\?")


def go_flow_plain_problem(text: str) -> str | None:
    """Why Compose's YAML parser (go-yaml) refuses this plain text inside [...] or {...},
    where YAML 1.2 and libyaml read it as text."""
    if text.startswith(":"):
        return "cannot start with ':'"
    if text == "-" or text.startswith("- "):
        return "cannot start with '- '"
    if "?" in text:
        return "cannot contain '?'"
    return None


def refuse_flow_plain_go_rejects(doc: Any, path: Path) -> None:
    """`[:x]`, `{a: b?}` or `[a, - b]`: text for libyaml, an error for Compose's parser."""
    for container in iter_containers(doc):
        fa = getattr(container, Format.attrib, None)  # no property: it would create one
        if fa is None or not fa.flow_style():
            continue
        items: list[tuple[Any, Any, bool]]
        if isinstance(container, dict):
            items = [(k, k, True) for k in container]
            items += [(k, v, False) for k, v in container.items()]
        else:
            items = [(i, v, False) for i, v in enumerate(container)]
        for key, value, is_key in items:
            problem = go_flow_plain_problem(value) if type(value) is str else None
            if problem:
                pos = _item_position(container, key, is_key)
                raise YamlError(
                    f"{value!r} in a flow collection: for Docker Compose a plain value there "
                    f"{problem}; quote it: {json.dumps(value)}",
                    Location(path, pos[0] + 1, pos[1] + 1) if pos else Location(path),
                )


def _item_position(container: Any, key: Any, is_key: bool) -> tuple[int, int] | None:
    lc = getattr(container, LineCol.attrib, None)
    if lc is None or lc.data is None:
        return None
    found = lc.data.get(key)
    if not found:
        return None
    if isinstance(container, list) or is_key:
        return int(found[0]), int(found[1])
    return int(found[2]), int(found[3])


def refuse_tabbed_blank_lines(doc: Any, path: Path) -> None:
    """A blank line holding a tab, which ruamel keeps as comment text and Compose refuses."""
    for container in iter_containers(doc):
        ca = getattr(container, "ca", None)
        if ca is None:
            continue
        tokens: list[Any] = []
        pending: list[Any] = [ca.comment, *ca.items.values()]
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(item)
            elif item is not None and isinstance(getattr(item, "value", None), str):
                tokens.append(item)
        for token in tokens:
            match = _TABBED_BLANK.search(token.value)
            if match is None:
                continue
            mark = getattr(token, "start_mark", None)
            start = mark.line + 1 if mark is not None else 0
            line = start + token.value.count("\n", 0, match.start()) if start else 0
            if line and token.value.startswith("\n"):  # the token starts at the end of a line
                line -= 1
            raise YamlError(
                "tab character used for indentation; indent with spaces",
                Location(path, line, 1),
            )


def refuse_non_text_keys(doc: Any, path: Path) -> None:
    """`1:`, `true:` or `null:` as a key: Compose refuses every key that is not text."""
    for container in iter_containers(doc):
        if not isinstance(container, dict):
            continue
        for key in container:
            if isinstance(key, str):
                continue
            shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else key
            pos = _key_position(container, key)
            raise YamlError(
                f'key {shown} is not text; quote it: "{shown}"',
                Location(path, pos[0] + 1, pos[1] + 1) if pos else Location(path),
            )


def _key_position(container: Any, key: Any, depth: int = 0) -> tuple[int, int] | None:
    """Where key is written: in container itself, else in a mapping it merges with `<<`."""
    lc = getattr(container, LineCol.attrib, None)
    data = getattr(lc, "data", None)
    if data and key in data:
        return int(data[key][0]), int(data[key][1])
    for source in getattr(container, merge_attrib, None) or ():
        found = _key_position(source, key, depth + 1) if depth < 64 else None
        if found:
            return found
    if lc is None or lc.line is None:
        return None
    return int(lc.line), int(lc.col or 0)


def untag_keys(doc: Any, path: Path) -> None:
    """Drop tags on mapping keys (`!reset web:`): Compose ignores them and merges the key as is."""
    for container in iter_containers(doc):
        if not isinstance(container, CommentedMap):
            continue
        tagged = [k for k in container if isinstance(k, TaggedScalar)]
        for key in tagged:
            plain = key.value
            if plain in container:
                line = container.lc.key(key)[0] + 1 if key in container.lc.data else 0
                raise YamlError(
                    f'found duplicate key "{plain}" (each key may appear once)',
                    Location(path, line, 1),
                )
            position = list(container).index(key)
            comment = container.ca.items.pop(key, None)
            lc = container.lc.data.pop(key, None)
            value = container.pop(key)
            container.insert(position, plain, value)
            if comment is not None:
                container.ca.items[plain] = comment
            if lc is not None:
                container.lc.data[plain] = lc


def _located(exc: MarkedYAMLError, path: Path) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if "\t" in problem or "'\\t'" in problem:
        problem = "tab character used for indentation; indent with spaces"
    problem = problem.split("\n")[0]
    if problem.startswith("maximum depth"):
        problem = f"nested more than {MAX_DEPTH} levels deep"
    if "duplicate key" in problem:
        problem = re.sub(r' with value ".*', "", problem) + " (each key may appear once)"
    loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
    return YamlError(problem, loc)


def check_expansion(doc: Any, path: Path) -> None:
    """Refuse documents whose aliases expand to an absurd size or loop, without expanding them."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlError(
                "an alias refers to a node that contains it (a cycle)",
                Location(path, _line(node), 1),
            )
        active.add(key)
        total = 1 + sum(size(v) for v in (node.values() if isinstance(node, dict) else node))
        active.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise YamlError(
                f"aliases expand to more than {MAX_EXPANDED_NODES} nodes (an alias bomb?)",
                Location(path, _line(node), 1),
            )
        return total

    try:
        size(doc)
    except RecursionError:
        raise YamlError("nesting too deep", Location(path)) from None


def _line(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return (lc.line + 1) if lc is not None and lc.line is not None else 0


def iter_containers(node: Any) -> Iterator[Any]:
    """Every mapping and sequence below node, each once even when aliased."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, dict):
            yield cur
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            yield cur
            stack.extend(v for v in cur if isinstance(v, (dict, list)))


def mark_origin(doc: Any, path: Path) -> None:
    """Remember which file each container came from, for error locations after merging."""
    for container in iter_containers(doc):
        if getattr(container, ORIGIN_ATTR, None) is None:
            with contextlib.suppress(AttributeError):  # plain dict/list have no attributes
                setattr(container, ORIGIN_ATTR, path)


_KEY_RE = re.compile(r"^( *)[^\s#-][^:]*:(\s|$)")
_SEQ_RE = re.compile(r"^( *)- ")


def guess_style(text: str) -> Style:
    """Find the file's mapping indent and where its dashes sit, so round-trips are byte-stable."""
    mapping = 0
    offset: int | None = None
    prev_key_indent: int | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        seq = _SEQ_RE.match(line)
        if seq:
            if offset is None and prev_key_indent is not None:
                offset = max(0, len(seq.group(1)) - prev_key_indent)
            prev_key_indent = None
            continue
        key = _KEY_RE.match(line)
        if key:
            indent = len(key.group(1))
            if prev_key_indent is not None and indent > prev_key_indent and not mapping:
                mapping = indent - prev_key_indent
            prev_key_indent = indent
        if mapping and offset is not None:
            break
    mapping = mapping or 2
    offset = mapping if offset is None else offset
    if offset > mapping:
        offset = mapping
    return Style(mapping=mapping, sequence=offset + 2, offset=offset)


@_gc_paused()
def dump(doc: Any, style: Style | None = None, expected: str | None = None) -> str:
    style = style or Style()
    body = _direct_dump(doc, style, expected)
    if body is None:
        out = StringIO()
        new_yaml(style).dump(doc, out)
        body = out.getvalue()
    return pre_text(doc) + body + end_text(doc)


def _direct_dump(doc: Any, style: Style, expected: str | None = None) -> str | None:
    """The fast writer's text when it can write doc and the text reads back as the same model."""
    from composer.emit import Unsupported, emit, same_model

    if not isinstance(doc, CommentedMap):
        return None
    try:
        text = emit(doc, style.mapping, style.sequence, style.offset)
    except Unsupported:
        return None
    if expected is not None and pre_text(doc) + text + end_text(doc) == expected:
        return text  # the very text that was checked when it was written
    return text if same_model(text, doc, new_yaml()) else None
