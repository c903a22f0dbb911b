"""Golden cases: hand-written stacks under tests/cases, each merged and compared byte for byte.

A case folder holds `compose.yml`, `overlays/*.yml` (merged in sorted order) and `expected.yml`,
the exact text composer must write; an optional `case.yml` changes the defaults:

    files: [compose.yml, overlays/b.yml]   # the -f order, relative to the case folder
    env_file: [.env.prod]                  # --env-file (default: Compose reads ./.env)
    project_name: shop                     # -p (default: the folder name)
    output: deploy/out.yml                 # where the file is written (default: merged.yml)
    refuse: true                           # composer (and Compose) must refuse the inputs
    error: cycle                           # ... with a message containing this text

Each case is also checked against Docker Compose v2 (`config` of the merged file equals `config`
of the input files), rendered twice to the same bytes, and merged again over an empty overlay
without a change. The cases never need the third-party corpus.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from oracle import Oracle, OracleResult, canonical, model_diff

CASES_DIR = Path(__file__).resolve().parent / "cases"
DEFAULT_OUTPUT = "merged.yml"
CASE_PLACEHOLDER = "@CASE@"
CASE_KEYS = {"files", "env_file", "project_name", "output", "refuse", "error"}


@dataclass(frozen=True)
class Case:
    name: str
    source: Path
    files: tuple[str, ...]
    env_file: tuple[str, ...] | None
    project_name: str
    output: str
    refuse: bool
    error: str | None

    @classmethod
    def load(cls, folder: Path) -> Case:
        spec: dict[str, Any] = {}
        if (folder / "case.yml").is_file():
            from ruamel.yaml import YAML

            loaded = YAML(typ="safe").load((folder / "case.yml").read_text(encoding="utf-8"))
            spec = dict(loaded or {})
        unknown = set(spec) - CASE_KEYS
        if unknown:
            raise ValueError(f"{folder.name}/case.yml: unknown keys {sorted(unknown)}")
        if "error" in spec and not spec.get("refuse"):
            raise ValueError(f"{folder.name}/case.yml: `error` needs `refuse: true`")
        files = spec.get("files")
        if files is None:
            overlays = sorted(
                p.relative_to(folder).as_posix() for p in folder.glob("overlays/*.yml")
            )
            files = ["compose.yml", *overlays]
        env_file = spec.get("env_file")
        if isinstance(env_file, str):
            env_file = [env_file]
        return cls(
            name=folder.name,
            source=folder,
            files=tuple(files),
            env_file=tuple(env_file) if env_file is not None else None,
            project_name=str(spec.get("project_name", folder.name)),
            output=str(spec.get("output", DEFAULT_OUTPUT)),
            refuse=bool(spec.get("refuse", False)),
            error=spec.get("error"),
        )

    def copy_to(self, tmp_path: Path) -> Path:
        """A writable copy without the expectations, in a folder named like the case."""
        work = tmp_path / self.name
        shutil.copytree(
            self.source, work, ignore=shutil.ignore_patterns("expected.yml", "case.yml")
        )
        return work

    @property
    def expected(self) -> str:
        return (self.source / "expected.yml").read_text(encoding="utf-8")


def discover() -> list[Case]:
    if not CASES_DIR.is_dir():
        return []
    return [Case.load(p) for p in sorted(CASES_DIR.iterdir()) if (p / "compose.yml").is_file()]


CASES = discover()
ACCEPTED = [pytest.param(c, id=c.name) for c in CASES if not c.refuse]
REFUSED = [pytest.param(c, id=c.name) for c in CASES if c.refuse]


def merge(case: Case, work: Path, *, cache: Any = None) -> str:
    from composer.api import merge_files
    from composer.pipeline import FileCache

    result = merge_files(
        [work / f for f in case.files],
        output=work / case.output,
        project_name=case.project_name,
        env_files=[work / e for e in case.env_file] if case.env_file is not None else None,
        environ={},
        cache=cache or FileCache(),
    )
    return result.text


def write_output(case: Case, work: Path, text: str) -> Path:
    output = work / case.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return output


def env_files_for_output(case: Case, work: Path) -> list[str] | None:
    """Compose reads `.env` beside the first file: a merged file elsewhere names it explicitly."""
    if case.env_file is not None:
        return list(case.env_file)
    output = work / case.output
    if output.parent != work and (work / ".env").is_file():
        return [".env"]
    return None


def canon(result: OracleResult, work: Path) -> dict[str, Any]:
    assert result.rc == 0 and result.model is not None, result.describe()
    return canonical(result.model, replacements={str(work): CASE_PLACEHOLDER})


def without_header(text: str) -> str:
    """The text after composer's generated header lines."""
    from composer.render import is_generated

    lines = text.splitlines(keepends=True)
    while lines and is_generated(lines[0]):
        lines.pop(0)
    return "".join(lines)


