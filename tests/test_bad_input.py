"""Bad input through the real CLI: a clean message, the right exit code, nothing touched.

Every case runs `python -m composer` on real files and checks the error contract: the message
names the file and line (`PATH:LINE:COL: ...`) when there is one, the exit code is 2 for input or
usage problems and 1 for an invalid result, there is no traceback, every file is byte-identical
afterwards and no output or temporary file is left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT, CliResult, CliRunner

EXIT_INVALID = 1
EXIT_USAGE = 2

BASE = """\
# the shop
services:
  web:
    image: nginx:1.27
    ports:
      - "8080:80"
  db:
    image: postgres:16
"""
PROJECT = """\
name: shop
base: compose.yml
environments:
  dev: {}
  prod: {}
"""
DEV = "services:\n  web:\n    environment:\n      DEBUG: \"1\"\n"
PROD = "services:\n  web:\n    restart: always\n"

Tree = dict[str, bytes | None]  # relative path -> bytes (None for a folder)


def snapshot(root: Path) -> Tree:
    """Every file and folder below root, hidden ones included, with the files' bytes."""
    tree: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            tree[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            tree[os.path.relpath(path, root)] = Path(path).read_bytes()
    return tree


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))


def located(file: str, line: int | None) -> re.Pattern[str]:
    """`file:line:col: ` at the start of a stderr line (any column when line is given)."""
    where = re.escape(file) + (f":{line}:\\d+" if line else "(:\\d+:\\d+)?")
    return re.compile(rf"^(warning: )?{where}: ", re.MULTILINE)


def assert_refused(
    result: CliResult,
    before: Tree,
    root: Path,
    *,
    rc: int,
    file: str | None = None,
    line: int | None = None,
    fragment: str = "",
) -> None:
    """The contract for every refusal; `file`/`line` when the message must name them."""
    assert not result.traceback, "a traceback for bad input"
    assert "internal error" not in result.stderr
    assert result.rc == rc
    if file is not None:
        assert located(file, line).search(result.stderr), f"no {file}:{line}: in the message"
    if fragment:
        assert fragment in result.stderr
    assert snapshot(root) == before, "files changed, or an output or temporary file was left"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small composer project: base, two overlays, nothing generated yet."""
    root = tmp_path / "shop"
    write(
        root,
        {
            "composer.yml": PROJECT,
            "compose.yml": BASE,
            "overlays/dev.yml": DEV,
            "overlays/prod.yml": PROD,
        },
    )
    return root


def test_the_project_fixture_merges(cli: CliRunner, project: Path) -> None:
    """The starting point of every case is valid: each refusal below comes from its change."""
    result = cli("merge", "--all", cwd=project)
    assert result.rc == 0
    assert (project / "deploy/compose.dev.yml").is_file()
    assert (project / "deploy/compose.prod.yml").is_file()


# --------------------------------------------------------------------------- YAML


@dataclass(frozen=True)
class YamlCase:
    id: str
    content: bytes
    line: int
    fragment: str = ""


YAML_CASES = [
    YamlCase("syntax-error", b"services:\n  web:\n    image: nginx\n    ports: [\"80:80\"\n", 5),
    YamlCase("unclosed-quote", b'services:\n  web:\n    image: "nginx\n', 4),
    YamlCase("bad-indentation", b"services:\n  web:\n    image: a\n   restart: always\n", 4),
    YamlCase("tab-indentation", b"services:\n  web:\n\trestart: always\n", 3, "tab"),
    YamlCase("flow-value-starting-with-colon",
             b"services:\n  web:\n    dns: [8.8.8.8,\n      :x]\n", 4, "':x' in a flow"),
    YamlCase("flow-mapping-value-starting-with-colon",
             b"services:\n  web:\n    labels: {a: ::1}\n", 3, "quote it"),
    YamlCase("null-key-reached-through-merges",
             b"x-a: &a\n  : b\nx-b: &b\n  <<: *a\nservices:\n  web:\n    image: x\n"
             b"    environment:\n      <<: *b\n", 2, "key null is not text"),
    YamlCase("null-key-in-an-inline-merge",
             b"services:\n  web:\n    image: x\n    environment:\n      <<: {null: b}\n", 5,
             "key null is not text"),
    YamlCase("flow-key-with-question-mark",
             b"x-common: &c {r? estart: always}\nservices:\n  web:\n    image: x\n", 1,
             "cannot contain '?'"),
    YamlCase("tab-on-a-blank-line", b'services:\n  web:\n    image: "nginx"\n\t\n', 4, "tab"),
    YamlCase("duplicate-key", b"services:\n  web:\n    restart: always\n    restart: no\n", 4,
             "duplicate key"),
    YamlCase("duplicate-service", b"services:\n  web: {}\n  db: {}\n  web: {}\n", 4,
             "duplicate key"),
    YamlCase("duplicate-after-tag", b"services:\n  web: {}\n  !reset web: {}\n", 3,
             "duplicate key"),
    YamlCase("not-utf8", b"services:\n  web:\n    labels:\n      owner: Jos\xe9\n", 4, "UTF-8"),
    YamlCase("utf16", "services:\n  web: {}\n".encode("utf-16"), 1, "UTF-8"),
    YamlCase("nul-byte", b"services:\n  web:\n    image: ngi\x00nx\n", 3, "control character"),
    YamlCase("control-char", b"services:\n  web:\n    image: \x1bnginx\n", 3, "control character"),
    YamlCase("a-list", b"- services\n- web\n", 1, "must be a mapping"),
    YamlCase("a-scalar", b"just some text\n", 1, "must be a mapping"),
    YamlCase("second-document-a-list", b"services:\n  web: {}\n---\n# next\n- web\n", 5,
             "must be a mapping"),
    YamlCase("list-as-key", b"services:\n  web:\n    labels:\n      ? [a, b]\n      : x\n", 4,
             "key must be a name"),
    YamlCase("mapping-as-key", b"? services:\n    web: {}\n: x\n", 1, "key must be a name"),
    YamlCase("number-as-key", b"services:\n  web:\n    labels:\n      1: one\n", 4, "not text"),
    YamlCase("null-as-key", b"services:\n  ~:\n    image: x\n", 2, "not text"),
    YamlCase("unknown-alias", b"services:\n  web:\n    environment: *defaults\n", 3,
             "undefined alias"),
    YamlCase("unknown-merge-alias", b"services:\n  web:\n    <<: *base\n", 3, "undefined alias"),
    YamlCase("merge-of-a-scalar", b"services:\n  web:\n    <<: 5\n", 3, "merging"),
    YamlCase("alias-cycle", b"x-a: &a\n  b: *a\nservices: {}\n", 2, "cycle"),
    YamlCase("alias-cycle-in-a-list", b"x-a: &a\n  - [*a]\nservices: {}\n", 2, "cycle"),
    YamlCase("merge-key-cycle", b"x-a: &a\n  <<: *a\nservices: {}\n", 2, "cycle"),
    YamlCase("merge-list-cycle", b"x-a: &a\n  <<: [*a]\nservices: {}\n", 2, "cycle"),
    YamlCase("deep-nesting", b"services: {}\nx-deep: " + b"[" * 150 + b"]" * 150 + b"\n", 2,
             "levels deep"),
    YamlCase("unknown-tag", b"services:\n  web:\n    restart: !always yes\n", 3, "unknown tag"),
    YamlCase("huge-integer", b"services:\n  web:\n    scale: 1" + b"0" * 5000 + b"\n", 3,
             "too long"),
    YamlCase("yaml-2-directive", b"%YAML 2.0\n---\nservices: {}\n", 1, "version"),
]


@pytest.mark.parametrize("case", YAML_CASES, ids=lambda c: c.id)
def test_bad_yaml_in_an_overlay_stops_the_whole_stack(
    cli: CliRunner, project: Path, case: YamlCase
) -> None:
    """`--all` renders dev too, but prod's bad overlay means nothing at all is written."""
    write(project, {"overlays/prod.yml": case.content})
    before = snapshot(project)
    result = cli("merge", "--all", cwd=project)
    assert_refused(
        result, before, project, rc=EXIT_USAGE, file="overlays/prod.yml", line=case.line,
        fragment=case.fragment,
    )


