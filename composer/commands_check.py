"""The body of `composer check`: run the drift check, print it, exit like diff does."""

from __future__ import annotations

import os
from pathlib import Path

import click

from composer.drift import CheckRequest, CheckResult, check_project
from composer.errors import ComposerError
from composer.masking import Masker
from composer.pipeline import FileCache
from composer.project import DEFAULT_SECRETS_PATTERNS, Project
from composer.report import render

# Stands in for composer.yml's secrets_patterns when composer.yml itself cannot be read.
_DEFAULTS = Project(
    root=Path("."),
    path=Path("composer.yml"),
    name="",
    base_files=[],
    environments={},
    output_template="",
    secrets_patterns=list(DEFAULT_SECRETS_PATTERNS),
)


def check_command(req: CheckRequest, fmt: str, *, color: bool) -> int:
    """0 when every output is in sync, 1 on drift, 2 when the check itself could not run."""
    try:
        result = check_project(req, FileCache())
    except ComposerError as exc:  # no usable composer.yml: still answer in the asked format
        masker = Masker(_DEFAULTS.is_secret)
        masker.learn_environ(os.environ if req.environ is None else req.environ)
        result = CheckResult(masker=masker, problems=list(exc.problems))
    rendered = render(result, fmt, color=color)
    if rendered.stdout:
        click.echo(rendered.stdout, nl=False, color=color)
    if rendered.stderr:
        click.echo(rendered.stderr, nl=False, err=True)
    return result.exit_code
