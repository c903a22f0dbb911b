"""The one-way flow of a merge: load, resolve tags, extends and include, merge, place.

Validation and rendering follow in composer.api; injections arrive as extra overlay documents.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from composer.comments import combine_edges
from composer.envfile import project_environment
from composer.errors import (
    ComposerError,
    InputError,
    InterpolationError,
    Location,
    MergeError,
    Problem,
)
from composer.extends import Extender
from composer.include import Includer
from composer.merge import Merger
from composer.nodes import clone_map, lower_heading
from composer.paths import Rebaser, relative_prefix
from composer.render import HEADER_PREFIX
from composer.source import locate_item
from composer.tags import clear_paths, resolve_tags
from composer.yamlio import Style, YamlFile, load_file, mark_origin


@dataclass
class Inputs:
    """What one merge reads: the files in order and how Compose would see them."""

    files: Sequence[Path]
    project_directory: Path | None = None
    project_name: str | None = None
    env_files: Sequence[Path] | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    profiles: Sequence[str] = ()
    overlays: Sequence[tuple[CommentedMap, Path]] = ()  # injected documents, merged last

    @property
    def project_dir(self) -> Path:
        if self.project_directory is not None:
            return self.project_directory.resolve()
        return self.files[0].resolve().parent


@dataclass
class Merged:
    """The merged document plus what rendering and validation need to know about it."""

    document: CommentedMap
    style: Style
    env: dict[str, str]
    project_dir: Path
    project_name: str
    sources: list[Path]
    warnings: list[Problem] = field(default_factory=list)


class FileCache:
    """Parsed files by path and stamp: one parse of a base serves every environment."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[tuple[int, int], YamlFile]] = {}

    def load(self, path: Path) -> YamlFile:
        path = path.resolve()
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = (0, 0)
        hit = self._files.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        loaded = load_file(path)
        self._files[path] = (stamp, loaded)
        return loaded


_DEFAULT_CACHE = FileCache()
_NAME_RE = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """Compose lowercases names, drops characters it does not allow and leading `_`/`-`."""
    return _NAME_RE.sub("", name.lower()).lstrip("_-")


def merge_inputs(
    inputs: Inputs, cache: FileCache | None = None, chain: tuple[Path, ...] = ()
) -> Merged:
    cache = cache or _DEFAULT_CACHE
    if not inputs.files:
        raise ComposerError("no compose file given (use -f FILE or --env ENV)")
    project_dir = inputs.project_dir
    env = project_environment(project_dir, inputs.env_files, inputs.environ)
    if inputs.project_name:
        env.setdefault("COMPOSE_PROJECT_NAME", inputs.project_name)

    def resolve(text: str) -> str:
        from composer.interpolate import interpolate_string

        try:
            return interpolate_string(text, env.get)
        except InterpolationError:
            return text

    def expand(text: str) -> str:
        from composer.interpolate import interpolate_string

        return interpolate_string(text, env.get)

    merger = Merger(resolve)
    extender = Extender(merger, cache.load, project_dir, expand)

    def load_included(
        files: list[Path],
        folder: Path,
        env_files: list[Path] | None,
        environ: Mapping[str, str],
        seen: tuple[Path, ...],
    ) -> tuple[CommentedMap, dict[str, str]]:
        sub = Inputs(files=files, project_directory=folder, env_files=env_files, environ=environ)
        merged = merge_inputs(sub, cache, seen)
        return merged.document, merged.env

    includer = Includer(load_included, project_dir, env)
    acc: CommentedMap | None = None
    style: Style | None = None
    sources: list[Path] = []
    docs: list[tuple[CommentedMap, Path, bool]] = []  # (document, file, first in its file)
    for path in inputs.files:
        loaded = cache.load(path)
        sources.append(loaded.path)
        style = style or loaded.style
        docs.extend((doc, loaded.path, i == 0) for i, doc in enumerate(loaded.documents))
    docs.extend((doc, path, True) for doc, path in inputs.overlays)
    declared: CommentedMap | None = None  # the last document naming the project
    for doc, path, first in docs:
        if isinstance(doc.get("name"), str) and doc["name"]:
            declared = doc
        tagged = resolve_tags(doc)
        current = extender.apply(tagged.document, path, tagged.cleared)
        current = includer.apply(current, (*chain, path.resolve()))
        if acc is None:
            acc = current
            continue
        earlier = clear_paths(acc, tagged.cleared)
        if not first:  # a file's own heading is about the file; a later document's, its entries
            current = lower_heading(current, earlier)
        try:
            acc = merger.merge_maps(earlier, current, ())
            combine_edges(acc, earlier, current)
        except MergeError as exc:
            if not exc.location.path:
                loc = locate_item(current, tuple(_split_where(exc.where)))
                raise MergeError(exc.message, loc, exc.where) from None
            raise
    if acc is None:
        acc = CommentedMap()
        mark_origin(acc, inputs.files[0])
    name = _project_name(inputs, declared, project_dir, env, strict=not chain)
    return Merged(acc, style or Style(), env, project_dir, name, sources)


