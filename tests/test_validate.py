"""Schema validation: messages, locations, the binary's schema differences, and the fast path."""

from __future__ import annotations

import copy
import json
import random
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Oracle
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from composer import validate
from composer.checks import check_model
from composer.errors import Location, Problem
from composer.validate import compose_schema, validate_model

ModelPath = tuple[str | int, ...]
Locator = Callable[[ModelPath], Location]


# --------------------------------------------------------------------------- test helpers


def _plain(node: Any) -> Any:
    """The plain model the pipeline hands over: dicts, lists and builtin scalars."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def dict_locator(positions: dict[ModelPath, Location]) -> Locator:
    """A locate() from a table of positions; unknown paths raise like a missing key would."""

    def locate(path: ModelPath) -> Location:
        return positions[path]

    return locate


def load(tmp_path: Path, text: str, name: str = "compose.yml") -> tuple[Any, Locator, Path]:
    """Write a real file, read it with ruamel, and record where every value sits (a mapping or
    list value: where its key is)."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    doc = YAML().load(path)
    positions: dict[ModelPath, Location] = {(): Location(path, 1, 1)}

    def walk(node: Any, prefix: ModelPath) -> None:
        if isinstance(node, CommentedMap):
            for key in node:
                nested = isinstance(node[key], (CommentedMap, CommentedSeq))
                line, col = node.lc.key(key) if nested else node.lc.value(key)
                positions[(*prefix, str(key))] = Location(path, line + 1, col + 1)
                walk(node[key], (*prefix, str(key)))
        elif isinstance(node, CommentedSeq):
            for i, item in enumerate(node):
                line, col = node.lc.item(i)
                positions[(*prefix, i)] = Location(path, line + 1, col + 1)
                walk(item, (*prefix, i))

    walk(doc, ())
    return _plain(doc), dict_locator(positions), path


def problems_of(tmp_path: Path, text: str) -> list[Problem]:
    model, locate, _ = load(tmp_path, text)
    return validate_model(model, locate, project_dir=tmp_path)


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


# --------------------------------------------------------------------------- typical wrong input

