"""Merge Compose documents by Docker Compose v2's rules, keeping comments and forms.

Inputs are never modified: every changed mapping or list is a clone, so shared nodes
(aliases, a base parsed once for several environments) stay intact. Where the two sides
use different forms of a field, the result keeps the earlier side's form when it can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from composer.errors import MergeError
from composer.listkeys import entry_key
from composer.nodes import (
    as_string_scalar,
    carry_comment,
    clone_map,
    clone_seq,
    combine_comment,
    drop_comment,
    go_format,
    move_comment,
    new_map_like,
    new_seq_like,
    put,
    scalar,
    set_key_origin,
)
from composer.rules import Rule, Unique, rule_for, unique_for

Resolve = Callable[[str], str]
Path_ = tuple[str, ...]

_DEPENDS_DEFAULT = (("condition", "service_started"), ("required", True))


def _identity(text: str) -> str:
    return text


def show_path(path: Path_) -> str:
    out = ""
    for part in path:
        if part.isdigit() and out:
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class Merger:
    """Holds what a merge needs besides the two trees: how to see interpolated values."""

    def __init__(self, resolve: Resolve | None = None) -> None:
        self.resolve = resolve or _identity

    # -- entry point -------------------------------------------------------------------------
    def merge(self, base: Any, over: Any, path: Path_ = ()) -> Any:
        rule = rule_for(path) if path else None
        if rule is not None:
            return self._special(rule, base, over, path)
        if over is None:
            return base
        if isinstance(base, dict):
            if not isinstance(over, dict):
                raise self._cannot(over, path)
            return self.merge_maps(base, over, path)
        if isinstance(base, list):
            if not isinstance(over, list):
                raise self._cannot(over, path)
            return self._append(base, over, path)
        return over

    def _cannot(self, over: Any, path: Path_) -> MergeError:
        return MergeError(
            f"cannot override {show_path(path)}: the later file gives a {_kind(over)} "
            "where the earlier one has a different type",
            where=show_path(path),
        )

    # -- mappings ----------------------------------------------------------------------------
    def merge_maps(self, base: dict[str, Any], over: dict[str, Any], path: Path_) -> CommentedMap:
        result = clone_map(base) if isinstance(base, CommentedMap) else _to_map(base)
        for key, value in over.items():
            if key in result:
                merged = self.merge(result[key], value, (*path, str(key)))
                if merged is not result[key]:
                    put(result, key, merged)
                    set_key_origin(result, key, over)
                if isinstance(result, CommentedMap) and isinstance(over, CommentedMap):
                    combine_comment(base, key, over, key, result, key, eol=2)
            else:
                result[key] = value
                _carry_comment(over, key, result, key)
                set_key_origin(result, key, over)
        return result

    # -- sequences ---------------------------------------------------------------------------
    def _append(self, base: list[Any], over: list[Any], path: Path_) -> Any:
        result = clone_seq(base) if isinstance(base, CommentedSeq) else CommentedSeq(base)
        for index, item in enumerate(over):
            result.append(item)
            _carry_item_comment(over, index, result, len(result) - 1)
            set_key_origin(result, len(result) - 1, over, index)
        kind = unique_for(path)
        if kind is not None:
            return self.dedupe(result, kind, path)
        return result

    def dedupe(self, seq: CommentedSeq, kind: Unique, path: Path_) -> CommentedSeq:
        """Later entries replace earlier ones with the same identity, at the earlier place."""
        keys: dict[str, int] = {}
        out = new_seq_like(seq)
        changed = False
        for index, item in enumerate(seq):
            key = entry_key(kind, item, self.resolve)
            if key is not None and key in keys:
                slot = keys[key]
                out[slot] = item
                combine_comment(out, slot, seq, index, out, slot, eol=0)
                set_key_origin(out, slot, seq, index)
                changed = True
                continue
            out.append(item)
            _carry_item_comment(seq, index, out, len(out) - 1)
            set_key_origin(out, len(out) - 1, seq, index)
            if key is not None:
                keys[key] = len(out) - 1
        return out if changed else seq

    # -- special rules -----------------------------------------------------------------------
    def _special(self, rule: Rule, base: Any, over: Any, path: Path_) -> Any:
        if rule is Rule.OVERRIDE or rule is Rule.ULIMIT:
            return over
        if rule is Rule.KEY_VALUE:
            return self._key_value(base, over, path)
        if rule is Rule.SEQUENCE:
            return self._sequence(base, over, path)
        if rule is Rule.BUILD:
            return self._build(base, over, path)
        if rule is Rule.DEPENDS_ON:
            return self._name_map(base, over, path, _DEPENDS_DEFAULT)
        if rule is Rule.NAME_MAP:
            return self._name_map(base, over, path, None)
        if rule is Rule.EXTRA_HOSTS:
            return self._extra_hosts(base, over, path)
        if rule is Rule.LOGGING:
            return self._logging(base, over, path)
        if rule is Rule.IPAM_CONFIG:
            return self._ipam(base, over, path)
        raise AssertionError(rule)  # pragma: no cover

    def _key_value(self, base: Any, over: Any, path: Path_) -> Any:
        if over is None:
            return base
        if base is None:
            return over
        if isinstance(base, dict):
            result = clone_map(base) if isinstance(base, CommentedMap) else _to_map(base)
            for key, value, source, src_key in self._kv_entries(over):
                existed = key in result
                put(result, key, value)
                if isinstance(result, CommentedMap):
                    combine_comment(
                        result if existed else None,
                        key,
                        source,
                        src_key,
                        result,
                        key,
                        eol=2,
                        over_eol=0 if isinstance(source, list) else 2,
                    )
                set_key_origin(result, key, source)
            return result
        if isinstance(base, str):
            base = CommentedSeq([base])
        if not isinstance(base, list):
            raise self._cannot(over, path)
        addition: Any
        if isinstance(over, dict):
            addition = new_seq_like(over)
            addition.ca.items.clear()  # keyed by the mapping's keys: re-homed below by index
            for key, value in over.items():
                first = len(addition)
                addition.extend(_kv_strings(key, value))
                if len(addition) > first:
                    carry_comment(over, key, addition, first)
        elif isinstance(over, str):
            addition = CommentedSeq([over])
        elif isinstance(over, list):
            addition = over
        else:
            raise self._cannot(over, path)
        return self._append(base, addition, path)

    def _kv_entries(self, over: Any) -> list[tuple[str, Any, Any, Any]]:
        """(key, value node, container, key-or-index in container) for each overlay entry."""
        out: list[tuple[str, Any, Any, Any]] = []
        if isinstance(over, dict):
            for key, value in over.items():
                if isinstance(value, list):
                    for item in value:  # Compose spreads list values into key=item entries
                        out.append((str(key), as_string_scalar(go_format(item)), over, key))
                else:
                    out.append((str(key), value, over, key))
            return out
        items = [over] if isinstance(over, str) else over if isinstance(over, list) else []
        for index, item in enumerate(items):
            text = scalar(item)
            if not isinstance(text, str):
                raise MergeError(f"expected key=value, got {go_format(text)}")
            key, sep, value = text.partition("=")
            node: Any = as_string_scalar(value, like=item) if sep else None
            out.append((key, node, items, index))
        return out

    def _sequence(self, base: Any, over: Any, path: Path_) -> Any:
        if over is None:
            return base
        if base is None:
            return over
        base_list = CommentedSeq([base]) if not isinstance(base, list) else base
        over_list = CommentedSeq([over]) if not isinstance(over, list) else over
        if isinstance(base, dict) or isinstance(over, dict):
            raise self._cannot(over, path)
        return self._append(base_list, over_list, path)

    def _build(self, base: Any, over: Any, path: Path_) -> Any:
        if over is None:
            return base
        if base is None:
            return over
        if isinstance(base, str) and isinstance(over, str):
            return over
        base_map = base if isinstance(base, dict) else _context_map(base)
        over_map = over if isinstance(over, dict) else _context_map(over)
        return self.merge_maps(base_map, over_map, path)

    def _name_map(
        self, base: Any, over: Any, path: Path_, default: tuple[tuple[str, Any], ...] | None
    ) -> Any:
        if over is None:
            return base
        if base is None:
            return over
        if isinstance(base, list) and isinstance(over, list):
            result = clone_seq(base) if isinstance(base, CommentedSeq) else CommentedSeq(base)
            present = {scalar(v) for v in base}
            for index, item in enumerate(over):
                if scalar(item) not in present:
                    present.add(scalar(item))
                    result.append(item)
                    _carry_item_comment(over, index, result, len(result) - 1)
                    set_key_origin(result, len(result) - 1, over, index)
            return result
        base_map = base if isinstance(base, dict) else _names_to_map(base, default)
        if isinstance(over, dict):
            return self.merge_maps(base_map, over, path)
        over_map = _names_to_map(over, default)
        merged: CommentedMap = (
            clone_map(base_map) if isinstance(base_map, CommentedMap) else _to_map(base_map)
        )
        for name, value in over_map.items():
            existed = name in merged
            if existed and isinstance(merged[name], dict) and isinstance(value, dict):
                merged[name] = self.merge_maps(merged[name], value, (*path, str(name)))
            elif not existed or value is not None:
                put(merged, name, value)
            earlier = base_map if existed else None
            combine_comment(earlier, name, over_map, name, merged, name, eol=2)
        return merged

    def _extra_hosts(self, base: Any, over: Any, path: Path_) -> Any:
        if over is None:
            return base
        for side in (base, over):
            if side is not None and not isinstance(side, (dict, list)):
                raise MergeError(
                    f"expected a mapping or list, got {go_format(side)!r}", where=show_path(path)
                )
        if base is None:
            return over
        base_entries = _host_entries(base)
        over_entries = _host_entries(over)
        over_eol = 0 if isinstance(over, list) else 2
        commented: set[Any] = set()  # a host with several addresses: its comment goes once
        if isinstance(base, dict):
            result = clone_map(base) if isinstance(base, CommentedMap) else _to_map(base)
            present = {entry for entry, _ in base_entries}
            for entry, src_key in over_entries:
                if entry in present:
                    continue
                present.add(entry)
                host, _, ip = entry.partition("=")
                if "=" not in entry:
                    host, _, ip = entry.partition(":")
                current = result.get(host)
                first = src_key not in commented
                commented.add(src_key)
                if current is None:
                    put(result, host, ip)
                    if first:
                        combine_comment(
                            None, host, over, src_key, result, host, eol=2, over_eol=over_eol
                        )
                    continue
                result[host] = _more_addresses(result, host, current)
                result[host].append(ip)
                if first:
                    carry_comment(over, src_key, result[host], len(result[host]) - 1)
            return result
        result_seq = clone_seq(base) if isinstance(base, CommentedSeq) else CommentedSeq(base)
        present_seq = {entry for entry, _ in base_entries}
        for entry, src_key in over_entries:
            if entry in present_seq:
                continue
            present_seq.add(entry)
            if isinstance(over, list):
                result_seq.append(over[src_key])
                _carry_item_comment(over, src_key, result_seq, len(result_seq) - 1)
            else:
                result_seq.append(entry)
                if src_key not in commented:
                    commented.add(src_key)
                    carry_comment(over, src_key, result_seq, len(result_seq) - 1)
        return result_seq

    def _logging(self, base: Any, over: Any, path: Path_) -> Any:
        if over is None:
            return base
        if not isinstance(base, dict) or not isinstance(over, dict):
            return over
        driver_b = scalar(base.get("driver")) if "driver" in base else _MISSING
        driver_o = scalar(over.get("driver")) if "driver" in over else _MISSING
        if driver_b is _MISSING or driver_o is _MISSING or driver_b == driver_o:
            return self.merge_maps(base, over, path)
        return over

    def _ipam(self, base: Any, over: Any, path: Path_) -> Any:
        if over is None:
            return base
        if not isinstance(base, list) or not isinstance(over, list):
            raise MergeError(f"{show_path(path)}: expected a list", where=show_path(path))
        # Compose merges each override into the base entry itself, in place: a later override
        # sees the subnet an earlier one wrote, and every slot holding that entry changes with it.
        configs: list[_Ref] = []

        def subnet(entry: Any) -> Any:
            return scalar(entry.get("subnet")) if isinstance(entry, dict) else None

        for base_index, original in enumerate(base):
            right = _Ref(original, (base, base_index))
            for over_index, override in enumerate(over):
                if subnet(override) != subnet(right.value) and not any(
                    subnet(c.value) == subnet(override) for c in configs
                ):
                    configs.append(_Ref(override, (over, over_index)))
                    continue
                right.value = self.merge_maps(right.value, override, path)
                right.sources.append((over, over_index))
                for index, existing in enumerate(configs):
                    if subnet(existing.value) == subnet(right.value):
                        configs[index] = right
                        break
                else:
                    configs.append(right)
        result = new_seq_like(base)
        result.ca.items.clear()  # by the base's indexes: placed again by where each entry went
        placed: set[int] = set()
        for index, ref in enumerate(configs):
            result.append(ref.value)
            if id(ref) in placed:
                continue
            placed.add(id(ref))
            (first, first_index), *later = ref.sources
            carry_comment(first, first_index, result, index)
            for source, source_index in later:
                combine_comment(result, index, source, source_index, result, index, eol=0)
        return result


_MISSING = object()


class _Ref:
    """A slot holding a mapping that later merges replace for every holder at once; `sources`
    are the list entries merged into it (list, index), whose comments it carries."""

    __slots__ = ("sources", "value")

    def __init__(self, value: Any, source: tuple[Any, int]) -> None:
        self.value = value
        self.sources = [source]


def _kind(node: Any) -> str:
    if isinstance(node, dict):
        return "mapping"
    if isinstance(node, list):
        return "list"
    return "scalar"


def _to_map(value: Any) -> CommentedMap:
    result = CommentedMap()
    for key, item in dict(value).items():
        result[key] = item
    return result


def _context_map(value: Any) -> CommentedMap:
    result = CommentedMap()
    result["context"] = value
    return result


def _kv_strings(key: Any, value: Any) -> list[Any]:
    if value is None:
        return [as_string_scalar(str(key))]
    if isinstance(value, list):
        return [as_string_scalar(f"{key}={go_format(v)}") for v in value]
    return [as_string_scalar(f"{key}={go_format(value)}")]


def _names_to_map(names: Any, default: tuple[tuple[str, Any], ...] | None) -> CommentedMap:
    """The mapping form of a name list; each name keeps its entry's comment."""
    result = new_map_like(names)
    result.ca.items.clear()  # keyed by list index: re-homed below by name
    for index, name in enumerate(names if isinstance(names, list) else [names]):
        if default is None:
            result[scalar(name)] = None
        else:
            entry = CommentedMap()
            for key, value in default:
                entry[key] = value
            result[scalar(name)] = entry
        if isinstance(names, list):
            carry_comment(names, index, result, scalar(name))
    return result


