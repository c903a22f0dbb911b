"""The `{git_sha}` of image tags: a short content id of a service's inputs.

Why not the commit id: every commit of the generated deploy files would then change the tag and
make those same files stale again, and `git log -- path` (to find the last commit touching the
inputs) gives wrong answers in shallow clones (`git clone --depth 1`, the CI default).

Derivation (version 1):

1. `git ls-tree -r -z HEAD -- <paths>` lists every blob under the given paths (the build context
   and the compose inputs) as (mode, object id, path). Only HEAD's tree is needed, which a
   shallow clone has in full.
2. Uncommitted changes count: for each path `git status --porcelain` reports under those paths
   (modified, staged, untracked but not ignored, deleted), the entry is replaced by the working
   tree's content (`git hash-object`, with the same clean filters a commit would apply) or
   dropped when the file is gone. A dirty tree therefore gets exactly the tag it will have once
   committed, and a local edit changes the tag predictably. Ignored files never count.
3. Entries under `exclude` (the generated outputs) are dropped.
4. The tag is the first 7 hex digits of SHA-1 over "composer-tag/1\\n" followed by the sorted
   "<mode> <object id> <path>\\0" lines. Paths are relative to the repository's top level, so
   the tag does not depend on where the checkout lives.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

from composer.errors import GitError

TAG_LENGTH = 7
_VERSION = b"composer-tag/1\n"
_HINT = "pass --tag TAG to set the image tag explicitly"

Entry = tuple[str, str]  # (mode, object id)


def image_tag(repo_root: Path, paths: Sequence[Path], *, exclude: Sequence[Path] = ()) -> str:
    """7-hex content id of `paths` (files or folders) at HEAD plus uncommitted changes."""
    top = _toplevel(repo_root)
    specs = sorted({_relative(top, repo_root, p) for p in paths})
    excluded = [_relative(top, repo_root, p) for p in exclude]
    if not specs:
        raise GitError(f"no paths to derive an image tag from; {_HINT}")
    entries = _head_entries(top, specs)
    _apply_worktree(top, specs, entries)
    kept = {
        path: entry
        for path, entry in entries.items()
        if not any(_under(path, ex) for ex in excluded)
    }
    if not kept:
        shown = ", ".join(specs)
        raise GitError(f"git knows no files under {shown} in {top}; commit them or {_HINT}")
    digest = hashlib.sha1(_VERSION, usedforsecurity=False)
    for path in sorted(kept):
        mode, oid = kept[path]
        digest.update(f"{mode} {oid} {path}\0".encode())
    return digest.hexdigest()[:TAG_LENGTH]


def _git(top: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "--literal-pathspecs", *args],
            cwd=top,
            input=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise GitError(f"git is not installed (or not on PATH); {_HINT}") from None
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}; {_HINT}") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {done.returncode}"
        raise GitError(f"git {args[0]} failed in {top}: {detail}; {_HINT}")
    return done.stdout


def _toplevel(repo_root: Path) -> Path:
    if not repo_root.is_dir():
        raise GitError(f"{repo_root} is not a directory; {_HINT}")
    try:
        out = _git(repo_root, "rev-parse", "--show-toplevel")
    except GitError as exc:
        if "not a git repository" in exc.message:
            raise GitError(
                f"{repo_root} is not inside a git repository, so no image tag can be derived; "
                + _HINT
            ) from None
        raise
    return Path(out.decode().strip()).resolve()


def _relative(top: Path, repo_root: Path, path: Path) -> str:
    # Resolve the root only: a symlink inside the repository is itself an input.
    absolute = Path(os.path.normpath(repo_root.resolve() / path))
    try:
        rel = absolute.relative_to(top)
    except ValueError:
        raise GitError(f"{path} is outside the git repository {top}; {_HINT}") from None
    return rel.as_posix() if rel.parts else "."


def _under(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder.rstrip("/") + "/")


def _has_head(top: Path) -> bool:
    try:
        _git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except GitError:
        return False
    return True


def _head_entries(top: Path, specs: list[str]) -> dict[str, Entry]:
    if not _has_head(top):  # a fresh repository: everything is in the working tree
        return {}
    out = _git(top, "ls-tree", "-r", "-z", "--full-tree", "HEAD", "--", *specs)
    entries: dict[str, Entry] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, _kind, oid = meta.decode().split(" ")
        path = name.decode("utf-8", errors="surrogateescape")
        if any(_under(path, spec) for spec in specs):
            entries[path] = (mode, oid)
    return entries


def _apply_worktree(top: Path, specs: list[str], entries: dict[str, Entry]) -> None:
    out = _git(
        top,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=all",
        "--",
        *specs,
    )
    files: list[str] = []
    for record in out.split(b"\0"):
        if len(record) < 4:
            continue
        path = record[3:].decode("utf-8", errors="surrogateescape")
        full = top / path
        if full.is_symlink():
            target = os.readlink(full).encode("utf-8", errors="surrogateescape")
            oid = _git(top, "hash-object", "--stdin", stdin=target).decode().strip()
            entries[path] = ("120000", oid)
        elif full.is_file():
            files.append(path)
        elif not full.exists():
            entries.pop(path, None)
    if files:
        listing = "\n".join(files).encode("utf-8", errors="surrogateescape")
        oids = _git(top, "hash-object", "--stdin-paths", stdin=listing).decode().split()
        for path, oid in zip(files, oids, strict=True):
            executable = (top / path).stat().st_mode & stat.S_IXUSR
            entries[path] = ("100755" if executable else "100644", oid)