SCHEMA_CASES = [
    pytest.param(
        """
        services:
          web:
            image: nginx
            ports: 8080
        """,
        "services.web.ports", 4, "expected a list, got 8080", id="ports-not-a-list"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            portz: ["80:80"]
        """,
        "services.web.portz", 4, "unknown key 'portz' (did you mean 'ports'?)", id="unknown-key"),
    pytest.param(
        """
        services:
          web:
            image: 5
        """,
        "services.web.image", 3, "expected a string, got 5", id="type-depth-3"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            logging:
              options:
                max-size: [10m]
        """,
        "services.web.logging.options.max-size", 6, "expected a string, number or null, got a list",
        id="type-depth-5"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            depends_on:
              db:
                condition: sometimes
          db:
            image: postgres
        """,
        "services.web.depends_on.db.condition", 6,
        "'sometimes' is not one of \"service_started\", \"service_healthy\", "
        "\"service_completed_successfully\"",
        id="enum-depth-5"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            deploy:
              resources:
                limits:
                  cpus: [1]
        """,
        "services.web.deploy.resources.limits.cpus", 7, "expected a number or string, got a list",
        id="type-depth-6"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            ports:
              - target: 80
                published: true
        """,
        "services.web.ports[0].published", 6, "expected a string or integer, got true",
        id="one-of-most-specific"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            ports: [true]
        """,
        "services.web.ports[0]", 4, "expected a number, string or mapping, got true",
        id="one-of-types-merged"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            extends: {file: base.yml}
        """,
        "services.web.extends", 4, "missing required key 'service'", id="required"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            security_opt: [no-new-privileges, label=disable, no-new-privileges]
        """,
        "services.web.security_opt[2]", 4,
        "duplicate entry 'no-new-privileges' (already at index 0)",
        id="unique-items"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            cpu_percent: 200
        """,
        "services.web.cpu_percent", 4, "must be less than or equal to 100, got 200", id="maximum"),
    pytest.param(
        """
        services:
          "web app":
            image: nginx
        """,
        "services.web app", 2,
        "invalid service name 'web app': use only letters, digits, '.', '_' and '-'",
        id="service-name"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            container_name: x
        """,
        "services.web.container_name", 4, "'x' does not match [a-zA-Z0-9][a-zA-Z0-9_.-]+",
        id="pattern"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            build:
              context: .
              no_cache_filter: base
        """,
        "services.web.build.no_cache_filter", 6,
        "unknown key 'no_cache_filter' (newer than Docker Compose v2.40.3, which refuses it)",
        id="newer-than-compose-build-key"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            pre_start: []
        """,
        "services.web.pre_start", 4,
        "unknown key 'pre_start' (newer than Docker Compose v2.40.3, which refuses it)",
        id="newer-than-compose-service-key"),
    pytest.param(
        """
        services:
          web:
            image: nginx
        jobs:
          backup:
            image: restic
        """,
        "jobs", 4, "unknown key 'jobs' (newer than Docker Compose v2.40.3, which refuses it)",
        id="newer-than-compose-top-level"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            healthcheck:
              interval: 5
        """,
        "services.web.healthcheck.interval", 5, "expected a string, got 5", id="duration-type"),
]


@pytest.mark.parametrize(("text", "where", "line", "message"), SCHEMA_CASES)
def test_schema_problem_is_located_and_explained(
    tmp_path: Path, text: str, where: str, line: int, message: str
) -> None:
    problems = problems_of(tmp_path, text)
    assert [(p.where, p.message) for p in problems] == [(where, message)]
    problem = problems[0]
    assert problem.severity == "error"
    assert problem.location.path == tmp_path / "compose.yml"
    assert problem.location.line == line
    rendered = problem.render(tmp_path)
    assert rendered.startswith(f"compose.yml:{line}:")
    assert rendered.endswith(f"{where}: {message}")


def test_several_unknown_keys_are_each_reported(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, """
        services:
          web:
            imagee: nginx
            image: nginx
            portz: []
        """)
    assert [(p.where, p.location.line) for p in problems] == [
        ("services.web.imagee", 3), ("services.web.portz", 5)]
    assert problems[0].message == "unknown key 'imagee' (did you mean 'image'?)"


VALID_CASES = [
    pytest.param(
        """
        x-common: &common
          restart: always
        services:
          web:
            image: nginx
            x-team: core
            build:
              context: .
              x-note: hi
            deploy:
              x-placement: any
              resources:
                limits: {memory: 512m}
            ports:
              - target: 80
                x-comment: web
        networks:
          front:
            x-anything: [1, 2]
        volumes:
          data:
            x-anything: {a: 1}
        """, id="x-extensions-everywhere"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            restart: sometimes
        """, id="restart-any-string"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            mem_limit: lots
        """, id="size-is-a-string-for-the-schema"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            mem_limit: 1.5
            memswap_limit: 2.5
            shm_size: 0.5
        """, id="fractional-sizes-like-compose"),
    pytest.param(
        """
        services:
          web:
            image: nginx
            pull_policy: weekly
        networks:
          "odd name":
            driver: bridge
        """, id="network-names-like-compose"),
]


@pytest.mark.parametrize("text", VALID_CASES)
def test_schema_accepts(tmp_path: Path, text: str) -> None:
    assert problems_of(tmp_path, text) == []


def test_restart_and_size_are_left_to_the_checks(tmp_path: Path) -> None:
    model, locate, _ = load(tmp_path, """
        services:
          web:
            image: nginx
            restart: sometimes
            mem_limit: lots
        """)
    assert validate_model(model, locate) == []
    found = {(p.where, p.severity) for p in check_model(model, locate, project_dir=tmp_path)}
    assert found == {("services.web.restart", "warning"), ("services.web.mem_limit", "error")}


def test_name_with_trailing_newline_is_refused_as_go_does(tmp_path: Path) -> None:
    model = {"services": {"web\n": {"image": "nginx"}}}
    problems = validate_model(model, lambda p: Location())
    assert [p.where for p in problems] == ["services.web\n"]


def test_top_level_must_be_a_mapping() -> None:
    problems = validate_model([1, 2], lambda p: Location(Path("compose.yml")))  # type: ignore[arg-type]
    assert [p.message for p in problems] == ["the top level must be a mapping, got a list"]
    assert problems[0].render(Path.cwd()).startswith("compose.yml: ")


def test_services_must_be_a_mapping() -> None:
    problems = validate_model({"services": ["web"]}, lambda p: Location())
    assert [(p.where, p.message) for p in problems] == [
        ("services", "expected a mapping, got a list")]


