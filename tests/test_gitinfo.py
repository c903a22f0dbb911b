"""The image tag: a content id of the inputs that outputs, clones and checkouts leave alone."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from composer.errors import GitError
from composer.gitinfo import image_tag

CONTEXT = Path("services/web")
INPUTS = [CONTEXT, Path("compose.yml"), Path("overlays")]
OUTPUTS = [Path("deploy")]


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration may change what these repositories look like."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{name}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{name}_EMAIL", "test@example.com")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "compose.yml", "services:\n  web:\n    build: ./services/web\n")
    write(repo, "overlays/prod.yml", "services:\n  web:\n    restart: always\n")
    write(repo, "services/web/Dockerfile", "FROM scratch AS final\n")
    write(repo, "services/web/main.go", "package main\n")
    write(repo, "services/api/main.go", "package main\n")
    write(repo, "README.md", "docs\n")
    commit_all(repo, "initial")
    return repo


def tag(repo: Path) -> str:
    return image_tag(repo, INPUTS, exclude=OUTPUTS)


def test_tag_is_seven_hex_digits(repo: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{7}", tag(repo))


def test_committing_outputs_keeps_the_tag(repo: Path) -> None:
    before = tag(repo)
    write(repo, "deploy/compose.prod.yml", f"services:\n  web:\n    image: web:{before}\n")
    assert tag(repo) == before  # untracked output
    commit_all(repo, "render deploy files")
    assert tag(repo) == before
    assert git(repo, "status", "--porcelain") == ""


def test_outputs_inside_an_input_folder_are_excluded(repo: Path) -> None:
    before = image_tag(repo, [Path(".")], exclude=OUTPUTS)
    write(repo, "deploy/compose.prod.yml", "services: {}\n")
    commit_all(repo, "render")
    assert image_tag(repo, [Path(".")], exclude=OUTPUTS) == before
    assert image_tag(repo, [Path(".")]) != before


def test_changing_the_context_changes_the_tag(repo: Path) -> None:
    before = tag(repo)
    write(repo, "services/web/main.go", "package main\n\nfunc main() {}\n")
    commit_all(repo, "web: main")
    assert tag(repo) != before


def test_changing_a_compose_input_changes_the_tag(repo: Path) -> None:
    before = tag(repo)
    write(repo, "overlays/prod.yml", "services:\n  web:\n    restart: on-failure:3\n")
    commit_all(repo, "prod restart")
    assert tag(repo) != before


def test_unrelated_commits_keep_the_tag(repo: Path) -> None:
    before = tag(repo)
    write(repo, "services/api/main.go", "package main // api\n")
    write(repo, "README.md", "more docs\n")
    commit_all(repo, "api and docs")
    assert tag(repo) == before


def test_mode_and_renames_count(repo: Path) -> None:
    before = tag(repo)
    script = repo / "services/web/main.go"
    script.chmod(script.stat().st_mode | 0o111)
    after_chmod = tag(repo)
    commit_all(repo, "executable")
    assert git(repo, "ls-tree", "HEAD", "services/web/main.go").startswith("100755")
    assert tag(repo) == after_chmod
    assert after_chmod != before
    git(repo, "mv", "services/web/main.go", "services/web/app.go")
    git(repo, "commit", "-q", "-m", "rename")
    assert tag(repo) not in (before, after_chmod)


def test_shallow_clone_gives_the_same_tag(repo: Path, tmp_path: Path) -> None:
    for n in range(3):  # history that a shallow clone does not have
        write(repo, "services/web/main.go", f"package main // {n}\n")
        commit_all(repo, f"web {n}")
        write(repo, "README.md", f"docs {n}\n")
        commit_all(repo, f"docs {n}")
    clone = tmp_path / "elsewhere" / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(clone)],
        check=True,
        capture_output=True,
    )
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert tag(clone) == tag(repo)


def test_dirty_tree_gets_the_tag_it_will_have_once_committed(repo: Path) -> None:
    clean = tag(repo)
    write(repo, "services/web/main.go", "package main // edited\n")
    dirty = tag(repo)
    assert dirty != clean
    git(repo, "add", "services/web/main.go")  # staged counts the same as unstaged
    assert tag(repo) == dirty
    git(repo, "commit", "-q", "-m", "edit")
    assert tag(repo) == dirty
    write(repo, "services/web/main.go", "package main\n")  # back to the first content
    assert tag(repo) == clean


def test_untracked_and_deleted_files_count_but_ignored_ones_do_not(repo: Path) -> None:
    clean = tag(repo)
    write(repo, ".gitignore", "*.log\n")
    commit_all(repo, "ignore logs")
    assert tag(repo) == clean
    write(repo, "services/web/debug.log", "noise\n")
    assert tag(repo) == clean
    write(repo, "services/web/extra.go", "package main\n")
    with_new = tag(repo)
    assert with_new != clean
    (repo / "services/web/extra.go").unlink()
    assert tag(repo) == clean
    (repo / "services/web/Dockerfile").unlink()
    assert tag(repo) != clean


def test_symlinks_are_hashed_as_links(repo: Path) -> None:
    os.symlink("main.go", repo / "services/web/link.go")
    dirty = tag(repo)
    commit_all(repo, "link")
    assert tag(repo) == dirty


def test_order_and_spelling_of_paths_do_not_matter(repo: Path) -> None:
    reordered = [Path("overlays/"), repo / "compose.yml", Path("./services/web")]
    assert image_tag(repo, reordered, exclude=OUTPUTS) == tag(repo)
    # Called from a subfolder with paths relative to it.
    assert image_tag(repo / "services", [Path("web")]) == image_tag(repo, [CONTEXT])


def test_a_repository_without_commits_uses_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "compose.yml", "services: {}\n")
    before = image_tag(repo, [Path("compose.yml")])
    commit_all(repo, "first")
    assert image_tag(repo, [Path("compose.yml")]) == before


def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(GitError) as info:
        image_tag(folder, [Path(".")])
    assert "not inside a git repository" in info.value.message
    assert "--tag" in info.value.message


def test_git_not_installed(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GitError) as info:
        image_tag(repo, INPUTS)
    assert "git is not installed" in info.value.message
    assert "--tag" in info.value.message


def test_path_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        image_tag(repo, [tmp_path / "elsewhere"])
    assert "outside the git repository" in info.value.message
    assert "--tag" in info.value.message


def test_paths_git_does_not_know(repo: Path) -> None:
    with pytest.raises(GitError, match="knows no files"):
        image_tag(repo, [Path("services/missing")])
