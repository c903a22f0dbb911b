"""Drift between committed output files and what their inputs render to today.

`check_project` renders every environment in memory (one FileCache for all of them, so each
base file is parsed once) and compares the result with the file on disk. Each finding is a
`Drift` with its own kind; for changed content it also says whether the Compose model changes
or only formatting and comments do, by comparing the interpolated plain models of both texts
(the same walk validation uses), never by calling Docker Compose.

Everything a Drift carries for display (diff, hunks) is already masked: secret values never
leave this module in clear.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from composer.errors import (
    ComposerError,
    InterpolationError,
    Location,
    Problem,
    ProjectError,
    relative_path,
)
from composer.findings import format_where
from composer.interpolate import interpolate_tree
from composer.masking import Masker
from composer.nodes import plain
from composer.parallel import run_all
from composer.pipeline import FileCache
from composer.project import Environment, Project, find_project_file, load_project
from composer.render import HEADER_PREFIX, HEADER_SUFFIX, is_generated
from composer.stacks import StackRequest, render_stack
from composer.yamlio import load_text

DIFFERS = "differs"  # the content is not what the inputs render to
MISSING = "missing"  # the environment's output file does not exist
HAND_EDITED = "hand-edited"  # the generated header is gone or altered
ORPHANED = "orphaned"  # a generated file for an environment that no longer exists
KINDS = (DIFFERS, MISSING, HAND_EDITED, ORPHANED)

CONTEXT_LINES = 3
_HEAD_BYTES = 4096
_REGENERATE = re.compile(r" Regenerate: composer merge --env (?P<env>\S+)$")


@dataclass(frozen=True)
class Hunk:
    """One block of a unified diff and the committed file's line it starts changing at."""

    line: int
    text: str


@dataclass(frozen=True)
class Drift:
    """One way a committed output is not what composer would write now."""

    kind: str
    env: str | None
    path: Path
    line: int  # 1-based line of the committed file the finding points at
    message: str
    fix: str
    diff: str | None = None  # masked unified diff, committed -> rendered
    hunks: tuple[Hunk, ...] = ()
    model_changed: bool | None = None  # None when there is nothing to compare
    model_paths: tuple[str, ...] = ()  # where the models differ ("" is the whole file)


@dataclass(frozen=True)
class Checked:
    env: str
    path: Path
    in_sync: bool


@dataclass
class CheckResult:
    """All findings of one run; `exit_code` follows diff: 0 same, 1 different, 2 trouble."""

    masker: Masker
    project: Project | None = None
    checked: list[Checked] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 2
        return 1 if self.drift else 0


@dataclass
class CheckRequest:
    project_file: Path | None = None  # default: found from the current folder up
    envs: Sequence[str] = ()  # default: every environment, and orphans are looked for
    tag: str | None = None
    environ: Mapping[str, str] | None = None


@dataclass(frozen=True)
class _Rendered:
    """What checking needs of one rendering (small: it may come from a worker process)."""

    text: str
    variables: dict[str, str]
    warnings: list[Problem]


def check_project(
    req: CheckRequest,
    cache: FileCache | None = None,
    masker: Masker | None = None,
    jobs: int | None = None,
) -> CheckResult:
    """Render the requested environments and compare each with its committed output.

    Raises ProjectError when composer.yml cannot be found or read, or an environment named
    in the request is unknown; a failure to render one environment becomes a problem of the
    result, and the other environments are still checked.
    """
    path = req.project_file or find_project_file(Path.cwd())
    project = load_project(path)
    masker = masker or Masker(project.is_secret)
    result = CheckResult(masker=masker, project=project)
    names = list(dict.fromkeys(req.envs)) or list(project.environments)
    envs = [project.environment(name) for name in names]
    environ = dict(os.environ if req.environ is None else req.environ)
    masker.learn_environ(environ)
    cache = cache or FileCache()
    extra = _extra_args(req)
    if len(envs) > 1:  # parsed once here, before environments are rendered side by side
        for base in project.base_files:
            with contextlib.suppress(ComposerError):
                cache.load(base)

    def render(env: Environment) -> _Rendered:
        out = render_stack(StackRequest(project, env, tag=req.tag, environ=environ), cache,
                           expected=_committed_text(env.output))
        return _Rendered(out.text, dict(out.merged.env), out.warnings)

    for env, outcome in zip(envs, run_all(render, envs, jobs), strict=True):
        rendered = outcome.value
        if outcome.error is not None or rendered is None:
            result.problems.extend(outcome.error.problems if outcome.error else [])
            continue
        masker.learn_environ(rendered.variables)
        result.warnings.extend(rendered.warnings)
        try:
            drift = compare_output(
                env.name, env.output, rendered.text, rendered.variables, masker, extra
            )
        except ComposerError as exc:
            result.problems.extend(exc.problems)
            continue
        result.checked.append(Checked(env.name, env.output, drift is None))
        if drift is not None:
            result.drift.append(drift)
    if not req.envs:
        result.drift.extend(find_orphans(project, extra))
    result.problems = [_masked_problem(p, masker) for p in result.problems]
    # Every environment reads the base file: its warnings would repeat once per environment.
    result.warnings = [_masked_problem(p, masker) for p in dict.fromkeys(result.warnings)]
    return result


