"""Keep relative paths pointing at the same place when the YAML that holds them moves.

Compose resolves relative paths against the project directory (the first file's folder); a
service pulled in by `extends: {file: ...}` resolves against its own file's folder. A merged file
written elsewhere, or a service inlined from another folder, needs its paths rebased.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from composer.nodes import clone_map, clone_seq, scalar

Resolve = Callable[[str], str]

_REMOTE_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def relative_prefix(from_dir: str, to_dir: str) -> str:
    """The prefix that makes a path relative to from_dir relative to to_dir ('' when equal)."""
    rel = posixpath.relpath(from_dir, to_dir)
    return "" if rel == "." else rel


def join(prefix: str, value: str) -> str:
    """Prefix a relative path, keeping it explicitly relative ('./x', '../x')."""
    joined = posixpath.normpath(posixpath.join(prefix, value))
    if joined == ".":
        return "."
    if not joined.startswith(("../", "./")) and joined != "..":
        joined = "./" + joined
    return joined


def _is_relative(value: str) -> bool:
    return bool(value) and not value.startswith(("/", "~", "$", "\\")) and not _windows_abs(value)


def _windows_abs(value: str) -> bool:
    return len(value) > 1 and value[1] == ":" and value[0].isalpha()


def _context(value: str) -> bool:
    return _is_relative(value) and "://" not in value and not value.startswith(_REMOTE_PREFIXES)


class Rebaser:
    """Rewrites the path fields of a Compose document by one prefix (copy-on-write)."""

    def __init__(
        self, prefix: str, resolve: Resolve | None = None, *, default_context: bool = False
    ) -> None:
        self.prefix = prefix
        self.resolve = resolve
        # A build without `context` means the project folder. Compose applies that default after
        # extends and include are resolved, so only a moved output file needs it spelled out.
        self.default_context = default_context

    def text(self, value: Any, check: Callable[[str], bool] = _is_relative) -> Any:
        raw = scalar(value)
        if not isinstance(raw, str):
            return value
        escape = False
        if "$" in raw:
            if self.resolve is None:
                return value
            raw, escape = self.resolve(raw), True
        if not check(raw):
            return value
        joined = join(self.prefix, raw)
        if escape:
            joined = joined.replace("$", "$$")
        return type(value)(joined) if isinstance(value, str) else joined

    def document(self, doc: Any) -> Any:
        if not self.prefix or not isinstance(doc, dict):
            return doc
        out = doc
        services = doc.get("services")
        if isinstance(services, dict):
            new_services = map_values(services, self.service)
            if new_services is not services:
                out = _set(out, "services", new_services)
        for section in ("configs", "secrets"):
            block = out.get(section)
            if isinstance(block, dict):
                new_block = map_values(block, lambda r: _field(r, "file", self.text))
                if new_block is not block:
                    out = _set(out, section, new_block)
        include = out.get("include")
        if isinstance(include, list):
            new_include = list_items(include, self.include_entry)
            if new_include is not include:
                out = _set(out, "include", new_include)
        return out

    def service(self, svc: Any) -> Any:
        if not isinstance(svc, dict):
            return svc
        out = svc
        build = svc.get("build")
        if isinstance(build, str) or (build is not None and not isinstance(build, dict)):
            new_build = self.text(build, _context)
            if new_build is not build:
                out = _set(out, "build", new_build)
        elif isinstance(build, dict):
            if "context" in build:
                new = _field(build, "context", lambda v: self.text(v, _context))
            elif self.default_context:
                new = clone_map(build) if isinstance(build, CommentedMap) else CommentedMap(build)
                new.insert(0, "context", join(self.prefix, "."))
            else:
                new = build
            contexts = new.get("additional_contexts")
            if isinstance(contexts, dict):
                new = _set(
                    new,
                    "additional_contexts",
                    map_values(contexts, lambda v: self.text(v, _context)),
                )
            if new is not build:
                out = _set(out, "build", new)
        for key in ("env_file", "label_file"):
            value = out.get(key)
            if isinstance(value, str):
                out = _set(out, key, self.text(value))
            elif isinstance(value, list):
                out = _set(out, key, list_items(value, self.env_file_entry))
        volumes = out.get("volumes")
        if isinstance(volumes, list):
            out = _set(out, "volumes", list_items(volumes, self.volume))
        develop = out.get("develop")
        if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
            watch = list_items(develop["watch"], lambda w: _field(w, "path", self.text))
            if watch is not develop["watch"]:
                out = _set(out, "develop", _set(develop, "watch", watch))
        return out

    def env_file_entry(self, entry: Any) -> Any:
        if isinstance(entry, dict):
            return _field(entry, "path", self.text)
        return self.text(entry)

    def volume(self, entry: Any) -> Any:
        if isinstance(entry, dict):
            kind = scalar(entry.get("type"))
            if kind == "bind" or (
                kind is None and str(scalar(entry.get("source", ""))).startswith(".")
            ):
                return _field(entry, "source", self.text)
            return entry
        raw = scalar(entry)
        if not isinstance(raw, str):
            return entry
        escape = False
        if "$" in raw:
            if self.resolve is None:
                return entry
            resolved = self.resolve(raw)
            if not resolved.startswith("."):
                return entry
            raw, escape = resolved, True
        if not raw.startswith("."):
            return entry
        source, sep, rest = raw.partition(":")
        if not sep:
            return entry
        value = f"{join(self.prefix, source)}:{rest}"
        if escape:
            value = value.replace("$", "$$")
        return type(entry)(value) if isinstance(entry, str) else value

    def include_entry(self, entry: Any) -> Any:
        if isinstance(entry, str) or not isinstance(entry, dict):
            return self.text(entry)
        out = entry
        for key in ("path", "env_file"):
            value = out.get(key)
            if isinstance(value, list):
                out = _set(out, key, list_items(value, self.text))
            elif value is not None:
                out = _field(out, key, self.text)
        if "project_directory" in out:
            out = _field(out, "project_directory", self.text)
        return out


def _field(node: Any, key: str, fn: Callable[[Any], Any]) -> Any:
    if not isinstance(node, dict) or key not in node:
        return node
    new = fn(node[key])
    if new is node[key]:
        return node
    return _set(node, key, new)


def _set(node: Any, key: str, value: Any) -> Any:
    if node.get(key) is value:
        return node
    out = clone_map(node) if isinstance(node, CommentedMap) else CommentedMap(node)
    out[key] = value
    return out


def map_values(node: Any, fn: Callable[[Any], Any]) -> Any:
    """node with fn applied to each value, cloned only when something changed."""
    out = node
    for key, value in node.items():
        new = fn(value)
        if new is not value:
            if out is node:
                out = clone_map(node) if isinstance(node, CommentedMap) else CommentedMap(node)
            out[key] = new
    return out


def list_items(node: Any, fn: Callable[[Any], Any]) -> Any:
    """The same for the items of a list."""
    out = node
    for index, value in enumerate(node):
        new = fn(value)
        if new is not value:
            if out is node:
                out = clone_seq(node) if isinstance(node, CommentedSeq) else CommentedSeq(node)
            out[index] = new
    return out
