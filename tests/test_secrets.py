"""Secrets: values from env files stay out of generated files and out of every message.

Generated files keep `${VAR}` references unless `--interpolate` asks for values; then values of
secret-looking variables (or keys) earn a warning that names the variable, never the value. No
message, in text or JSON, ever shows the value of a secret-looking variable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CliResult, CliRunner
from oracle import Oracle, canonical, model_diff

from composer.api import merge_files

DB_PASSWORD = "pg-Secret-2f9c81"
API_TOKEN = "tok_live_51HxQ2eZvKYlo2C"
STRIPE_SECRET = "sk_live_4eC39HqLyjWDarjt"
SECRETS = (DB_PASSWORD, API_TOKEN, STRIPE_SECRET)

BASE = """\
services:
  api:
    image: shop/api:${TAG:-latest}
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      API_TOKEN: ${API_TOKEN}
      LOG_LEVEL: ${LOG_LEVEL:-info}
  db:
    image: postgres:16
    environment:
      - POSTGRES_PASSWORD=${DB_PASSWORD}
"""
PROJECT = """\
name: shop
base: compose.yml
env_files: [.env, env/common.env]  # explicit files replace the default .env
environments:
  prod:
    overlays: []
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    write(
        root,
        {
            "composer.yml": PROJECT,
            "compose.yml": BASE,
            ".env": f"DB_PASSWORD={DB_PASSWORD}\nAPI_TOKEN='{API_TOKEN}'\nTAG=1.4.2\n",
            "env/common.env": f"STRIPE_SECRET={STRIPE_SECRET}\nLOG_LEVEL=debug\n",
        },
    )
    return root


def assert_no_secret(result: CliResult) -> None:
    for secret in SECRETS:
        assert secret not in result.stderr, "a secret value in a message"


def assert_no_secret_anywhere(result: CliResult, root: Path) -> None:
    assert_no_secret(result)
    for secret in SECRETS:
        assert secret not in result.stdout
    for path in root.rglob("*"):
        if path.is_file() and path.suffix == ".yml":
            assert not any(s in path.read_text() for s in SECRETS), f"a secret in {path}"


# --------------------------------------------------------------------------- generated files


def test_env_file_values_are_not_written(cli: CliRunner, project: Path) -> None:
    write(project, {"compose.yml": BASE + "    labels:\n      stripe: ${STRIPE_SECRET}\n"})
    result = cli("merge", "--all", cwd=project)
    assert result.rc == 0
    out = (project / "deploy/compose.prod.yml").read_text()
    assert "DB_PASSWORD: ${DB_PASSWORD}" in out
    assert "POSTGRES_PASSWORD=${DB_PASSWORD}" in out
    assert "stripe: ${STRIPE_SECRET}" in out
    assert_no_secret_anywhere(result, project)


def test_values_from_the_environment_and_env_file_option_are_not_written(
    cli: CliRunner, project: Path
) -> None:
    write(project, {"other.env": f"STRIPE_SECRET={STRIPE_SECRET}\n"})
    result = cli(
        "merge", "-f", "compose.yml", "--env-file", "other.env", "-o", "-", cwd=project,
        env={"DB_PASSWORD": DB_PASSWORD, "API_TOKEN": API_TOKEN},
    )
    assert result.rc == 0
    assert "${API_TOKEN}" in result.stdout
    assert_no_secret_anywhere(result, project)


def test_interpolate_writes_values_and_warns_for_secrets(cli: CliRunner, project: Path) -> None:
    result = cli("merge", "--env", "prod", "--interpolate", cwd=project)
    assert result.rc == 0
    out = (project / "deploy/compose.prod.yml").read_text()
    assert f"DB_PASSWORD: {DB_PASSWORD}" in out
    assert f"POSTGRES_PASSWORD={DB_PASSWORD}" in out
    assert "image: shop/api:1.4.2" in out
    assert "LOG_LEVEL: debug" in out
    assert "${" not in out
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    # one per secret-looking value, each at its line of compose.yml, none for TAG or LOG_LEVEL
    assert any(w.startswith("warning: compose.yml:5:") and "DB_PASSWORD" in w for w in warnings)
    assert any(w.startswith("warning: compose.yml:6:") and "API_TOKEN" in w for w in warnings)
    assert any(w.startswith("warning: compose.yml:11:") and "DB_PASSWORD" in w for w in warnings)
    assert len(warnings) == 3
    assert_no_secret(result)