@pytest.mark.parametrize("case", YAML_CASES[:6], ids=lambda c: c.id)
def test_bad_yaml_as_json(cli: CliRunner, project: Path, case: YamlCase) -> None:
    """`--format json`: the same facts as data, one document on stderr."""
    write(project, {"overlays/prod.yml": case.content})
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "--format", "json", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE)
    data = json.loads(result.stderr)
    assert data["exit_code"] == EXIT_USAGE
    problem = data["problems"][0]
    assert problem["severity"] == "error"
    assert problem["file"] == "overlays/prod.yml"
    assert problem["line"] == case.line
    assert isinstance(problem["column"], int)
    assert case.fragment in problem["message"]


def test_a_byte_order_mark_is_accepted(cli: CliRunner, project: Path) -> None:
    write(project, {"overlays/prod.yml": b"\xef\xbb\xbf" + PROD.encode()})
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "-o", "-", cwd=project)
    assert result.rc == 0
    assert "restart: always" in result.stdout
    assert "\ufeff" not in result.stdout
    assert snapshot(project) == before


@pytest.mark.parametrize("content", [b"", b"# nothing here yet\n", b"---\n"])
def test_an_empty_overlay_changes_nothing(cli: CliRunner, project: Path, content: bytes) -> None:
    write(project, {"overlays/prod.yml": content})
    result = cli("merge", "--env", "prod", "-o", "-", cwd=project)
    assert result.rc == 0
    assert "restart" not in result.stdout
    assert "image: nginx:1.27" in result.stdout


@pytest.mark.parametrize("content", [b"", b"# nothing\n"])
def test_an_empty_compose_file_alone_is_refused(
    cli: CliRunner, tmp_path: Path, content: bytes
) -> None:
    """Docker Compose says "empty compose file"; so does composer, naming it."""
    write(tmp_path, {"compose.yml": content})
    before = snapshot(tmp_path)
    result = cli("merge", "-f", "compose.yml", "-o", "out.yml", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, file="compose.yml", fragment="empty")