def test_unlocated_value_takes_its_nearest_located_parent(tmp_path: Path) -> None:
    model, locate, _ = load(tmp_path, """
        services:
          web:
            image: nginx
        """)
    model["services"]["web"]["ports"] = 8080  # injected: no source position of its own
    problems = validate_model(model, locate)
    assert [(p.where, p.location.line) for p in problems] == [("services.web.ports", 2)]


# --------------------------------------------------------------------------- order, sharing


def test_same_model_twice_gives_the_same_list(tmp_path: Path) -> None:
    model, locate, _ = load(tmp_path, """
        services:
          b:
            image: 1
            ports: [true, x, {target: 80, bad: 1}]
          a:
            imagee: x
            cpu_percent: 300
        volumes:
          "bad name": {}
        """)
    first = validate_model(model, locate)
    second = validate_model(copy.deepcopy(model), locate)
    assert first == second
    assert len(first) >= 5


def test_order_is_by_model_path(tmp_path: Path) -> None:
    ports = ", ".join(f"[{i}]" for i in range(12))
    model, locate, _ = load(tmp_path, f"""
        services:
          zeta:
            image: 1
          alpha:
            image: nginx
            ports: [{ports}]
        """)
    wheres = [p.where for p in validate_model(model, locate)]
    expected = [f"services.alpha.ports[{i}]" for i in range(12)] + ["services.zeta.image"]
    assert wheres == expected


def test_identical_services_are_each_reported_at_their_own_place(tmp_path: Path) -> None:
    model, locate, _ = load(tmp_path, """
        services:
          one:
            image: nginx
            ports: 80
          two:
            image: nginx
            ports: 80
        """)
    problems = validate_model(model, locate)
    assert [(p.where, p.location.line) for p in problems] == [
        ("services.one.ports", 4), ("services.two.ports", 7)]


def test_cached_verdict_is_not_shared_by_different_services() -> None:
    good = {"services": {"a": {"image": "nginx", "ports": ["80"]}}}
    bad = {"services": {"a": {"image": "nginx", "ports": [80.5]}}}
    assert validate_model(good, lambda p: Location()) == []
    # 80.5 is a number for the schema; the checks refuse it (a float is no port for Compose).
    assert validate_model(bad, lambda p: Location()) == []
    wrong = {"services": {"a": {"image": "nginx", "ports": [[80]]}}}
    assert [p.where for p in validate_model(wrong, lambda p: Location())] == [
        "services.a.ports[0]"]
    assert validate_model(good, lambda p: Location()) == []


# --------------------------------------------------------------------------- the schema itself


def test_schema_comes_from_check_jsonschema_and_is_made_draft_07() -> None:
    shipped = validate.load_shipped_schema()
    assert shipped["$id"] == "compose_spec.json"
    schema = compose_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    text = json.dumps(schema)
    assert "unevaluatedProperties" not in text
    service = schema["$defs"]["service"]
    assert service["additionalProperties"] is False
    assert "allOf" not in service
    assert {"image", "build", "ports", "deploy", "restart"} <= set(service["properties"])
    assert not {"pre_start", "umask"} & set(service["properties"])
    assert "jobs" not in schema["properties"]
    from jsonschema import Draft7Validator

    Draft7Validator.check_schema(schema)


