"""Fuzzing the CLI: any input gives a file Docker Compose accepts, or a clean error; nothing else.

Inputs are generated overlays (Compose-like structures with wrong types, unknown keys, tags,
anchors and `${...}` expressions, then mangled as text) and mutated real files from the corpus.
For each, `composer merge` runs in-process through the real CLI entry point and must:

- exit 0, 1 or 2, never with a traceback, a bug report or a hang;
- leave every input byte-identical and write nothing but its output (no temporary file, no
  output at all unless it exits 0);
- on exit 0, have written a file Docker Compose v2 accepts (`config` exits 0 with the profiles
  the input was merged for, or else with every profile active: which services run is only
  decided at `up`).

The normal suite runs a few hundred examples. The long job (`-m fuzz`) runs
COMPOSER_FUZZ_EXAMPLES of each kind; COMPOSER_FUZZ_ORACLE_EVERY=n asks Compose about every n-th
accepted result only (the other properties are checked on all), to keep CI time bounded.

The long job is a gate, so by default it replays the same examples every run (a fixed seed, with
the pinned Hypothesis version): a commit is judged on its own, not on the draw. Exploration is
one variable away: COMPOSER_FUZZ_SEED=random roams (the seed is printed), COMPOSER_FUZZ_SEED=n
replays seed n.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from oracle import FIXED_HOME, Oracle, find_binary

QUICK_EXAMPLES = 150
FUZZ_EXAMPLES = int(os.environ.get("COMPOSER_FUZZ_EXAMPLES", "10000"))
FUZZ_SEED = os.environ.get("COMPOSER_FUZZ_SEED", "20261123")
ORACLE_EVERY = max(1, int(os.environ.get("COMPOSER_FUZZ_ORACLE_EVERY", "1")))
HANG_SECONDS = 30
EXIT_CODES = (0, 1, 2)

# --------------------------------------------------------------------------- running composer


class Hang(BaseException):
    """Raised by the alarm; a BaseException, so composer's own error handling cannot eat it."""


