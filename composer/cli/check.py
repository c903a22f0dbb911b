"""`composer check`: the CI drift gate over the committed output files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from composer.cli import run

COLOR_CHOICES = ("auto", "always", "never")


@click.command()
@click.option("--env", "envs", multiple=True,
              help="Environment to check (repeatable; default: all, and orphaned files).")
@click.option("--project-file", type=click.Path(path_type=Path),
              help="composer.yml to use (default: found from the current folder up).")
@click.option("--tag", help="Image tag for {git_sha} instead of deriving it from git.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              help="text for people, json for tools, github for GitHub Actions annotations.")
@click.option("--color", type=click.Choice(COLOR_CHOICES), default="auto",
              help="Colour the text diff (auto: when stdout is a terminal and NO_COLOR is unset).")
def check(
    envs: tuple[str, ...], project_file: Path | None, tag: str | None, fmt: str, color: str
) -> None:
    """Compare committed outputs with their inputs: exit 0 in sync, 1 drift, 2 trouble."""
    from composer.commands_check import check_command
    from composer.drift import CheckRequest

    req = CheckRequest(project_file=project_file, envs=envs, tag=tag)
    run(lambda: check_command(req, fmt, color=use_color(color, fmt)))


def use_color(choice: str, fmt: str) -> bool:
    if fmt != "text" or choice == "never":
        return False
    if choice == "always":
        return True
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()