def test_shipped_schema_is_read_without_starting_check_jsonschema() -> None:
    import subprocess
    import sys

    code = ("import sys; from composer.validate import load_shipped_schema; "
            "load_shipped_schema(); print('check_jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"


# The fast predicate must never accept what jsonschema rejects (and should agree otherwise).

_SAMPLE_SERVICES: list[dict[str, Any]] = [
    {
        "image": "registry.example.com/app:1.2",
        "build": {"context": ".", "dockerfile": "Dockerfile", "args": {"A": "1"},
                  "target": "prod", "cache_from": ["a"], "x-k": 1},
        "ports": ["8080:80", 9000, {"target": 80, "published": "81", "protocol": "tcp"}],
        "environment": {"A": "1", "B": None, "C": 2, "D": True},
        "labels": ["a=b"],
        "depends_on": {"db": {"condition": "service_healthy", "required": False}},
        "networks": {"front": {"aliases": ["x"], "ipv4_address": "10.0.0.2"}, "back": None},
        "volumes": ["data:/data:ro", {"type": "bind", "source": ".", "target": "/src",
                                      "bind": {"create_host_path": True}}],
        "healthcheck": {"test": ["CMD", "true"], "interval": "5s", "retries": 3},
        "deploy": {"replicas": 2, "resources": {"limits": {"cpus": "0.5", "memory": "1g"},
                                                "reservations": {"devices": [
                                                    {"capabilities": ["gpu"], "count": 1}]}},
                   "restart_policy": {"condition": "on-failure", "max_attempts": 3}},
        "logging": {"driver": "json-file", "options": {"max-size": "1m"}},
        "ulimits": {"nofile": {"soft": 1, "hard": 2}, "nproc": 5},
        "cap_add": ["NET_ADMIN"],
        "secrets": ["s", {"source": "t", "target": "/run/t", "mode": 288}],
        "develop": {"watch": [{"path": "./src", "action": "sync", "target": "/src"}]},
        "extends": {"service": "base", "file": "b.yml"},
        "x-meta": {"anything": [1]},
    },
    {"image": "x", "command": ["a", "b"], "entrypoint": "sh", "cpu_percent": 50,
     "oom_score_adj": -500, "extra_hosts": {"h": "1.2.3.4"}, "sysctls": ["a=1"],
     "tmpfs": "/run", "dns": ["8.8.8.8"], "profiles": ["debug"], "pull_policy": "always",
     "blkio_config": {"weight": 300, "device_read_bps": [{"path": "/dev/sda", "rate": "1mb"}]}},
]

_KEYS = st.sampled_from(["image", "ports", "build", "x-y", "nope", "target", "published",
                         "condition", "context", "aliases", "soft", "weight", "0", "a b"])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2000, 70000), st.floats(-2.0, 5e9, allow_nan=False),
    st.sampled_from([1.0, 100, 101, -1000, -1001, 4294967295]),
    st.sampled_from(["", "x", "80:80", "always", "service_healthy", "tcp", "weekly", "every_1d",
                     "-bad", "sync", "host", "CMD", "1g", "web"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)


def _paths(node: Any, prefix: ModelPath = ()) -> list[ModelPath]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def mutated(samples: list[Any], keys: st.SearchStrategy[Any], values: st.SearchStrategy[Any],
            min_edits: int) -> st.SearchStrategy[Any]:
    """A sample with up to three random edits: a value replaced, a key or item deleted or added."""

    @st.composite
    def edit(draw: st.DrawFn) -> Any:
        doc = copy.deepcopy(draw(st.sampled_from(samples)))
        for _ in range(draw(st.integers(min_edits, 3))):
            paths = [p for p in _paths(doc) if p]
            path = draw(st.sampled_from(paths))
            parent: Any = doc
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(keys)] = draw(values)
            else:
                parent.append(draw(values))
        return doc

    return edit()


def _mutated_services() -> st.SearchStrategy[Any]:
    return mutated(_SAMPLE_SERVICES, _KEYS, _VALUES, 1)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_services())
def test_fast_predicate_agrees_with_jsonschema_on_services(service: Any) -> None:
    fast = validate._predicates().service_ok(service)
    slow = validate._validators().service.is_valid(service)
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["services", "networks", "volumes", "secrets",
                                        "configs", "models", "name", "include", "x-a", "z"]),
                       _VALUES, max_size=4))
def test_fast_predicate_agrees_with_jsonschema_on_documents(document: Any) -> None:
    fast = validate._predicates().root_ok(document)
    slow = validate._validators().root.is_valid(document)
    assert fast == slow


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_services())
def test_explaining_key_by_key_says_what_the_whole_service_check_says(service: Any) -> None:
    whole = validate._explain_all(validate._validators().service, service)
    by_key = validate._explain_service(service)
    assert sorted(by_key, key=repr) == sorted(whole, key=repr)


def test_sample_services_are_valid() -> None:
    for service in _SAMPLE_SERVICES:
        assert validate._validators().service.is_valid(service)
        assert validate._predicates().service_ok(service)


# --------------------------------------------------------------------------- against the binary