@dataclass
class Outcome:
    rc: int
    stderr: str


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """The process environment composer sees: exactly what Compose is given, nothing more."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _cwd(folder: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"no answer after {HANG_SECONDS} s")


def run_composer(args: Sequence[str], cwd: Path, environ: Mapping[str, str]) -> Outcome:
    """`composer ARGS` in this process through the click entry point, exit code and stderr."""
    from composer.cli import main

    err = io.StringIO()
    out = io.StringIO()
    rc: Any = 0
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with (
            _environment(environ),
            _cwd(cwd),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(out),
        ):
            try:
                main.main(args=list(args), prog_name="composer", standalone_mode=False)
            except SystemExit as exc:
                rc = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(rc if isinstance(rc, int) else 1, err.getvalue())


def snapshot(root: Path) -> dict[str, bytes | None]:
    tree: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            tree[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            tree[os.path.relpath(path, root)] = Path(path).read_bytes()
    return tree


@dataclass
class Example:
    """One run: a work folder with inputs, the command, and how to ask Compose about the result."""

    work: Path
    args: list[str]
    output: str  # relative to work
    environ: dict[str, str] = field(default_factory=dict)
    env_files: list[str] | None = None
    profiles: tuple[str, ...] = ()
    shown: str = ""  # the input, for the failure message


@dataclass
class Stats:
    runs: int = 0
    accepted: int = 0
    asked: int = 0
    by_rc: dict[int, int] = field(default_factory=dict)


def check(example: Example, oracle: Oracle | None, stats: Stats) -> None:
    before = snapshot(example.work)
    outcome = run_composer(example.args, example.work, example.environ)
    stats.runs += 1
    stats.by_rc[outcome.rc] = stats.by_rc.get(outcome.rc, 0) + 1
    context = f"\n--- input\n{example.shown}\n--- rc={outcome.rc} stderr\n{outcome.stderr}"
    assert "Traceback" not in outcome.stderr, "traceback" + context
    assert "internal error" not in outcome.stderr, "bug report" + context
    assert outcome.rc in EXIT_CODES, "unexpected exit code" + context
    after = snapshot(example.work)
    output = after.pop(example.output, None)
    for folder in Path(example.output).parents:
        if str(folder) != "." and str(folder) not in before:
            after.pop(str(folder), None)
    assert after == before, "inputs changed or stray files left" + context
    if outcome.rc != 0:
        assert output is None, "an output written on failure" + context
        assert outcome.stderr.strip(), "a refusal without a message" + context
        return
    assert output is not None, "exit 0 without an output" + context
    assert output.startswith(b"# Generated by composer"), "partial output" + context
    stats.accepted += 1
    if oracle is None or (stats.accepted - 1) % ORACLE_EVERY:
        return
    stats.asked += 1
    # Which services run depends on the profiles chosen at `up`; composer's file must be valid
    # for the profiles given (none: the default services) or, failing that, for all of them.
    for profiles in dict.fromkeys((example.profiles, ("*",))):
        verdict = oracle.run_config(
            [example.output],
            cwd=example.work,
            project_name=None,
            env_files=example.env_files,
            profiles=profiles,
            extra_env={k: v for k, v in example.environ.items() if k not in ("PATH", "HOME")},
        )
        if verdict.rc == 0:
            return
    written = output.decode("utf-8", errors="replace")
    raise AssertionError(
        f"Compose refuses composer's output{context}\n--- output\n{written}\n--- compose\n"
        + verdict.describe()
    )


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": FIXED_HOME, **dict(extra or {})}


# --------------------------------------------------------------------------- generated overlays


class Tag:
    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value


class Raw:
    """Text emitted as is (an alias, a merge key, a malformed scalar)."""

    def __init__(self, text: str) -> None:
        self.text = text


PLAIN_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")


def scalar_text(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if text and set(text) <= PLAIN_SAFE and not text[0].isdigit() and text not in (
        "true", "false", "null", "yes", "no", "on", "off", "y", "n"
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def emit(value: Any, indent: int = 0) -> list[str]:
    """Block YAML lines for a value placed after `key:` (first line is the inline part)."""
    pad = " " * indent
    if isinstance(value, Tag):
        inner = emit(value.value, indent)
        return [f" {value.tag}{inner[0]}", *inner[1:]]
    if isinstance(value, dict):
        if not value:
            return [" {}"]
        lines = [""]
        for key, item in value.items():
            sub = emit(item, indent + 2)
            lines.append(f"{pad}{scalar_text(key)}:{sub[0]}")
            lines.extend(sub[1:])
        return lines
    if isinstance(value, list):
        if not value:
            return [" []"]
        lines = [""]
        for item in value:
            sub = emit(item, indent + 2)
            if isinstance(item, dict) and item:
                first, *rest = sub[1:]
                lines.append(f"{pad}- {first.lstrip()}")
                lines.extend(rest)
            else:
                lines.append(f"{pad}-{sub[0]}")
                lines.extend(sub[1:])
        return lines
    return [" " + scalar_text(value)]


def document(model: dict[str, Any]) -> str:
    return "\n".join(emit(model, 0)[1:]) + "\n"


NAMES = ["web", "db", "api", "cache", "worker"]
VARIABLES = ["TAG", "PORT", "MISSING", "EMPTY", "DB_PASSWORD", "N", "FLAG"]
ENV_FILE = "TAG=1.2\nPORT=8080\nEMPTY=\nDB_PASSWORD=hunter2-long-secret\nN=3\nFLAG=true\n"

interpolation = st.sampled_from(
    ["${TAG}", "${PORT}", "${MISSING}", "${MISSING:-dflt}", "${EMPTY:-x}", "${TAG:+set}", "$TAG",
     "$$literal", "${N}", "${FLAG}", "${DB_PASSWORD}", "${", "${TAG", "${1X}", "${TAG:?need it}",
     "${MISSING?gone}", "${TAG:-${PORT}}", "$", "${X:-a}b}", "${TAG/x}"]
)
words = st.sampled_from(
    ["nginx", "redis:7", "x", "", "always", "no", "on-failure:2", "sometimes", "512m", "lots",
     "8080:80", "127.0.0.1:5432:5432", "80", "90000:80", "./data:/data", "data:/var/lib/data",
     "/abs:/abs:ro", "tcp", "host", "bridge", "true", "yes", "1.5", "0x1F", "web", "db",
     "CMD-SHELL", "curl -f http://localhost", "10s", "1m30s", "bogus", "a=b", "KEY=value",
     "über", "tab\there", "line\nbreak", "#hash", "- dash", "{brace", "[bracket", "*star",
     "&amp", "!bang", "%pct", "@at", "`tick`", "key: value"]
)
scalars = st.one_of(
    words,
    interpolation,
    st.builds(lambda a, b: a + b, words, interpolation),
    st.integers(min_value=-5, max_value=70000),
    st.sampled_from([0.5, 1.0, -1.0, 1e30]),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
)

service_keys = st.sampled_from(
    ["image", "command", "entrypoint", "ports", "expose", "environment", "env_file", "restart",
     "depends_on", "volumes", "labels", "build", "extends", "mem_limit", "cpus", "deploy",
     "healthcheck", "networks", "profiles", "container_name", "user", "working_dir", "scale",
     "read_only", "tmpfs", "secrets", "configs", "ulimits", "logging", "x-note", "restrat",
     "links", "platform", "pull_policy", "stop_grace_period", "init", "develop"]
)
top_keys = st.sampled_from(
    ["services", "services", "services", "networks", "volumes", "secrets", "configs", "name",
     "x-common", "version", "include", "servces"]
)


@functools.cache  # strategies built once: fresh ones per draw made runs differ under one seed
def values(depth: int) -> st.SearchStrategy[Any]:
    if depth <= 0:
        return scalars
    inner = values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(service_keys, words, st.sampled_from(NAMES)), inner, max_size=3),
    )


# How a value is tagged, drawn on its own: a strategy built around a fresh object (st.just of
# a new dict) made the examples differ from run to run under the same seed.
TAG_KINDS = st.sampled_from(["plain", "!reset", "!override", "!reset null"])


def _tag_as(kind: str, value: Any) -> Any:
    if kind == "plain":
        return value
    if kind == "!reset null":
        return Tag("!reset", None)
    return Tag(kind, value)


def tagged(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        strategy,
        strategy.map(lambda v: Tag("!reset", v)),
        strategy.map(lambda v: Tag("!override", v)),
        st.just(Tag("!reset", None)),
    )


@functools.cache
def typed_value(key: str) -> st.SearchStrategy[Any]:
    """Mostly values of the right shape for the key, so merges get deep; sometimes anything."""
    right: dict[str, st.SearchStrategy[Any]] = {
        "ports": st.lists(st.one_of(
            words, interpolation, st.integers(0, 70000),
            st.fixed_dictionaries({"target": st.integers(0, 70000)},
                                  optional={"published": st.one_of(words, st.integers(0, 9))}),
        ), max_size=3),
        "environment": st.one_of(
            st.dictionaries(st.sampled_from([*VARIABLES, "A", "B"]), scalars, max_size=3),
            st.lists(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["A", "B", "C"]),
                               st.one_of(words, interpolation)), max_size=3),
        ),
        "depends_on": st.one_of(
            st.lists(st.sampled_from([*NAMES, "ghost"]), max_size=3),
            st.dictionaries(st.sampled_from(NAMES), st.fixed_dictionaries(
                {"condition": st.sampled_from(["service_started", "service_healthy", "x"])}),
                max_size=2),
        ),
        "build": st.one_of(words, st.fixed_dictionaries(
            {}, optional={"context": st.sampled_from([".", "./app", "${TAG}"]),
                          "target": words, "dockerfile": words})),
        "extends": st.one_of(st.sampled_from([*NAMES, "ghost"]), st.fixed_dictionaries(
            {"service": st.sampled_from(NAMES)},
            optional={"file": st.sampled_from(["base.yml", "other.yml", "missing.yml"])})),
        "volumes": st.lists(st.one_of(words, st.fixed_dictionaries(
            {"type": st.sampled_from(["bind", "volume", "tmpfs"]),
             "target": st.sampled_from(["/data", "", "rel"])},
            optional={"source": words})), max_size=3),
        "deploy": st.fixed_dictionaries({}, optional={
            "replicas": st.one_of(st.integers(-1, 5), interpolation),
            "resources": st.fixed_dictionaries({"limits": st.fixed_dictionaries(
                {}, optional={"memory": words, "cpus": scalars})})}),
        "healthcheck": st.fixed_dictionaries({}, optional={
            "test": st.one_of(words, st.lists(words, max_size=3)), "interval": words,
            "retries": scalars, "disable": scalars}),
        "networks": st.one_of(st.lists(st.sampled_from(["front", "back", "default"]), max_size=2),
                              st.dictionaries(st.sampled_from(["front", "back"]),
                                              st.one_of(st.none(), st.fixed_dictionaries(
                                                  {"aliases": st.lists(words, max_size=2)})),
                                              max_size=2)),
    }
    base = right.get(key, scalars)
    return tagged(st.one_of(base, base, base, values(1)))


@st.composite
def services(draw: Callable[..., Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True)):
        keys = draw(st.lists(service_keys, max_size=5, unique=True))
        body = {key: draw(typed_value(key)) for key in keys}
        out[name] = _tag_as(draw(TAG_KINDS), body)  # not st.just(body): see TAG_KINDS
    return out


@st.composite
def overlay_models(draw: Callable[..., Any]) -> dict[str, Any]:
    model: dict[str, Any] = {}
    for key in draw(st.lists(top_keys, min_size=1, max_size=4, unique=True)):
        if key == "services":
            model[key] = draw(services())
        elif key in ("networks", "volumes"):
            model[key] = draw(st.dictionaries(
                st.sampled_from(["front", "back", "data"]),
                st.one_of(st.none(), st.fixed_dictionaries(
                    {}, optional={"driver": words, "external": scalars})), max_size=2))
        elif key in ("secrets", "configs"):
            model[key] = draw(st.dictionaries(
                st.sampled_from(["token", "cert"]),
                st.fixed_dictionaries({}, optional={"file": words, "environment": words}),
                max_size=2))
        elif key == "include":
            model[key] = draw(st.lists(st.sampled_from(["other.yml", "missing.yml", "base.yml"]),
                                       max_size=2))
        else:
            model[key] = draw(values(1))
    if draw(st.booleans()) and isinstance(model.get("services"), dict):
        # an anchor shared through a merge key and an alias
        model = {"x-common": Raw("&common {restart: always, labels: {team: shop}}"), **model}
        for name in list(model["services"])[:1]:
            body = model["services"][name]
            if isinstance(body, dict):
                model["services"][name] = {"<<": Raw("*common"), **body}
    return model


MUTATION_CHARS = [":", "-", "{", "}", "[", "]", "\t", "&x", "*x", "!", "'", '"', "#", "\x00", "é",
                  "$", "${", "\n", "  ", "---\n", "<<: ", "? ", "|", ">", "\ufeff", "\r", "%"]


@st.composite
def mutated(draw: Callable[..., Any], text: str) -> str:
    """Text edits YAML parsers trip on: inserted characters, deleted, repeated or moved lines."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["insert", "delete-char", "delete-line", "dup-line",
                                     "indent", "dedent", "truncate", "swap"]))
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        if kind == "insert":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.sampled_from(MUTATION_CHARS)) + line[at:]
        elif kind == "delete-char" and line:
            at = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:at] + line[at + 1:]
        elif kind == "delete-line":
            del lines[i]
        elif kind == "dup-line":
            lines.insert(i, line)
        elif kind == "indent":
            lines[i] = " " * draw(st.integers(1, 3)) + line
        elif kind == "dedent":
            lines[i] = line[draw(st.integers(1, 3)):]
        elif kind == "truncate":
            lines = lines[: i + 1]
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