def test_interpolate_warnings_as_json(cli: CliRunner, project: Path) -> None:
    result = cli("merge", "--env", "prod", "--interpolate", "-o", "-", "--format", "json",
                 cwd=project)
    assert result.rc == 0
    data = json.loads(result.stderr)
    assert data["exit_code"] == 0
    assert {p["severity"] for p in data["problems"]} == {"warning"}
    assert {(p["file"], p["line"]) for p in data["problems"]} == {
        ("compose.yml", 5), ("compose.yml", 6), ("compose.yml", 11)
    }
    assert_no_secret(result)


def test_a_secret_key_holding_a_plain_variable_warns(cli: CliRunner, project: Path) -> None:
    """The key says secret even when the variable's name does not."""
    write(project, {
        "compose.yml": "services:\n  api:\n    image: x\n    environment:\n"
                       "      SESSION_SECRET: ${SESSION}\n",
        ".env": "SESSION=abcdefgh12345\n",
    })
    result = cli("merge", "--env", "prod", "--interpolate", "-o", "-", cwd=project)
    assert result.rc == 0
    assert "SESSION_SECRET: abcdefgh12345" in result.stdout
    assert "warning: compose.yml:5:" in result.stderr
    assert "abcdefgh12345" not in result.stderr


def test_project_secret_patterns_replace_the_defaults(cli: CliRunner, project: Path) -> None:
    write(project, {
        "composer.yml": PROJECT.replace("environments:", 'secrets_patterns: ["*_CRED"]\n'
                                        "environments:"),
        "compose.yml": "services:\n  api:\n    image: x\n    environment:\n"
                       "      A: ${DB_CRED}\n      B: ${API_TOKEN}\n",
        ".env": f"DB_CRED=cred-0123456789\nAPI_TOKEN={API_TOKEN}\n",
    })
    result = cli("merge", "--env", "prod", "--interpolate", "-o", "-", cwd=project)
    assert result.rc == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert "DB_CRED" in warnings[0]
    assert "cred-0123456789" not in result.stderr


def test_interpolated_output_reads_the_same_in_compose(
    cli: CliRunner, oracle: Oracle, tmp_path: Path
) -> None:
    """`$$` stays a literal `$`, typed fields get their type: Compose sees the same model."""
    compose = """\
services:
  app:
    image: busybox:${TAG}
    command: ["sh", "-c", "echo $$HOME ${GREETING} $${GREETING}"]
    read_only: ${READ_ONLY}
    deploy:
      replicas: ${REPLICAS}
    environment:
      PRICE: ${PRICE}
      LITERAL: "a $$ sign"
"""
    write(tmp_path, {
        "compose.yml": compose,
        ".env": "TAG=1.36\nGREETING=hello $$USER\nREPLICAS=3\nREAD_ONLY=true\nPRICE='$5'\n",
    })
    result = cli("merge", "-f", "compose.yml", "--interpolate", "-o", "out/compose.yml",
                 cwd=tmp_path)
    assert result.rc == 0
    expected = oracle.run_config(["compose.yml"], cwd=tmp_path, project_name="p")
    (tmp_path / "out/.env").write_text("GREETING=not used\n")  # must not matter any more
    got = oracle.run_config(["out/compose.yml"], cwd=tmp_path, project_name="p")
    assert expected.model is not None, expected.describe()
    assert got.model is not None, got.describe()
    swap = {str(tmp_path / "out"): "<dir>", str(tmp_path): "<dir>"}
    left = canonical(got.model, replacements=swap)
    right = canonical(expected.model, replacements=swap)
    assert left == right, model_diff(left, right)
    out = (tmp_path / "out/compose.yml").read_text()
    assert "replicas: 3" in out
    assert "read_only: true" in out