DIFFERENTIAL_INVALID = {
    "ports-not-a-list": "services: {web: {image: nginx, ports: 8080}}",
    "unknown-key": "services: {web: {image: nginx, portz: ['80']}}",
    "image-not-a-string": "services: {web: {image: 5}}",
    "service-name": "services: {'web app': {image: nginx}}",
    "service-name-newline": "services: {\"web\\n\": {image: nginx}}",
    "jobs": "services: {web: {image: nginx}}\njobs: {b: {image: x}}",
    "pre_start": "services: {web: {image: nginx, pre_start: []}}",
    "umask": "services: {web: {image: nginx, umask: 18}}",
    "no_cache_filter": "services: {web: {image: nginx, build: {context: ., no_cache_filter: a}}}",
    "condition-enum": ("services: {web: {image: nginx, depends_on: {db: {condition: sometimes}}},"
                       " db: {image: pg}}"),
    "group_add-duplicate": "services: {web: {image: nginx, group_add: [a, a]}}",
    "networks-duplicate": "services: {web: {image: nginx, networks: [default, default]}}",
    "cpu_percent-max": "services: {web: {image: nginx, cpu_percent: 200}}",
    "extends-required": "services: {web: {image: nginx, extends: {file: b.yml}}}",
    "published-bool": "services: {web: {image: nginx, ports: [{target: 80, published: true}]}}",
    "logging-option-list": "services: {web: {image: nginx, logging: {options: {a: [1]}}}}",
    "healthcheck-interval-int": "services: {web: {image: nginx, healthcheck: {interval: 5}}}",
    "container_name-pattern": "services: {web: {image: nginx, container_name: x}}",
    "volume-name": "services: {web: {image: nginx}}\nvolumes: {'a b': {}}",
    "top-level-unknown": "services: {web: {image: nginx}}\nservice: {}",
}
DIFFERENTIAL_VALID = {
    "minimal": "services: {web: {image: nginx}}",
    "extensions": ("x-a: 1\nservices: {web: {image: nginx, x-b: 2, build: {context: ., x-c: 3},"
                   " ports: [{target: 80, x-d: 4}]}}\nnetworks: {n: {x-e: 5}}"),
    "fractional-size": "services: {web: {image: nginx, mem_limit: 1.5, shm_size: 2.5}}",
    "network-name": "services: {web: {image: nginx}}\nnetworks: {'a b': {}}",
    "pull-policy": "services: {web: {image: nginx, pull_policy: every_2d}}",
    "container_name-unanchored": "services: {web: {image: nginx, container_name: -web}}",
    "merged-lists-duplicates": (
        "services: {web: {image: nginx, cap_add: [A, A], profiles: [p, p],"
        " environment: [A=1, A=1], networks: {default: {aliases: [b, b]}}}}"),
    "long-syntax": ("services:\n  web:\n    image: nginx\n    depends_on: {db: {condition: "
                    "service_healthy, required: false}}\n    ports: ['8080:80', {target: 81}]\n"
                    "    volumes: [{type: volume, source: data, target: /d}]\n"
                    "    deploy: {resources: {limits: {cpus: '0.5', memory: 1g}}}\n"
                    "  db: {image: pg}\nvolumes: {data: {}}"),
}


def _verdicts(tmp_path: Path, oracle: Oracle, text: str) -> tuple[bool, bool, str]:
    model, locate, path = load(tmp_path, text)
    ours = errors(validate_model(model, locate) + check_model(model, locate, project_dir=tmp_path))
    theirs = oracle.run_config([path.name], cwd=tmp_path, project_name="differential")
    detail = f"ours: {[p.render(tmp_path) for p in ours]}\ntheirs: {theirs.describe()}"
    return bool(ours), theirs.rc != 0, detail


@pytest.mark.parametrize("name", sorted(DIFFERENTIAL_INVALID))
def test_binary_and_we_both_reject(tmp_path: Path, oracle: Oracle, name: str) -> None:
    ours, theirs, detail = _verdicts(tmp_path, oracle, DIFFERENTIAL_INVALID[name])
    assert ours and theirs, detail


@pytest.mark.parametrize("name", sorted(DIFFERENTIAL_VALID))
def test_binary_and_we_both_accept(tmp_path: Path, oracle: Oracle, name: str) -> None:
    ours, theirs, detail = _verdicts(tmp_path, oracle, DIFFERENTIAL_VALID[name])
    assert not ours and not theirs, detail


