"""The project name, judged like the binary: -p, COMPOSE_PROJECT_NAME, `name:` or the folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from oracle import Oracle

from composer.api import merge_files
from composer.errors import InputError
from composer.pipeline import normalize_project_name

SERVICE = "services:\n  web:\n    image: nginx\n"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("shop", "shop"), ("My Shop", "myshop"), ("_Web", "web"), ("-_web-1", "web-1"),
     ("web_1", "web_1"), ("Web.Shop", "webshop"), ("__", ""), ("Ünïcode", "ncode")],
)
def test_normalisation(raw: str, normal: str) -> None:
    assert normalize_project_name(raw) == normal


# (folder, files as (name, text), -p, extra environment)
CASES = {
    "name-as-written": ("stack", [("compose.yml", 'name: shop\n' + SERVICE)], None, {}),
    "name-normalised": ("stack", [("compose.yml", 'name: "_My Shop"\n' + SERVICE)], None, {}),
    "name-empty-once-normalised": ("stack", [("compose.yml", 'name: "__"\n' + SERVICE)],
                                   None, {}),
    "name-unset-variable": ("stack", [("compose.yml", "name: ${NOPE}\n" + SERVICE)], None, {}),
    "name-from-variable": ("stack", [("compose.yml", "name: ${STACK:-Shop}\n" + SERVICE)],
                           None, {}),
    "name-empty-string-keeps-the-earlier": (
        "stack", [("compose.yml", "name: first\n" + SERVICE), ("b.yml", 'name: ""\n')],
        None, {}),
    "name-later-file-wins": (
        "stack", [("compose.yml", "name: first\n" + SERVICE), ("b.yml", "name: second\n")],
        None, {}),
    "folder-name": ("My_Stack", [("compose.yml", SERVICE)], None, {}),
    "folder-name-unusable": ("__", [("compose.yml", SERVICE)], None, {}),
    "p-valid": ("stack", [("compose.yml", "name: ignored\n" + SERVICE)], "shop-1", {}),
    "p-uppercase": ("stack", [("compose.yml", SERVICE)], "Shop", {}),
    "p-leading-underscore": ("stack", [("compose.yml", SERVICE)], "_shop", {}),
    "p-dot": ("stack", [("compose.yml", SERVICE)], "a.b", {}),
    "env-valid": ("stack", [("compose.yml", "name: ignored\n" + SERVICE)], None,
                  {"COMPOSE_PROJECT_NAME": "shop"}),
    "env-uppercase": ("stack", [("compose.yml", SERVICE)], None,
                      {"COMPOSE_PROJECT_NAME": "Shop"}),
}


def _ours(folder: Path, files: list[str], project: str | None,
          env: dict[str, str]) -> str | None:
    try:
        result = merge_files([folder / f for f in files], project_name=project, environ=env,
                             env_files=[])
    except InputError:
        return None
    return result.merged.project_name


@pytest.mark.parametrize("name", sorted(CASES))
def test_project_name_as_compose_decides(tmp_path: Path, oracle: Oracle, name: str) -> None:
    folder_name, files, project, env = CASES[name]
    folder = tmp_path / folder_name
    folder.mkdir()
    for file, text in files:
        (folder / file).write_text(text, encoding="utf-8")
    names = [f for f, _ in files]
    theirs = oracle.run_config(names, cwd=folder, project_name=project, extra_env=env)
    ours = _ours(folder, names, project, env)
    expected = theirs.model["name"] if theirs.model is not None else None
    assert ours == expected, theirs.stderr
