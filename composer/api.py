"""Library entry points: what the CLI calls, usable from Python the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from composer.errors import Problem, ValidationError
from composer.pipeline import FileCache, Inputs, Merged, locate, merge_inputs, place
from composer.render import header, render


@dataclass
class MergeResult:
    """A rendered stack: the text to write, and warnings found on the way."""

    text: str
    document: CommentedMap
    merged: Merged
    warnings: list[Problem] = field(default_factory=list)


def validate(merged: Merged, doc: CommentedMap) -> list[Problem]:
    """Problems of the merged model (schema and Compose's own checks), each located in a source."""
    from composer.checks import check_model
    from composer.interpolate import interpolate_tree
    from composer.validate import validate_model

    def where(path: tuple[str | int, ...]) -> object:
        return locate(doc, path)

    model, warnings = interpolate_tree(doc, merged.env, locate=lambda p: locate(doc, p))
    if not isinstance(model, dict):
        model = {}
    problems = list(warnings)
    problems += validate_model(model, lambda p: locate(doc, p), project_dir=merged.project_dir)
    problems += check_model(model, lambda p: locate(doc, p), project_dir=merged.project_dir)
    del where
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
) -> MergeResult:
    """Merge files as Docker Compose would and render one file for `output`'s folder.

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
    merged = merge_inputs(inputs, cache)
    out_dir = output.parent if output is not None else None
    doc = place(merged, out_dir)
    warnings: list[Problem] = []
    if check:
        problems = validate(merged, doc)
        errors = [p for p in problems if p.severity == "error"]
        warnings = [p for p in problems if p.severity != "error"]
        if errors:
            raise ValidationError(errors[0].message, problems=errors)
    head_base = merged.project_dir
    text = render(doc, merged.style, header(merged.sources, head_base, command))
    return MergeResult(text=text, document=doc, merged=merged, warnings=warnings)