@pytest.mark.corpus
def test_binary_outputs_of_the_corpus_get_the_binarys_verdict(
    corpus_dir: Path, oracle: Oracle, tmp_path: Path
) -> None:
    """Every model Compose printed for the corpus, fed back to both: same accept/reject."""
    disagreements = []
    cases = sorted(d for d in (c.parent for c in corpus_dir.rglob("case.json"))
                   if (d / "expected.rc").read_text().strip() == "0")
    assert cases
    for case in cases:
        model = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        path = tmp_path / "compose.json"
        path.write_text(json.dumps(model), encoding="utf-8")
        ours = errors(validate_model(model, lambda p: Location())
                      + check_model(model, lambda p: Location(), project_dir=None))
        theirs = oracle.run_config([path.name], cwd=tmp_path, project_name="corpus")
        if bool(ours) != (theirs.rc != 0):
            disagreements.append(f"{case}: ours={[p.render() for p in ours]} "
                                 f"theirs={theirs.stderr.strip()}")
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.fuzz
def test_mutated_corpus_models_get_the_binarys_verdict(
    request: pytest.FixtureRequest, corpus_dir: Path, oracle: Oracle, tmp_path: Path
) -> None:
    """Random edits of real models (wrong types, unknown keys, dangling references, bad
    values), each judged by the binary and by us: the verdicts must match."""
    if "fuzz" not in (request.config.option.markexpr or ""):
        pytest.skip("long fuzzing job: run with -m fuzz")
    from composer.interpolate import cast_for

    models = [json.loads((d / "expected.json").read_text(encoding="utf-8"))
              for d in sorted(c.parent for c in corpus_dir.rglob("case.json"))
              if (d / "expected.rc").read_text().strip() == "0"]
    rng = random.Random(20240611)
    keys = ["image", "ports", "build", "x-y", "nope", "target", "published", "condition",
            "mem_limit", "restart", "depends_on", "networks", "volumes", "healthcheck", "test",
            "interval", "cpus", "scale", "replicas", "container_name", "tmpfs", "secrets",
            "external", "driver", "file", "content", "host_ip", "deploy", "limits", "memory"]
    scalars: list[Any] = [
        None, True, 0, -1, 80, 70000, 1.5, 2.0, 200, "", "x", "80:80", "1.2.3.4:80:80/udp",
        "abc", "always", "sometimes", "service_healthy", "weekly", "-bad", "sync", "host",
        "CMD", "1g", "lots", "5s", "5parsecs", "web", "db", "data:/data", "/a:/b:ro:z",
        "service:web", "1.2.3", "0.5", "A=1", "default"]

    def value(depth: int = 0) -> Any:
        roll = rng.random()
        if depth > 2 or roll < 0.6:
            return rng.choice(scalars)
        if roll < 0.8:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 3))}

    def mutate(model: dict[str, Any]) -> dict[str, Any]:
        model = copy.deepcopy(model)
        for _ in range(rng.randint(1, 3)):
            candidates = [p for p in _paths(model) if p]
            if not candidates:
                break
            path = rng.choice(candidates)
            parent: Any = model
            for part in path[:-1]:
                parent = parent[part]
            new, action = value(), rng.choice(["replace", "replace", "delete", "add"])
            key = rng.choice(keys) if isinstance(parent, dict) else None
            target = path if action == "replace" else (*path[:-1], key or 0)
            if isinstance(new, str) and cast_for(target) is not None:
                continue  # the interpolation stage casts these before validation
            if action == "replace":
                parent[path[-1]] = new
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[key] = new
            else:
                parent.append(new)
        return model

    disagreements = []
    for _ in range(300):
        model = mutate(rng.choice(models))
        (tmp_path / "compose.json").write_text(json.dumps(model), encoding="utf-8")
        ours = errors(validate_model(model, lambda p: Location())
                      + check_model(model, lambda p: Location(), project_dir=tmp_path))
        theirs = oracle.run_config(["compose.json"], cwd=tmp_path, project_name="fuzz")
        if bool(ours) != (theirs.rc != 0):
            disagreements.append(f"{json.dumps(model)[:2000]}\nours={[p.render() for p in ours]}"
                                 f"\ntheirs={theirs.stderr.strip()}")
    assert not disagreements, "\n\n".join(disagreements)


def test_key_by_key_names_the_kind_of_an_invalid_name() -> None:
    service = {"image": "a", "networks": {"a b": None}}
    whole = validate._explain_all(validate._validators().service, service)
    by_key = validate._explain_service(service)
    assert sorted(by_key, key=repr) == sorted(whole, key=repr)
    assert any("invalid network name 'a b'" in message for _, message in by_key)
