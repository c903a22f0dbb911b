"""Helpers over ruamel round-trip nodes: copy-on-write clones, plain values, Go-style formatting.

Loaded trees are shared (one parse of the base serves every environment, aliases share nodes), so
nothing here mutates a node it was given: changes go into clones that keep comments and positions.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from typing import Any

from ruamel.yaml.comments import Comment, CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import CommentMark
from ruamel.yaml.mergevalue import MergeValue
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import ScalarInt
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from composer.comments import END_ATTR, PRE_ATTR
from composer.fastyaml import RAW_ATTR
from composer.yamlio import ORIGIN_ATTR

_LC = "_yaml_line_col"
_FORMAT = "_yaml_format"
KEY_ORIGINS = "_composer_key_origins"


def _copy_comments(src: Any, dst: Any) -> None:
    ca = getattr(src, Comment.attrib, None)
    if ca is None:
        return
    new: Any = Comment()
    new.comment = list(ca.comment) if ca.comment else ca.comment
    new._items = {k: list(v) if isinstance(v, list) else v for k, v in ca.items.items()}
    new._pre = ca._pre
    new._post = list(ca._post) if ca._post else ca._post
    setattr(dst, Comment.attrib, new)


def _copy_common(src: Any, dst: Any) -> None:
    _copy_comments(src, dst)
    for attr in (_LC, _FORMAT, ORIGIN_ATTR, END_ATTR, PRE_ATTR, RAW_ATTR):
        if hasattr(src, attr):
            setattr(dst, attr, getattr(src, attr))
    origins = getattr(src, KEY_ORIGINS, None)
    if origins:
        setattr(dst, KEY_ORIGINS, dict(origins))


def clone_map(src: CommentedMap, *, keep_merge: bool = True) -> CommentedMap:
    """A new mapping with src's own items, comments, style and `<<` merges (no anchor)."""
    dst = CommentedMap()
    merge = getattr(src, MergeValue.attrib, None) if keep_merge else None
    for key, value in src.non_merged_items() if merge else src.items():
        dst[key] = value
    _copy_common(src, dst)
    if merge:
        copy = MergeValue()
        copy.extend(list(merge.value))
        copy.merge_pos = merge.merge_pos
        copy.sequence = merge.sequence
        dst.add_yaml_merge(copy)
    return dst


def put(mapping: Any, key: Any, value: Any) -> None:
    """mapping[key] = value with value kept as it is. ruamel turns a plain string that replaces
    a quoted one into a quoted one: an overlay's value would lose its own spelling."""
    if isinstance(mapping, CommentedMap):
        OrderedDict.__setitem__(mapping, key, value)
        mapping._ok.add(key)
    else:
        mapping[key] = value


def clone_seq(src: CommentedSeq) -> CommentedSeq:
    dst = CommentedSeq(src)
    _copy_common(src, dst)
    return dst


def new_map_like(src: Any) -> CommentedMap:
    dst = CommentedMap()
    if src is not None:
        _copy_common(src, dst)
    return dst


def new_seq_like(src: Any) -> CommentedSeq:
    dst = CommentedSeq()
    if src is not None:
        _copy_common(src, dst)
    return dst


def set_key_origin(container: Any, key: Any, source: Any, source_key: Any = None) -> None:
    """Record that container[key] is source[source_key] (of another file, or another index)."""
    if source is container and (source_key is None or source_key == key):
        return
    origins = getattr(container, KEY_ORIGINS, None)
    if origins is None:
        origins = {}
        try:
            setattr(container, KEY_ORIGINS, origins)
        except AttributeError:  # plain dict/list: no positions to keep
            return
    origins[key] = (source, key if source_key is None else source_key)


def key_origin(container: Any, key: Any) -> tuple[Any, Any]:
    """The loaded container and key whose line/column data describe container[key]."""
    for _ in range(64):
        origins = getattr(container, KEY_ORIGINS, None)
        if not origins or key not in origins:
            break
        container, key = origins[key]
    return container, key


