"""`include`: each included project is loaded on its own and its resources inlined.

Compose loads an included file as a separate project (its own folder for relative paths, its own
env file for variables the including project does not set) and imports its resources before the
including document is merged. Inlining does the same work once, so the generated file stands alone:
paths are rebased to the including project, and a `${VAR}` whose value would differ under the
including project's variables is written resolved.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from composer.errors import ComposerError, Location, MergeError
from composer.interpolate import interpolate_string, referenced_variables
from composer.nodes import clone_map, plain, scalar, set_key_origin
from composer.paths import Rebaser, list_items, map_values, relative_prefix
from composer.source import locate_item

RESOURCES = ("services", "volumes", "networks", "secrets", "configs", "models")

# (files, project_directory, env_files or None, environment of the includer, chain) -> document
LoadProject = Callable[
    [list[Path], Path, "list[Path] | None", Mapping[str, str], tuple[Path, ...]],
    tuple[CommentedMap, dict[str, str]],
]


class Includer:
    def __init__(
        self, load_project: LoadProject, project_dir: Path, env: Mapping[str, str]
    ) -> None:
        self.load_project = load_project
        self.project_dir = project_dir
        self.env = env

    def apply(self, doc: CommentedMap, chain: tuple[Path, ...]) -> CommentedMap:
        entries = doc.get("include")
        if entries is None:
            return doc
        if not isinstance(entries, list):
            raise MergeError("include must be a list", locate_item(doc, ("include",)), "include")
        out = clone_map(doc)
        del out["include"]
        for index, entry in enumerate(entries):
            where = f"include[{index}]"
            loc = locate_item(doc, ("include", str(index)))
            files, project_dir, env_files = self._entry(entry, loc, where)
            for path in files:
                if path in chain:
                    names = " -> ".join(p.name for p in (*chain, path))
                    raise MergeError(f"include cycle: {names}", loc, where)
            try:
                model, sub_env = self.load_project(files, project_dir, env_files, self.env, chain)
            except ComposerError as exc:
                unplaced = exc.location.path is None or (
                    exc.location.path in files and not exc.location.line
                )
                if unplaced:
                    shown = exc.location.path or files[0]
                    raise MergeError(f"cannot include {shown}: {exc.message}", loc, where) from exc
                raise
            prefix = relative_prefix(os.path.relpath(project_dir, self.project_dir), ".")
            model = Rebaser(prefix, default_context=True).document(model) if prefix else model
            model = self._resolve_differences(model, sub_env)
            out = self._import(out, model, loc, where)
        return out

    def _entry(
        self, entry: Any, loc: Location, where: str
    ) -> tuple[list[Path], Path, list[Path] | None]:
        if isinstance(entry, str):
            raw_paths: list[Any] = [entry]
            project_directory = None
            raw_env: Any = None
        elif isinstance(entry, dict):
            value = entry.get("path")
            raw_paths = list(value) if isinstance(value, list) else [value]
            project_directory = entry.get("project_directory")
            raw_env = entry.get("env_file")
        else:
            raise MergeError("include entries are paths or mappings", loc, where)
        files = []
        for raw in raw_paths:
            text = scalar(raw)
            if not isinstance(text, str) or not text:
                raise MergeError("include needs a path", loc, where)
            text = interpolate_string(text, self.env.get)
            if "://" in text or text.startswith(("oci:", "git@")):
                raise MergeError(f"remote include {text} is not supported", loc, where)
            files.append((self.project_dir / os.path.expanduser(text)).resolve())
        if project_directory is not None:
            folder = (
                self.project_dir / str(interpolate_string(str(project_directory), self.env.get))
            ).resolve()
        else:
            folder = files[0].parent
        env_files: list[Path] | None = None
        if raw_env is not None:
            values = raw_env if isinstance(raw_env, list) else [raw_env]
            env_files = [
                (self.project_dir / interpolate_string(str(scalar(v)), self.env.get)).resolve()
                for v in values
            ]
        return files, folder, env_files

    def _resolve_differences(self, model: Any, sub_env: Mapping[str, str]) -> Any:
        """Write `${VAR}` resolved where the includer's variables would give another value."""
        differing = {k for k, v in sub_env.items() if self.env.get(k) != v}
        if not differing:
            return model

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                return map_values(node, walk)
            if isinstance(node, list):
                return list_items(node, walk)
            if isinstance(node, str) and "$" in node and referenced_variables(node) & differing:
                return interpolate_string(node, sub_env.get).replace("$", "$$")
            return node

        return walk(model)

    def _import(self, doc: CommentedMap, model: Any, loc: Location, where: str) -> CommentedMap:
        for section in RESOURCES:
            block = model.get(section) if isinstance(model, dict) else None
            if not isinstance(block, dict) or not block:
                continue
            target = doc.get(section)
            if target is None:
                target = CommentedMap()
            elif not isinstance(target, dict):
                raise MergeError(f"{section} must be a mapping", loc, where)
            new_target = (
                clone_map(target) if isinstance(target, CommentedMap) else CommentedMap(target)
            )
            for name, value in block.items():
                if name in new_target:
                    if plain(new_target[name]) == plain(value):
                        continue
                    raise MergeError(
                        f"{section}.{name} conflicts with imported resource", loc, where
                    )
                new_target[name] = value
                set_key_origin(new_target, name, block)
            doc[section] = new_target
        return doc
