"""Compiled schema predicates: never accept what jsonschema rejects, and agree otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_validate import mutated

from composer import project
from composer.predicates import Check, PredicateCompiler


def _compiled(schema: dict[str, Any]) -> Check:
    validator = Draft202012Validator(schema)

    def fallback(sub: Any) -> Check:
        return lambda value: bool(validator.evolve(schema=sub).is_valid(value))

    return PredicateCompiler(schema, fallback).compile(schema)


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"minLength": 2}, "ab", True),
        ({"minLength": 2}, "a", False),
        ({"minLength": 2}, "é", False),  # code points, as jsonschema counts them
        ({"minLength": 2}, 5, True),  # applies to strings only
        ({"minItems": 1}, [], False),
        ({"minItems": 1}, [0], True),
        ({"minItems": 1}, {}, True),
        ({"minProperties": 1}, {}, False),
        ({"minProperties": 1}, {"a": 1}, True),
        ({"type": "string", "x-hint": "anything"}, "s", True),  # unknown keywords are ignored
        ({"type": "string", "x-hint": "anything"}, 1, False),
        ({"multipleOf": 3}, 9, True),  # not compiled: jsonschema answers
        ({"multipleOf": 3}, 10, False),
        ({"properties": {"a": {"type": "integer"}}}, {"a": "x"}, False),
        ({"properties": {"a": {"type": "integer"}}}, {"b": "x"}, True),
        ({"properties": {"a": {"type": "integer"}}, "additionalProperties": False},
         {"b": 1}, False),
    ],
)
def test_keywords(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert Draft202012Validator(schema).is_valid(value) is valid
    assert _compiled(schema)(value) is valid


# --------------------------------------------------------------------------- composer.yml

_SAMPLE_PROJECTS: list[dict[str, Any]] = [
    {
        "name": "ecommerce",
        "base": "compose.yml",
        "output": "deploy/compose.{env}.yml",
        "env_files": ["env/common.env"],
        "secrets_patterns": ["*PASSWORD*", "*_KEY"],
        "inject": {
            "target": "final",
            "image": {"registry": "registry.example.com/shop",
                      "tag": "{registry}/{service}:{git_sha}"},
            "labels": {"com.example.project": "shop"},
        },
        "environments": {
            "dev": {"inject": {"target": "dev", "restart": "no"}},
            "staging": {"env_files": ["env/staging.env"],
                        "inject": {"platform": "linux/amd64", "restart": "unless-stopped"}},
            "prod": {
                "overlays": ["overlays/prod.yml"],
                "output": "deploy/prod.yml",
                "inject": {
                    "platform": "linux/amd64",
                    "restart": "on-failure:3",
                    "environment": {"DISCOVERY_DSN": "consul://consul:8500"},
                    "ports": ["8080:8080"],
                    "volumes": ["./dynamic-config:/app/dynamic-config"],
                    "services": {"gateway": {"labels": {"com.example.public": "true"}}},
                },
            },
        },
    },
    {"name": "shop", "base": ["compose.yml", "compose.db.yml"], "environments": {"prod": {}}},
]

_KEYS = st.sampled_from(["name", "base", "environments", "inject", "overlays", "target",
                         "image", "tag", "registry", "restart", "ports", "services", "nope",
                         "prod", "env_files", "output", "", "x-y"])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(-2.0, 10.0, allow_nan=False),
    st.sampled_from(["", "x", "compose.yml", "8080:8080", "no", "always", "on-failure:3",
                     "{registry}/{service}:{git_sha}", "linux/amd64", "../out", "a/b"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=8,
)


def _mutated_projects() -> st.SearchStrategy[Any]:
    return mutated(_SAMPLE_PROJECTS, _KEYS, _VALUES, 0)


def test_the_samples_are_valid() -> None:
    validator = Draft202012Validator(project.schema())
    for sample in _SAMPLE_PROJECTS:
        assert validator.is_valid(sample)
        assert project._valid()(sample)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_projects())
def test_project_predicate_agrees_with_jsonschema(doc: Any) -> None:
    assert project._valid()(doc) == Draft202012Validator(project.schema()).is_valid(doc)