def move_comment(src: Any, src_key: Any, dst: Any, dst_key: Any) -> None:
    """Carry the comment attached to src[src_key] over to dst[dst_key]."""
    ca = getattr(src, Comment.attrib, None)
    if ca is None or src_key not in ca.items:
        return
    dst.ca.items[dst_key] = ca.items[src_key]


def carry_comment(src: Any, src_key: Any, dst: Any, dst_key: Any) -> None:
    """Give dst[dst_key] the comment of src[src_key], also when one is a mapping and the other a
    list (their slots differ: the end-of-line comment is at index 2 in mappings, 0 in lists).
    Nothing happens when src[src_key] has no comment."""
    slot = _slot(src, src_key)
    if slot is None:
        return
    pre = slot[1]
    eol = slot[0] if isinstance(src, list) else slot[2]
    if not (pre or eol is not None):
        return
    in_list = isinstance(dst, list)
    dst.ca.items[dst_key] = [eol, pre, None, None] if in_list else [None, pre, eol, None]


def combine_comment(
    base: Any,
    base_key: Any,
    over: Any,
    over_key: Any,
    dst: Any,
    dst_key: Any,
    *,
    eol: int,
    over_eol: int | None = None,
) -> None:
    """dst[dst_key] gets the base's and then the overlay's before-comments, and the overlay's
    end-of-line comment when it has one (else the base's). `eol` is the slot index of the
    end-of-line comment: 2 in mappings, 0 in sequences; index 1 holds before-comments."""
    b = _slot(base, base_key)
    o = _slot(over, over_key)
    if b is None and o is None:
        drop_comment(dst, dst_key)
        return
    slot: list[Any] = [None, None, None, None]
    over_pre = _trim_blank(o[1] or []) if o else []
    pre = [*(b[1] or [] if b else []), *over_pre] if b else list(o[1] or []) if o else []
    slot[1] = pre or None
    o_eol = eol if over_eol is None else over_eol
    slot[eol] = (o[o_eol] if o and o[o_eol] is not None else None) or (b[eol] if b else None)
    if eol == 2 and b is not None:
        slot[3] = b[3]
    if not any(slot):
        drop_comment(dst, dst_key)
        return
    dst.ca.items[dst_key] = slot


