"""One exception family: every refusal carries where it happened and what to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Location:
    """A place in a source file; line and column are 1-based, 0 when unknown."""

    path: Path | None = None
    line: int = 0
    column: int = 0

    def render(self, base: Path | None = None) -> str:
        if self.path is None:
            return ""
        shown = relative_path(self.path, base)
        if self.line:
            return f"{shown}:{self.line}:{self.column or 1}"
        return shown


def relative_path(path: Path, base: Path | None = None) -> str:
    """Show paths relative to the working directory when they are below it."""
    base = base or Path.cwd()
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Problem:
    """One finding: where (file position and model path) and what."""

    message: str
    location: Location = field(default_factory=Location)
    where: str = ""  # model path, e.g. services.gateway.ports[0]
    severity: str = "error"

    def render(self, base: Path | None = None) -> str:
        parts = [p for p in (self.location.render(base), self.where) if p]
        return ": ".join([*parts, self.message])

    def as_dict(self, base: Path | None = None) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity,
            "file": relative_path(loc.path, base) if loc.path else None,
            "line": loc.line or None,
            "column": loc.column or None,
            "where": self.where or None,
            "message": self.message,
        }


class ComposerError(Exception):
    """Base of every error composer reports to users (never a traceback)."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        where: str = "",
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()
        self.where = where
        self._problems = problems

    @property
    def problems(self) -> list[Problem]:
        if self._problems:
            return self._problems
        return [Problem(self.message, self.location, self.where)]

    def __str__(self) -> str:
        return "\n".join(p.render() for p in self.problems)

    def redact(self, scrub: Callable[[str], str]) -> None:
        """Rewrite every message in place (e.g. to hide secret values it quotes)."""
        self.message = scrub(self.message)
        self.where = scrub(self.where)
        if self._problems:
            self._problems = [
                Problem(scrub(p.message), p.location, scrub(p.where), p.severity)
                for p in self._problems
            ]
        self.args = (self.message,)


class InputError(ComposerError):
    """The input cannot be read or understood (exit 2)."""


class YamlError(InputError):
    """A file is not acceptable YAML for a Compose model."""


class ProjectError(InputError):
    """composer.yml or the command line asks for something impossible."""


class MergeError(InputError):
    """The files cannot be merged the way Docker Compose would (e.g. an extends cycle)."""


class InterpolationError(InputError):
    """A ${...} expression is malformed or a required variable is unset."""


class GitError(InputError):
    """The image tag cannot be derived from git."""


class OutputError(InputError):
    """The output cannot be written safely."""


class ValidationError(ComposerError):
    """The merged result is not a valid Compose model (exit 1)."""

    exit_code = EXIT_INVALID