def test_several_documents_merge_in_order(cli: CliRunner, tmp_path: Path) -> None:
    """Docker Compose v2 reads every document of a file, later ones overriding earlier ones."""
    write(tmp_path, {"compose.yml": BASE + "---\nservices:\n  web:\n    image: nginx:1.28\n"})
    result = cli("merge", "-f", "compose.yml", cwd=tmp_path)
    assert result.rc == 0
    assert "nginx:1.28" in result.stdout
    assert "nginx:1.27" not in result.stdout


def test_a_tag_on_a_key_is_ignored_like_compose(cli: CliRunner, project: Path) -> None:
    """`!reset web:` tags the key, not the value: Compose merges it as a plain `web:`."""
    write(project, {"overlays/prod.yml": "services:\n  !reset web:\n    restart: always\n"})
    result = cli("merge", "--env", "prod", "-o", "-", cwd=project)
    assert result.rc == 0
    assert "!reset" not in result.stdout
    assert result.stdout.count("web:") == 1
    assert "image: nginx:1.27" in result.stdout
    assert "restart: always" in result.stdout


def _bomb(levels: int, width: int = 9) -> str:
    lines = ["services:", "  web:", "    image: nginx", f'x-l0: &l0 [{", ".join(["lol"] * width)}]']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"x-l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def run_limited(args: list[str], cwd: Path, *, memory: int, timeout: float) -> CliResult:
    """The CLI under an address-space limit: eating memory ends in MemoryError, not swapping."""
    code = (
        "import resource, runpy, sys;"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}));"
        "sys.argv = ['composer', *sys.argv[1:]];"
        "runpy.run_module('composer', run_name='__main__')"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT), "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    print(f"rc={proc.returncode}\n--- stderr\n{proc.stderr[-3000:]}")
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