def lower_heading(doc: CommentedMap, earlier: Any) -> CommentedMap:
    """doc with its heading comment moved above the first entry it adds to `earlier`.

    A later document's heading describes what that document brings, and a merged document has
    only one heading (the first one's): so it goes down the document's first keys while those
    already exist in `earlier` as mappings, and stands above the key where they part. Only that
    path is cloned; doc itself is untouched.
    """
    head = doc.ca.comment
    tokens = head[1] if head is not None and len(head) > 1 and head[1] else []
    lines = [line.strip() for t in tokens for line in t.value.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if not lines or not len(doc):
        return doc
    top = clone_map(doc)
    top.ca.comment = [head[0], None] if head[0] is not None else None
    node: CommentedMap = top
    other = earlier
    while True:
        key = next(iter(node))
        value = node[key]
        if not (
            isinstance(other, dict)
            and key in other
            and isinstance(other[key], dict)
            and isinstance(value, CommentedMap)
            and len(value)
        ):
            break
        child = clone_map(value)
        node[key] = child
        node, other = child, other[key]
    column = _key_column(node, key)
    moved = [CommentToken(line + "\n", CommentMark(column), None) for line in lines]
    slot = node.ca.items.setdefault(key, [None, None, None, None])
    slot[1] = moved + list(slot[1] or [])
    return top


def _key_column(node: CommentedMap, key: Any) -> int:
    try:
        position = node.lc.key(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return 0
    return position[1] if position and isinstance(position[1], int) else 0


def _trim_blank(tokens: list[Any]) -> list[Any]:
    """An overlay's blank lines around its comments are its own layout, not content."""
    start, end = 0, len(tokens)
    while start < end and not tokens[start].value.strip():
        start += 1
    while end > start and not tokens[end - 1].value.strip():
        end -= 1
    return tokens[start:end]


def _slot(container: Any, key: Any) -> list[Any] | None:
    ca = getattr(container, Comment.attrib, None)
    if ca is None:
        return None
    slot = ca.items.get(key)
    return list(slot) if slot else None


def drop_comment(dst: Any, key: Any) -> None:
    ca = getattr(dst, Comment.attrib, None)
    if ca is not None and key in ca.items:
        del ca.items[key]


def plain(node: Any) -> Any:
    """A plain Python value (dict/list/str/int/float/bool/None) for comparisons and keys."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return scalar(node)


def scalar(node: Any) -> Any:
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, TaggedScalar):
        return node.value
    if isinstance(node, ScalarString):
        return str(node)
    if isinstance(node, ScalarInt):
        return int(node)
    if isinstance(node, ScalarFloat):
        return float(node)
    return node


def go_format(value: Any) -> str:
    """Go's %v of a YAML value: Compose formats key=value entries with it."""
    width = getattr(value, "_width", None) if type(value) is ScalarInt else None
    if width:
        digits = str(int(value)).zfill(width)
        if len(digits) > 1 and digits[0] == "0" and set(digits) <= set("01234567"):
            return str(int(digits, 8))  # Compose's YAML reader takes a leading 0 as octal
    if isinstance(value, datetime.date):
        return _go_time(value)
    value = scalar(value)
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (list, dict)):
        return repr(value)
    return str(value)


def _go_time(value: datetime.date) -> str:
    """Go's time.Time String() of a YAML timestamp, as Compose writes it into key=value text."""
    if not isinstance(value, datetime.datetime):
        return f"{value.isoformat()} 00:00:00 +0000 UTC"
    moment = value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)
    offset = moment.utcoffset() or datetime.timedelta(0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    if not offset:
        return f"{text} +0000 UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{text} {zone} {zone}"


def _go_float(value: float) -> str:
    """Go's %v for float64: shortest digits, exponent form below 1e-4 and from 1e21 on."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    shortest = repr(value)
    sign = "-" if value < 0 else ""
    # shortest round-trip digits and decimal exponent from Python's repr
    text = shortest.lstrip("-")
    if "e" in text:
        coeff, _, e = text.partition("e")
        exponent = int(e)
        int_part, _, frac = coeff.partition(".")
        all_digits = (int_part + frac).lstrip("0") or "0"
        point = len(int_part) + exponent
    else:
        int_part, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        stripped = int_part.lstrip("0")
        if stripped:
            all_digits = (stripped + frac).rstrip("0") or "0"
            point = len(stripped)
        else:
            lead = len(frac) - len(frac.lstrip("0"))
            all_digits = frac.lstrip("0")
            point = -lead
    exponent = point - 1
    if exponent < -4 or exponent >= 21:
        mant = all_digits[0] + ("." + all_digits[1:] if len(all_digits) > 1 else "")
        esign = "-" if exponent < 0 else "+"
        return f"{sign}{mant}e{esign}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{all_digits}"
    if point >= len(all_digits):
        return f"{sign}{all_digits}{'0' * (point - len(all_digits))}"
    return f"{sign}{all_digits[:point]}.{all_digits[point:]}"


def as_string_scalar(text: str, like: Any = None) -> str:
    """A string node that will not be re-typed on the way back in (quoted when it must be)."""
    if isinstance(like, ScalarString):
        return str(type(like)(text))
    if _needs_quotes(text):
        return str(DoubleQuotedScalarString(text))
    return text


def _needs_quotes(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"}:
        return True
    try:
        float(text)
        return True
    except ValueError:
        pass
    return text.startswith(("0x", "0o", "+", ".", "-", "*", "&", "!", "%", "@", "`", "[", "{")) or (
        ": " in text or " #" in text or text != text.strip()
    )


def tag_of(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) else None
