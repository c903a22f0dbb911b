"""The pre-commit hooks of .pre-commit-hooks.yaml, run by pre-commit itself in a scratch repository.

pre-commit would install a `language: python` hook into its own virtualenv from the network;
the tests instead run each manifest entry as a `repo: local` / `language: system` hook with
this checkout's composer, keeping every other setting of the manifest (arguments, filters,
pass_filenames), so what is tested is what users get.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT
from ruamel.yaml import YAML

MANIFEST = REPO_ROOT / ".pre-commit-hooks.yaml"
STACK_PARTS = ("compose.yml", "overlays", "composer.yml", "services", "dynamic-config", "env")
HOOK_IDS = ("composer-check", "composer-merge")
LOCAL_ONLY = {"language", "minimum_pre_commit_version", "entry"}

pytest.importorskip("pre_commit", reason="pre-commit is in the test extras (.[test])")


def manifest() -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = YAML(typ="safe").load(MANIFEST.read_text())
    return hooks


class Repo:
    """A git repository whose commands see no user configuration and no network."""

    def __init__(self, path: Path, home: Path) -> None:
        self.path = path
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LC_ALL": "C.UTF-8",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PRE_COMMIT_HOME": str(home / "pre-commit-cache"),
            "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            args, cwd=self.path, env=self.env, capture_output=True, text=True, check=False,
            timeout=300,
        )
        print(f"$ {shlex.join(args)}\nrc={done.returncode}\n{done.stdout}{done.stderr}")
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("git", *args, check=check)

    def pre_commit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "pre_commit", *args, check=False)


def local_config(hooks: list[dict[str, Any]], manual: tuple[str, ...] = ()) -> str:
    """The manifest's hooks as local system hooks running this checkout's composer.

    Hooks named in `manual` only run when asked for (`pre-commit run --hook-stage manual`).
    """
    local = []
    for hook in hooks:
        entry = shlex.split(hook["entry"])
        assert entry[0] == "composer", "hooks run the composer command"
        converted = {k: v for k, v in hook.items() if k not in LOCAL_ONLY}
        converted["entry"] = shlex.join([sys.executable, "-m", "composer", *entry[1:]])
        converted["language"] = "system"
        if hook["id"] in manual:
            converted["stages"] = ["manual"]
        local.append(converted)
    out = io.StringIO()
    YAML(typ="safe").dump({"repos": [{"repo": "local", "hooks": local}]}, out)
    return out.getvalue()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    home = tmp_path / "home"
    home.mkdir()
    repo = Repo(tmp_path / "stack", home)
    repo.path.mkdir()
    for part in STACK_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, repo.path / part)
        else:
            shutil.copy2(source, repo.path / part)
    (repo.path / ".pre-commit-config.yaml").write_text(local_config(manifest()))
    repo.git("init", "-q", "-b", "main")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "inputs")
    repo.run(sys.executable, "-m", "composer", "merge", "--all")
    repo.git("add", "deploy")
    repo.git("commit", "-q", "-m", "generated files")
    return repo


def test_manifest_is_valid_for_pre_commit(repo: Repo) -> None:
    done = repo.pre_commit("validate-manifest", str(MANIFEST))
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = {hook["id"]: hook for hook in manifest()}
    assert set(hooks) == set(HOOK_IDS)
    assert shlex.split(hooks["composer-check"]["entry"]) == ["composer", "check"]
    assert shlex.split(hooks["composer-merge"]["entry"]) == ["composer", "merge", "--all"]
    for hook in hooks.values():
        assert hook["pass_filenames"] is False  # composer.yml names the files, not git
    done = repo.pre_commit("validate-config", ".pre-commit-config.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_hook_passes_on_a_clean_repository(repo: Repo) -> None:
    done = repo.pre_commit("run", "composer-check", "--all-files")
    assert done.returncode == 0, done.stdout
    assert "Passed" in done.stdout


def test_check_hook_blocks_a_commit_with_stale_outputs(repo: Repo) -> None:
    repo.pre_commit("install")
    overlay = repo.path / "overlays/prod.yml"
    overlay.write_text(overlay.read_text().replace("memory: 512M", "memory: 1G"))
    repo.git("add", "overlays/prod.yml")
    config = repo.path / ".pre-commit-config.yaml"
    config.write_text(local_config(manifest(), manual=("composer-merge",)))
    repo.git("add", ".pre-commit-config.yaml")
    done = repo.git("commit", "-m", "more memory", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "composer check" in output and "Failed" in output
    assert "-          memory: 512M" in output
    assert "regenerate the Compose files" not in output  # only the check ran
    assert repo.git("log", "--format=%s", "-1").stdout.strip() == "generated files"
    repo.run(sys.executable, "-m", "composer", "merge", "--env", "prod")
    repo.git("add", "deploy")
    repo.git("commit", "-q", "-m", "more memory")
    assert repo.git("log", "--format=%s", "-1").stdout.strip() == "more memory"


def test_merge_hook_regenerates_and_the_retry_commits(repo: Repo) -> None:
    repo.pre_commit("install")
    overlay = repo.path / "overlays/prod.yml"
    overlay.write_text(overlay.read_text().replace("memory: 512M", "memory: 1G"))
    repo.git("add", "overlays/prod.yml")
    done = repo.git("commit", "-m", "more memory", check=False)
    assert done.returncode != 0
    assert "files were modified by this hook" in done.stdout + done.stderr
    assert "memory: 1G" in (repo.path / "deploy/compose.prod.yml").read_text()
    repo.git("add", "deploy")
    repo.git("commit", "-q", "-m", "more memory")
    assert repo.git("status", "--porcelain").stdout == ""
    done = repo.pre_commit("run", "--all-files")
    assert done.returncode == 0, done.stdout