# --------------------------------------------------------------------------- messages


SECRET_ERRORS = [
    ("invalid-port", "services:\n  api:\n    ports: [\"${DB_PASSWORD}:80\"]\n", 1),
    ("invalid-size", "services:\n  api:\n    mem_limit: ${API_TOKEN}\n", 1),
    ("not-a-number", "services:\n  api:\n    cpus: ${STRIPE_SECRET}\n", 2),
    ("restart-warning", "services:\n  api:\n    restart: ${DB_PASSWORD}\n", 0),
    ("unknown-network", "services:\n  api:\n    networks: [\"${DB_PASSWORD}\"]\n", 1),
    ("literal-under-secret-key",
     "services:\n  api:\n    environment:\n      ADMIN_PASSWORD: pg-Secret-2f9c81\n"
     "    ports: [\"pg-Secret-2f9c81:80\"]\n", 1),
]


@pytest.mark.parametrize(("overlay", "rc"), [(c[1], c[2]) for c in SECRET_ERRORS],
                         ids=[c[0] for c in SECRET_ERRORS])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_value_in_any_message(
    cli: CliRunner, project: Path, overlay: str, rc: int, fmt: str
) -> None:
    """Each message would quote the value; it is masked, and the rest of the message stays."""
    write(project, {
        "composer.yml": PROJECT.replace("    overlays: []", "    overlays: [prod.yml]"),
        "prod.yml": overlay,
    })
    result = cli("merge", "--env", "prod", "--format", fmt, "-o", "-", cwd=project)
    assert result.rc == rc
    assert not result.traceback
    assert "********" in result.stderr, "the message should still say something was there"
    assert_no_secret(result)


def test_an_env_file_error_does_not_quote_the_value(cli: CliRunner, project: Path) -> None:
    write(project, {".env": f'TAG=1\nDB_PASSWORD="{DB_PASSWORD}\n'})
    result = cli("merge", "--env", "prod", cwd=project)
    assert result.rc == 2
    assert ".env:2" in result.stderr
    assert_no_secret(result)
    write(project, {".env": f"TAG=1\nDB_PASSWORD='{DB_PASSWORD}'x!y\n"})
    result = cli("merge", "--env", "prod", cwd=project)
    assert result.rc == 2
    assert_no_secret(result)


def test_secrets_from_the_process_environment_are_hidden_too(
    cli: CliRunner, tmp_path: Path
) -> None:
    write(tmp_path, {"compose.yml": "services:\n  api:\n    image: x\n"
                                    "    ports: [\"${SMTP_PASSWORD}:25\"]\n"})
    result = cli("validate", "-f", "compose.yml", cwd=tmp_path,
                 env={"SMTP_PASSWORD": "smtp-pass-778899"})
    assert result.rc == 1
    assert "compose.yml:4:" in result.stderr
    assert "smtp-pass-778899" not in result.stderr


# --------------------------------------------------------------------------- library


def test_library_interpolate_option(project: Path) -> None:
    files = [project / "compose.yml"]
    env_files = [project / ".env"]
    kept = merge_files(files, env_files=env_files, environ={})
    assert "${DB_PASSWORD}" in kept.text
    assert not any(s in kept.text for s in SECRETS)
    assert kept.warnings == []
    written = merge_files(files, env_files=env_files, environ={}, interpolate=True)
    assert f"DB_PASSWORD: {DB_PASSWORD}" in written.text
    assert "image: shop/api:1.4.2" in written.text
    assert [w.where for w in written.warnings] == [
        "services.api.environment.DB_PASSWORD",
        "services.api.environment.API_TOKEN",
        "services.db.environment[0]",
    ]
    assert all(w.severity == "warning" for w in written.warnings)
    assert not any(s in w.message for w in written.warnings for s in SECRETS)
    # the loaded files are shared and must not have been changed by the interpolated copy
    again = merge_files(files, env_files=env_files, environ={})
    assert again.text == kept.text