def _committed_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # compare_output reports what is wrong with it


def _extra_args(req: CheckRequest) -> str:
    """What the printed fix must repeat so that `composer merge` renders the same thing."""
    extra = ""
    if req.project_file:
        extra += f" --project-file {shlex.quote(str(req.project_file))}"
    if req.tag is not None:
        extra += f" --tag {shlex.quote(req.tag)}"
    return extra


def _masked_problem(problem: Problem, masker: Masker) -> Problem:
    message = masker.scrub(problem.message)
    if message == problem.message:
        return problem
    return Problem(message, problem.location, problem.where, problem.severity)


# --------------------------------------------------------------------------- one output


def compare_output(
    env: str,
    path: Path,
    rendered: str,
    variables: Mapping[str, str],
    masker: Masker,
    extra_args: str = "",
) -> Drift | None:
    """The drift of one output file from its rendered text, or None when they are equal."""
    fix = f"composer merge --env {env}{extra_args}"
    if path.is_dir():
        raise ProjectError("output is a directory, not a file", Location(path))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Drift(
            MISSING, env, path, 1, f"missing; environment {env} renders to it", fix,
            model_changed=True, model_paths=("",),
        )
    except OSError as exc:
        raise ProjectError(f"cannot read output: {exc.strerror}", Location(path)) from None
    # A checkout with CRLF conversion holds the same committed blob.
    committed = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if committed == rendered:
        return None
    old_model = _model(committed, path, variables, masker)
    new_model = _model(rendered, path, variables, masker)
    if old_model is None or new_model is None:
        paths: tuple[str, ...] = ("",)
    elif len(old_model) == len(new_model) == 1:
        paths = tuple(_differences(old_model[0], new_model[0], ()))
    else:
        paths = tuple(_differences(old_model, new_model, ()))
    diff, hunks = unified_diff(committed, rendered, relative_path(path), masker)
    first = committed.split("\n", 1)[0]
    expected = rendered.split("\n", 1)[0]
    if not header_intact(first, expected):
        gone = not is_generated(committed)
        what = "the generated header is gone" if gone else "the generated header was altered"
        return Drift(
            HAND_EDITED, env, path, 1, f"edited by hand: {what}",
            fix + (" --force" if gone else ""), diff, hunks, bool(paths), paths,
        )
    line = hunks[0].line if hunks else 1
    message = f"differs from what environment {env} renders to"
    return Drift(DIFFERS, env, path, line, message, fix, diff, hunks, bool(paths), paths)


def header_intact(first: str, expected: str) -> bool:
    """Whether a first line is a header composer could have written for this environment.

    The list of source files may differ (composer.yml changed the overlays: ordinary drift);
    anything else that differs from the expected header was changed by hand.
    """
    if not is_generated(first) or first.count(HEADER_SUFFIX) != 1:
        return False
    tail = first.split(HEADER_SUFFIX, 1)[1]
    expected_tail = expected.split(HEADER_SUFFIX, 1)[1] if HEADER_SUFFIX in expected else ""
    return tail == expected_tail


def _model(
    text: str, path: Path, variables: Mapping[str, str], masker: Masker
) -> list[object] | None:
    """The plain, interpolated model of a file's text; None when it is not a readable model."""
    try:
        loaded = load_text(text, path)
    except ComposerError:
        return None
    docs: list[object] = []
    for doc in loaded.documents:
        try:
            model, _ = interpolate_tree(doc, variables)
        except InterpolationError:
            model = plain(doc)
        masker.learn_model(model)
        docs.append(model)
    return docs