BASE = """\
# base of the fuzzed stack
name: fuzz
x-logging: &logging
  driver: json-file
services:
  web:
    image: nginx:${TAG:-1.27}
    ports:
      - "8080:80"
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    logging: *logging
    depends_on: [db]
  db:
    image: postgres:16
    volumes:
      - data:/var/lib/postgresql/data
  api:
    build:
      context: ./app
      target: final
    networks: [front]
  cache:
    image: redis:7
    profiles: [extra]
  worker:
    extends: api
volumes:
  data: {}
networks:
  front: {}
"""
OTHER = "services:\n  api:\n    image: shop/api\n    labels:\n      from: other\n"
DOCKERFILE = "FROM golang:1.22 AS build\nFROM alpine AS final\n"


@st.composite
def generated_examples(draw: Callable[..., Any]) -> tuple[str, str, bool]:
    """(overlay text, second overlay text or "", whether the base is mutated too)."""
    first = document(draw(overlay_models()))
    if draw(st.integers(0, 3)) == 0:
        first = draw(mutated(first))
    second = document(draw(overlay_models())) if draw(st.integers(0, 4)) == 0 else ""
    return first, second, draw(st.integers(0, 9)) == 0


def generated_example(work: Path, drawn: tuple[str, str, bool], base_text: str) -> Example:
    first, second, _ = drawn
    (work / "app").mkdir()
    (work / "app/Dockerfile").write_text(DOCKERFILE)
    (work / "base.yml").write_text(base_text, encoding="utf-8")
    (work / "other.yml").write_text(OTHER)
    (work / ".env").write_text(ENV_FILE)
    (work / "o1.yml").write_text(first, encoding="utf-8")
    args = ["merge", "-f", "base.yml", "-f", "o1.yml"]
    if second:
        (work / "o2.yml").write_text(second, encoding="utf-8")
        args += ["-f", "o2.yml"]
    output = "out/compose.yml"
    shown = f"--- o1.yml\n{first}" + (f"--- o2.yml\n{second}" if second else "")
    if base_text != BASE:
        shown = f"--- base.yml\n{base_text}{shown}"
    return Example(work, [*args, "-o", output], output, clean_environ(), [".env"], shown=shown)