# --- accepted cases ---------------------------------------------------------------------------


def test_cases_exist() -> None:
    assert len(ACCEPTED) >= 30 and REFUSED, "tests/cases is missing or nearly empty"


@pytest.mark.parametrize("case", ACCEPTED)
def test_expected_text(case: Case, tmp_path: Path) -> None:
    work = case.copy_to(tmp_path)
    text = merge(case, work)
    assert text == case.expected


@pytest.mark.parametrize("case", ACCEPTED)
def test_same_model_as_compose(case: Case, oracle: Oracle, tmp_path: Path) -> None:
    """`config` of the one merged file equals `config` of the input files."""
    work = case.copy_to(tmp_path)
    output = write_output(case, work, merge(case, work))
    original = oracle.run_config(
        case.files, cwd=work, project_name=case.project_name, env_files=case.env_file
    )
    merged = oracle.run_config(
        [output.relative_to(work).as_posix()],
        cwd=work,
        project_name=case.project_name,
        env_files=env_files_for_output(case, work),
    )
    want = canon(original, work)
    got = canon(merged, work)
    assert got == want, "models differ (left: merged file, right: input files):\n" + "\n".join(
        model_diff(got, want)
    )


@pytest.mark.parametrize("case", ACCEPTED)
def test_deterministic(case: Case, tmp_path: Path) -> None:
    """Two renders give the same bytes, also when the second reuses the first one's parses."""
    from composer.pipeline import FileCache

    work = case.copy_to(tmp_path)
    cache = FileCache()
    first = merge(case, work, cache=cache)
    assert merge(case, work, cache=cache) == first
    assert merge(case, work) == first


@pytest.mark.parametrize("case", ACCEPTED)
def test_remerge_is_a_fixed_point(case: Case, tmp_path: Path) -> None:
    """The output merged again over an empty overlay, written to the same place, is unchanged."""
    from composer.api import merge_files

    work = case.copy_to(tmp_path)
    text = merge(case, work)
    output = write_output(case, work, text)
    empty = output.parent / "empty-overlay.yml"
    empty.write_text("", encoding="utf-8")
    env = env_files_for_output(case, work)
    again = merge_files(
        [output, empty],
        output=output,
        project_name=case.project_name,
        env_files=[work / e for e in env] if env is not None else None,
        environ={},
    ).text
    assert without_header(again) == without_header(text)


# --- refused cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSED)
def test_refused(case: Case, tmp_path: Path) -> None:
    from composer.errors import ComposerError

    assert not (case.source / "expected.yml").exists(), "a refused case has no expected.yml"
    work = case.copy_to(tmp_path)
    with pytest.raises(ComposerError) as caught:
        merge(case, work)
    assert caught.value.exit_code in (1, 2)
    if case.error is not None:
        assert case.error in str(caught.value)


@pytest.mark.parametrize("case", REFUSED)
def test_refused_by_compose_too(case: Case, oracle: Oracle, tmp_path: Path) -> None:
    work = case.copy_to(tmp_path)
    result = oracle.run_config(
        case.files, cwd=work, project_name=case.project_name, env_files=case.env_file
    )
    assert result.rc != 0, "Compose accepts what the case says must be refused"


# --- the generated header ---------------------------------------------------------------------


def test_remerge_does_not_stack_headers(tmp_path: Path) -> None:
    """A generated file fed back in gets one header, naming its new inputs, not two."""
    from composer.api import merge_files

    base = tmp_path / "compose.yml"
    base.write_text("# the stack\nservices:\n  web:\n    image: nginx\n", encoding="utf-8")
    first = merge_files([base], output=tmp_path / "out.yml", project_name="p", environ={}).text
    out = tmp_path / "out.yml"
    out.write_text(first, encoding="utf-8")
    again = merge_files([out], output=tmp_path / "again.yml", project_name="p", environ={}).text
    headers = [line for line in again.splitlines() if line.startswith("# Generated by composer")]
    assert headers == [again.splitlines()[0]]
    assert "# the stack" in again


def test_case_names_are_project_names() -> None:
    """The folder name is the default project name, so it must be a valid one."""
    import re

    for case in CASES:
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", case.name), case.name
