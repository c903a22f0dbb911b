"""`extends`: resolved inside each document before it is merged, as Docker Compose v2 does.

Resolving early matters: a later overlay that changes the extended service must not leak into the
services that extend it. Services from other files have their relative paths rebased.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from composer.errors import InterpolationError, MergeError
from composer.merge import Merger
from composer.nodes import clone_map, scalar
from composer.paths import Rebaser, relative_prefix
from composer.source import locate_item
from composer.tags import clear_paths, resolve_tags
from composer.yamlio import YamlFile

LoadFile = Callable[[Path], YamlFile]
Expand = Callable[[str], str]  # interpolates a reference, raising InterpolationError


class Extender:
    """Resolves `extends` of one document; files read for it are cached by the loader."""

    def __init__(
        self, merger: Merger, load: LoadFile, base_dir: Path, expand: Expand = str
    ) -> None:
        self.merger = merger
        self.load = load
        self.base_dir = base_dir  # the folder relative paths of the result are relative to
        self.expand = expand  # Compose reads `extends` after interpolation

    def apply(self, doc: CommentedMap, file: Path, cleared: list[tuple[str, ...]]) -> CommentedMap:
        services = doc.get("services")
        if not isinstance(services, dict) or not any(
            isinstance(s, dict) and "extends" in s for s in services.values()
        ):
            return doc
        state: dict[str, Any] = dict(services.items())
        for name in list(state):
            state[name] = self._resolve(
                name, state, file, doc, [(file, name)], cleared, self.base_dir
            )
        new_services = clone_map(services) if isinstance(services, CommentedMap) else CommentedMap()
        for name, svc in state.items():
            if new_services.get(name) is not svc:
                new_services[name] = svc
        out = clone_map(doc)
        out["services"] = new_services
        return out

    def _resolve(
        self,
        name: str,
        services: dict[str, Any],
        file: Path,
        doc: Any,
        chain: list[tuple[Path, str]],
        cleared: list[tuple[str, ...]],
        here: Path,
    ) -> Any:
        """`here` is the folder the relative paths of `file`'s services must end up relative to
        (the project folder for the inputs, the extending file's folder for a chain)."""
        svc = services.get(name)
        if not isinstance(svc, dict) or "extends" not in svc:
            return svc
        ext = svc["extends"]
        where = f"services.{name}.extends"
        loc = locate_item(doc, ("services", name, "extends"))
        if isinstance(ext, dict):
            ref = scalar(ext.get("service"))
            other = scalar(ext.get("file")) if "file" in ext else None
        else:
            ref, other = scalar(ext), None
        if not isinstance(ref, str):
            raise MergeError("extends needs a service name", loc, where)
        try:
            ref = self.expand(ref)
            other = None if other is None else self.expand(str(other))
        except InterpolationError as exc:
            raise MergeError(str(exc.message), loc, where) from None
        if other is not None:
            other_path = (file.parent / str(other)).resolve()
            try:
                loaded = self.load(other_path)
            except MergeError:
                raise
            except Exception as exc:  # a missing or broken file, located by its own error
                if hasattr(exc, "location"):
                    raise MergeError(f"cannot extend service '{name}': {exc}", loc, where) from exc
                raise
            other_services: dict[str, Any] = {}
            other_doc: Any = None
            other_cleared: list[tuple[str, ...]] = []
            for other_raw in loaded.documents:
                other_tagged = resolve_tags(other_raw)
                other_doc = other_tagged.document
                other_cleared += other_tagged.cleared
                block = other_doc.get("services")
                if isinstance(block, dict):
                    other_services.update(block.items())
            if ref not in other_services:
                raise MergeError(
                    f"cannot extend service '{name}': service '{ref}' not found in {other}",
                    loc,
                    where,
                )
            target_file = other_path
            sub_prefix = relative_prefix(os.path.relpath(other_path.parent, here), ".")
            target_here = other_path.parent
            target_services, target_doc = other_services, other_doc
            target_cleared = other_cleared
        else:
            if ref not in services:
                raise MergeError(
                    f"cannot extend service '{name}': service '{ref}' not found", loc, where
                )
            target_file, sub_prefix, target_here = file, "", here
            target_services, target_doc = services, doc
            target_cleared = cleared
        if (target_file, ref) in chain:
            cycle = " -> ".join(f"{p.name}:{n}" for p, n in [*chain, (target_file, ref)])
            raise MergeError(f"extends cycle: {cycle}", loc, where)
        base = self._resolve(
            ref,
            target_services,
            target_file,
            target_doc,
            [*chain, (target_file, ref)],
            target_cleared,
            target_here,
        )
        if base is not None and not isinstance(base, dict):
            raise MergeError(
                f"cannot extend service '{name}': services.{ref} must be a mapping",
                locate_item(target_doc, ("services", ref)),
                f"services.{ref}",
            )
        if other is not None and sub_prefix:
            base = Rebaser(sub_prefix).service(base)
        if base is None:
            return svc
        scoped = [p[2:] for p in cleared if p[:2] == ("services", name) and len(p) > 2]
        base = clear_paths(base, scoped)
        merged = self.merger.merge_maps(base, svc, ("services", name))
        if "extends" in merged:
            del merged["extends"]
        services[name] = merged
        return merged
