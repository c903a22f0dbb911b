"""Differential test over real third-party cases: one merged file must mean what the set meant.

For every case of ../shared/corpus, Docker Compose v2 reads the original file set; composer merges
the same set into ONE file (beside the inputs, and in a subfolder); Compose reads that file with
the same project name, env files, profiles and environment; the canonical models must be equal and
the base file's comments must survive. Where Compose refuses the set, composer must refuse it too,
cleanly. The corpus is read-only: every case is copied into tmp_path first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from oracle import Oracle, OracleResult, canonical, model_diff

if TYPE_CHECKING:
    from conftest import CliRunner

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
if not CORPUS.is_dir():
    pytest.skip(
        f"differential corpus not found at {CORPUS} (expected beside the repository as "
        "../shared/corpus)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.corpus

PROJECT = "corpus"
CASE_PLACEHOLDER = "@CASE@"
BESIDE = "composer-out.yml"  # written in the project directory, next to the base file
SUBFOLDER = "deploy/out.yml"  # one level down: every relative path must be rebased

# Cases where Docker Compose v2.40.3 itself is wrong, so its answer cannot judge composer.
ORACLE_BUGS = {
    "compose-go/loader-tests/TestResetCycle-dotted_service_names_prefix_no_cycle": (
        "Compose v2.40.3 reports a false `cycle detected` (services.test.other vs services.test); "
        "current compose-go accepts the file"
    ),
}


@dataclass(frozen=True)
class Case:
    """One corpus case as its case.json describes it."""

    rel: str  # group/case, the test id
    source: Path
    files: tuple[str, ...]
    env_file: tuple[str, ...] | None
    profiles: tuple[str, ...]
    env: Mapping[str, str]
    project_directory: str | None
    expected_rc: int
    expected_noint_rc: int

    @classmethod
    def load(cls, case_json: Path) -> Case:
        spec = json.loads(case_json.read_text(encoding="utf-8"))
        folder = case_json.parent
        env_file = spec.get("env_file")
        return cls(
            rel=folder.relative_to(CORPUS).as_posix(),
            source=folder,
            files=tuple(spec["files"]),
            env_file=tuple(env_file) if env_file is not None else None,
            profiles=tuple(spec.get("profiles", ())),
            env=dict(spec.get("env", {})),
            project_directory=spec.get("project_directory"),
            expected_rc=int((folder / "expected.rc").read_text()),
            expected_noint_rc=int((folder / "expected.noint.rc").read_text()),
        )

    @cached_property
    def declares_name(self) -> bool:
        """Some file of the case has a top-level `name:`, so the project name comes from YAML."""
        return any(
            re.search(r"(?m)^name\s*:", p.read_text(encoding="utf-8", errors="replace"))
            for p in self.source.rglob("*")
            if p.suffix in (".yml", ".yaml") and not p.name.startswith("expected")
        )

    def project_dir(self, root: Path) -> Path:
        """Where Compose looks for `.env` and resolves relative paths of the first file."""
        if self.project_directory is not None:
            return root / self.project_directory
        return (root / self.files[0]).parent

    def copy_to(self, tmp_path: Path) -> Path:
        """A private, writable copy named like the case (the name can become the project name)."""
        work = tmp_path / self.source.name
        shutil.copytree(
            self.source,
            work,
            symlinks=True,
            ignore=shutil.ignore_patterns("expected.*", "expected.noint.*", "case.json"),
        )
        return work


def discover() -> list[Case]:
    return [Case.load(p) for p in sorted(CORPUS.rglob("case.json"))]


CASES = discover()


@dataclass
class Reference:
    """Compose's verdict on the original set, canonical (the copy's directory is @CASE@)."""

    result: OracleResult
    model: dict[str, Any] | None
    noint: OracleResult | None = None
    noint_model: dict[str, Any] | None = None


@dataclass
class References:
    """One oracle run per case and mode, shared by the parametrized tests of that case."""

    oracle: Oracle
    factory: pytest.TempPathFactory
    cache: dict[str, Reference] = field(default_factory=dict)

    def get(self, case: Case) -> Reference:
        if case.rel not in self.cache:
            work = case.copy_to(self.factory.mktemp("reference"))
            result = run_original(self.oracle, case, work)
            ref = Reference(result, canon(result.model, work))
            if result.rc != 0:
                ref.noint = run_original(self.oracle, case, work, no_interpolate=True)
                ref.noint_model = canon(ref.noint.model, work)
            self.cache[case.rel] = ref
        return self.cache[case.rel]


@pytest.fixture(scope="module")
def references(oracle: Oracle, tmp_path_factory: pytest.TempPathFactory) -> References:
    return References(oracle, tmp_path_factory)


def canon(model: dict[str, Any] | None, work: Path) -> dict[str, Any] | None:
    if model is None:
        return None
    return canonical(model, replacements={str(work): CASE_PLACEHOLDER})


def run_original(
    oracle: Oracle,
    case: Case,
    work: Path,
    *,
    project_name: str | None = PROJECT,
    no_interpolate: bool = False,
) -> OracleResult:
    return oracle.run_config(
        case.files,
        cwd=work,
        project_name=project_name,
        env_files=case.env_file,
        profiles=case.profiles,
        project_directory=case.project_directory,
        extra_env=case.env,
        no_interpolate=no_interpolate,
    )


def run_merged(
    oracle: Oracle,
    case: Case,
    work: Path,
    output: Path,
    *,
    project_name: str | None = PROJECT,
    no_interpolate: bool = False,
) -> OracleResult:
    """Compose on composer's single file, with the same inputs around it as the original set.

    Without --env-file Compose reads `.env` beside the first file; a merged file in a subfolder
    would miss the project's `.env`, so it is then named explicitly.
    """
    env_files: Sequence[str] | None = case.env_file
    dot_env = case.project_dir(work) / ".env"
    if env_files is None and output.parent != case.project_dir(work) and dot_env.is_file():
        env_files = [os.path.relpath(dot_env, work)]
    return oracle.run_config(
        [os.path.relpath(output, work)],
        cwd=work,
        project_name=project_name,
        env_files=env_files,
        profiles=case.profiles,
        extra_env=case.env,
        no_interpolate=no_interpolate,
    )


def merge(case: Case, work: Path, output: Path, *, project_name: str | None = PROJECT) -> str:
    """composer's library entry point, fed only what the case defines (no OS environment)."""
    from composer.api import merge_files

    result = merge_files(
        [work / f for f in case.files],
        output=output,
        project_name=project_name,
        env_files=[work / e for e in case.env_file] if case.env_file is not None else None,
        profiles=case.profiles,
        environ=dict(case.env),
        project_directory=(
            work / case.project_directory if case.project_directory is not None else None
        ),
    )
    text = result.text
    assert isinstance(text, str)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return text