def _host_entries(value: Any) -> list[tuple[str, Any]]:
    """Each `host=ip` entry with the key or index of the node it comes from."""
    if isinstance(value, dict):
        entries: list[tuple[str, Any]] = []
        for host, ip in value.items():
            if isinstance(ip, list):
                entries.extend((f"{host}={go_format(i)}", host) for i in ip)
            else:
                entries.append((f"{host}={go_format(ip)}", host))
        return sorted(entries, key=lambda pair: pair[0])
    if isinstance(value, list):
        return [(str(scalar(v)), index) for index, v in enumerate(value)]
    return [(str(scalar(value)), None)]


def _more_addresses(hosts: CommentedMap, host: Any, current: Any) -> CommentedSeq:
    """A host's addresses as a list to append to; a single address takes along the comment at
    the end of its line, which would otherwise end the host's line above the list."""
    if isinstance(current, CommentedSeq):
        return clone_seq(current)
    if isinstance(current, list):
        return CommentedSeq(current)
    addresses = CommentedSeq([current])
    slot = hosts.ca.items.get(host)
    if slot is not None and slot[2] is not None:
        addresses.ca.items[0] = [slot[2], None, None, None]
        slot = [*slot[:2], None, *slot[3:]]
        if any(slot):
            hosts.ca.items[host] = slot
        else:
            del hosts.ca.items[host]
    return addresses


def _carry_comment(src: Any, src_key: Any, dst: Any, dst_key: Any) -> None:
    if isinstance(dst, CommentedMap) and isinstance(src, (CommentedMap, CommentedSeq)):
        drop_comment(dst, dst_key)
        move_comment(src, src_key, dst, dst_key)


def _carry_item_comment(src: Any, index: int, dst: Any, dst_index: int) -> None:
    if isinstance(dst, CommentedSeq) and isinstance(src, CommentedSeq):
        drop_comment(dst, dst_index)
        move_comment(src, index, dst, dst_index)