def _split_where(where: str) -> list[str]:
    parts: list[str] = []
    for chunk in where.split("."):
        head, *indices = chunk.split("[")
        parts.append(head)
        parts.extend(i.rstrip("]") for i in indices)
    return [p for p in parts if p]


def _project_name(
    inputs: Inputs,
    declared: CommentedMap | None,
    project_dir: Path,
    env: Mapping[str, str],
    *,
    strict: bool,
) -> str:
    """Compose's rules: -p (or COMPOSE_PROJECT_NAME) must already be a valid name; a `name:`
    is interpolated and normalised and must not end up empty; else the folder's name. An
    included project's name is never used, so it is never refused either."""
    imperative = inputs.project_name or env.get("COMPOSE_PROJECT_NAME")
    if imperative:
        if strict and normalize_project_name(imperative) != imperative:
            raise InputError(
                f'invalid project name "{imperative}": must consist only of lowercase '
                "alphanumeric characters, hyphens, and underscores as well as start with a "
                "letter or number"
            )
        return imperative
    if declared is not None:
        from composer.interpolate import interpolate_string

        try:
            name = normalize_project_name(interpolate_string(declared["name"], env.get))
        except InterpolationError as exc:
            raise InterpolationError(exc.message, locate(declared, ("name",)), "name") from None
        if not name and strict:
            raise InputError(
                "project name is empty once interpolated and normalised (Compose keeps "
                "lowercase letters, digits, `-` and `_`, and drops a leading `-` or `_`)",
                locate(declared, ("name",)),
                "name",
            )
        return name
    name = normalize_project_name(project_dir.name)
    if not name and strict:
        raise InputError(
            f"project name must not be empty: the folder name {project_dir.name!r} has no "
            "character Compose allows; set `name:` or -p"
        )
    return name


def place(merged: Merged, output_dir: Path | None) -> CommentedMap:
    """Write the project name in and rebase relative paths for the folder the output goes to."""
    out = clone_map(merged.document)
    _drop_old_header(out)
    if "name" in out:
        if out["name"] != merged.project_name:
            out["name"] = merged.project_name
    else:
        out.insert(_name_position(out), "name", merged.project_name)
    if output_dir is not None:
        prefix = relative_prefix(os.path.relpath(merged.project_dir, output_dir.resolve()), ".")
        if prefix:

            def resolve(text: str) -> str:
                from composer.interpolate import interpolate_string

                return interpolate_string(text, merged.env.get)

            out = Rebaser(prefix, resolve, default_context=True).document(out)
    return out


def _drop_old_header(doc: CommentedMap) -> None:
    """A generated file read back as input keeps its comments but not its old header line."""
    head = doc.ca.comment
    if head is not None and len(head) > 1 and head[1]:
        kept = [t for t in head[1] if not t.value.startswith(HEADER_PREFIX)]
        if len(kept) != len(head[1]):
            doc.ca.comment = [head[0], kept or None]


def _name_position(doc: CommentedMap) -> int:
    keys = list(doc.keys())
    return 1 if keys and keys[0] == "version" else 0


def locate(doc: Any, path: tuple[str | int, ...]) -> Location:
    return locate_item(doc, tuple(str(p) for p in path))
