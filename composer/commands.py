"""Command bodies: each takes plain options, calls the library and returns an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from composer.api import MergeResult, merge_files
from composer.errors import EXIT_OK, Problem, ProjectError
from composer.pipeline import FileCache
from composer.writer import check_target, write_atomic


@dataclass
class MergeOptions:
    files: list[Path] = field(default_factory=list)
    envs: list[str] = field(default_factory=list)
    all_envs: bool = False
    project_file: Path | None = None
    project_name: str | None = None
    project_directory: Path | None = None
    env_files: list[Path] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    tag: str | None = None
    output: Path | None = None
    force: bool = False

    @classmethod
    def from_cli(cls, opts: Mapping[str, Any], **extra: Any) -> MergeOptions:
        return cls(
            files=list(opts.get("files") or ()),
            envs=list(opts.get("envs") or ()),
            all_envs=bool(opts.get("all_envs")),
            project_file=opts.get("project_file"),
            project_name=opts.get("project_name"),
            project_directory=opts.get("project_directory"),
            env_files=list(opts.get("env_files") or ()),
            profiles=list(opts.get("profiles") or ()),
            sets=list(opts.get("sets") or ()),
            tag=opts.get("tag"),
            **extra,
        )


def _warn(problems: Sequence[Problem]) -> None:
    for problem in problems:
        click.echo("warning: " + problem.render(), err=True)


def _compose_files(opts: MergeOptions) -> list[Path]:
    if opts.files:
        return opts.files
    env_value = os.environ.get("COMPOSE_FILE")
    if env_value:
        sep = os.environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        return [Path(p) for p in env_value.split(sep) if p]
    return []


def _file_results(opts: MergeOptions) -> MergeResult:
    from composer.inject import set_overlay
    from composer.yamlio import mark_origin

    overlays = []
    if opts.sets:
        overlay = set_overlay(opts.sets)
        mark_origin(overlay, Path("--set"))
        overlays.append((overlay, Path("--set")))
    output = None if opts.output in (None, Path("-")) else opts.output
    return merge_files(
        _compose_files(opts),
        output=output,
        project_name=opts.project_name,
        env_files=opts.env_files or None,
        profiles=opts.profiles,
        environ=dict(os.environ),
        project_directory=opts.project_directory,
        overlays=overlays,
    )


def _project(opts: MergeOptions) -> Any:
    from composer.project import find_project_file, load_project

    path = opts.project_file or find_project_file(Path.cwd())
    return load_project(path)


def _env_results(opts: MergeOptions) -> list[tuple[Path, MergeResult]]:
    from composer.stacks import StackRequest, render_stack

    project = _project(opts)
    names = list(project.environments) if opts.all_envs else opts.envs
    cache = FileCache()
    results = []
    for name in names:
        env = project.environment(name)
        req = StackRequest(project, env, sets=opts.sets, tag=opts.tag, profiles=opts.profiles)
        results.append((env.output, render_stack(req, cache)))
    return results


def merge_command(opts: MergeOptions) -> int:
    if opts.files or (not opts.envs and not opts.all_envs):
        if not _compose_files(opts):
            if opts.project_file or Path("composer.yml").exists():
                raise ProjectError("say which environment: --env ENV or --all (or -f FILE)")
            raise ProjectError("no input: give -f FILE, --env ENV or --all, or set COMPOSE_FILE")
        result = _file_results(opts)
        _warn(result.warnings)
        if opts.output in (None, Path("-")):
            sys.stdout.write(result.text)
            return EXIT_OK
        assert opts.output is not None
        check_target(opts.output, result.merged.sources, force=opts.force)
        write_atomic(opts.output, result.text)
        return EXIT_OK
    results = _env_results(opts)
    for output, result in results:
        _warn(result.warnings)
        target = opts.output if opts.output is not None else output
        if target == Path("-"):
            sys.stdout.write(result.text)
            continue
        check_target(target, result.merged.sources, force=opts.force)
    for output, result in results:
        target = opts.output if opts.output is not None else output
        if target != Path("-"):
            changed = write_atomic(target, result.text)
            click.echo(f"{'wrote' if changed else 'unchanged'} {_shown(target)}", err=True)
    return EXIT_OK


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validate_command(opts: MergeOptions) -> int:
    if opts.files or (not opts.envs and not opts.all_envs):
        result = _file_results(opts)
        _warn(result.warnings)
    else:
        for _, result in _env_results(opts):
            _warn(result.warnings)
    click.echo("valid", err=True)
    return EXIT_OK


def envs_command(project_file: Path | None) -> int:
    opts = MergeOptions(project_file=project_file)
    project = _project(opts)
    for name, env in project.environments.items():
        overlays = ", ".join(_shown(p) for p in env.overlays) or "-"
        click.echo(f"{name}\t{overlays}\t-> {_shown(env.output)}")
    return EXIT_OK