def _differences(old: object, new: object, at: tuple[str | int, ...]) -> Iterator[str]:
    """Model paths where two plain values differ; key order of mappings does not count."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            here = (*at, str(key))
            if key not in old or key not in new:
                yield format_where(here)
            else:
                yield from _differences(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _differences(a, b, (*at, index))
    elif type(old) is not type(new) or old != new:
        yield format_where(at)


# --------------------------------------------------------------------------- diff


def unified_diff(old: str, new: str, label: str, masker: Masker) -> tuple[str, tuple[Hunk, ...]]:
    """A unified diff of two texts whose lines are shown masked.

    Lines are matched on the real texts, so a changed secret still shows as a changed line
    (with both sides masked) instead of disappearing from the diff.
    """
    old_lines, new_lines = _lines(old), _lines(new)
    old_shown = _masked_lines(old, old_lines, masker)
    new_shown = _masked_lines(new, new_lines, masker)
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    hunks: list[Hunk] = []
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        first, last = group[0], group[-1]
        out = [
            f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        ]
        changed_at: int | None = None
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_shown(" ", old_shown[i1:i2]))
                continue
            if changed_at is None:
                changed_at = min(i1 + 1, max(len(old_lines), 1))
            if tag in ("replace", "delete"):
                out.extend(_shown("-", old_shown[i1:i2]))
            if tag in ("replace", "insert"):
                out.extend(_shown("+", new_shown[j1:j2]))
        hunks.append(Hunk(changed_at or first[1] + 1, "".join(out)))
    head = f"--- {label} (committed)\n+++ {label} (rendered)\n"
    return head + "".join(h.text for h in hunks), tuple(hunks)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _masked_lines(text: str, lines: list[str], masker: Masker) -> list[str]:
    shown = _lines(masker.text(text))
    if len(shown) != len(lines):  # cannot happen with the masker's contract; stay safe
        shown = _lines(masker.lines(text))
    return shown


def _shown(prefix: str, lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line.endswith("\n"):
            yield prefix + line
        else:
            yield prefix + line + "\n\\ No newline at end of file\n"


def _range(start: int, stop: int) -> str:
    """difflib's unified range: 1-based start, length omitted when it is one."""
    length = stop - start
    first = start + 1
    if length == 1:
        return str(first)
    if not length:
        first -= 1
    return f"{first},{length}"


# --------------------------------------------------------------------------- orphans


def find_orphans(project: Project, extra_args: str = "") -> list[Drift]:
    """Generated files in the output folders that belong to no environment's output."""
    outputs = {env.output.resolve(): env for env in project.environments.values()}
    template = _template_regex(project)
    found: list[Drift] = []
    for path in sorted(_candidates(project)):
        if path.resolve() in outputs or not path.is_file():
            continue
        first = _first_line(path)
        if first is None or not is_generated(first):
            continue
        env = _generated_for(first, path, project, template)
        if env is None:
            continue
        known = project.environments.get(env)
        if known is None:
            why = f"generated for environment {env}, which {project.path.name} no longer defines"
        else:
            shown = relative_path(known.output)
            why = f"generated for environment {env}, whose output is now {shown}"
        fix = f"git rm {relative_path(path)}"
        found.append(Drift(ORPHANED, env, path, 1, f"orphaned: {why}", fix))
    return found


def _candidates(project: Project) -> set[Path]:
    folders = {env.output.parent for env in project.environments.values()}
    found: set[Path] = set()
    for folder in folders:
        if folder.is_dir():
            found.update(p for p in folder.iterdir() if p.is_file())
    found.update(p for p in project.root.glob(_template_glob(project)) if p.is_file())
    return found


def _template_parts(project: Project) -> Iterator[tuple[str, str | None]]:
    for literal, name, _, _ in string.Formatter().parse(project.output_template):
        yield literal, name


def _template_glob(project: Project) -> str:
    import glob

    out = ""
    for literal, name in _template_parts(project):
        out += glob.escape(literal)
        if name == "project":
            out += glob.escape(project.name)
        elif name is not None:
            out += "*"
    return out


def _template_regex(project: Project) -> re.Pattern[str]:
    out = ""
    env_seen = False
    for literal, name in _template_parts(project):
        out += re.escape(literal)
        if name == "project":
            out += re.escape(project.name)
        elif name == "env":
            out += "(?P=env)" if env_seen else "(?P<env>[^/]+)"
            env_seen = True
    return re.compile(out)


def _generated_for(
    first: str, path: Path, project: Project, template: re.Pattern[str]
) -> str | None:
    """The environment a generated file was made for: its header says, else the template."""
    match = _REGENERATE.search(first)
    if match:
        return match["env"]
    try:
        rel = path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return None
    full = template.fullmatch(rel)
    return full["env"] if full and "env" in full.groupdict() else None


def _first_line(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return None
    text = head.decode("utf-8", errors="replace")
    return text.split("\n", 1)[0].rstrip("\r") if text.startswith(HEADER_PREFIX) else None