def _oracle() -> Oracle | None:
    binary = find_binary()
    return Oracle(binary) if binary is not None else None


def run_generated(data: st.DataObject, stats: Stats, oracle: Oracle | None) -> None:
    drawn = data.draw(generated_examples())
    base_text = data.draw(mutated(BASE)) if drawn[2] else BASE
    with tempfile.TemporaryDirectory(prefix="composer-fuzz-") as tmp:
        check(generated_example(Path(tmp), drawn, base_text), oracle, stats)


# --------------------------------------------------------------------------- corpus mutations


@dataclass(frozen=True)
class CorpusCase:
    source: Path
    files: tuple[str, ...]
    env_file: tuple[str, ...] | None
    profiles: tuple[str, ...]
    env: Mapping[str, str]
    project_directory: str | None


# Docker Compose v2.40.3 wrongly reports a cycle here, so its verdict cannot judge composer.
ORACLE_BUGS = {"compose-go/loader-tests/TestResetCycle-dotted_service_names_prefix_no_cycle"}


def corpus_cases() -> list[CorpusCase]:
    if not CORPUS_DIR.is_dir():
        return []
    cases = []
    for case_json in sorted(CORPUS_DIR.rglob("case.json")):
        if case_json.parent.relative_to(CORPUS_DIR).as_posix() in ORACLE_BUGS:
            continue
        spec = json.loads(case_json.read_text(encoding="utf-8"))
        env_file = spec.get("env_file")
        cases.append(CorpusCase(
            case_json.parent,
            tuple(spec["files"]),
            tuple(env_file) if env_file is not None else None,
            tuple(spec.get("profiles", ())),
            dict(spec.get("env", {})),
            spec.get("project_directory"),
        ))
    return cases


