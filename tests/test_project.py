"""composer.yml loading: defaults, layering, located refusals, and the bundled example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from composer.errors import ProjectError
from composer.inject import INJECTORS
from composer.project import (
    DEFAULT_SECRETS_PATTERNS,
    PROJECT_FILE,
    find_project_file,
    load_project,
    schema,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

BASE = "services:\n  web:\n    build: ./web\n  db:\n    image: postgres:16\n"


def make(tmp_path: Path, text: str, files: tuple[str, ...] = ("overlays/prod.yml",)) -> Path:
    """A project folder with composer.yml, a base compose.yml and the named empty overlays."""
    (tmp_path / "compose.yml").write_text(BASE)
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("services: {}\n")
    path = tmp_path / PROJECT_FILE
    path.write_text(text)
    return path


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column where `needle` starts in `text`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in text")


def refusal(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        load_project(path)
    return info.value


def test_defaults_fill_everything_left_out(tmp_path: Path) -> None:
    project = load_project(make(tmp_path, "name: shop\nenvironments:\n  prod:\n"))
    env = project.environment("prod")
    assert project.name == "shop"
    assert project.root == tmp_path
    assert project.base_files == [tmp_path / "compose.yml"]
    assert env.overlays == [tmp_path / "overlays" / "prod.yml"]
    assert env.output == tmp_path / "deploy" / "compose.prod.yml"
    assert project.secrets_patterns == list(DEFAULT_SECRETS_PATTERNS)
    assert env.env_files == []
    assert env.profiles is None
    assert not env.injections


def test_directory_argument_reads_its_composer_yml(tmp_path: Path) -> None:
    make(tmp_path, "name: shop\nenvironments:\n  prod: {}\n")
    assert load_project(tmp_path).path == tmp_path / PROJECT_FILE


def test_base_follows_compose_lookup_when_not_named(tmp_path: Path) -> None:
    make(tmp_path, "name: shop\nenvironments:\n  prod: {}\n")
    (tmp_path / "compose.yml").rename(tmp_path / "docker-compose.yaml")
    assert load_project(tmp_path).base_files == [tmp_path / "docker-compose.yaml"]


def test_explicit_settings_are_kept_in_order(tmp_path: Path) -> None:
    text = (
        "name: shop\n"
        "base: [compose.yml, extra.yml]\n"
        "output: out/{project}-{env}.yml\n"
        "env_files: [common.env]\n"
        "secrets_patterns: ['*PASS*']\n"
        "environments:\n"
        "  prod:\n"
        "    overlays: [overlays/a.yml, overlays/b.yml]\n"
        "    env_files: [prod.env, common.env]\n"
        "    profiles: [web]\n"
        "  qa:\n"
        "    overlays: []\n"
        "    output: qa/compose.yml\n"
    )
    path = make(tmp_path, text, ("extra.yml", "overlays/a.yml", "overlays/b.yml"))
    project = load_project(path)
    assert project.base_files == [tmp_path / "compose.yml", tmp_path / "extra.yml"]
    prod, qa = project.environment("prod"), project.environment("qa")
    assert prod.overlays == [tmp_path / "overlays/a.yml", tmp_path / "overlays/b.yml"]
    assert prod.env_files == [tmp_path / "common.env", tmp_path / "prod.env"]
    assert prod.output == tmp_path / "out" / "shop-prod.yml"
    assert prod.profiles == ["web"]
    assert qa.overlays == []
    assert qa.output == tmp_path / "qa" / "compose.yml"
    assert project.outputs == [prod.output, qa.output]
    assert project.secrets_patterns == ["*PASS*"]


def test_injections_layer_global_then_environment(tmp_path: Path) -> None:
    text = (
        "name: shop\n"
        "inject:\n"
        "  target: final\n"
        "  restart: always\n"
        "  environment: [MODE=base, KEEP=1]\n"
        "  services:\n"
        "    web: {restart: unless-stopped, ports: ['80:80']}\n"
        "environments:\n"
        "  prod:\n"
        "    inject:\n"
        "      restart: on-failure:3\n"
        "      environment: {MODE: prod}\n"
        "      services:\n"
        "        web: {ports: ['443:443']}\n"
    )
    env = load_project(make(tmp_path, text)).environment("prod")
    web = env.injections.for_service("web")
    db = env.injections.for_service("db")
    # The environment's block for every service beats the global per-service block.
    assert web["restart"] == "on-failure:3"
    assert web["ports"] == ["80:80", "443:443"]
    assert web["environment"] == {"MODE": "prod", "KEEP": "1"}
    assert db == {"target": "final", "restart": "on-failure:3", "environment": web["environment"]}


def test_secret_patterns_match_case_insensitively(tmp_path: Path) -> None:
    project = load_project(make(tmp_path, "name: shop\nenvironments: {prod: {}}\n"))
    assert project.is_secret("DB_PASSWORD")
    assert project.is_secret("github_token")
    assert project.is_secret("STRIPE_API_KEY")
    assert not project.is_secret("KEYCLOAK_URL")
    assert not project.is_secret("LOG_LEVEL")


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    project = load_project(
        make(tmp_path, "name: shop\nenvironments: {prod: {}, dev: {overlays: []}}\n")
    )
    with pytest.raises(ProjectError) as info:
        project.environment("staging")
    assert "'staging'" in str(info.value)
    assert "dev, prod" in str(info.value)


def test_missing_project_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path / PROJECT_FILE)
    text = str(info.value)
    assert "create one" in text
    assert "environments:" in text


def test_find_project_file_walks_up(tmp_path: Path) -> None:
    path = make(tmp_path, "name: shop\nenvironments: {prod: {}}\n")
    deep = tmp_path / "services" / "web"
    deep.mkdir(parents=True)
    assert find_project_file(deep) == path
    (tmp_path / PROJECT_FILE).unlink()
    with pytest.raises(ProjectError):
        find_project_file(deep)


@pytest.mark.parametrize(
    ("snippet", "needle", "where", "words"),
    [
        ("    inject:\n      restart: sometimes\n", "sometimes", "inject.restart", "on-failure:N"),
        ("    inject:\n      platform: amd64 linux\n", "amd64 linux", "inject.platform", "os/arch"),
        ("    overlay: [x.yml]\n", "overlay:", "prod.overlay", "unknown key 'overlay'"),
        ("    inject:\n      ports: '80:80'\n", "'80:80'", "inject.ports", "expected a list"),
        ("    inject:\n      image: {registry: r, tg: x}\n", "tg:", "image.tg", "unknown key"),
        ("    profiles: [web, 3]\n", "3]", "profiles[1]", "expected a string"),
    ],
)
def test_schema_errors_point_at_the_value(
    tmp_path: Path, snippet: str, needle: str, where: str, words: str
) -> None:
    text = "name: shop\nenvironments:\n  prod:\n" + snippet
    error = refusal(make(tmp_path, text))
    line, column = position(text, needle)
    rendered = str(error)
    assert f"{PROJECT_FILE}:{line}:{column}: environments.prod." in rendered.replace(
        str(tmp_path) + "/", ""
    )
    assert error.location.line == line
    assert error.location.column == column
    assert error.where.endswith(where)
    assert words in error.message


def test_every_schema_error_is_reported_in_file_order(tmp_path: Path) -> None:
    text = "name: Shop!\nenvironments:\n  prod:\n    inject: {restart: never}\n"
    error = refusal(make(tmp_path, text))
    assert [p.where for p in error.problems] == ["name", "environments.prod.inject.restart"]
    assert [p.location.line for p in error.problems] == [1, 4]


def test_keys_must_be_text(tmp_path: Path) -> None:
    text = "name: shop\nenvironments:\n  prod: {}\n  2024: {overlays: []}\n"
    error = refusal(make(tmp_path, text))
    assert 'quote it: "2024"' in error.message
    assert (error.location.line, error.location.column) == position(text, "2024")


def test_inputs_of_an_environment(tmp_path: Path) -> None:
    text = "name: s\nenv_files: [a.env]\nenvironments:\n  prod: {env_files: [b.env]}\n"
    project = load_project(make(tmp_path, text))
    assert project.inputs("prod") == [
        tmp_path / PROJECT_FILE,
        tmp_path / "compose.yml",
        tmp_path / "overlays" / "prod.yml",
        tmp_path / "a.env",
        tmp_path / "b.env",
    ]


def test_missing_required_key(tmp_path: Path) -> None:
    error = refusal(make(tmp_path, "environments: {prod: {}}\n"))
    assert "'name' is required" in error.message


@pytest.mark.parametrize(
    ("text", "needle", "words"),
    [
        ("name: shop\nenvironments:\n  prod: {\n", "", "not valid YAML"),
        ("name: shop\nname: again\nenvironments: {prod: {}}\n", "name: again", "not valid YAML"),
        ("- just\n- a list\n", "- just", "must be a mapping"),
    ],
)
def test_bad_yaml_is_located(tmp_path: Path, text: str, needle: str, words: str) -> None:
    error = refusal(make(tmp_path, text))
    assert words in error.message
    assert error.location.path == tmp_path / PROJECT_FILE
    if needle:
        assert error.location.line == position(text, needle)[0]


def test_empty_file_is_refused_with_a_starter(tmp_path: Path) -> None:
    error = refusal(make(tmp_path, "# nothing yet\n"))
    assert "empty" in error.message
    assert "name:" in error.message


@pytest.mark.parametrize("name", ["../prod", "a/b", "a\\\\b", ".hidden", "a..b"])
def test_environment_names_cannot_become_paths(tmp_path: Path, name: str) -> None:
    text = f'name: shop\nenvironments:\n  "{name}":\n    overlays: []\n'
    error = refusal(make(tmp_path, text))
    assert "not allowed" in error.message
    assert error.location.line == 3


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ("overlays: [../outside.yml]", "../outside.yml"),
        ("overlays: [/etc/passwd]", "/etc/passwd"),
        ("output: ../elsewhere/{env}.yml", "../elsewhere"),
        ("env_files: [overlays/../../up.env]", "overlays/../../up.env"),
    ],
)
def test_paths_must_stay_inside_the_project(tmp_path: Path, entry: str, needle: str) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (tmp_path / "outside.yml").write_text("services: {}\n")
    text = f"name: shop\nenvironments:\n  prod:\n    {entry}\n"
    error = refusal(make(project_dir, text))
    assert "outside the project directory" in error.message
    assert (error.location.line, error.location.column) == position(text, needle)


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (tmp_path / "real.yml").write_text("services: {}\n")
    (project_dir / "link.yml").symlink_to(tmp_path / "real.yml")
    error = refusal(make(project_dir, "name: s\nenvironments:\n  prod: {overlays: [link.yml]}\n"))
    assert "outside the project directory" in error.message


def test_missing_overlays_are_refused(tmp_path: Path) -> None:
    text = "name: shop\nenvironments:\n  prod: {}\n  qa:\n    overlays: [overlays/qa.yml]\n"
    path = make(tmp_path, text, ("overlays/prod.yml",))
    error = refusal(path)
    assert "'overlays/qa.yml' does not exist" in error.message
    (tmp_path / "overlays" / "prod.yml").unlink()
    error = refusal(make(tmp_path, "name: shop\nenvironments:\n  prod: {}\n", ()))
    assert "overlays/prod.yml does not exist" in error.message
    assert "overlays: []" in error.message


def test_missing_base_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path, "name: s\nbase: [compose.yml, nope.yml]\nenvironments: {prod: {}}\n")
    assert "'nope.yml' does not exist" in refusal(path).message
    (tmp_path / "compose.yml").unlink()
    path.write_text("name: s\nenvironments: {prod: {}}\n")
    assert "set `base:`" in refusal(path).message


def test_outputs_must_differ_between_environments(tmp_path: Path) -> None:
    text = "name: s\noutput: deploy/compose.yml\nenvironments:\n  prod: {}\n  qa: {overlays: []}\n"
    error = refusal(make(tmp_path, text))
    assert "would both write" in error.message
    assert "{env}" in error.message


def test_output_cannot_overwrite_an_input(tmp_path: Path) -> None:
    text = "name: s\nenvironments:\n  prod: {output: overlays/prod.yml}\n"
    assert "overwrite an input" in refusal(make(tmp_path, text)).message


@pytest.mark.parametrize(
    ("snippet", "needle", "words"),
    [
        ("output: deploy/{environment}.yml\n", "deploy/", "{environment}"),
        ("inject:\n  image: {tag: '{registry}/{svc}'}\n", "'{registry}", "{svc}"),
        ("inject:\n  image: {tag: '{service.__class__}'}\n", "'{service", "unsupported"),
        ("inject:\n  container_name: '{git_sha}'\n", "'{git_sha}'", "{git_sha}"),
        ("inject:\n  container_name: fixed\n", "fixed", "must contain {service}"),
    ],
)
def test_templates_use_known_fields(tmp_path: Path, snippet: str, needle: str, words: str) -> None:
    text = "name: shop\n" + snippet + "environments:\n  prod: {}\n"
    error = refusal(make(tmp_path, text))
    assert words in error.message
    assert (error.location.line, error.location.column) == position(text, needle)


def test_per_service_container_name_may_be_fixed(tmp_path: Path) -> None:
    text = "name: s\nenvironments:\n  prod:\n    inject: {services: {web: {container_name: w}}}\n"
    env = load_project(make(tmp_path, text)).environment("prod")
    assert env.injections.for_service("web") == {"container_name": "w"}


def test_schema_is_valid_and_lists_every_injection() -> None:
    loaded = schema()
    Draft202012Validator.check_schema(loaded)
    defs = loaded["$defs"]
    per_service = set(defs["service_injections"]["properties"])
    assert per_service == set(INJECTORS)
    assert set(defs["injections"]["properties"]) == per_service | {"services"}


def test_schema_file_is_the_shipped_one() -> None:
    on_disk = json.loads((REPO_ROOT / "schemas" / "composer.schema.json").read_text())
    assert schema() == on_disk


def test_bundled_example_project_loads() -> None:
    project = load_project(REPO_ROOT / PROJECT_FILE)
    assert project.name == "ecommerce"
    assert set(project.environments) == {"dev", "staging", "prod"}
    for env in project.environments.values():
        assert all(path.is_file() for path in env.overlays)
        assert all(path.is_file() for path in env.env_files)
        assert env.output.parent == REPO_ROOT / "deploy"
    prod = project.environment("prod").injections
    assert prod.for_service("gateway")["platform"] == "linux/amd64"
    assert prod.for_service("gateway")["restart"] == "on-failure:3"
