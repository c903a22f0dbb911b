"""Interpolation: every `${...}` form, errors, type casts, and agreement with Docker Compose."""

from __future__ import annotations

import json
import math
import random
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from composer.errors import InterpolationError, Location
from composer.findings import format_where
from composer.interpolate import (
    ANY,
    CAST_PATHS,
    ITEM,
    cast_for,
    has_interpolation,
    interpolate_string,
    interpolate_tree,
    referenced_variables,
)

# --- the reference binary (fixture `compose_bin` in conftest.py) -------------------------


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **extra}


def _run_config(
    binary: Path, project: Path, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-p", "t", *args, "config", "--format", "json"],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _unescape(value: Any) -> Any:
    """`config` output doubles every `$`; undo that everywhere (keys included)."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {_unescape(k): _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


# --- interpolate_string: every form -------------------------------------------------------

SET = {"A": "a", "B": "b", "EMPTY": "", "N": "3"}
NOTHING: dict[str, str] = {}

FORMS = [
    # plain text and escapes
    ("no dollar", "no dollar"),
    ("$$", "$"),
    ("$$A", "$A"),
    ("$${A}", "${A}"),
    ("$$$A", "$a"),
    ("a$", "a$"),
    ("$ 1 $1 $- $.", "$ 1 $1 $- $."),
    # $VAR and ${VAR}
    ("$A", "a"),
    ("$A-x", "a-x"),
    ("$A.$B", "a.b"),
    ("${A}${B}", "ab"),
    ("x${A}y", "xay"),
    ("$UNSET", ""),
    ("${UNSET}", ""),
    ("$EMPTY", ""),
    ("${A}}", "a}"),
    # defaults
    ("${A:-d}", "a"),
    ("${EMPTY:-d}", "d"),
    ("${UNSET:-d}", "d"),
    ("${A-d}", "a"),
    ("${EMPTY-d}", ""),
    ("${UNSET-d}", "d"),
    ("${UNSET:-}", ""),
    ("${UNSET:-a b  c}", "a b  c"),
    # alternatives
    ("${A:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${UNSET:+alt}", ""),
    ("${A+alt}", "alt"),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    # required, satisfied
    ("${A:?msg}", "a"),
    ("${A?msg}", "a"),
    ("${EMPTY?msg}", ""),
    # nesting
    ("${UNSET:-${A}}", "a"),
    ("${UNSET:-${UNSET2:-x}}", "x"),
    ("${UNSET:-${UNSET2-${B}}}", "b"),
    ("${A:+[${B}]}", "[b]"),
    ("${UNSET:-$A}", "a"),
    ("${UNSET:-$$}", "$"),
    # the whole line is one match in Compose, then split at the first balanced "}"
    ("${UNSET-x}-${B:-y}", "x-b"),
    ("${UNSET:-x}}", "x}"),
    ("${UNSET:-{x}}", "{x}"),
    ("${UNSET:-{x}y}z}", "{x}yz}"),
    ("${A:-{x}y}z}", "az}"),
    ("${UNSET:-{}x}", "{}x"),
    ("${UNSET:-x{}", "x{"),
    ("${UNSET:-a$}}", "a$}"),
    ("${UNSET:-a:b-c?d+e}", "a:b-c?d+e"),
    # names
    ("${_}", "_under"),
    ("$A1 ${A1}", "a1 a1"),
    ("$a", "lower"),
    ("${A}\n${B}", "a\nb"),
    ("${UNSET:-x}\n${B:-y}", "x\nb"),
]


@pytest.mark.parametrize(("template", "expected"), FORMS)
def test_forms(template: str, expected: str) -> None:
    env = {**SET, "_": "_under", "A1": "a1", "a": "lower"}
    assert interpolate_string(template, env.get) == expected


def test_unicode_case_folding_makes_kelvin_and_long_s_name_characters() -> None:
    # Compose matches names case-insensitively, so these fold to k and s.
    env = {"\u212a": "kelvin", "\u017f": "long-s"}
    assert interpolate_string("$\u212a/${\u017f}", env.get) == "kelvin/long-s"
    assert interpolate_string("$\u00e9", env.get) == "$\u00e9"


UNSET_REPORTS = [
    ("$X ${Y} ${Z:-d} ${W-d} ${V:+a} ${U+a}", ["X", "Y"]),
    ("${A:-$X}", ["X"]),  # defaults are evaluated even when not used
    ("${X}${X}", ["X", "X"]),
    ("$$X", []),
    ("${A:?${X}}", ["X"]),
]


@pytest.mark.parametrize(("template", "names"), UNSET_REPORTS)
def test_unset_variables_are_reported(template: str, names: list[str]) -> None:
    seen: list[str] = []
    interpolate_string(template, SET.get, seen.append)
    assert seen == names


ERRORS = [
    ("${}", "empty variable name"),
    ("x${", 'unterminated "${"'),
    ("${A", 'missing "}" to close "${A"'),
    ("${ A}", "must be followed by a variable name, found ' '"),
    ("${1}", "must be followed by a variable name, found '1'"),
    ("${A B}", "unexpected ' ' after variable name A"),
    ("${A:}", "unexpected ':' after variable name A"),
    ("${A:x}", "unexpected ':' after variable name A"),
    ("${A!}", "unexpected '!' after variable name A"),
    ("${A:-x", 'missing "}" to close "${A:-"'),
    ("${A:-x\n}", 'missing "}" on the same line to close "${A:-"'),
    ("${UNSET:-${B}", 'missing "}" to close "${B"'),
    ("${UNSET:-{x} ${B}", 'missing "}" to close "${B"'),
    ("${UNSET:?need it}", "required variable UNSET is missing a value: need it"),
    ("${EMPTY:?need it}", "required variable EMPTY is missing a value: need it"),
    ("${UNSET?}", "required variable UNSET is missing a value"),
    ("${UNSET:?${A}!}", "required variable UNSET is missing a value: a!"),
    # arguments are evaluated eagerly: an unused default still has to be valid
    ("${A:-${UNSET:?inner}}", "required variable UNSET is missing a value: inner"),
    ("${A:-${}}", "empty variable name"),
    ("ok ${A} then ${", 'unterminated "${"'),
]


@pytest.mark.parametrize(("template", "fragment"), ERRORS)
def test_errors_say_what_is_wrong(template: str, fragment: str) -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate_string(template, SET.get)
    assert fragment in info.value.message


def test_syntax_errors_quote_the_expression_and_suggest_escaping() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate_string("price: 5${ USD}", SET.get)
    message = info.value.message
    assert '"${ USD}"' in message
    assert "$$" in message


def test_required_error_names_the_variable_and_message() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate_string("${DB_PASSWORD:?set it in .env}", NOTHING.get)
    assert "DB_PASSWORD" in info.value.message
    assert "set it in .env" in info.value.message


def test_long_strings_without_dollar_are_returned_as_is() -> None:
    text = "x" * 100_000
    assert interpolate_string(text, NOTHING.get) is text


def test_long_lines_of_expressions() -> None:
    # Compose evaluates what follows each expression as a new template; doing that by
    # recursion would overflow the stack on long lines.
    line = "${UNSET-x}," * 5_000
    assert interpolate_string(line, SET.get) == "x," * 5_000
    braces = "${UNSET:-" + "{x}" * 5_000 + "}"
    assert interpolate_string(braces, SET.get) == "{x}" * 5_000
    assert interpolate_string("${A}" * 5_000, SET.get) == "a" * 5_000


def test_absurd_nesting_is_refused_cleanly() -> None:
    depth = 150
    text = "${UNSET:-" * depth + "x" + "}" * depth
    with pytest.raises(InterpolationError) as info:
        interpolate_string(text, SET.get)
    assert "nested" in info.value.message
    assert interpolate_string("${UNSET:-" * 50 + "x" + "}" * 50, SET.get) == "x"


# --- has_interpolation / referenced_variables --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", False),
        ("cost $5", False),
        ("a$", False),
        ("$$", True),
        ("$A", True),
        ("${A}", True),
        ("${", True),
        ("x$_y", True),
    ],
)
def test_has_interpolation(text: str, expected: bool) -> None:
    assert has_interpolation(text) is expected
    if not expected:
        assert interpolate_string(text, NOTHING.get) == text


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("plain", set()),
        ("$A ${B} $$C", {"A", "B"}),
        ("${A:-${B:-$C}}", {"A", "B", "C"}),
        ("${A:?${B}} ${C+${D}}", {"A", "B", "C", "D"}),
        ("${A-x}-${B:-y}", {"A", "B"}),
    ],
)
def test_referenced_variables(text: str, names: set[str]) -> None:
    assert referenced_variables(text) == names


def test_referenced_variables_rejects_bad_syntax() -> None:
    with pytest.raises(InterpolationError):
        referenced_variables("${A")


# --- casts -------------------------------------------------------------------------------

VALID_BY_KIND = {"int": ("3", 3), "float": ("0.5", 0.5), "bool": ("true", True)}


def _kind(path: tuple[str, ...]) -> str:
    cast = cast_for(tuple(0 if p == ITEM else ("x" if p == ANY else p) for p in path))
    assert cast is not None
    name = cast.__name__
    return "bool" if "bool" in name else "float" if "float" in name else "int"


def _concrete(path: tuple[str, ...]) -> tuple[str | int, ...]:
    return tuple(0 if p == ITEM else ("x1" if p == ANY else p) for p in path)


def _nest(path: tuple[str | int, ...], leaf: object) -> object:
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return [_nest(rest, leaf)]
    return {head: _nest(rest, leaf)}


def _get(tree: object, path: tuple[str | int, ...]) -> object:
    for part in path:
        tree = tree[part]  # type: ignore[index]
    return tree


@pytest.mark.parametrize("entry", CAST_PATHS, ids=lambda e: ".".join(e[0]))
def test_cast_paths_turn_strings_into_typed_values(entry: Any) -> None:
    pattern, _ = entry
    path = _concrete(pattern)
    text, value = VALID_BY_KIND[_kind(pattern)]
    result, problems = interpolate_tree(_nest(path, "${V}"), {"V": text})
    assert _get(result, path) == value
    assert type(_get(result, path)) is type(value)
    assert problems == []
    # strings that never contained a variable are cast too
    literal, _ = interpolate_tree(_nest(path, text), {})
    assert _get(literal, path) == value


@pytest.mark.parametrize("entry", CAST_PATHS, ids=lambda e: ".".join(e[0]))
def test_cast_failures_name_the_field(entry: Any) -> None:
    pattern, _ = entry
    path = _concrete(pattern)
    with pytest.raises(InterpolationError) as info:
        interpolate_tree(_nest(path, "${V}"), {"V": "zz"})
    assert info.value.where == format_where(path)
    assert '"zz"' in info.value.message


@pytest.mark.parametrize(
    "path",
    [
        ("services", "web", "ports", 0, "published"),
        ("services", "web", "mem_limit"),
        ("services", "web", "shm_size"),
        ("services", "web", "stop_grace_period"),
        ("services", "web", "deploy", "resources", "limits", "cpus"),
        ("services", "web", "secrets", 0, "mode"),
        ("services", "web", "environment", "read_only"),
        ("services", "web", "labels", "tty"),
        ("x-custom", "read_only"),
        ("services", "web", "ports", "target"),  # a key, not a list item
    ],
    ids=format_where,
)
def test_other_fields_stay_strings(path: tuple[str | int, ...]) -> None:
    result, _ = interpolate_tree(_nest(path, "${V}"), {"V": "true"})
    assert _get(result, path) == "true"


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("pids_limit", "+3", 3),
        ("pids_limit", "-1", -1),
        ("pids_limit", "007", 7),
        ("pids_limit", "9223372036854775807", 9223372036854775807),
        ("pids_limit", "-9223372036854775808", -9223372036854775808),
        ("cpus", "1e3", 1000.0),
        ("cpus", ".5", 0.5),
        ("cpus", "5.", 5.0),
        ("cpus", "1_0.2_5", 10.25),
        ("cpus", "0x1p-2", 0.25),
        ("cpus", "0x_1p0", 1.0),
        ("cpus", "3.4028235e38", 3.4028235e38),
        ("cpu_percent", "1e308", 1e308),
        ("tty", "TRUE", True),
        ("tty", "False", False),
    ],
)
def test_numeric_and_boolean_syntax(field: str, text: str, expected: object) -> None:
    path = ("services", "web", field)
    result, _ = interpolate_tree(_nest(path, text), {})
    assert _get(result, path) == expected


@pytest.mark.parametrize("text", ["inf", "-Infinity", "NaN"])
def test_float_words(text: str) -> None:
    path = ("services", "web", "cpus")
    result, _ = interpolate_tree(_nest(path, text), {})
    value = _get(result, path)
    assert isinstance(value, float)
    assert math.isinf(value) or math.isnan(value)


@pytest.mark.parametrize(
    ("field", "text", "fragment"),
    [
        ("pids_limit", " 3", "expected an integer"),
        ("pids_limit", "1_000", "expected an integer"),
        ("pids_limit", "0x10", "expected an integer"),
        ("pids_limit", "\u0663", "expected an integer"),
        ("pids_limit", "", "expected an integer"),
        ("pids_limit", "9223372036854775808", "out of range"),
        ("cpus", "1__0", "expected a number"),
        ("cpus", "_1", "expected a number"),
        ("cpus", "1_", "expected a number"),
        ("cpus", "1_.5", "expected a number"),
        ("cpus", "+nan", "expected a number"),
        ("cpus", "0x1.8", "expected a number"),
        ("cpus", "3.5e38", "out of range"),
        ("cpu_percent", "1e400", "out of range"),
        ("tty", "1", "expected a boolean"),
        ("tty", "t", "expected a boolean"),
    ],
)
def test_cast_rejections(field: str, text: str, fragment: str) -> None:
    path = ("services", "web", field)
    with pytest.raises(InterpolationError) as info:
        interpolate_tree(_nest(path, text), {})
    assert fragment in info.value.message


@pytest.mark.parametrize(("text", "value"), [("yes", True), ("On", True), ("n", False)])
def test_yaml11_booleans_are_accepted_with_a_warning(text: str, value: bool) -> None:
    path = ("services", "web", "privileged")
    result, problems = interpolate_tree(_nest(path, text), {})
    assert _get(result, path) is value
    assert [p.severity for p in problems] == ["warning"]
    assert problems[0].where == "services.web.privileged"
    assert "YAML 1.2" in problems[0].message


# --- interpolate_tree over real YAML -----------------------------------------------------

TREE_YAML = """\
name: demo
services:
  web:
    image: "nginx:${TAG:-latest}"
    environment:
      "${KEY}": keys are not interpolated
      GREETING: hello $WHO
      PRICE: $$5
    ports:
      - "${PORT}:80"
      - target: ${TARGET}
        published: "${PORT}"
    read_only: ${RO}
    deploy:
      replicas: 2
    command: [echo, "${MISSING}"]
    healthcheck:
      disable: false
x-anchors: &shared
  value: 1.5
x-copy: *shared
"""


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "compose.yml"
    path.write_text(text, encoding="utf-8")
    return YAML().load(path), path


def _locator(root: Any, path: Path) -> Any:
    """Location of a model path from ruamel's line/column records (0-based -> 1-based)."""

    def locate(parts: tuple[str | int, ...]) -> Location:
        node = root
        line = col = 0
        for part in parts:
            if isinstance(part, int):
                line, col = node.lc.item(part)
            else:
                line, col = node.lc.value(part)
            node = node[part]
        return Location(path, line + 1, col + 1)

    return locate


def _assert_plain(value: object) -> None:
    assert type(value) in (dict, list, str, int, float, bool, type(None)), type(value)
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_plain(key)
            _assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain(item)


def test_tree_returns_a_plain_interpolated_copy(tmp_path: Path) -> None:
    root, path = _load(tmp_path, TREE_YAML)
    env = {"WHO": "world", "PORT": "8080", "TARGET": "80", "RO": "true", "KEY": "k"}
    result, problems = interpolate_tree(root, env, locate=_locator(root, path))
    _assert_plain(result)
    web = result["services"]["web"]  # type: ignore[index]
    assert web["image"] == "nginx:latest"
    assert web["environment"] == {
        "${KEY}": "keys are not interpolated",
        "GREETING": "hello world",
        "PRICE": "$5",
    }
    assert web["ports"] == ["8080:80", {"target": 80, "published": "8080"}]
    assert web["read_only"] is True
    assert web["deploy"]["replicas"] == 2
    assert web["command"] == ["echo", ""]
    assert web["healthcheck"]["disable"] is False
    assert result["x-copy"] == {"value": 1.5}  # type: ignore[index]
    assert root["services"]["web"]["image"] == "nginx:${TAG:-latest}", "input is not modified"
    assert [(p.severity, p.where, p.location.line) for p in problems] == [
        ("warning", "services.web.command[1]", 16)
    ]
    assert '"MISSING"' in problems[0].message


def test_tree_errors_carry_file_position_and_model_path(tmp_path: Path) -> None:
    root, path = _load(tmp_path, TREE_YAML.replace("hello $WHO", "hello ${WHO"))
    with pytest.raises(InterpolationError) as info:
        interpolate_tree(root, {}, locate=_locator(root, path))
    error = info.value
    assert error.where == "services.web.environment.GREETING"
    assert error.location == Location(path, 7, 17)
    assert str(error).startswith(f"{error.location.render()}: services.web.environment.GREETING")


def test_tree_cast_error_position(tmp_path: Path) -> None:
    root, path = _load(tmp_path, TREE_YAML)
    with pytest.raises(InterpolationError) as info:
        interpolate_tree(root, {"TARGET": "http"}, locate=_locator(root, path))
    assert info.value.where == "services.web.ports[1].target"
    assert info.value.location.line == 11


def test_tree_without_locator_still_names_the_path() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate_tree({"services": {"a": {"image": "${X:?image tag}"}}}, {})
    assert info.value.where == "services.a.image"
    assert info.value.location == Location()
    assert "image tag" in info.value.message


def test_unset_warning_once_per_value() -> None:
    _, problems = interpolate_tree({"a": "$X $X $Y", "b": ["$X"]}, {})
    assert [(p.where, p.message.split('"')[1]) for p in problems] == [
        ("a", "X"),
        ("a", "Y"),
        ("b[0]", "X"),
    ]


def test_dotted_paths() -> None:
    assert format_where(("services", "web", "ports", 0, "target")) == "services.web.ports[0].target"
    assert format_where(("a", 0, 1)) == "a[0][1]"
    assert format_where(()) == ""


# --- differential: the real binary --------------------------------------------------------

DIFF_ENVS = [
    {},
    {"A": "1", "B": "two words", "E": ""},
    {"A": "", "B": "$literal", "C": "{x}"},
]


def _binary_values(
    binary: Path, tmp_path: Path, values: list[str], env: Mapping[str, str]
) -> list[str] | None:
    """Interpolate many strings in one run (as environment values); None when it fails."""
    project = tmp_path / f"p{abs(hash((tuple(values), tuple(env.items()))))}"
    project.mkdir()
    doc = {
        "services": {
            "s": {
                "image": "busybox",
                "environment": {f"K{i}": value for i, value in enumerate(values)},
            }
        }
    }
    (project / "compose.yml").write_text(json.dumps(doc), encoding="utf-8")
    done = _run_config(binary, project, _clean_env(env))
    if done.returncode != 0:
        return None
    out = json.loads(done.stdout)["services"]["s"].get("environment", {})
    return [_unescape(out[f"K{i}"]) for i in range(len(values))]


def _mine(value: str, env: Mapping[str, str]) -> str | None:
    try:
        return interpolate_string(value, _clean_env(env).get)
    except InterpolationError:
        return None


def _differential(binary: Path, tmp_path: Path, values: list[str]) -> None:
    for env in DIFF_ENVS:
        accepted = [v for v in values if _mine(v, env) is not None]
        expected = _binary_values(binary, tmp_path, accepted, env)
        assert expected is not None, "the binary rejected a value we accept"
        assert [_mine(v, env) for v in accepted] == expected
        for value in values:
            if _mine(value, env) is None:
                assert _binary_values(binary, tmp_path, [value], env) is None, value


def test_forms_match_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    values = [t for t, _ in FORMS] + [t for t, _ in UNSET_REPORTS]
    _differential(compose_bin, tmp_path, values)


def test_errors_match_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    env = {"A": "a", "EMPTY": ""}
    for template, _ in ERRORS:
        assert _mine(template, env) is None
        assert _binary_values(compose_bin, tmp_path, [template], env) is None, template


def test_random_strings_match_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    rng = random.Random(20240611)
    pieces = ["$", "$", "{", "}", ":", "-", "+", "?", "A", "B", "E", "x", " ", "\n", "${", "${A"]
    values = sorted(
        {"".join(rng.choice(pieces) for _ in range(rng.randint(1, 10))) for _ in range(400)}
    )
    env = DIFF_ENVS[1]
    accepted = [v for v in values if _mine(v, env) is not None]
    rejected = [v for v in values if _mine(v, env) is None]
    assert accepted
    assert rejected
    expected = _binary_values(compose_bin, tmp_path, accepted, env)
    assert expected is not None
    assert [_mine(v, env) for v in accepted] == expected
    for value in rejected[:25]:
        assert _binary_values(compose_bin, tmp_path, [value], env) is None, value


DIFF_TREE = """\
services:
  web:
    image: "nginx:${TAG:-1.27}"
    environment:
      "${A}": key
      GREETING: "hello ${WHO:-nobody}"
      LITERAL: "$$HOME"
    labels:
      "x.$A": "${B:+set}"
    ports:
      - target: "${TARGET}"
        published: "${PUBLISHED}"
    read_only: "${RO}"
    tty: "yes"
    privileged: "${PRIV:-false}"
    cpus: "${CPUS}"
    pids_limit: "${PIDS}"
    ulimits:
      nofile: "${NOFILE}"
      nproc:
        soft: "${SOFT}"
        hard: "${HARD}"
    healthcheck:
      test: ["CMD", "true"]
      retries: "${RETRIES}"
    deploy:
      replicas: "${REPLICAS}"
    networks: [front]
networks:
  front:
    external: "${EXTERNAL}"
"""

TREE_ENV = {
    "A": "alpha",
    "B": "b",
    "WHO": "world",
    "TARGET": "80",
    "PUBLISHED": "8080",
    "RO": "true",
    "CPUS": "1.5",
    "PIDS": "100",
    "NOFILE": "1024",
    "SOFT": "10",
    "HARD": "20",
    "RETRIES": "3",
    "REPLICAS": "2",
    "EXTERNAL": "true",
}


def test_tree_matches_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text(DIFF_TREE, encoding="utf-8")
    done = _run_config(compose_bin, tmp_path, _clean_env(TREE_ENV))
    assert done.returncode == 0, done.stderr
    theirs = _unescape(json.loads(done.stdout))
    root = YAML().load(tmp_path / "compose.yml")
    ours, _ = interpolate_tree(root, _clean_env(TREE_ENV))
    mine: Any = ours["services"]["web"]  # type: ignore[index]
    web = theirs["services"]["web"]
    assert mine["image"] == web["image"]
    assert mine["environment"] == web["environment"]
    assert mine["labels"] == web["labels"]
    for field in ("read_only", "tty", "privileged", "pids_limit"):
        assert mine[field] == web.get(field, False), field
    assert mine["cpus"] == pytest.approx(web["cpus"])
    assert mine["ports"][0]["target"] == web["ports"][0]["target"]
    assert mine["ports"][0]["published"] == web["ports"][0]["published"]
    assert mine["ulimits"]["nofile"] == web["ulimits"]["nofile"]
    assert mine["ulimits"]["nproc"] == web["ulimits"]["nproc"]
    assert mine["healthcheck"]["retries"] == web["healthcheck"]["retries"]
    assert mine["deploy"]["replicas"] == web["deploy"]["replicas"]
    assert ours["networks"]["front"]["external"] == theirs["networks"]["front"]["external"]  # type: ignore[index]


def _cast_document(pattern: tuple[str, ...], leaf: str) -> dict[str, Any]:
    """A small valid project with `leaf` at the cast path."""
    path = _concrete(pattern)
    doc: dict[str, Any] = {"services": {"x1": {"image": "busybox"}}}
    nested = _nest(path, leaf)
    assert isinstance(nested, dict)
    if path[0] == "services":
        service = nested["services"]["x1"]
        if "volumes" in service:
            service["volumes"][0] = {"type": "volume", "source": "v", "target": "/v"} | service[
                "volumes"
            ][0]
            doc["volumes"] = {"v": {}}
        doc["services"]["x1"].update(service)
    else:
        doc.update(nested)
    return doc


CAST_VALID = {"int": "3", "float": "1", "bool": "true"}


@pytest.mark.parametrize("entry", CAST_PATHS, ids=lambda e: ".".join(e[0]))
def test_cast_table_matches_the_binary(compose_bin: Path, tmp_path: Path, entry: Any) -> None:
    pattern, _ = entry
    doc = _cast_document(pattern, "${V}")
    (tmp_path / "compose.yml").write_text(json.dumps(doc), encoding="utf-8")
    good = _run_config(compose_bin, tmp_path, _clean_env({"V": CAST_VALID[_kind(pattern)]}))
    assert good.returncode == 0, good.stderr
    interpolate_tree(doc, {"V": CAST_VALID[_kind(pattern)]})
    bad = _run_config(compose_bin, tmp_path, _clean_env({"V": "zz"}))
    assert bad.returncode != 0
    assert "failed to cast" in bad.stderr
    with pytest.raises(InterpolationError):
        interpolate_tree(doc, {"V": "zz"})


@pytest.mark.parametrize(
    "fragment",
    [
        {"ports": [{"target": 80, "published": "${V}"}]},
        {"mem_limit": "${V}"},
        {"stop_grace_period": "${V}"},
        {"deploy": {"resources": {"limits": {"cpus": "${V}"}}}},
        {"environment": {"read_only": "${V}"}},
    ],
    ids=lambda f: next(iter(f)),
)
def test_uncast_fields_match_the_binary(
    compose_bin: Path, tmp_path: Path, fragment: dict[str, Any]
) -> None:
    doc = {"services": {"x1": {"image": "busybox", **fragment}}}
    (tmp_path / "compose.yml").write_text(json.dumps(doc), encoding="utf-8")
    done = _run_config(compose_bin, tmp_path, _clean_env({"V": "zz"}))
    assert "failed to cast" not in done.stderr
    interpolate_tree(doc, {"V": "zz"})  # no cast, no error


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("pids_limit", t)
        for t in ["+3", "007", " 3", "1_000", "0x10", "9223372036854775808", "\u0663"]
    ]
    + [
        ("cpus", t)
        for t in ["1e3", ".5", "1_0", "1__0", "1_.5", "0x1p-2", "0x1.8", "+nan", "3.5e38"]
    ]
    + [("tty", t) for t in ["TRUE", "oN", "1", "t", ""]],
)
def test_cast_syntax_matches_the_binary(
    compose_bin: Path, tmp_path: Path, field: str, text: str
) -> None:
    doc = {"services": {"x1": {"image": "busybox", field: "${V}"}}}
    (tmp_path / "compose.yml").write_text(json.dumps(doc), encoding="utf-8")
    done = _run_config(compose_bin, tmp_path, _clean_env({"V": text}))
    try:
        interpolate_tree(doc, {"V": text})
        rejected = False
    except InterpolationError:
        rejected = True
    assert rejected == ("failed to cast" in done.stderr), done.stderr