MEMORY_LIMIT = 1 << 30  # generous for Python plus ruamel; a bomb expanded would need far more


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Billion laughs: 9**9 strings if expanded; refused without expanding (no hang, no OOM)."""
    write(tmp_path, {"compose.yml": _bomb(9)})
    before = snapshot(tmp_path)
    result = run_limited(
        ["merge", "-f", "compose.yml", "-o", "out.yml"], tmp_path, memory=MEMORY_LIMIT, timeout=120
    )
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, file="compose.yml", fragment="alias")


def test_shared_aliases_below_the_bound_still_work(cli: CliRunner, tmp_path: Path) -> None:
    """Anchors used many times are ordinary YAML; only absurd expansion is refused."""
    write(tmp_path, {"compose.yml": _bomb(4)})
    result = cli("merge", "-f", "compose.yml", "-o", "out.yml", cwd=tmp_path)
    assert result.rc == 0
    assert "*l2" in (tmp_path / "out.yml").read_text()


def test_a_50_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    line = "# " + "x" * 97 + "\n"
    with (tmp_path / "compose.yml").open("w") as handle:
        handle.write(BASE)
        handle.write(line * (50 * 1024 * 1024 // len(line)))
    before = snapshot(tmp_path)
    result = run_limited(
        ["merge", "-f", "compose.yml", "-o", "out.yml"], tmp_path, memory=MEMORY_LIMIT, timeout=120
    )
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, file="compose.yml", fragment="bytes")


def test_deep_nesting_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, {"compose.yml": BASE + "x-deep: " + "[" * 5000 + "]" * 5000 + "\n"})
    before = snapshot(tmp_path)
    result = cli("merge", "-f", "compose.yml", "-o", "out.yml", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, file="compose.yml", fragment="deep")


# --------------------------------------------------------------------------- Compose


@dataclass(frozen=True)
class ComposeCase:
    id: str
    overlay: str
    rc: int
    line: int
    fragment: str = ""
    files: tuple[tuple[str, str], ...] = ()
    file: str = "overlays/prod.yml"  # the file the message names


COMPOSE_CASES = [
    ComposeCase("ports-not-a-list", "services:\n  web:\n    ports: 8080\n", EXIT_USAGE, 3,
                "services.web.ports"),  # cannot be merged with the base's list: an input error
    ComposeCase("ports-not-a-list-new-service",
                "services:\n  api:\n    image: x\n    ports: 8080\n",
                EXIT_INVALID, 4, "services.api.ports"),
    ComposeCase("mem-limit-words", "services:\n  web:\n    mem_limit: lots\n", EXIT_INVALID, 3,
                "services.web.mem_limit"),
    ComposeCase("unknown-key", "services:\n  web:\n    restrat: always\n", EXIT_INVALID, 3,
                "restrat"),
    ComposeCase("unknown-top-level-key", "servces: {web: {}}\n", EXIT_INVALID, 1, "servces"),
    ComposeCase("service-not-a-mapping", "services:\n  db:\n    image: x\n  api: 5\n",
                EXIT_INVALID, 4, "services.api"),
    ComposeCase("override-on-a-scalar-where-a-list-belongs",
                "services:\n  web:\n    ports: !override 8080\n", EXIT_INVALID, 3, "ports"),
    ComposeCase("override-on-an-empty-service", "services:\n  api: !override\n", EXIT_INVALID, 2,
                "services.api"),
    ComposeCase("reset-of-the-only-image", "services:\n  web:\n    image: !reset null\n",
                EXIT_INVALID, 3, "image"),
    ComposeCase("extends-missing-service", "services:\n  web:\n    extends: nothere\n",
                EXIT_USAGE, 3, "nothere"),
    ComposeCase("extends-missing-file",
                "services:\n  web:\n    extends:\n      file: common.yml\n      service: base\n",
                EXIT_USAGE, 4, "common.yml"),
    ComposeCase("extends-cycle",
                "services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n",
                EXIT_USAGE, 0, "cycle"),
    ComposeCase("extends-cycle-across-files",
                "services:\n  a:\n    extends: {file: other.yml, service: b}\n",
                EXIT_USAGE, 3, "cycle",
                (("overlays/other.yml",
                  "services:\n  b:\n    extends: {file: prod.yml, service: a}\n"),),
                "overlays/other.yml"),
    ComposeCase("extends-a-list",
                "services:\n  a:\n    extends: {file: other.yml, service: b}\n",
                EXIT_USAGE, 3, "services.b must be a mapping",
                (("overlays/other.yml", "services:\n  b:\n    - 8080:8080\n"),),
                "overlays/other.yml"),
    ComposeCase("extends-a-scalar-in-the-same-file",
                "services:\n  a:\n    extends: b\n  b: 3\n",
                EXIT_USAGE, 4, "services.b must be a mapping"),
    ComposeCase("extends-file-variable-unset",
                "services:\n  web:\n    extends:\n      file: ${COMMON:?set COMMON}\n"
                "      service: base\n",
                EXIT_USAGE, 4, "set COMMON"),
    ComposeCase("include-cycle", "include:\n  - other.yml\n", EXIT_USAGE, 0, "cycle",
                (("other.yml", "include:\n  - overlays/prod.yml\n"),), ""),
    ComposeCase("include-missing-file", "include:\n  - nothere.yml\n", EXIT_USAGE, 2,
                "nothere.yml"),
    ComposeCase("depends-on-missing-service", "services:\n  web:\n    depends_on: [cache]\n",
                EXIT_INVALID, 3, "cache"),
    ComposeCase("build-target-not-in-dockerfile",
                "services:\n  web:\n    build:\n      context: ./app\n      target: prod\n",
                EXIT_INVALID, 5, '"prod"',
                (("app/Dockerfile", "FROM golang:1.22 AS build\nFROM alpine AS final\n"),)),
    ComposeCase("interpolation-syntax", "services:\n  web:\n    image: nginx:${TAG\n",
                EXIT_USAGE, 3, "${TAG"),
    ComposeCase("interpolation-bad-name", "services:\n  web:\n    image: nginx:${1TAG}\n",
                EXIT_USAGE, 3, "interpolation"),
    ComposeCase("required-variable-unset",
                "services:\n  web:\n    image: nginx:${TAG:?set TAG to the release}\n",
                EXIT_USAGE, 3, "set TAG to the release"),
    ComposeCase("unknown-network", "services:\n  web:\n    networks: [front]\n", EXIT_INVALID, 3,
                "front"),
    ComposeCase("bad-port-number", "services:\n  db:\n    ports: [\"99999:80\"]\n",
                EXIT_INVALID, 3, "99999"),
    ComposeCase("bad-port-number-appended", "services:\n  web:\n    ports: [\"99999:80\"]\n",
                EXIT_INVALID, 3, "99999"),
    ComposeCase("boolean-where-a-string-belongs", "services:\n  web:\n    image: true\n",
                EXIT_INVALID, 3, "image"),
    ComposeCase("scalar-over-a-mapping", "services:\n  web: nginx\n", EXIT_USAGE, 2, "web"),
]


@pytest.mark.parametrize("case", COMPOSE_CASES, ids=lambda c: c.id)
def test_bad_compose_in_an_overlay(cli: CliRunner, project: Path, case: ComposeCase) -> None:
    write(project, {"overlays/prod.yml": case.overlay, **dict(case.files)})
    before = snapshot(project)
    result = cli("merge", "--all", cwd=project)
    assert_refused(
        result, before, project, rc=case.rc, file=case.file or None, line=case.line or None,
        fragment=case.fragment,
    )


@pytest.mark.parametrize(
    ("content", "rc", "line", "fragment"),
    [
        ("services:\n  web:\n    image: x\n    ports: 8080\n", EXIT_INVALID, 4, "ports"),
        ("services:\n  web:\n    image: x\n    ports: [\"99999:80\"]\n", EXIT_INVALID, 4, "99999"),
        ("name: ${STACK:?name the stack}\nservices:\n  web:\n    image: x\n", EXIT_USAGE, 1,
         "name the stack"),
        ("services:\n  web:\n    image: x\n  web2:\n    image: x\n    extends: web2\n",
         EXIT_USAGE, 6, "cycle"),
    ],
    ids=["ports-not-a-list", "bad-port", "required-variable-in-name", "extends-itself"],
)
def test_bad_compose_in_a_single_file(
    cli: CliRunner, tmp_path: Path, content: str, rc: int, line: int, fragment: str
) -> None:
    write(tmp_path, {"compose.yml": content})
    before = snapshot(tmp_path)
    result = cli("merge", "-f", "compose.yml", "-o", "out.yml", cwd=tmp_path)
    assert_refused(
        result, before, tmp_path, rc=rc, file="compose.yml", line=line, fragment=fragment
    )


def test_build_target_of_a_stage_that_exists(cli: CliRunner, project: Path) -> None:
    """The check reads the Dockerfile: a stage it has passes (case-insensitively, like Docker)."""
    write(
        project,
        {
            "overlays/prod.yml": "services:\n  web:\n    build:\n      context: ./app\n"
            "      target: Final\n",
            "app/Dockerfile": "FROM golang:1.22 AS build\nFROM --platform=$BUILDPLATFORM alpine "
            "AS final\n",
        },
    )
    result = cli("merge", "--env", "prod", cwd=project)
    assert result.rc == 0


def test_build_target_without_a_dockerfile_is_left_to_docker(
    cli: CliRunner, project: Path
) -> None:
    write(project, {"overlays/prod.yml": "services:\n  web:\n    build:\n      context: ./app\n"
                                         "      target: prod\n"})
    result = cli("merge", "--env", "prod", cwd=project)
    assert result.rc == 0


def test_an_unknown_restart_policy_is_a_located_warning(cli: CliRunner, project: Path) -> None:
    """Compose itself accepts `restart: sometimes` at config time and fails at `up`: a warning."""
    write(project, {"overlays/prod.yml": "services:\n  web:\n    restart: sometimes\n"})
    result = cli("merge", "--env", "prod", cwd=project)
    assert result.rc == 0
    assert located("overlays/prod.yml", 3).search(result.stderr)
    assert "sometimes" in result.stderr
    assert (project / "deploy/compose.prod.yml").is_file()


def test_a_host_port_published_twice_names_both_places(cli: CliRunner, project: Path) -> None:
    write(project, {"overlays/prod.yml": 'services:\n  db:\n    ports:\n      - "8080:5432"\n'})
    result = cli("merge", "--env", "prod", cwd=project)
    assert result.rc == 0
    assert located("overlays/prod.yml", 4).search(result.stderr)
    assert "compose.yml:6" in result.stderr  # where web publishes it first
    assert "8080" in result.stderr


def test_validate_reports_every_problem_with_its_line(cli: CliRunner, project: Path) -> None:
    write(
        project,
        {"overlays/prod.yml": "services:\n  web:\n    mem_limit: lots\n  db:\n    ports: 5432\n"},
    )
    before = snapshot(project)
    result = cli("validate", "--env", "prod", cwd=project)
    assert_refused(result, before, project, rc=EXIT_INVALID)
    assert located("overlays/prod.yml", 3).search(result.stderr)
    assert located("overlays/prod.yml", 5).search(result.stderr)


# --------------------------------------------------------------------------- project


def test_no_composer_yml(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, {"compose.yml": BASE})
    before = snapshot(tmp_path)
    result = cli("merge", "--env", "prod", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, fragment="composer.yml")


def test_missing_project_file_given_explicitly(cli: CliRunner, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = cli("merge", "--all", "--project-file", "nothere.yml", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, fragment="nothere.yml")


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ("name: shop\nbase: compose.yml\nenvironments:\n  dev: [\n", 5, ""),
        ("name: shop\nbase: compose.yml\nenvironments: 5\n", 3, "environments"),
        ("name: shop\nbase: compose.yml\nenvironments:\n  dev:\n    outptu: x.yml\n", 5,
         "outptu"),
        ("name: shop\nbase: nothere.yml\nenvironments:\n  dev: {}\n", 2, "nothere.yml"),
        ("name: shop\nenvironments:\n  dev:\n    overlays: [overlays/nothere.yml]\n", 4,
         "nothere.yml"),
        ("name: shop\nenvironments:\n  qa: {}\n", 3, "overlays/qa.yml"),
        ("name: shop\nenvironments:\n  dev:\n    output: compose.yml\n", 3, "input"),
        ("name: shop\noutput: ../../elsewhere/{env}.yml\nenvironments:\n  dev: {}\n", 2,
         "outside"),
        ("- a list\n", 1, ""),
    ],
    ids=["syntax", "wrong-type", "unknown-key", "base-missing", "overlay-missing",
         "default-overlay-missing", "output-is-an-input", "output-escapes", "not-a-mapping"],
)
def test_invalid_composer_yml(
    cli: CliRunner, project: Path, content: str, line: int, fragment: str
) -> None:
    write(project, {"composer.yml": content})
    before = snapshot(project)
    result = cli("merge", "--all", cwd=project)
    assert_refused(
        result, before, project, rc=EXIT_USAGE, file="composer.yml", line=line, fragment=fragment
    )


def test_unknown_env(cli: CliRunner, project: Path) -> None:
    before = snapshot(project)
    result = cli("merge", "--env", "dev", "--env", "qa", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, file="composer.yml", fragment="'qa'")
    assert "dev, prod" in result.stderr


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "./dev", "/tmp/x"])
def test_env_names_with_paths_are_not_followed(
    cli: CliRunner, project: Path, name: str
) -> None:
    """A name on the command line is only looked up, never joined to a path."""
    write(project, {"overlays/x.yml": PROD})
    before = snapshot(project)
    outside = snapshot(project.parent)
    result = cli("merge", "--env", name, cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, file="composer.yml")
    assert snapshot(project.parent) == outside


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "x\\y"])
def test_env_names_with_paths_are_refused_in_composer_yml(
    cli: CliRunner, project: Path, name: str
) -> None:
    write(
        project,
        {"composer.yml": f"name: shop\nenvironments:\n  {json.dumps(name)}:\n    overlays: []\n"},
    )
    before = snapshot(project)
    outside = snapshot(project.parent)
    result = cli("merge", "--all", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, file="composer.yml", line=3)
    assert snapshot(project.parent) == outside


@pytest.mark.parametrize(
    "output", ["compose.yml", "overlays/prod.yml", "composer.yml", "./overlays/../compose.yml"]
)
def test_output_over_an_input_is_refused_even_with_force(
    cli: CliRunner, project: Path, output: str
) -> None:
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "-o", output, "--force", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="input")


def test_output_over_an_extended_file_or_env_file_is_refused(
    cli: CliRunner, project: Path
) -> None:
    write(
        project,
        {
            "common.yml": "services:\n  base:\n    image: busybox\n",
            "overlays/prod.yml": "services:\n  web:\n    extends: {file: ../common.yml, "
            "service: base}\n",
            ".env": "TAG=1\n",
        },
    )
    for output in ("common.yml", ".env"):
        before = snapshot(project)
        result = cli("merge", "--env", "prod", "-o", output, "--force", cwd=project)
        assert_refused(result, before, project, rc=EXIT_USAGE, fragment="input")


def test_output_through_a_hard_link_to_an_input_is_refused(
    cli: CliRunner, project: Path
) -> None:
    os.link(project / "compose.yml", project / "linked.yml")
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "-o", "linked.yml", "--force", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="input")


def test_output_through_a_symlink_to_an_input_is_refused(cli: CliRunner, project: Path) -> None:
    (project / "deploy").mkdir()
    (project / "deploy/compose.prod.yml").symlink_to(project / "overlays/prod.yml")
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "--force", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="input")


def test_a_hand_written_file_is_not_overwritten(cli: CliRunner, project: Path) -> None:
    write(project, {"deploy/compose.prod.yml": "# mine\nservices: {}\n"})
    before = snapshot(project)
    result = cli("merge", "--all", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, file="deploy/compose.prod.yml",
                   fragment="--force")


def test_two_environments_to_one_file_is_refused(cli: CliRunner, project: Path) -> None:
    before = snapshot(project)
    result = cli("merge", "--all", "-o", "deploy/all.yml", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="same file")


@pytest.fixture
def lock() -> Iterator[Callable[[Path], Path]]:
    """Make folders nobody can write to, root included (immutable when permissions do not bind)."""
    locked: list[tuple[Path, bool]] = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".keep").write_text("")
        folder.chmod(0o555)
        immutable = False
        if _writable(folder) and shutil.which("chattr"):
            immutable = subprocess.run(
                ["chattr", "+i", str(folder)], check=False, capture_output=True
            ).returncode == 0
        locked.append((folder, immutable))
        if _writable(folder):
            pytest.skip("cannot make a folder read-only here (root without chattr)")
        return folder

    yield make
    for folder, immutable in locked:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


def test_read_only_output_folder(
    cli: CliRunner, project: Path, tmp_path: Path, lock: Callable[[Path], Path]
) -> None:
    folder = lock(tmp_path / "locked")
    before = snapshot(project)
    locked = snapshot(folder)
    result = cli("merge", "--env", "prod", "-o", folder / "compose.yml", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="cannot")
    assert snapshot(folder) == locked


def test_read_only_folder_for_one_environment_writes_no_environment(
    cli: CliRunner, project: Path, lock: Callable[[Path], Path]
) -> None:
    """dev's folder is fine, prod's is not: dev is not written either (all or nothing)."""
    write(project, {"composer.yml": PROJECT.replace("  prod: {}", "  prod:\n    output: "
                                                    "locked/prod.yml")})
    lock(project / "locked")
    before = snapshot(project)
    result = cli("merge", "--all", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, file="locked/prod.yml")


def test_read_only_folder_below_a_missing_one(
    cli: CliRunner, project: Path, tmp_path: Path, lock: Callable[[Path], Path]
) -> None:
    """Folders composer would create are not left behind when it cannot write in the end."""
    folder = lock(tmp_path / "locked")
    before = snapshot(project)
    locked = snapshot(folder)
    result = cli("merge", "--env", "prod", "-o", folder / "a/b/compose.yml", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="cannot")
    assert snapshot(folder) == locked


def test_missing_output_folder_is_created(cli: CliRunner, project: Path) -> None:
    result = cli("merge", "--env", "prod", "-o", "build/stacks/prod.yml", cwd=project)
    assert result.rc == 0
    assert (project / "build/stacks/prod.yml").read_text().startswith("# Generated by composer")
    assert sorted(p.name for p in (project / "build/stacks").iterdir()) == ["prod.yml"]


def test_output_folder_under_a_file_is_refused(cli: CliRunner, project: Path) -> None:
    write(project, {"build": "a file, not a folder\n"})
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "-o", "build/stacks/prod.yml", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="folder")


def test_output_on_another_filesystem(cli: CliRunner, project: Path) -> None:
    """/dev/shm is a tmpfs: the temporary file is made there, so the rename stays atomic."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(project).st_dev:
        pytest.skip("no second filesystem at /dev/shm")
    folder = Path(os.path.realpath(shm)) / f"composer-test-{os.getpid()}-{project.parent.name}"
    folder.mkdir()
    try:
        before = snapshot(project)
        target = folder / "prod.yml"
        first = cli("merge", "--env", "prod", "-o", target, cwd=project)
        assert first.rc == 0
        again = cli("merge", "--env", "prod", "-o", target, cwd=project)
        assert again.rc == 0
        assert sorted(p.name for p in folder.iterdir()) == ["prod.yml"]
        assert target.read_text().startswith("# Generated by composer")
        assert snapshot(project) == before
    finally:
        shutil.rmtree(folder)


