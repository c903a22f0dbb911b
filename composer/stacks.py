"""Per-environment stacks of a composer.yml project: overlays, injections, image tags, outputs."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from composer.api import MergeResult, merge_files
from composer.inject import injection_overlay, set_overlay
from composer.nodes import plain
from composer.pipeline import FileCache, Inputs, merge_inputs
from composer.project import Environment, Project
from composer.yamlio import mark_origin


@dataclass
class StackRequest:
    """One environment to render, with the command line's one-off settings."""

    project: Project
    env: Environment
    sets: Sequence[str] = ()
    tag: str | None = None
    environ: Mapping[str, str] | None = None
    profiles: Sequence[str] = ()
    interpolate: bool = False  # write ${VAR} as its value (see api.merge_files)


def _service_tags(req: StackRequest, services: Mapping[str, Any]) -> str | dict[str, str] | None:
    """`{git_sha}` per service: the content id of its build context and of the stack's inputs."""
    if req.tag is not None:
        return req.tag
    if not _needs_tag(req, services):
        return None
    from composer.gitinfo import image_tag

    project = req.project
    inputs = [*project.base_files, *req.env.overlays, project.path, *project.env_files]
    inputs += req.env.env_files
    tags: dict[str, str] = {}
    for name, svc in services.items():
        paths = list(inputs)
        build = svc.get("build") if isinstance(svc, Mapping) else None
        context = (
            build
            if isinstance(build, str)
            else (build.get("context", ".") if isinstance(build, Mapping) else None)
        )
        if isinstance(context, str) and "://" not in context and "$" not in context:
            paths.append((project.root / context).resolve())
        tags[name] = image_tag(project.root, paths, exclude=project.outputs)
    return tags


def _needs_tag(req: StackRequest, services: Mapping[str, Any]) -> bool:
    for name in services:
        image = req.env.injections.for_service(name).get("image")
        if image:
            return True
    return False


def render_stack(
    req: StackRequest, cache: FileCache | None = None, expected: str | None = None
) -> MergeResult:
    """Merge, inject, validate and render one environment of a project (`expected`: the
    committed output, which an identical rendering need not read back)."""
    project, env = req.project, req.env
    cache = cache or FileCache()
    files = [*project.base_files, *env.overlays]
    env_files = [*project.env_files, *env.env_files] or None
    environ = dict(os.environ if req.environ is None else req.environ)
    profiles = tuple(req.profiles) or tuple(env.profiles or ())
    overlays: list[tuple[CommentedMap, Path]] = []
    if env.injections:
        merged = merge_inputs(
            Inputs(files=files, env_files=env_files, environ=environ, project_name=project.name),
            cache,
        )
        services = plain(merged.document.get("services") or {})
        tag = _service_tags(req, services)
        overlay = injection_overlay(
            env.injections, services, project=project.name, env=env.name, tag=tag
        )
        mark_origin(overlay, project.path)
        overlays.append((overlay, project.path))
    if req.sets:
        overlay = set_overlay(list(req.sets))
        mark_origin(overlay, Path("--set"))
        overlays.append((overlay, Path("--set")))
    command = f"composer merge --env {env.name}" + (" --interpolate" if req.interpolate else "")
    return merge_files(
        files,
        output=env.output,
        project_name=project.name,
        env_files=env_files,
        profiles=profiles,
        environ=environ,
        overlays=overlays,
        command=command,
        cache=cache,
        interpolate=req.interpolate,
        secrets_patterns=project.secrets_patterns,
        expected=expected,
    )
