"""The `composer` command: a thin click shell over the library; errors become exit codes."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from composer.errors import ComposerError, Location, Problem

F = TypeVar("F", bound=Callable[..., Any])
BUG_EXIT = 3
EXIT_BROKEN_PIPE = 141  # what a shell reports for a writer killed by SIGPIPE


class Reporter:
    """Every problem and note of one command, shown as text or as one JSON document on stderr.

    Text goes out as it happens (`PATH:LINE:COL: where: what`, warnings prefixed); JSON is
    collected and written once at the end with the exit code, so tools read a single document.
    """

    def __init__(self, fmt: str = "text") -> None:
        self.fmt = fmt
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    def report(self, problems: Sequence[Problem]) -> None:
        for problem in problems:
            self._add(problem)

    def note(self, text: str) -> None:
        if self.fmt == "json":
            self.notes.append(text)
        else:
            click.echo(text, err=True)

    def _add(self, problem: Problem) -> None:
        if self.fmt == "json":
            self.problems.append(problem)
            return
        prefix = "warning: " if problem.severity != "error" else ""
        click.echo(prefix + problem.render(), err=True)

    def finish(self, code: int) -> None:
        if self.fmt != "json":
            return
        data = {
            "exit_code": code,
            "problems": [p.as_dict() for p in self.problems],
            "notes": self.notes,
        }
        import json

        click.echo(json.dumps(data, indent=2), err=True)


def run(fn: Callable[[], int], fmt: str = "text", reporter: Reporter | None = None) -> None:
    """Run a command body; map composer errors to exit codes, real bugs to a report request."""
    # A short-lived command: the cycle collector would only re-walk the growing YAML trees.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _run(fn, fmt, reporter)
    finally:
        if collecting:
            gc.enable()


def _run(fn: Callable[[], int], fmt: str, reporter: Reporter | None) -> None:
    reporter = reporter or Reporter(fmt)
    try:
        code = fn()
        sys.stdout.flush()
    except ComposerError as exc:
        reporter.report(exc.problems)
        reporter.finish(exc.exit_code)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `composer merge ... | head`: the reader left, nothing is wrong
        _quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception:  # a bug in composer, not in the input
        import traceback

        traceback.print_exc()
        click.echo(
            "composer: internal error; please report it with the command and input files.",
            err=True,
        )
        sys.exit(BUG_EXIT)
    reporter.finish(code)
    sys.exit(code)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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


def _wants_json(args: Sequence[str]) -> bool:
    """`--format json` anywhere on the line (before `--`): usage errors then come as JSON too."""
    for i, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--format=json" or (arg == "--format" and args[i + 1 : i + 2] == ["json"]):
            return True
    return False


class _Group(click.Group):
    """click's group, but a usage error asked for in JSON is reported as JSON (exit 2)."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not _wants_json(argv):
            return super().main(argv, *rest, **extra)
        extra["standalone_mode"] = False
        try:
            return super().main(argv, *rest, **extra)
        except click.UsageError as exc:
            hint = f"see '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
            reporter = Reporter("json")
            reporter.report([Problem(exc.format_message(), Location())])
            if hint:
                reporter.note(hint)
            reporter.finish(exc.exit_code)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="composer-stacks", prog_name="composer")
def main() -> None:
    """Per-environment Docker Compose stacks from one base file and overlays."""


@main.command()
@input_options
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Where to write ('-' for stdout). Default: the environment's output, or stdout.")
@click.option("--force", is_flag=True, help="Overwrite an output composer did not generate.")
@click.option("--interpolate", is_flag=True,
              help="Write ${VAR} references as their values (default: keep them). Values of "
                   "secret-looking variables then end up in the file, with a warning.")
def merge(output: Path | None, force: bool, interpolate: bool, fmt: str, **opts: Any) -> None:
    """Merge the files (or each environment) and write the result."""
    from composer.commands import MergeOptions, merge_command

    reporter = Reporter(fmt)
    options = MergeOptions.from_cli(
        opts, output=output, force=force, interpolate=interpolate, reporter=reporter
    )
    run(lambda: merge_command(options), reporter=reporter)


@main.command()
@input_options
def validate(fmt: str, **opts: Any) -> None:
    """Merge and validate only; exit 1 when the result is not valid Compose."""
    from composer.commands import MergeOptions, validate_command

    reporter = Reporter(fmt)
    run(lambda: validate_command(MergeOptions.from_cli(opts, reporter=reporter)), reporter=reporter)


@main.command()
@click.option("--project-file", type=click.Path(path_type=Path))
def envs(project_file: Path | None) -> None:
    """List the environments of composer.yml with their files."""
    from composer.commands import envs_command

    run(lambda: envs_command(project_file))


from composer.cli.check import check  # noqa: E402

main.add_command(check)


def entry() -> None:
    """The console script: run the command, flush its output, and leave at once.

    A merge builds large trees; freeing them one by one at interpreter shutdown costs more
    than the rest of a small command. Nothing needs tearing down (files are written and closed
    by then), so the process exits without it, with the command's exit code.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader left: as for a broken pipe during the command
            code = code or EXIT_BROKEN_PIPE
        except (OSError, ValueError):
            pass
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
    return 1