CORPUS_CASES = corpus_cases()


def corpus_example(
    case: CorpusCase, work: Path, edit: Callable[[str], str], target: int
) -> Example:
    shutil.copytree(case.source, work, symlinks=True,
                    ignore=shutil.ignore_patterns("expected.*", "case.json"))
    name = case.files[target % len(case.files)]
    path = work / name
    original = path.read_text(encoding="utf-8", errors="surrogateescape")
    changed = edit(original)
    path.write_text(changed, encoding="utf-8", errors="surrogateescape")
    output = "composer-fuzz-out/compose.yml"
    args = ["merge", "-o", output]
    for file in case.files:
        args += ["-f", file]
    for env_file in case.env_file or ():
        args += ["--env-file", env_file]
    for profile in case.profiles:
        args += ["--profile", profile]
    if case.project_directory is not None:
        args += ["--project-directory", case.project_directory]
    env_files = list(case.env_file) if case.env_file is not None else None
    project_dir = work / (case.project_directory or os.path.dirname(case.files[0]) or ".")
    if env_files is None and (project_dir / ".env").is_file():
        env_files = [os.path.relpath(project_dir / ".env", work)]
    shown = f"corpus {case.source.relative_to(CORPUS_DIR)}, {name} edited:\n{changed}"
    return Example(work, args, output, clean_environ(case.env), env_files, case.profiles, shown)