def assert_clean_refusal(error: BaseException) -> None:
    from composer.errors import ComposerError

    assert isinstance(error, ComposerError), f"not a clean refusal: {error!r}"
    assert error.exit_code in (1, 2)
    assert str(error).strip(), "a refusal must say what is wrong"


def assert_same_model(
    merged: OracleResult, want: dict[str, Any] | None, work: Path, text: str
) -> None:
    assert want is not None
    assert merged.rc == 0, (
        f"Compose refuses composer's merged file:\n{merged.describe()}\n--- merged file\n{text}"
    )
    got = canon(merged.model, work)
    assert got == want, "models differ (left: merged file, right: original set):\n" + "\n".join(
        model_diff(got, want)
    )


# --- comments -----------------------------------------------------------------------------------

COMMENT_LINE = re.compile(r"^\s*#")
REMOVING_TAGS = ("!reset", "!override")


def comment_lines(text: str, skip: Collection[int] = ()) -> Counter[str]:
    """Full-line comments (stripped), by 0-based line number not in skip."""
    return Counter(
        line.strip()
        for number, line in enumerate(text.splitlines())
        if COMMENT_LINE.match(line) and number not in skip
    )


def _nodes(path: Path) -> list[Any]:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.compose_all(stream) if doc is not None]


def _walk(
    node: Any, path: tuple[str, ...], stack: set[int]
) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """(key path, key node, value node) of every mapping entry, through aliases and `<<`."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if id(node) in stack or len(path) > 64:
        return
    stack = stack | {id(node)}
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if key.tag.endswith(":merge") or key.value == "<<":
                merged = value.value if isinstance(value, SequenceNode) else [value]
                for item in merged:
                    yield from _walk(item, path, stack)
                continue
            sub = (*path, str(key.value))
            yield sub, key, value
            yield from _walk(value, sub, stack)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, f"[{index}]"), stack)


def _span(lines: list[str], key: Any, value: Any) -> range:
    """Lines of one mapping entry.

    A block collection ends before the line that closes it; comment lines at its end that are
    indented no deeper than the key are the heading of the next sibling, not part of the entry.
    """
    end = value.end_mark
    last = end.line
    if end.line >= len(lines) or not lines[end.line][: end.column].strip():
        last -= 1
    column = key.start_mark.column
    while last > key.start_mark.line:
        line = lines[last]
        indent = len(line) - len(line.lstrip())
        if line.strip() and not (COMMENT_LINE.match(line) and indent <= column):
            break
        last -= 1
    return range(key.start_mark.line, last + 1)


def _scalar_lines(docs: list[Any]) -> set[int]:
    """Lines inside multi-line scalars: a `#` there is content, not a comment."""
    from ruamel.yaml.nodes import ScalarNode

    inside: set[int] = set()
    for doc in docs:
        nodes = [doc, *(v for _, _, v in _walk(doc, (), set()))]
        for node in nodes:
            if not isinstance(node, ScalarNode):
                continue
            # A block scalar ends at column 0 of the line after its last content line.
            last = node.end_mark.line - (node.end_mark.column == 0)
            inside.update(range(node.start_mark.line + 1, last + 1))
    return inside


def removed_paths(files: Sequence[Path]) -> set[tuple[str, ...]]:
    """Key paths whose earlier content a later file drops with !reset / !override."""
    found: set[tuple[str, ...]] = set()
    for file in files:
        for doc in _nodes(file):
            for path, _key, value in _walk(doc, (), set()):
                if value.tag in REMOVING_TAGS:
                    found.add(path)
    return found


def comments_expected_to_survive(base: Path, others: Sequence[Path]) -> Counter[str]:
    """The base file's full-line comments, minus those of content the merge legitimately drops.

    Dropped: everything under a key some input resets or overrides (with the comment block right
    above that key), and the `include:` / `extends:` blocks, which a single file resolves away.
    """
    text = base.read_text(encoding="utf-8")
    lines = text.splitlines()
    docs = _nodes(base)
    skip = _scalar_lines(docs)
    removed = removed_paths([base, *others])
    for doc in docs:
        for path, key, value in _walk(doc, (), set()):
            resolved_away = path == ("include",) or (
                len(path) == 3 and path[0] == "services" and path[2] == "extends"
            )
            if path in removed:
                span = _span(lines, key, value)
                skip.update(span)
                above = span.start - 1
                while above >= 0 and COMMENT_LINE.match(lines[above]):
                    skip.add(above)
                    above -= 1
            elif resolved_away:
                skip.update(_span(lines, key, value))
    return comment_lines(text, skip)


def assert_comments_kept(case: Case, work: Path, text: str) -> None:
    files = [work / f for f in case.files]
    want = comments_expected_to_survive(files[0], files[1:])
    have = comment_lines(text)
    missing = [f"{line!r} x{n - have[line]}" for line, n in want.items() if have[line] < n]
    assert not missing, f"comments of {case.files[0]} lost in the merged file:\n" + "\n".join(
        missing
    )


def header_comments(path: Path) -> Counter[str]:
    """The comment block a file opens with (licence, "this file is..."): about the file itself."""
    header: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not COMMENT_LINE.match(line) and stripped != "---":
            break
        if stripped:
            header.append(stripped)
    return Counter(h for h in header if h != "---")


def overlay_comments_missing(case: Case, work: Path, text: str) -> list[str]:
    """Comments of the later -f files, on content that stays, that the merged file lacks.

    Each distinct text must appear once: overlays often repeat one licence header.
    """
    files = [work / f for f in case.files]
    have = comment_lines(text)
    missing: list[str] = []
    for index, file in enumerate(files[1:], start=1):
        want = comments_expected_to_survive(file, files[index + 1 :]) - header_comments(file)
        missing += [f"{case.files[index]}: {line!r}" for line in want if not have[line]]
    return missing


# --- parametrization ----------------------------------------------------------------------------


def params() -> Iterator[Any]:
    for case in CASES:
        marks = [pytest.mark.skip(reason=ORACLE_BUGS[case.rel])] if case.rel in ORACLE_BUGS else []
        if case.expected_rc != 0 and case.expected_noint_rc != 0:
            yield pytest.param(case, None, id=f"{case.rel}:refused", marks=marks)
        else:
            yield pytest.param(case, BESIDE, id=f"{case.rel}:beside", marks=marks)
            yield pytest.param(case, SUBFOLDER, id=f"{case.rel}:subfolder", marks=marks)


@pytest.mark.parametrize(("case", "where"), list(params()))
def test_single_file_equals_the_original_set(
    case: Case, where: str | None, oracle: Oracle, references: References, tmp_path: Path
) -> None:
    import composer.api  # noqa: F401  (until the engine exists, fail here, not as a "refusal")

    ref = references.get(case)
    assert ref.result.rc == case.expected_rc, (
        f"live Compose disagrees with the corpus' expected.rc:\n{ref.result.describe()}"
    )
    work = case.copy_to(tmp_path)

    if where is None:  # Compose refuses with and without interpolation: so must composer
        assert ref.noint is not None and ref.noint.rc != 0
        try:
            merge(case, work, case.project_dir(work) / BESIDE)
        except Exception as error:
            assert_clean_refusal(error)
        else:
            pytest.fail("composer merged a file set that Compose refuses")
        return

    output = case.project_dir(work) / where
    assert not output.exists(), f"the case already has {where}"

    if ref.result.rc == 0:
        text = merge(case, work, output)
        assert_same_model(run_merged(oracle, case, work, output), ref.model, work, text)
        assert_comments_kept(case, work, text)
        return

    # Compose refuses only because of interpolation or the checks that come with it.
    assert ref.noint is not None and ref.noint.rc == 0, ref.noint and ref.noint.describe()
    from composer.errors import ComposerError

    try:
        text = merge(case, work, output)
    except ComposerError as error:
        assert_clean_refusal(error)
        return
    merged = run_merged(oracle, case, work, output)
    assert merged.rc != 0, "Compose accepts the merged file but refused the original set"
    raw = run_merged(oracle, case, work, output, no_interpolate=True)
    assert_same_model(raw, ref.noint_model, work, text)
    assert_comments_kept(case, work, text)


MULTI_FILE = [
    pytest.param(case, id=case.rel)
    for case in CASES
    if len(case.files) > 1 and case.expected_rc == 0 and case.rel not in ORACLE_BUGS
]


@pytest.mark.parametrize("case", MULTI_FILE)
def test_overlay_comments_survive(case: Case, tmp_path: Path) -> None:
    """Comments of the overlays on content that stays are kept too (not only the base's)."""
    work = case.copy_to(tmp_path)
    text = merge(case, work, case.project_dir(work) / BESIDE)
    missing = overlay_comments_missing(case, work, text)
    assert not missing, "overlay comments lost in the merged file:\n" + "\n".join(missing)


NAMED = [
    pytest.param(case, id=case.rel)
    for case in CASES
    if case.declares_name and case.expected_rc == 0 and case.rel not in ORACLE_BUGS
]


@pytest.mark.parametrize("case", NAMED)
def test_project_name_from_the_files(case: Case, oracle: Oracle, tmp_path: Path) -> None:
    """Without -p the name comes from `name:` (and feeds ${COMPOSE_PROJECT_NAME}): keep it."""
    work = case.copy_to(tmp_path)
    original = run_original(oracle, case, work, project_name=None)
    assert original.rc == 0, original.describe()
    output = case.project_dir(work) / BESIDE
    text = merge(case, work, output, project_name=None)
    merged = run_merged(oracle, case, work, output, project_name=None)
    assert_same_model(merged, canon(original.model, work), work, text)


# --- the real command line, on a few cases ------------------------------------------------------

CLI_ACCEPTED = ("multi/frappe__frappe_docker/ci", "multi/Kong__docker-kong/profile-database")
CLI_REFUSED = (
    "compose-go/override-tests/Test_mergeYamlUlimits",
    "compose-go/loader-testdata/extends-base",
)
BY_ID = {case.rel: case for case in CASES}


def cli_args(case: Case, work: Path, output: Path) -> list[str]:
    args = ["merge", "-o", os.path.relpath(output, work), "-p", PROJECT]
    for file in case.files:
        args += ["-f", file]
    for env_file in case.env_file or ():
        args += ["--env-file", env_file]
    for profile in case.profiles:
        args += ["--profile", profile]
    if case.project_directory is not None:
        args += ["--project-directory", case.project_directory]
    return args


@pytest.mark.parametrize("rel", CLI_ACCEPTED)
def test_cli_merge_writes_an_equivalent_file(
    rel: str, cli: CliRunner, oracle: Oracle, references: References, tmp_path: Path
) -> None:
    case = BY_ID[rel]
    work = case.copy_to(tmp_path)
    output = case.project_dir(work) / SUBFOLDER
    result = cli(*cli_args(case, work, output), cwd=work, env=case.env)
    assert result.rc == 0 and not result.traceback
    text = output.read_text(encoding="utf-8")
    ref = references.get(case)
    assert_same_model(run_merged(oracle, case, work, output), ref.model, work, text)
    assert_comments_kept(case, work, text)


@pytest.mark.parametrize("rel", CLI_REFUSED)
def test_cli_merge_refuses_cleanly(rel: str, cli: CliRunner, tmp_path: Path) -> None:
    case = BY_ID[rel]
    work = case.copy_to(tmp_path)
    output = case.project_dir(work) / SUBFOLDER
    result = cli(*cli_args(case, work, output), cwd=work, env=case.env)
    assert result.rc in (1, 2)
    assert not result.traceback
    assert result.stderr.strip()
    assert not output.exists()


# --- the comment rule itself --------------------------------------------------------------------


def test_comment_rule_drops_only_what_the_merge_removes(tmp_path: Path) -> None:
    base = tmp_path / "base.yml"
    base.write_text(
        "# top\n"
        "include:\n"
        "  # inside include\n"
        "  - other.yml\n"
        "# heading of services\n"
        "services:\n"
        "  # heading of gone\n"
        "  gone:\n"
        "    image: a\n"
        "    # inside gone\n"
        "    command: |\n"
        "      # shell, not yaml\n"
        "      run\n"
        "  # heading of kept\n"
        "  kept:\n"
        "    image: b\n"
        "    ports:\n"
        "      # inside replaced ports\n"
        "      - 80:80\n"
        "    # tail of kept\n",
        encoding="utf-8",
    )
    over = tmp_path / "over.yml"
    over.write_text(
        "services:\n  gone: !reset\n  kept:\n    ports: !override [81:81]\n", encoding="utf-8"
    )
    survive = comments_expected_to_survive(base, [over])
    assert survive == Counter(
        {"# top": 1, "# heading of services": 1, "# heading of kept": 1, "# tail of kept": 1}
    )
    assert comment_lines(base.read_text(encoding="utf-8"))["# shell, not yaml"] == 1
    assert comments_expected_to_survive(base, []) == Counter(
        {
            "# top": 1,
            "# heading of services": 1,
            "# heading of gone": 1,
            "# inside gone": 1,
            "# heading of kept": 1,
            "# inside replaced ports": 1,
            "# tail of kept": 1,
        }
    )


def test_comment_rule_follows_aliases_and_merge_keys(tmp_path: Path) -> None:
    base = tmp_path / "base.yml"
    base.write_text(
        "services:\n  svc:\n    image: a\n    ports:\n      # published\n      - 80:80\n",
        encoding="utf-8",
    )
    over = tmp_path / "over.yml"
    over.write_text(
        "x-inner: &inner\n  ports: !reset []\nx-outer: &outer\n  <<: *inner\n"
        "services:\n  svc:\n    <<: *outer\n",
        encoding="utf-8",
    )
    assert ("services", "svc", "ports") in removed_paths([over])
    assert comments_expected_to_survive(base, [over]) == Counter()
