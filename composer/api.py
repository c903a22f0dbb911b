"""Library entry points: what the CLI calls, usable from Python the same way."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

from composer.errors import ComposerError, InputError, Location, Problem, ValidationError
from composer.nodes import clone_map, clone_seq
from composer.parallel import Outcome, side_by_side
from composer.pipeline import FileCache, Inputs, Merged, locate, merge_inputs, place
from composer.render import header, render

#: Variable and key names whose values are treated as secrets unless a project says otherwise.
DEFAULT_SECRETS_PATTERNS = ("*PASSWORD*", "*SECRET*", "*TOKEN*", "*_KEY")

MIN_SECRET_LENGTH = 4
MASK = "********"

ModelPath = tuple[str | int, ...]


@dataclass
class MergeResult:
    """A rendered stack: the text to write, and warnings found on the way."""

    text: str
    document: CommentedMap
    merged: Merged
    warnings: list[Problem] = field(default_factory=list)


def validate(merged: Merged, doc: CommentedMap, base_dir: Path | None = None) -> list[Problem]:
    """Problems of the merged model (schema and Compose's own checks), each located in a source.

    `base_dir` is the folder the document's relative paths are relative to (where it is written;
    the project folder when it is not written anywhere).
    """
    from composer.checks import check_model
    from composer.interpolate import interpolate_tree
    from composer.validate import validate_model

    model, warnings = interpolate_tree(doc, merged.env, locate=lambda p: locate(doc, p))
    if not isinstance(model, dict):
        model = {}
    base = base_dir or merged.project_dir
    problems = list(warnings)
    problems += validate_model(model, lambda p: locate(doc, p), project_dir=base)
    problems += check_model(model, lambda p: locate(doc, p), project_dir=base)
    return problems


def merge_files(
    files: Sequence[Path],
    *,
    output: Path | None = None,
    project_name: str | None = None,
    env_files: Sequence[Path] | None = None,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    project_directory: Path | None = None,
    overlays: Sequence[tuple[CommentedMap, Path]] = (),
    check: bool = True,
    command: str | None = None,
    cache: FileCache | None = None,
    interpolate: bool = False,
    secrets_patterns: Sequence[str] = DEFAULT_SECRETS_PATTERNS,
    expected: str | None = None,
) -> MergeResult:
    """Merge files as Docker Compose would and render one file for `output`'s folder.

    `${VAR}` references are written as they are, so values from env files never reach the
    output; with `interpolate`, every string is written as Compose would read it (and values of
    variables or keys matching `secrets_patterns` earn a warning). No message, warning or error,
    ever contains the value of such a variable.

    Raises ValidationError (exit 1) when the result is not valid Compose; InputError (exit 2)
    for unreadable or unmergeable input.
    """
    inputs = Inputs(
        files=[Path(f) for f in files],
        project_directory=project_directory,
        project_name=project_name,
        env_files=None if env_files is None else [Path(f) for f in env_files],
        environ=dict(environ or {}),
        profiles=tuple(profiles),
        overlays=tuple(overlays),
    )
    secrets = _Secrets(secrets_patterns)
    merged: Merged | None = None
    try:
        merged = merge_inputs(inputs, cache)
        _refuse_empty(merged, inputs)
        out_dir = output.parent if output is not None else None
        placed = place(merged, out_dir)
        done = merged  # for the closure: the type checker knows it is set

        def produce() -> tuple[CommentedMap, list[Problem], str]:
            doc, found = (interpolated(placed, done.env, secrets.is_secret) if interpolate
                          else (placed, []))
            head = header(done.sources, done.project_dir, command)
            return doc, found, render(doc, done.style, head, expected)

        def validated() -> list[Problem]:
            return validate(done, placed, out_dir.resolve() if out_dir else None)

        written: Outcome[tuple[CommentedMap, list[Problem], str]] | None = None
        if check and _large(placed):
            # Validated in a worker while this process writes the text, which is only used
            # once the model is known to be valid.
            written, checked = side_by_side(produce, validated)
            problems = _value(checked)
        else:
            problems = validated() if check else []
        errors = [p for p in problems if p.severity == "error"]
        warnings = [p for p in problems if p.severity != "error"]
        if errors:
            raise ValidationError(errors[0].message, problems=errors)
        doc, found, text = produce() if written is None else _value(written)
        warnings += found
    except ComposerError as exc:
        # The secret values are only learned when there is a message to keep them out of.
        if merged is None:
            secrets.learn_inputs(inputs)
        else:
            secrets.learn(merged.env, merged.document)
        exc.redact(secrets.scrub)
        raise
    if warnings:
        secrets.learn(merged.env, merged.document)
        warnings = secrets.redacted(warnings)
    return MergeResult(text=text, document=doc, merged=merged, warnings=warnings)


FORK_FROM_SERVICES = 40  # below, a worker costs about what the validation does
V = TypeVar("V")


def _value(outcome: Outcome[V]) -> V:
    if outcome.error is not None:
        raise outcome.error
    assert outcome.value is not None
    return outcome.value


def _large(doc: CommentedMap) -> bool:
    services = doc.get("services")
    return isinstance(services, dict) and len(services) >= FORK_FROM_SERVICES


def _refuse_empty(merged: Merged, inputs: Inputs) -> None:
    """Compose refuses a project with nothing in it; so does composer, saying which files."""
    if merged.document:
        return
    first = inputs.files[0] if inputs.files else None
    if len(inputs.files) == 1 and not inputs.overlays:
        raise InputError("empty compose file: nothing to merge", Location(first))
    raise ValidationError(
        "the merged result is empty: no services, networks, volumes, secrets or configs",
        Location(first),
    )


# --------------------------------------------------------------------------- secrets


class _Secrets:
    """Values of secret-looking variables and keys, to be kept out of every message.

    Values shorter than MIN_SECRET_LENGTH are not scrubbed from free text: "1" or "true" occur
    everywhere in messages, and hiding them would garble the message without protecting much.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = [p.upper() for p in patterns]
        self.values: set[str] = set()
        self._verdicts: dict[str, bool] = {}  # the same keys recur in every service

    def is_secret(self, name: str) -> bool:
        verdict = self._verdicts.get(name)
        if verdict is None:
            upper = name.upper()
            verdict = any(fnmatch.fnmatchcase(upper, pattern) for pattern in self.patterns)
            self._verdicts[name] = verdict
        return verdict

    def learn(self, env: Mapping[str, str], doc: Any) -> None:
        self.learn_environ(env)
        self._learn_model(doc)  # ruamel nodes are Mappings, lists and str already

    def learn_environ(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            if self.is_secret(name):
                self._add(value)

    def learn_inputs(self, inputs: Inputs) -> None:
        """The variables of a merge that failed early: the environment and any readable env file."""
        from composer.envfile import project_environment

        self.learn_environ(inputs.environ)
        try:
            env = project_environment(inputs.project_dir, inputs.env_files, inputs.environ)
        except (ComposerError, OSError, IndexError):
            return
        self.learn_environ(env)

    def _learn_model(self, node: Any) -> None:
        """Literal values written under secret-looking keys (`DB_PASSWORD: hunter2`)."""
        from composer.interpolate import has_interpolation

        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(value, str) and self.is_secret(str(key)):
                    if not has_interpolation(value):  # a ${VAR} reference is no secret
                        self._add(value)
                else:
                    self._learn_model(value)
        elif isinstance(node, list):
            for item in node:
                name, sep, value = item.partition("=") if isinstance(item, str) else ("", "", "")
                if sep and self.is_secret(name.strip()):
                    if not has_interpolation(value):
                        self._add(value)
                else:
                    self._learn_model(item)

    def _add(self, value: str) -> None:
        if len(value.strip()) >= MIN_SECRET_LENGTH:
            self.values.add(str(value))

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text

    def redacted(self, problems: Sequence[Problem]) -> list[Problem]:
        return [
            Problem(self.scrub(p.message), p.location, self.scrub(p.where), p.severity)
            for p in problems
        ]


# --------------------------------------------------------------------------- --interpolate


def interpolated(
    doc: CommentedMap, env: Mapping[str, str], is_secret: Callable[[str], bool]
) -> tuple[CommentedMap, list[Problem]]:
    """The document with every string as Compose reads it (copy-on-write; `$` kept as `$$`).

    Typed fields (`replicas: ${N}`) get the value Compose casts them to. Mapping keys stay as
    written, as Compose never interpolates them.
    """
    walker = _Interpolator(doc, env, is_secret)
    result = walker.node(doc, ())
    assert isinstance(result, CommentedMap)
    return result, walker.warnings


class _Interpolator:
    def __init__(
        self, root: CommentedMap, env: Mapping[str, str], is_secret: Callable[[str], bool]
    ) -> None:
        self.root = root
        self.env = env
        self.is_secret = is_secret
        self.warnings: list[Problem] = []

    def node(self, value: Any, path: ModelPath) -> Any:
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, dict):
            return self.mapping(value, path)
        if isinstance(value, list):
            return self.sequence(value, path)
        return value

    def mapping(self, node: Any, path: ModelPath) -> Any:
        changes: dict[Any, Any] = {}
        merged_change = False
        own = {k for k, _ in node.non_merged_items()} if isinstance(node, CommentedMap) else None
        for key, value in node.items():
            new = self.node(value, (*path, str(key)))
            if new is not value:
                changes[key] = new
                merged_change = merged_change or (own is not None and key not in own)
        if not changes:
            return node
        if isinstance(node, CommentedMap):
            result = clone_map(node, keep_merge=not merged_change)
        else:
            result = CommentedMap(node)
        for key, new in changes.items():
            result[key] = new
        return result

    def sequence(self, node: Any, path: ModelPath) -> Any:
        items = [self.node(value, (*path, index)) for index, value in enumerate(node)]
        if all(new is old for new, old in zip(items, node, strict=True)):
            return node
        result = clone_seq(node) if isinstance(node, CommentedSeq) else CommentedSeq(node)
        for index, new in enumerate(items):
            result[index] = new
        return result

    def string(self, value: str, path: ModelPath) -> Any:
        from composer.interpolate import cast_for, interpolate_string

        if "$" not in value:
            return value
        text = interpolate_string(str(value), self.env.get)
        self._warn_secret(str(value), path)
        cast = cast_for(path)
        if cast is not None:
            typed, _ = cast(text)
            if not isinstance(typed, str):
                return typed
        escaped = text.replace("$", "$$")
        if escaped == str(value):
            return value
        return type(value)(escaped) if isinstance(value, ScalarString) else escaped

    def _warn_secret(self, template: str, path: ModelPath) -> None:
        from composer.findings import format_where
        from composer.interpolate import referenced_variables

        names = sorted(n for n in referenced_variables(template) if self.env.get(n))
        key = _entry_name(self.root, path)
        secret = [n for n in names if self.is_secret(n)]
        if not secret and not (names and key is not None and self.is_secret(key)):
            return
        what = f"variable {', '.join(secret)}" if secret else f"{key}"
        self.warnings.append(
            Problem(
                f"--interpolate writes the value of {what} into the output; it looks like a "
                "secret; without --interpolate the output keeps the ${...} reference",
                locate(self.root, path),
                format_where(path),
                "warning",
            )
        )


_ENTRY = re.compile(r"^\s*([^=\s]+)\s*=")


def _entry_name(root: Any, path: ModelPath) -> str | None:
    """The name a value is stored under: its mapping key, or the KEY of a `KEY=value` item."""
    if not path:
        return None
    last = path[-1]
    if isinstance(last, str):
        return last
    node = root
    for part in path:
        try:
            key = part if isinstance(node, list) else next(k for k in node if str(k) == part)
            node = node[key]
        except (StopIteration, IndexError, KeyError, TypeError):
            return None
    match = _ENTRY.match(node) if isinstance(node, str) else None
    return match.group(1) if match else None