def test_output_is_a_directory(cli: CliRunner, project: Path) -> None:
    (project / "deploy").mkdir()
    before = snapshot(project)
    result = cli("merge", "--env", "prod", "-o", "deploy", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE, fragment="directory")


# --------------------------------------------------------------------------- git


TAGGED_PROJECT = """\
name: shop
base: compose.yml
inject:
  image:
    registry: registry.example.com/shop
    tag: "{registry}/{service}:{git_sha}"
environments:
  prod: {}
"""


@pytest.fixture
def tagged(project: Path) -> Path:
    """A project whose image tags need git: both services are built here."""
    write(
        project,
        {
            "composer.yml": TAGGED_PROJECT,
            "overlays/prod.yml": PROD + "    build: ./web\n  db:\n    build: ./db\n",
            "web/Dockerfile": "FROM nginx:1.27\n",
            "db/Dockerfile": "FROM postgres:16\n",
        },
    )
    return project


def _git(cwd: Path, *args: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_not_a_git_repository(cli: CliRunner, tagged: Path) -> None:
    before = snapshot(tagged)
    env = {"GIT_CEILING_DIRECTORIES": str(tagged.parent)}
    result = cli("merge", "--env", "prod", cwd=tagged, env=env)
    assert_refused(result, before, tagged, rc=EXIT_USAGE, fragment="git repository")
    assert "--tag" in result.stderr
    with_tag = cli("merge", "--env", "prod", "--tag", "v1", cwd=tagged, env=env)
    assert with_tag.rc == 0


def test_git_missing(cli: CliRunner, tagged: Path, tmp_path: Path) -> None:
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    before = snapshot(tagged)
    result = cli("merge", "--env", "prod", cwd=tagged, env={"PATH": str(empty_path)})
    assert_refused(result, before, tagged, rc=EXIT_USAGE, fragment="git")
    assert "--tag" in result.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_shallow_clone_gets_the_same_tags(cli: CliRunner, tagged: Path, tmp_path: Path) -> None:
    _git(tagged, "init", "-q", "-b", "main")
    _git(tagged, "add", ".")
    _git(tagged, "commit", "-q", "-m", "one")
    write(tagged, {"web/Dockerfile": "FROM nginx:1.28\n"})
    _git(tagged, "commit", "-q", "-am", "two")
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{tagged}", str(shallow))
    assert (shallow / ".git/shallow").is_file()
    full = cli("merge", "--env", "prod", "-o", "-", cwd=tagged)
    clone = cli("merge", "--env", "prod", "-o", "-", cwd=shallow)
    assert full.rc == 0
    assert clone.rc == 0
    tags = re.findall(r"registry\.example\.com/shop/\w+:([0-9a-f]{7})", clone.stdout)
    assert len(tags) == 2
    assert clone.stdout == full.stdout


# --------------------------------------------------------------------------- usage


def test_no_input_at_all(cli: CliRunner, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = cli("merge", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE)


def test_missing_compose_file(cli: CliRunner, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = cli("merge", "-f", "nothere.yml", "-o", "out.yml", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, file="nothere.yml",
                   fragment="not found")


def test_a_folder_as_compose_file(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "stack").mkdir()
    before = snapshot(tmp_path)
    result = cli("merge", "-f", "stack", "-o", "out.yml", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_USAGE, file="stack", fragment="directory")


def test_unknown_option_is_a_usage_error(cli: CliRunner, project: Path) -> None:
    before = snapshot(project)
    result = cli("merge", "--envv", "prod", cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("merge", "--format", "json", "--envv", "prod"), "No such option '--envv'"),
        (("merge", "--format=json", "--env"), "'--env' requires an argument"),
        (("validate", "--env", "prod", "--format", "json", "--set"), "'--set' requires"),
        (("check", "--format", "json", "--nope"), "No such option '--nope'"),
        (("merge", "--format", "json", "--output"), "'--output' requires"),
    ],
    ids=["unknown-option", "missing-value", "validate", "check", "output-without-path"],
)
def test_usage_errors_asked_for_as_json_are_json(
    cli: CliRunner, project: Path, args: tuple[str, ...], fragment: str
) -> None:
    before = snapshot(project)
    result = cli(*args, cwd=project)
    assert_refused(result, before, project, rc=EXIT_USAGE)
    data = json.loads(result.stderr)
    assert data["exit_code"] == EXIT_USAGE
    [problem] = data["problems"]
    assert problem["severity"] == "error"
    assert fragment in problem["message"]


def test_a_closed_stdout_is_not_a_crash(project: Path) -> None:
    """`composer merge ... | head -1`: the reader leaves early; no traceback, no bug report."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT)}
    write(project, {"overlays/prod.yml": PROD + "    labels:\n" + "".join(
        f"      l{i}: {'v' * 60}\n" for i in range(5000))})
    proc = subprocess.Popen(
        [sys.executable, "-m", "composer", "merge", "--env", "prod", "-o", "-"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    rc = proc.wait(timeout=120)
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    assert rc != 0


def test_a_redefined_anchor_is_valid_yaml(cli: CliRunner, tmp_path: Path) -> None:
    """YAML lets an anchor be defined again (the later one counts, in Compose too): no noise."""
    write(tmp_path, {"compose.yml": "x-a: &common {restart: always}\nx-b: &common {restart: "
                                    "\"no\"}\nservices:\n  web:\n    image: nginx\n"
                                    "    <<: *common\n"})
    result = cli("merge", "-f", "compose.yml", "-o", "out.yml", cwd=tmp_path)
    assert result.rc == 0
    assert result.stderr == ""


# --------------------------------------------------------------------------- the writer


def test_the_temporary_file_is_made_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same folder, same filesystem: the final rename is atomic wherever the output goes."""
    from composer import writer

    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str, dst: str | os.PathLike[str]) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", spy)
    shm = Path("/dev/shm")
    folders = [tmp_path / "out"]
    if shm.is_dir() and os.access(shm, os.W_OK):
        folders.append(Path(tempfile.mkdtemp(dir=shm)))
    try:
        for folder in folders:
            target = folder / "compose.yml"
            writer.write_all([(target, "services: {}\n")])
            src, dst = renames[-1]
            assert src.parent == dst.parent == target.parent
            assert os.stat(src.parent).st_dev == os.stat(target).st_dev
            assert sorted(p.name for p in folder.iterdir()) == ["compose.yml"]
    finally:
        for folder in folders[1:]:
            shutil.rmtree(folder)