def run_corpus(data: st.DataObject, stats: Stats, oracle: Oracle | None) -> None:
    case = data.draw(st.sampled_from(CORPUS_CASES), label="case")
    target = data.draw(st.integers(0, 9))
    with tempfile.TemporaryDirectory(prefix="composer-fuzz-") as tmp:
        work = Path(tmp) / case.source.name

        def edit(text: str) -> str:
            return str(data.draw(mutated(text), label="edit"))

        check(corpus_example(case, work, edit, target), oracle, stats)


# --------------------------------------------------------------------------- the tests


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


def _long(test: Callable[..., None]) -> Callable[..., None]:
    """The long job's examples: a fixed seed unless COMPOSER_FUZZ_SEED says otherwise."""
    if FUZZ_SEED == "random":
        chosen = int.from_bytes(os.urandom(4), "big")
        print(f"COMPOSER_FUZZ_SEED={chosen}")
    else:
        chosen = int(FUZZ_SEED)
    configured = settings(_settings(FUZZ_EXAMPLES), derandomize=False)(test)
    return seed(chosen)(configured)


def _report(stats: Stats, what: str) -> None:
    print(f"{what}: {stats.runs} runs, exit codes {dict(sorted(stats.by_rc.items()))}, "
          f"{stats.accepted} accepted, {stats.asked} checked by Docker Compose")


def _long_job(request: pytest.FixtureRequest) -> None:
    if "fuzz" not in (request.config.option.markexpr or ""):
        pytest.skip("long fuzzing job: run with -m fuzz")


def test_generated_overlays() -> None:
    stats = Stats()
    oracle = _oracle()

    @_settings(QUICK_EXAMPLES)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        run_generated(data, stats, oracle)

    run()
    _report(stats, "generated overlays")
    assert stats.accepted and len(stats.by_rc) > 1, "the generator should reach both outcomes"


def test_mutated_corpus_files() -> None:
    if not CORPUS_CASES:
        pytest.skip(f"corpus not found at {CORPUS_DIR}")
    stats = Stats()
    oracle = _oracle()

    @_settings(QUICK_EXAMPLES)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        run_corpus(data, stats, oracle)

    run()
    _report(stats, "mutated corpus files")
    assert stats.accepted and len(stats.by_rc) > 1


@pytest.mark.fuzz
def test_generated_overlays_long(request: pytest.FixtureRequest) -> None:
    _long_job(request)
    stats = Stats()
    oracle = _oracle()

    @_long
    @given(st.data())
    def run(data: st.DataObject) -> None:
        run_generated(data, stats, oracle)

    run()
    _report(stats, "generated overlays")


@pytest.mark.fuzz
def test_mutated_corpus_files_long(request: pytest.FixtureRequest) -> None:
    _long_job(request)
    if not CORPUS_CASES:
        pytest.skip(f"corpus not found at {CORPUS_DIR}")
    stats = Stats()
    oracle = _oracle()

    @_long
    @given(st.data())
    def run(data: st.DataObject) -> None:
        run_corpus(data, stats, oracle)

    run()
    _report(stats, "mutated corpus files")
