"""`composer check`: the drift gate over the example stack, in real git repositories."""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT, CliResult
from conftest import CliRunner as Cli
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.drift import CheckRequest, check_project, unified_diff
from composer.masking import MASK, Masker
from composer.pipeline import FileCache

STACK_PARTS = ("compose.yml", "overlays", "composer.yml", "services", "dynamic-config", "env")
ENVS = ("dev", "staging", "prod")
ANNOTATION = re.compile(r"^::(error|warning) file=[^,]+,line=\d+::")
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_GLOBAL": str(repo.parent / "gitconfig")}
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """In-process checks run git too: no user configuration may leak in."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "NO_COLOR", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def committed_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example stack in a git repository: inputs committed, then the generated files."""
    repo = tmp_path_factory.mktemp("template") / "stack"
    repo.mkdir()
    for part in STACK_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, repo / part)
        else:
            shutil.copy2(source, repo / part)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "inputs")
    merged = subprocess.run(
        [sys.executable, "-m", "composer", "merge", "--all"],
        cwd=repo,
        env={**os.environ, **GIT_ENV, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert merged.returncode == 0, merged.stderr
    git(repo, "add", "deploy")
    git(repo, "commit", "-q", "-m", "generated files")
    assert git(repo, "status", "--porcelain") == ""
    return repo


@pytest.fixture
def stack(committed_stack: Path, tmp_path: Path) -> Path:
    """A private copy (work tree and history) of the committed example stack."""
    repo = tmp_path / "stack"
    shutil.copytree(committed_stack, repo, symlinks=True)
    return repo


def check(cli: Cli, repo: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    result = cli("check", *args, cwd=repo, env={**GIT_ENV, **(env or {})})
    assert not result.traceback
    return result


def check_json(cli: Cli, repo: Path, *args: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    result = check(cli, repo, "--format", "json", *args, **kw)
    return result.rc, json.loads(result.stdout)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().split("\n"), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def kinds(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["path"]): d for d in doc["drift"]}


# --------------------------------------------------------------------------- in sync


def test_fresh_commit_is_in_sync(cli: Cli, stack: Path) -> None:
    result = check(cli, stack)
    assert result.rc == 0
    assert "3 environments in sync (dev, staging, prod)" in result.stdout
    rc, doc = check_json(cli, stack)
    assert rc == 0
    assert doc["status"] == "in-sync"
    assert doc["drift"] == [] and doc["problems"] == []
    assert [(e["env"], e["path"], e["in_sync"]) for e in doc["environments"]] == [
        (env, f"deploy/compose.{env}.yml", True) for env in ENVS
    ]
    github = check(cli, stack, "--format", "github")
    assert github.rc == 0
    assert not [line for line in github.stdout.splitlines() if line.startswith("::")]


def test_shallow_clone_is_in_sync(cli: Cli, stack: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{stack}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert git(clone, "rev-list", "--count", "HEAD").strip() == "1"
    result = check(cli, clone)
    assert result.rc == 0, result.stdout
    # An unrelated commit on top (what CI checks after every push) keeps it green.
    (clone / "NOTES.md").write_text("release notes\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "-q", "-m", "notes")
    assert check(cli, clone).rc == 0


def test_crlf_checkout_of_the_same_blob_is_in_sync(cli: Cli, stack: Path) -> None:
    out = stack / "deploy/compose.dev.yml"
    out.write_bytes(out.read_bytes().replace(b"\n", b"\r\n"))
    assert check(cli, stack).rc == 0


# --------------------------------------------------------------------------- each kind


def test_changed_input_differs_and_changes_the_model(cli: Cli, stack: Path) -> None:
    edit(stack / "overlays/prod.yml", "memory: 512M", "memory: 1G")
    committed = stack / "deploy/compose.prod.yml"
    rc, doc = check_json(cli, stack)
    assert rc == 1
    assert doc["status"] == "drift"
    assert set(kinds(doc)) == {("differs", "deploy/compose.prod.yml")}
    drift = doc["drift"][0]
    assert drift["env"] == "prod"
    assert drift["model_changed"] is True
    assert "services.user.deploy.resources.limits.memory" in drift["model_paths"]
    assert drift["fix"] == "composer merge --env prod"
    assert "-          memory: 512M\n+          memory: 1G\n" in drift["diff"]
    lines = {h["line"] for h in drift["hunks"]}
    assert line_of(committed, "memory: 512M") in lines
    assert drift["line"] == min(lines)
    text = check(cli, stack)
    assert text.rc == 1
    assert "deploy/compose.prod.yml: differs from what environment prod renders to" in text.stdout
    assert "changes the Compose model at" in text.stdout
    assert "\x1b[" not in text.stdout  # not a terminal: plain


def test_comment_and_quoting_changes_are_formatting_only(cli: Cli, stack: Path) -> None:
    out = stack / "deploy/compose.dev.yml"
    edit(out, "# Edge service: the only one", "# Edge: the only one")
    edit(out, '- "8080:8080"', "- '8080:8080'")
    rc, doc = check_json(cli, stack)
    assert rc == 1
    (drift,) = doc["drift"]
    assert (drift["kind"], drift["env"], drift["model_changed"]) == ("differs", "dev", False)
    assert drift["model_paths"] == []
    text = check(cli, stack).stdout
    assert "formatting or comments only; the Compose model is the same" in text


def test_missing_output(cli: Cli, stack: Path) -> None:
    (stack / "deploy/compose.staging.yml").unlink()
    rc, doc = check_json(cli, stack)
    assert rc == 1
    (drift,) = doc["drift"]
    assert drift["kind"] == "missing"
    assert (drift["env"], drift["path"]) == ("staging", "deploy/compose.staging.yml")
    assert drift["line"] == 1
    assert drift["fix"] == "composer merge --env staging"
    assert drift["model_changed"] is True
    assert "deploy/compose.staging.yml: missing" in check(cli, stack).stdout


@pytest.mark.parametrize(
    ("old", "new", "fix", "message"),
    [
        ("REMOVE-HEADER", "", "composer merge --env staging --force", "header is gone"),
        ("; do not edit.", "; edit freely.", "composer merge --env staging --force",
         "header is gone"),
        ("--env staging", "--env prod", "composer merge --env staging", "header was altered"),
    ],
)
def test_hand_edited_header(
    cli: Cli, stack: Path, old: str, new: str, fix: str, message: str
) -> None:
    out = stack / "deploy/compose.staging.yml"
    if old == "REMOVE-HEADER":
        out.write_text(out.read_text().split("\n", 1)[1])
    else:
        edit(out, old, new)
    rc, doc = check_json(cli, stack)
    assert rc == 1
    (drift,) = doc["drift"]
    assert (drift["kind"], drift["env"], drift["line"]) == ("hand-edited", "staging", 1)
    assert message in drift["message"]
    assert drift["fix"] == fix
    assert drift["model_changed"] is False  # the header is a comment
    assert drift["diff"].count("\n+# Generated by composer from") == 1


def test_hand_edit_of_the_body_without_header_changes_the_model(cli: Cli, stack: Path) -> None:
    out = stack / "deploy/compose.staging.yml"
    out.write_text(out.read_text().split("\n", 1)[1].replace("internal: true", "internal: false"))
    rc, doc = check_json(cli, stack)
    (drift,) = doc["drift"]
    assert (rc, drift["kind"], drift["model_changed"]) == (1, "hand-edited", True)
    assert drift["model_paths"] == ["networks.backend.internal"]


def test_header_naming_other_sources_is_ordinary_drift(cli: Cli, stack: Path) -> None:
    edit(stack / "deploy/compose.staging.yml", "overlays/staging.yml;", "overlays/old.yml;")
    rc, doc = check_json(cli, stack)
    assert rc == 1
    assert [(d["kind"], d["model_changed"]) for d in doc["drift"]] == [("differs", False)]


def test_generated_file_of_an_unknown_environment_is_orphaned(cli: Cli, stack: Path) -> None:
    qa = stack / "deploy/compose.qa.yml"
    qa.write_text((stack / "deploy/compose.dev.yml").read_text().replace("--env dev", "--env qa"))
    (stack / "deploy/README.md").write_text("# Generated elsewhere\n")  # not composer's
    (stack / "deploy/notes.yml").write_text("services: {}\n")
    rc, doc = check_json(cli, stack)
    assert rc == 1
    (drift,) = doc["drift"]
    assert (drift["kind"], drift["env"]) == ("orphaned", "qa")
    assert drift["path"] == "deploy/compose.qa.yml"
    assert drift["fix"] == "git rm deploy/compose.qa.yml"
    assert drift["model_changed"] is None and drift["diff"] is None
    assert "which composer.yml no longer defines" in drift["message"]
    # Checking named environments says nothing about files of other environments.
    assert check(cli, stack, "--env", "dev").rc == 0


def test_removed_environment_leaves_an_orphan(cli: Cli, stack: Path) -> None:
    project = stack / "composer.yml"
    text = project.read_text()
    start = text.index("  dev:")
    project.write_text(text[:start] + text[text.index("  staging:"):])
    rc, doc = check_json(cli, stack)
    assert rc == 1
    found = kinds(doc)
    assert ("orphaned", "deploy/compose.dev.yml") in found
    assert found[("orphaned", "deploy/compose.dev.yml")]["env"] == "dev"
    assert [e["env"] for e in doc["environments"]] == ["staging", "prod"]


def test_file_merged_with_f_is_not_an_orphan(cli: Cli, stack: Path) -> None:
    made = cli("merge", "-f", "compose.yml", "-o", "deploy/debug.yml", cwd=stack, env=GIT_ENV)
    assert made.rc == 0
    assert (stack / "deploy/debug.yml").read_text().startswith("# Generated by composer")
    assert check(cli, stack).rc == 0


def test_env_option_selects_environments(cli: Cli, stack: Path) -> None:
    edit(stack / "overlays/prod.yml", "memory: 512M", "memory: 1G")
    (stack / "deploy/compose.staging.yml").unlink()
    assert check(cli, stack, "--env", "dev").rc == 0
    rc, doc = check_json(cli, stack, "--env", "dev", "--env", "prod")
    assert rc == 1
    assert [e["env"] for e in doc["environments"]] == ["dev", "prod"]
    assert set(kinds(doc)) == {("differs", "deploy/compose.prod.yml")}


def test_every_fix_brings_the_stack_back_in_sync(cli: Cli, stack: Path) -> None:
    edit(stack / "overlays/prod.yml", "memory: 512M", "memory: 1G")
    (stack / "deploy/compose.staging.yml").unlink()
    dev = stack / "deploy/compose.dev.yml"
    dev.write_text(dev.read_text().split("\n", 1)[1])
    qa = stack / "deploy/compose.qa.yml"
    qa.write_text((stack / "deploy/compose.prod.yml").read_text().replace("--env prod", "--env qa"))
    git(stack, "add", str(qa))
    git(stack, "commit", "-q", "-m", "an environment that is gone")
    rc, doc = check_json(cli, stack)
    assert rc == 1
    assert {d["kind"] for d in doc["drift"]} == {"differs", "missing", "hand-edited", "orphaned"}
    for drift in doc["drift"]:
        command = shlex.split(drift["fix"])
        if command[0] == "git":
            git(stack, *command[1:])
        else:
            assert command[0] == "composer"
            assert cli(*command[1:], cwd=stack, env=GIT_ENV).rc == 0
    assert check(cli, stack).rc == 0
    git(stack, "add", "-A")
    git(stack, "commit", "-q", "-m", "regenerate")
    assert check(cli, stack).rc == 0


# --------------------------------------------------------------------------- trouble: exit 2


def test_no_project_file_is_trouble(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = check(cli, empty)
    assert result.rc == 2
    assert "composer.yml not found" in result.stderr or "no composer.yml" in result.stderr
    rc, doc = check_json(cli, empty)
    assert (rc, doc["status"], doc["exit_code"]) == (2, "error", 2)
    assert doc["problems"] and doc["drift"] == []
    github = check(cli, empty, "--format", "github")
    assert github.rc == 2
    assert github.stdout.startswith("::error")


def test_unknown_environment_is_trouble(cli: Cli, stack: Path) -> None:
    result = check(cli, stack, "--env", "qa")
    assert result.rc == 2
    assert "unknown environment 'qa'" in result.stderr


def test_broken_input_is_trouble_and_other_environments_are_still_checked(
    cli: Cli, stack: Path
) -> None:
    edit(stack / "overlays/prod.yml", "  auth:\n", "  auth:\n    no_such_field: 1\n")
    (stack / "deploy/compose.dev.yml").unlink()
    rc, doc = check_json(cli, stack)
    assert rc == 2  # invalid inputs are trouble, not drift
    assert doc["status"] == "error"
    assert any(p["file"] == "overlays/prod.yml" and p["line"] for p in doc["problems"])
    assert [e["env"] for e in doc["environments"]] == ["dev", "staging"]
    assert {(d["kind"], d["env"]) for d in doc["drift"]} == {("missing", "dev")}
    github = check(cli, stack, "--format", "github")
    assert github.rc == 2
    lines = github.stdout.splitlines()
    assert any(line.startswith("::error file=overlays/prod.yml,line=") for line in lines)


def test_bad_yaml_is_trouble(cli: Cli, stack: Path) -> None:
    (stack / "overlays/dev.yml").write_text("services:\n  gateway: [\n")
    result = check(cli, stack)
    assert result.rc == 2
    assert "overlays/dev.yml:" in result.stderr


def test_outside_git_the_tag_option_is_needed(cli: Cli, stack: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(stack, plain, ignore=shutil.ignore_patterns(".git"))
    result = check(cli, plain)
    assert result.rc == 2
    assert "--tag" in result.stderr
    rc, doc = check_json(cli, plain, "--tag", "v1")
    assert rc == 1  # renders; the committed tags were derived from git
    drift = {d["env"]: d for d in doc["drift"]}
    assert drift["prod"]["fix"] == "composer merge --env prod --tag v1"
    assert cli(*shlex.split(drift["prod"]["fix"])[1:], cwd=plain, env=GIT_ENV).rc == 0
    assert check(cli, plain, "--tag", "v1", "--env", "prod").rc == 0


# --------------------------------------------------------------------------- formats


@pytest.fixture
def drifted(stack: Path) -> Path:
    """One of each kind of drift at once."""
    edit(stack / "overlays/prod.yml", "memory: 256M", "memory: 300M")
    (stack / "deploy/compose.staging.yml").unlink()
    dev = stack / "deploy/compose.dev.yml"
    dev.write_text(dev.read_text().split("\n", 1)[1].replace("# Edge service", "# Edge"))
    (stack / "deploy/compose.old.yml").write_text(
        (stack / "deploy/compose.prod.yml").read_text().replace("--env prod", "--env old")
    )
    return stack


def test_json_is_one_stable_document(cli: Cli, drifted: Path) -> None:
    rc, doc = check_json(cli, drifted)
    assert rc == 1
    assert list(doc) == [
        "version", "status", "exit_code", "project", "environments", "drift", "problems",
        "warnings",
    ]
    assert (doc["version"], doc["status"], doc["exit_code"]) == (1, "drift", 1)
    keys = {tuple(d) for d in doc["drift"]}
    assert keys == {
        ("kind", "env", "path", "line", "message", "model_changed", "model_paths", "fix",
         "diff", "hunks")
    }
    assert {d["kind"] for d in doc["drift"]} == {"differs", "missing", "hand-edited", "orphaned"}
    assert check(cli, drifted, "--format", "json").stdout == json.dumps(doc, indent=2) + "\n"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_workers_report_what_one_process_reports(cli: Cli, drifted: Path, fmt: str) -> None:
    """Environments rendered side by side (forked workers) or in one loop: the same report,
    a broken environment included."""
    edit(drifted / "overlays/dev.yml", "services:", "services:\n  auth:\n    restart: sometimes\n"
         "    ports: 8080", 1)
    runs = {jobs: check(cli, drifted, "--format", fmt, env={"COMPOSER_JOBS": jobs})
            for jobs in ("1", "2", "3")}
    assert {r.rc for r in runs.values()} == {2}
    assert runs["1"].stdout == runs["2"].stdout == runs["3"].stdout
    assert runs["1"].stderr == runs["2"].stderr == runs["3"].stderr


def test_merge_all_writes_the_same_with_workers(cli: Cli, stack: Path) -> None:
    outputs = {}
    for jobs in ("1", "3"):
        shutil.rmtree(stack / "deploy")
        result = cli("merge", "--all", cwd=stack, env={**GIT_ENV, "COMPOSER_JOBS": jobs})
        assert result.rc == 0, result.stderr
        outputs[jobs] = {p.name: p.read_bytes() for p in sorted((stack / "deploy").iterdir())}
    assert outputs["1"] == outputs["3"]
    assert len(outputs["1"]) == len(ENVS)


def test_github_annotations_point_at_committed_lines(cli: Cli, drifted: Path) -> None:
    result = check(cli, drifted, "--format", "github")
    assert result.rc == 1
    lines = result.stdout.splitlines()
    annotations = [line for line in lines if line.startswith("::") and "file=" in line]
    assert annotations and all(ANNOTATION.match(line) for line in annotations)
    files = {re.match(r"::\w+ file=([^,]+),", line)[1] for line in annotations}  # type: ignore[index]
    assert files == {f"deploy/compose.{env}.yml" for env in ("dev", "staging", "prod", "old")}
    prod = drifted / "deploy/compose.prod.yml"
    expected = f"::error file=deploy/compose.prod.yml,line={line_of(prod, 'memory: 256M')}::"
    assert any(line.startswith(expected) for line in annotations)
    assert "::group::" in result.stdout and "::endgroup::" in result.stdout
    # Messages are single workflow-command lines: line breaks are escaped.
    prod_note = next(line for line in annotations if line.startswith(expected))
    assert "%0A" in prod_note and "-          memory: 256M" in prod_note


def test_github_paths_are_relative_to_the_workspace(cli: Cli, drifted: Path) -> None:
    workspace = {"GITHUB_WORKSPACE": str(drifted.parent)}
    result = check(cli, drifted, "--format", "github", env=workspace)
    annotations = [line for line in result.stdout.splitlines() if ANNOTATION.match(line)]
    assert annotations
    assert all(line.split("file=")[1].startswith("stack/deploy/") for line in annotations)


def test_text_colour(cli: Cli, drifted: Path) -> None:
    coloured = check(cli, drifted, "--color", "always").stdout
    assert "\x1b[31m-" in coloured and "\x1b[32m+" in coloured
    assert "\x1b[" not in check(cli, drifted).stdout
    assert "\x1b[" not in check(cli, drifted, "--color", "always", "--format", "json").stdout


# --------------------------------------------------------------------------- secrets

SECRETS = {
    "DB_PASSWORD": "pw-7c1e4f0a",
    "STRIPE_API_KEY": "sk-0b9d2e55",
    "SESSION_TOKEN": "tok-5a6b7c8d\n  second-line-9e8f",
}
NEW_SECRETS = {k: v.replace("-", "-new-") for k, v in SECRETS.items()}
HOST_SECRET = "host-jwt-31f5aa"  # AUTH_JWT_SECRET in the environment, interpolated


def with_secrets(overlay: str, values: dict[str, str]) -> str:
    """The staging overlay with secrets in a mapping, a block scalar and a list."""
    token = values["SESSION_TOKEN"].replace("\n  ", "\n          ")
    consul = "  consul:\n    # Persistent"
    assert overlay.count(consul) == 1
    listed = f"  consul:\n    environment:\n      - STRIPE_API_KEY={values['STRIPE_API_KEY']}\n"
    return overlay.replace(consul, listed + "    # Persistent") + (
        "  user:\n"
        "    environment:\n"
        f'      DB_PASSWORD: "{values["DB_PASSWORD"]}"\n'
        f"      SESSION_TOKEN: |\n          {token}\n"
    )


def test_secret_values_never_appear(cli: Cli, stack: Path) -> None:
    overlay = stack / "overlays/staging.yml"
    base = overlay.read_text()
    overlay.write_text(with_secrets(base, SECRETS))
    assert cli("merge", "--env", "staging", cwd=stack, env=GIT_ENV).rc == 0
    git(stack, "add", "-A")
    git(stack, "commit", "-q", "-m", "secrets")
    overlay.write_text(with_secrets(base, NEW_SECRETS))
    staging = stack / "deploy/compose.staging.yml"
    edit(staging, "${AUTH_JWT_SECRET:-change-me}", HOST_SECRET)  # a hand-typed secret
    env = {"AUTH_JWT_SECRET": HOST_SECRET}
    outputs = [check(cli, stack, env=env)]
    outputs += [check(cli, stack, "--format", fmt, env=env) for fmt in ("json", "github")]
    outputs.append(check(cli, stack, "--color", "always", env=env))
    for result in outputs:
        assert result.rc == 1
        everything = result.stdout + result.stderr
        for value in [*SECRETS.values(), *NEW_SECRETS.values(), HOST_SECRET]:
            for part in value.split("\n"):
                assert part.strip() not in everything
        assert MASK in everything
    text = outputs[0].stdout
    # Changed secrets still show as changed lines, masked on both sides.
    assert f'-      DB_PASSWORD: {MASK}\n+      DB_PASSWORD: {MASK}\n' in text
    assert f"-      - STRIPE_API_KEY={MASK}\n+      - STRIPE_API_KEY={MASK}\n" in text
    assert f"JWT_SECRET: {MASK}" in text
    assert "services.user.environment.DB_PASSWORD" in text  # where, never what


def test_secrets_patterns_come_from_composer_yml(cli: Cli, stack: Path) -> None:
    edit(
        stack / "composer.yml",
        'secrets_patterns: ["*PASSWORD*", "*SECRET*", "*TOKEN*", "*_KEY"]',
        'secrets_patterns: ["*_PIN"]',
    )
    assert cli("merge", "--all", cwd=stack, env=GIT_ENV).rc == 0
    git(stack, "add", "-A")
    git(stack, "commit", "-q", "-m", "patterns")
    edit(stack / "overlays/dev.yml", '      PPROF_ADDR: ":6060"\n',
         '      PPROF_ADDR: ":6060"\n      DOOR_PIN: "pin-4f4f4f"\n')
    edit(stack / "deploy/compose.dev.yml", "${AUTH_JWT_SECRET:-change-me}", "visible-jwt-1")
    result = check(cli, stack)
    assert result.rc == 1
    assert "pin-4f4f4f" not in result.stdout
    assert f"+      DOOR_PIN: {MASK}" in result.stdout
    assert "visible-jwt-1" in result.stdout  # JWT_SECRET matches no configured pattern


def test_masker_keeps_lines_and_hides_every_yaml_form() -> None:
    masker = Masker(lambda key: key.upper().endswith(("_PASSWORD", "_TOKEN")))
    text = (
        "x-common: &common\n"
        "  DB_PASSWORD: anchored-secret-1  # note\n"
        "services:\n"
        "  a:\n"
        "    environment:\n"
        "      <<: *common\n"
        "      'API_TOKEN': 'quoted-secret-2'\n"
        "      LONG_TOKEN: >-\n"
        "        folded-secret-3\n"
        "        folded-secret-4\n"
        "      PLAIN: visible-value\n"
        "  b:\n"
        "    environment: [\"X_TOKEN=flow-secret-5\", \"Y=visible-flow\"]\n"
        "    labels: {A_PASSWORD: flow-secret-6, b: visible-label}\n"
    )
    masked = masker.text(text)
    assert masked.count("\n") == text.count("\n")
    for n in range(1, 7):
        assert f"secret-{n}" not in masked
    for visible in ("visible-value", "visible-flow", "visible-label", "# note", "<<: *common"):
        assert visible in masked
    assert f"X_TOKEN={MASK}" in masked
    # Values it has seen are also scrubbed from free text, such as an error message.
    assert masker.scrub("cannot use 'anchored-secret-1' here") == f"cannot use '{MASK}' here"


def test_masker_falls_back_to_lines_for_broken_yaml() -> None:
    masker = Masker(lambda key: "SECRET" in key.upper())
    text = "services: [\n  JWT_SECRET: broken-secret-1\n    continued-secret-2\n  B: shown\n"
    masked = masker.text(text)
    assert masked.count("\n") == text.count("\n")
    assert "secret-1" not in masked and "secret-2" not in masked
    assert "B: shown" in masked


line_lists = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "services:\n", "  x: 1\n", "\n"]))


@settings(max_examples=200, deadline=None)
@given(old=line_lists, new=line_lists)
def test_unmasked_diff_matches_difflib(old: list[str], new: list[str]) -> None:
    masker = Masker(lambda key: False)
    diff, hunks = unified_diff("".join(old), "".join(new), "f.yml", masker)
    expected = "".join(
        difflib.unified_diff(old, new, "f.yml (committed)", "f.yml (rendered)", lineterm="\n")
    )
    assert diff == (expected if expected else "--- f.yml (committed)\n+++ f.yml (rendered)\n")
    for hunk in hunks:
        first_change = next(
            line for line in hunk.text.split("\n")[1:] if line[:1] in ("-", "+")
        )
        if first_change.startswith("-"):
            assert old[hunk.line - 1] == first_change[1:] + "\n"


def test_diff_marks_a_missing_final_newline() -> None:
    diff, _ = unified_diff("a: 1\nb: 2", "a: 1\nb: 3\n", "f.yml", Masker(lambda key: False))
    assert "-b: 2\n\\ No newline at end of file\n+b: 3\n" in diff


# --------------------------------------------------------------------------- one parse per file


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[object]]]:
    """Every object FileCache.load hands out, by file name (a new object is a new parse)."""
    seen: dict[str, list[object]] = defaultdict(list)
    real = FileCache.load

    def load(self: FileCache, path: Path) -> Any:
        loaded = real(self, path)
        seen[Path(path).name].append(loaded)
        return loaded

    monkeypatch.setattr(FileCache, "load", load)
    yield seen


def assert_parsed_once(seen: dict[str, list[object]]) -> None:
    assert len(seen["compose.yml"]) >= len(ENVS)  # every environment read the base
    for name, objects in seen.items():
        assert len({id(o) for o in objects}) == 1, f"{name} was parsed more than once"
    assert {"compose.yml", "dev.yml", "staging.yml", "prod.yml"} <= set(seen)


def test_check_parses_each_file_once(
    stack: Path, parses: dict[str, list[object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSER_JOBS", "1")  # parses are counted in this process only
    monkeypatch.chdir(stack)
    result = check_project(CheckRequest(project_file=stack / "composer.yml"))
    assert result.exit_code == 0
    assert_parsed_once(parses)


def test_merge_all_parses_each_file_once(
    stack: Path, parses: dict[str, list[object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from composer.cli import main

    monkeypatch.setenv("COMPOSER_JOBS", "1")  # parses are counted in this process only
    monkeypatch.chdir(stack)
    (stack / "deploy/compose.prod.yml").unlink()
    outcome = CliRunner().invoke(main, ["merge", "--all"])
    assert outcome.exit_code == 0, outcome.output
    assert (stack / "deploy/compose.prod.yml").is_file()
    assert_parsed_once(parses)