def test_a_failed_rename_puts_every_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of three renames fails: the first file gets its old bytes back, no new file
    stays, no temporary file is left."""
    from composer import writer
    from composer.errors import OutputError

    old = tmp_path / "a.yml"
    old.write_text("old a\n")
    targets = [old, tmp_path / "new/b.yml", tmp_path / "c.yml"]
    real_replace = os.replace
    calls = 0

    def failing(src: str, dst: str | os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", failing)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError) as info:
        writer.write_all([(t, f"new {t.name}\n") for t in targets])
    assert "No space left" in info.value.message
    assert info.value.location.path == targets[1]
    assert snapshot(tmp_path) == before


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    from composer import writer

    target = tmp_path / "compose.yml"
    assert writer.write_all([(target, "x: 1\n")]) == [True]
    stamp = target.stat().st_mtime_ns
    assert writer.write_all([(target, "x: 1\n")]) == [False]
    assert target.stat().st_mtime_ns == stamp


def test_a_secret_with_an_empty_environment_name(cli: CliRunner, tmp_path: Path) -> None:
    """Compose refuses it at `config`; composer must not write a file Compose cannot load."""
    write(tmp_path, {"compose.yml": BASE + "secrets:\n  token:\n    environment: \"\"\n"})
    before = snapshot(tmp_path)
    result = cli("merge", "-f", "compose.yml", "-o", "out.yml", cwd=tmp_path)
    assert_refused(result, before, tmp_path, rc=EXIT_INVALID, file="compose.yml", line=11,
                   fragment="secrets.token")


def test_a_real_bug_gets_a_traceback_and_a_request_to_report_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The one place a traceback is right: composer itself failed, not the input."""
    from composer.cli import BUG_EXIT, run

    def broken() -> int:
        raise RuntimeError("composer bug")

    with pytest.raises(SystemExit) as info:
        run(broken)
    assert info.value.code == BUG_EXIT
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: composer bug" in err
    assert "please report it" in err.splitlines()[-1]
