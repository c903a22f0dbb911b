"""The `composer` command: a thin click shell over the library; errors become exit codes."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from composer.errors import ComposerError, Problem

F = TypeVar("F", bound=Callable[..., Any])
BUG_EXIT = 3


def _report(problems: Sequence[Problem], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"problems": [p.as_dict() for p in problems]}, indent=2), err=True)
        return
    for problem in problems:
        prefix = "warning: " if problem.severity != "error" else ""
        click.echo(prefix + problem.render(), err=True)


def run(fn: Callable[[], int], fmt: str = "text") -> None:
    """Run a command body; map composer errors to exit codes, real bugs to a report request."""
    try:
        code = fn()
    except ComposerError as exc:
        _report(exc.problems, fmt)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # a bug in composer, not in the input
        traceback.print_exc()
        click.echo(
            "composer: internal error; please report it with the command and input files.",
            err=True,
        )
        sys.exit(BUG_EXIT)
    sys.exit(code)


def input_options(fn: F) -> F:
    options = [
        click.option("-f", "--file", "files", multiple=True, type=click.Path(path_type=Path),
                     help="Compose file, base first (repeatable); like docker compose -f."),
        click.option("--env", "envs", multiple=True,
                     help="Environment from composer.yml (repeatable)."),
        click.option("--all", "all_envs", is_flag=True, help="Every environment of composer.yml."),
        click.option("--project-file", type=click.Path(path_type=Path),
                     help="composer.yml to use (default: found from the current folder up)."),
        click.option("-p", "--project-name", help="Compose project name written as `name:`."),
        click.option("--project-directory", type=click.Path(path_type=Path),
                     help="Folder relative paths are resolved against (default: first file's)."),
        click.option("--env-file", "env_files", multiple=True, type=click.Path(path_type=Path),
                     help="Variables for interpolation (repeatable; default: .env)."),
        click.option("--profile", "profiles", multiple=True, help="Profile (repeatable)."),
        click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
                     help="One-off injection, e.g. services.gateway.platform=linux/amd64."),
        click.option("--tag", help="Image tag for {git_sha} instead of deriving it from git."),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                     help="How problems are reported."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="composer-stacks", prog_name="composer")
def main() -> None:
    """Per-environment Docker Compose stacks from one base file and overlays."""


@main.command()
@input_options
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Where to write ('-' for stdout). Default: the environment's output, or stdout.")
@click.option("--force", is_flag=True, help="Overwrite an output composer did not generate.")
def merge(output: Path | None, force: bool, fmt: str, **opts: Any) -> None:
    """Merge the files (or each environment) and write the result."""
    from composer.commands import MergeOptions, merge_command

    run(lambda: merge_command(MergeOptions.from_cli(opts, output=output, force=force)), fmt)


@main.command()
@input_options
def validate(fmt: str, **opts: Any) -> None:
    """Merge and validate only; exit 1 when the result is not valid Compose."""
    from composer.commands import MergeOptions, validate_command

    run(lambda: validate_command(MergeOptions.from_cli(opts)), fmt)


@main.command()
@click.option("--project-file", type=click.Path(path_type=Path))
def envs(project_file: Path | None) -> None:
    """List the environments of composer.yml with their files."""
    from composer.commands import envs_command

    run(lambda: envs_command(project_file))
