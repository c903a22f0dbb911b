"""Command bodies: each takes plain options, calls the library and returns an exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from composer.api import MergeResult, merge_files
from composer.errors import EXIT_OK, ComposerError, ProjectError
from composer.pipeline import FileCache
from composer.writer import check_target, write_all

if TYPE_CHECKING:
    from composer.cli import Reporter


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
    interpolate: bool = False
    reporter: Reporter | None = None

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


def _reporter(opts: MergeOptions) -> Reporter:
    if opts.reporter is None:
        from composer.cli import Reporter

        opts.reporter = Reporter()
    return opts.reporter


class _ReadingCache(FileCache):
    """A file cache that remembers every compose file read (base, overlays, extends, include),
    so that no output can replace one of them."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[Path] = set()

    def load(self, path: Path) -> Any:
        self.read.add(Path(os.path.abspath(path)))
        return super().load(path)


def _compose_files(opts: MergeOptions) -> list[Path]:
    if opts.files:
        return opts.files
    env_value = os.environ.get("COMPOSE_FILE")
    if env_value:
        sep = os.environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        return [Path(p) for p in env_value.split(sep) if p]
    return []


def _file_results(opts: MergeOptions, cache: FileCache | None = None) -> MergeResult:
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
        interpolate=opts.interpolate,
        cache=cache,
    )


def _file_inputs(opts: MergeOptions, cache: _ReadingCache) -> set[Path]:
    files = _compose_files(opts)
    folder = opts.project_directory or (files[0].parent if files else Path.cwd())
    return {*cache.read, *files, *opts.env_files, folder / ".env"}


def _project(opts: MergeOptions) -> Any:
    from composer.project import find_project_file, load_project

    path = opts.project_file or find_project_file(Path.cwd())
    return load_project(path)


@dataclass(frozen=True)
class _Rendered:
    """One environment's output (small: it may come from a worker process)."""

    output: Path
    text: str
    warnings: list[Any]
    read: frozenset[Path]  # the compose files it was made from


def _env_results(
    opts: MergeOptions, cache: _ReadingCache | None = None
) -> tuple[list[_Rendered], set[Path]]:
    """Each environment's rendering, and every file they were made from. Environments are
    rendered side by side when cores are free (after one parse of the base files)."""
    from composer.parallel import run_all
    from composer.stacks import StackRequest, render_stack

    project = _project(opts)
    names = list(project.environments) if opts.all_envs else opts.envs
    envs = [project.environment(name) for name in names]
    cache = cache or _ReadingCache()
    inputs = {project.path, *project.env_files, project.root / ".env"}
    if len(envs) > 1:
        for base in project.base_files:
            with contextlib.suppress(ComposerError):
                cache.load(base)

    def render(env: Any) -> _Rendered:
        req = StackRequest(
            project,
            env,
            sets=opts.sets,
            tag=opts.tag,
            profiles=opts.profiles,
            interpolate=opts.interpolate,
        )
        before = set(cache.read)
        result = render_stack(req, cache)
        return _Rendered(env.output, result.text, result.warnings,
                         frozenset(cache.read - before))

    results: list[_Rendered] = []
    for env, outcome in zip(envs, run_all(render, envs), strict=True):
        if outcome.error is not None:
            raise outcome.error
        assert outcome.value is not None
        inputs.update(env.env_files)
        results.append(outcome.value)
    read = set(cache.read).union(*(r.read for r in results))
    return results, inputs | read


def merge_command(opts: MergeOptions) -> int:
    """Render everything first, then write all files or none (never half a stack)."""
    report = _reporter(opts)
    if opts.files or (not opts.envs and not opts.all_envs):
        if not _compose_files(opts):
            if opts.project_file or Path("composer.yml").exists():
                raise ProjectError("say which environment: --env ENV or --all (or -f FILE)")
            raise ProjectError("no input: give -f FILE, --env ENV or --all, or set COMPOSE_FILE")
        cache = _ReadingCache()
        result = _file_results(opts, cache)
        report.report(result.warnings)
        if opts.output in (None, Path("-")):
            sys.stdout.write(result.text)
            return EXIT_OK
        assert opts.output is not None
        check_target(opts.output, _file_inputs(opts, cache), force=opts.force)
        write_all([(opts.output, result.text)])
        return EXIT_OK
    results, inputs = _env_results(opts)
    pending: list[tuple[Path, str]] = []
    for rendered in results:
        report.report(rendered.warnings)
        target = opts.output if opts.output is not None else rendered.output
        if target == Path("-"):
            sys.stdout.write(rendered.text)
            continue
        check_target(target, inputs, force=opts.force)
        pending.append((target, rendered.text))
    for (target, _), changed in zip(pending, write_all(pending), strict=True):
        report.note(f"{'wrote' if changed else 'unchanged'} {_shown(target)}")
    return EXIT_OK


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validate_command(opts: MergeOptions) -> int:
    report = _reporter(opts)
    if opts.files or (not opts.envs and not opts.all_envs):
        result = _file_results(opts)
        report.report(result.warnings)
    else:
        for rendered in _env_results(opts)[0]:
            report.report(rendered.warnings)
    report.note("valid")
    return EXIT_OK


def envs_command(project_file: Path | None) -> int:
    opts = MergeOptions(project_file=project_file)
    project = _project(opts)
    for name, env in project.environments.items():
        overlays = ", ".join(_shown(p) for p in env.overlays) or "-"
        click.echo(f"{name}\t{overlays}\t-> {_shown(env.output)}")
    return EXIT_OK
