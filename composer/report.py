"""How `composer check` shows its findings: for people (text), tools (json) and GitHub (github).

Diffs arrive masked from composer.drift; every other string that reaches the output (messages,
problems from rendering) goes through the masker's scrub here, so no format can print a secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from composer.drift import DIFFERS, HAND_EDITED, CheckResult, Drift
from composer.errors import Problem, relative_path

FORMATS = ("text", "json", "github")
JSON_VERSION = 1
SHOWN_MODEL_PATHS = 5
ANNOTATIONS_PER_FILE = 5


@dataclass(frozen=True)
class Rendered:
    stdout: str
    stderr: str


def render(result: CheckResult, fmt: str, *, color: bool = False) -> Rendered:
    if fmt == "json":
        return Rendered(json.dumps(as_json(result), indent=2) + "\n", "")
    if fmt == "github":
        return _github(result)
    return _text(result, color)


# --------------------------------------------------------------------------- shared words


def status(result: CheckResult) -> str:
    return {0: "in-sync", 1: "drift"}.get(result.exit_code, "error")


def model_note(drift: Drift) -> str:
    """Whether a difference matters to Compose, in words."""
    if drift.kind not in (DIFFERS, HAND_EDITED) or drift.model_changed is None:
        return ""
    if not drift.model_changed:
        return "formatting or comments only; the Compose model is the same"
    paths = [p for p in drift.model_paths if p]
    if not paths:
        return "changes the Compose model (the file is not a readable Compose model)"
    shown = ", ".join(paths[:SHOWN_MODEL_PATHS])
    more = len(paths) - SHOWN_MODEL_PATHS
    return f"changes the Compose model at {shown}" + (f" and {more} more" if more > 0 else "")


def summary(result: CheckResult) -> str:
    if result.problems:
        problems = _count(len(result.problems), "problem")
        return f"composer check: could not check everything ({problems})"
    if result.drift:
        files = len({d.path for d in result.drift})
        return (
            f"composer check: {_count(files, 'file')} out of date; apply the fixes above "
            "(or `composer merge --all`) and commit the result"
        )
    names = ", ".join(c.env for c in result.checked)
    return f"composer check: {_count(len(result.checked), 'environment')} in sync ({names})"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _problems(result: CheckResult) -> list[Problem]:
    return [*result.problems, *result.warnings]


# --------------------------------------------------------------------------- text


def _text(result: CheckResult, color: bool) -> Rendered:
    scrub = result.masker.scrub
    out: list[str] = []
    for drift in result.drift:
        head = f"{_shown(drift.path)}: {scrub(drift.message)}"
        note = model_note(drift)
        out.append(click.style(head, bold=True) if color else head)
        if note:
            out.append(f"  {note}")
        if drift.diff:
            out.extend(_diff_lines(drift.diff, color))
        out.append(f"  fix: {drift.fix}")
        out.append("")
    out.append(summary(result))
    err = []
    for problem in _problems(result):
        prefix = "warning: " if problem.severity != "error" else ""
        err.append(prefix + scrub(problem.render()))
    return Rendered(_joined(out), _joined(err))


def _diff_lines(diff: str, color: bool) -> Iterable[str]:
    for line in diff.rstrip("\n").split("\n"):
        if not color:
            yield line
        elif line.startswith(("---", "+++")):
            yield click.style(line, bold=True)
        elif line.startswith("@@"):
            yield click.style(line, fg="cyan")
        elif line.startswith("-"):
            yield click.style(line, fg="red")
        elif line.startswith("+"):
            yield click.style(line, fg="green")
        else:
            yield line


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _shown(path: Path, base: Path | None = None) -> str:
    return relative_path(path, base)


# --------------------------------------------------------------------------- json


def as_json(result: CheckResult) -> dict[str, Any]:
    """One stable document: every key is always present, in this order."""
    scrub = result.masker.scrub
    return {
        "version": JSON_VERSION,
        "status": status(result),
        "exit_code": result.exit_code,
        "project": _shown(result.project.path) if result.project else None,
        "environments": [
            {"env": c.env, "path": _shown(c.path), "in_sync": c.in_sync} for c in result.checked
        ],
        "drift": [
            {
                "kind": d.kind,
                "env": d.env,
                "path": _shown(d.path),
                "line": d.line,
                "message": scrub(d.message),
                "model_changed": d.model_changed,
                "model_paths": list(d.model_paths),
                "fix": d.fix,
                "diff": d.diff,
                "hunks": [{"line": h.line, "diff": h.text} for h in d.hunks],
            }
            for d in result.drift
        ],
        "problems": [_problem_dict(p, result) for p in result.problems],
        "warnings": [_problem_dict(p, result) for p in result.warnings],
    }


def _problem_dict(problem: Problem, result: CheckResult) -> dict[str, object]:
    data = problem.as_dict()
    data["message"] = result.masker.scrub(str(data["message"]))
    return data


# --------------------------------------------------------------------------- github


def _github(result: CheckResult) -> Rendered:
    base = _workspace()
    scrub = result.masker.scrub
    out: list[str] = []
    for drift in result.drift:
        path = _shown(drift.path, base)
        note = model_note(drift)
        title = f"{path}: {scrub(drift.message)}" + (f" ({note})" if note else "")
        fix = f"Fix: {drift.fix}"
        hunks = drift.hunks[:ANNOTATIONS_PER_FILE] or ()
        if not hunks:
            out.append(annotation("error", path, drift.line, f"{title}\n{fix}"))
        for index, hunk in enumerate(hunks):
            more = len(drift.hunks) - ANNOTATIONS_PER_FILE
            tail = f"\n(and {more} more changes in this file)" if more > 0 and index == 0 else ""
            message = f"{title}\n{fix}{tail}\n\n{hunk.text.rstrip()}"
            out.append(annotation("error", path, hunk.line, message))
        if drift.diff:
            out.append(f"::group::{_data(f'diff of {path}')}")
            out.extend(drift.diff.rstrip("\n").split("\n"))
            out.append("::endgroup::")
    for problem in _problems(result):
        level = "error" if problem.severity == "error" else "warning"
        text = scrub(problem.render(base))
        loc = problem.location
        if loc.path is not None:
            out.append(annotation(level, _shown(loc.path, base), loc.line or 1, text))
        else:
            out.append(f"::{level}::{_data(text)}")
    out.append(summary(result))
    return Rendered(_joined(out), "")


def annotation(level: str, path: str, line: int, message: str) -> str:
    """A workflow command GitHub turns into an annotation on that line of the file."""
    return f"::{level} file={_property(path)},line={max(line, 1)}::{_data(message)}"


def _workspace() -> Path | None:
    """Annotations name files relative to the repository checkout GitHub knows."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and Path(workspace).is_dir():
        return Path(workspace)
    return None


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
