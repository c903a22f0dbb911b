"""The command's process: complete output and exact exit codes, though it leaves without
tearing down its memory (`composer.cli.entry`)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _stack(folder: Path, services: int) -> None:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  # service {i}", f"  svc{i}:", f"    image: registry.example.com/svc{i}:1.0",
                  "    environment:", f"      INDEX: \"{i}\"", "    ports:",
                  f'      - "{10000 + i}:80"']
    (folder / "compose.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "prod.yml").write_text("services:\n  svc0:\n    restart: always\n",
                                     encoding="utf-8")


def _run(args: list[str], cwd: Path, jobs: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT),
           "HOME": str(cwd), "LC_ALL": "C.UTF-8", **({"COMPOSER_JOBS": jobs} if jobs else {})}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_large_result_on_stdout_is_complete(tmp_path: Path) -> None:
    _stack(tmp_path, 800)
    module = [sys.executable, "-m", "composer"]
    to_file = _run([*module, "merge", "-f", "compose.yml", "-f", "prod.yml", "-o", "out.yml"],
                   tmp_path)
    to_stdout = _run([*module, "merge", "-f", "compose.yml", "-f", "prod.yml", "-o", "-"],
                     tmp_path)
    assert to_file.returncode == 0 and to_stdout.returncode == 0, to_file.stderr
    written = (tmp_path / "out.yml").read_text(encoding="utf-8")
    assert len(written) > 100_000
    body = to_stdout.stdout.split("\n", 1)[1]  # the header names the output; the rest matches
    assert body == written.split("\n", 1)[1]


@pytest.mark.parametrize(
    ("overlay", "rc"),
    [("services:\n  svc7:\n    restart: always\n", 0),
     ("services:\n  svc7:\n    restart: sometimes\n    mem_limit: lots\n", 1),
     ("services:\n  svc7:\n    image: ${TAG:?set TAG}\n", 2)],
    ids=["valid", "invalid", "unset-variable"],
)
def test_a_large_model_is_judged_alike_with_a_worker(
    tmp_path: Path, overlay: str, rc: int
) -> None:
    """From 40 services the model is validated in a worker while the text is written."""
    _stack(tmp_path, 60)
    (tmp_path / "prod.yml").write_text(overlay, encoding="utf-8")
    args = [sys.executable, "-m", "composer", "merge", "-f", "compose.yml", "-f", "prod.yml",
            "-o", "-"]
    alone, side_by_side = _run(args, tmp_path, jobs="1"), _run(args, tmp_path, jobs="2")
    assert (alone.returncode, alone.stdout, alone.stderr) == (
        side_by_side.returncode, side_by_side.stdout, side_by_side.stderr)
    assert alone.returncode == rc, alone.stderr
    assert "Traceback" not in alone.stderr


def _console_script() -> Path | None:
    script = Path(sysconfig.get_path("scripts")) / "composer"
    return script if script.is_file() else None


@pytest.mark.parametrize(
    ("args", "files", "rc"),
    [
        (["--version"], {}, 0),
        (["merge", "-f", "compose.yml", "-o", "-"], {"compose.yml": "services: {a: {image: x}}"},
         0),
        (["merge", "-f", "compose.yml", "-o", "-"],
         {"compose.yml": "services: {a: {image: x, restart: sometimes, ports: 8080}}"}, 1),
        (["merge", "-f", "nothere.yml"], {}, 2),
        (["merge", "--no-such-option"], {}, 2),
    ],
    ids=["version", "ok", "invalid", "missing-file", "usage"],
)
def test_exit_codes_of_the_installed_command(
    tmp_path: Path, args: list[str], files: dict[str, str], rc: int
) -> None:
    script = _console_script()
    if script is None:
        pytest.skip("composer is not installed as a console script here")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = _run([str(script), *args], tmp_path)
    assert result.returncode == rc, result.stderr
    assert "Traceback" not in result.stderr
