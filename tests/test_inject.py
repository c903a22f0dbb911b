"""Injections as an overlay: what each setting produces, and that Compose merges it as meant."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from oracle import Oracle
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from composer.errors import ProjectError
from composer.inject import (
    INJECTORS,
    InjectionLayer,
    Injections,
    ServiceContext,
    injection_overlay,
    set_overlay,
)
from composer.project import load_project

REPO_ROOT = Path(__file__).resolve().parent.parent

SERVICES: dict[str, dict[str, Any]] = {
    "web": {"build": "./web", "environment": ["A=1"]},
    "api": {"build": {"context": "./api", "target": "dev"}, "labels": {"x": "1"}},
    "db": {"image": "postgres:16"},
}


def layer(defaults: dict[str, Any] | None = None, **services: dict[str, Any]) -> InjectionLayer:
    return InjectionLayer(defaults or {}, services)


def overlay(inj: Injections, tag: Any = "abc1234", services: Any = None) -> CommentedMap:
    return injection_overlay(
        inj, SERVICES if services is None else services, project="shop", env="prod", tag=tag
    )


def dump(doc: CommentedMap) -> str:
    out = io.StringIO()
    YAML(typ="rt").dump(doc, out)
    return out.getvalue()


def test_target_and_image_only_touch_built_services() -> None:
    inj = Injections((layer({"target": "final", "image": {"registry": "reg.example/shop"}}),))
    doc = overlay(inj)
    assert set(doc["services"]) == {"web", "api"}
    assert doc["services"]["web"] == {
        "build": {"target": "final"},
        "image": "reg.example/shop/web:abc1234",
    }
    assert doc["services"]["api"]["image"] == "reg.example/shop/api:abc1234"


def test_settings_for_every_service_reach_pulled_images_too() -> None:
    inj = Injections((layer({"platform": "linux/amd64", "restart": "on-failure:3"}),))
    doc = overlay(inj)
    for name in SERVICES:
        assert doc["services"][name] == {"platform": "linux/amd64", "restart": "on-failure:3"}


def test_image_template_fields() -> None:
    template = "{registry}/{project}-{env}/{service}:{git_sha}"
    inj = Injections((layer({"image": {"registry": "r.example/", "tag": template}}),))
    assert overlay(inj)["services"]["web"]["image"] == "r.example/shop-prod/web:abc1234"


def test_per_service_tags() -> None:
    inj = Injections((layer({"image": {"tag": "{service}:{git_sha}"}}),))
    doc = overlay(inj, tag={"web": "1111111", "api": "2222222"})
    assert doc["services"]["web"]["image"] == "web:1111111"
    assert doc["services"]["api"]["image"] == "api:2222222"


def test_image_without_a_known_tag_asks_for_one() -> None:
    inj = Injections((layer({"image": {"registry": "r"}}),))
    with pytest.raises(ProjectError, match="--tag"):
        overlay(inj, tag=None)
    # A template without {git_sha} needs no tag at all.
    inj = Injections((layer({"image": {"tag": "{service}:dev"}}),))
    assert overlay(inj, tag=None)["services"]["web"]["image"] == "web:dev"


def test_default_template_needs_a_registry() -> None:
    inj = Injections((layer({"image": {"tag": "{registry}/{service}"}}),))
    with pytest.raises(ProjectError, match=r"image\.registry"):
        overlay(inj)


def test_environment_and_labels_follow_the_base_style() -> None:
    inj = Injections(
        (layer({"environment": {"B": 2, "ON": True, "BARE": None}, "labels": {"y": "2"}}),)
    )
    doc = overlay(inj)
    assert doc["services"]["web"]["environment"] == ["B=2", "ON=true", "BARE"]
    assert doc["services"]["db"]["environment"] == {"B": 2, "ON": True, "BARE": None}
    assert doc["services"]["api"]["labels"] == {"y": "2"}


def test_container_name_template() -> None:
    inj = Injections((layer({"container_name": "{project}-{env}-{service}"}),))
    assert overlay(inj)["services"]["db"]["container_name"] == "shop-prod-db"


def test_layers_apply_in_order() -> None:
    inj = Injections(
        (
            layer({"restart": "always"}, web={"restart": "no", "ports": ["80:80"]}),
            layer({"ports": ["443:443"]}, web={"environment": {"X": "1"}}),
        )
    )
    web = overlay(inj)["services"]["web"]
    assert web["restart"] == "no"
    assert web["ports"] == ["80:80", "443:443"]
    assert overlay(inj)["services"]["db"]["restart"] == "always"


def test_ports_are_quoted_for_yaml_1_1_readers() -> None:
    inj = Injections((layer(web={"ports": ["22:22", 8080]}),))
    text = dump(overlay(inj))
    assert '- "22:22"' in text
    assert "- 8080" in text


def test_nothing_to_inject_gives_an_empty_overlay() -> None:
    assert overlay(Injections()) == {}
    assert overlay(Injections((layer({"target": "final"}),)), services={"db": {"image": "x"}}) == {}


def test_unknown_service_is_a_typo() -> None:
    inj = Injections((InjectionLayer({}, {"wbe": {"restart": "no"}}, "environments.prod.inject"),))
    with pytest.raises(ProjectError) as info:
        overlay(inj)
    assert info.value.where == "environments.prod.inject.services.wbe"
    assert "api, db, web" in info.value.message


def test_overlay_nodes_carry_nothing_from_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    build: .\n")
    (tmp_path / "composer.yml").write_text(
        "name: shop\n"
        "environments:\n"
        "  prod:\n"
        "    overlays: []\n"
        "    inject:\n"
        "      ports: &p ['80:80']  # public\n"
        "      services:\n"
        "        web: {volumes: [./data:/data]}  # data\n"
    )
    env = load_project(tmp_path).environment("prod")
    text = dump(overlay(env.injections, services={"web": {"build": "."}}))
    assert "#" not in text
    assert "&" not in text
    assert '"80:80"' in text


def test_a_new_injection_is_one_function(monkeypatch: pytest.MonkeyPatch) -> None:
    def stop_grace(value: Any, ctx: ServiceContext) -> dict[str, Any]:
        return {"stop_grace_period": value} if ctx.has_build else {}

    monkeypatch.setitem(INJECTORS, "stop_grace_period", stop_grace)
    doc = overlay(Injections((layer({"stop_grace_period": "30s"}),)))
    assert doc["services"]["web"]["stop_grace_period"] == "30s"
    assert "db" not in doc["services"]


# --------------------------------------------------------------------------- Compose agrees


def run_with_overlay(
    oracle: Oracle, folder: Path, files: list[str], doc: CommentedMap
) -> dict[str, Any]:
    (folder / "injected.yml").write_text(dump(doc))
    result = oracle.run_config([*files, "injected.yml"], cwd=folder, project_name="shop")
    assert result.model is not None, result.describe()
    return result.model


def test_compose_merges_the_overlay_as_intended(oracle: Oracle, tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n"
        "  web:\n"
        "    build: ./web\n"
        "    environment: [A=1]\n"
        "    ports: ['8080:8080']\n"
        "  api:\n"
        "    build: {context: ./api, target: dev}\n"
        "  db:\n"
        "    image: postgres:16\n"
    )
    inj = Injections(
        (
            layer(
                {"target": "final", "platform": "linux/arm64", "restart": "on-failure:3"},
                web={"ports": ["8080:8080", "8443:443/udp"], "environment": {"B": "2"}},
            ),
        )
    )
    plain = {
        "web": {"build": "./web", "environment": ["A=1"], "ports": ["8080:8080"]},
        "api": {"build": {"context": "./api", "target": "dev"}},
        "db": {"image": "postgres:16"},
    }
    model = run_with_overlay(oracle, tmp_path, ["compose.yml"], overlay(inj, services=plain))
    web, api, db = (model["services"][n] for n in ("web", "api", "db"))
    assert web["build"]["target"] == "final"
    assert web["build"]["context"] == str(tmp_path / "web")
    assert api["build"]["target"] == "final"
    assert "build" not in db
    assert {s["platform"] for s in (web, api, db)} == {"linux/arm64"}
    assert {s["restart"] for s in (web, api, db)} == {"on-failure:3"}
    assert web["environment"] == {"A": "1", "B": "2"}
    published = [(p["published"], p["target"], p["protocol"]) for p in web["ports"]]
    assert published == [("8080", 8080, "tcp"), ("8443", 443, "udp")]


def test_bundled_prod_gateway(oracle: Oracle, tmp_path: Path) -> None:
    """The example stack's prod gateway, from compose.yml, overlays/prod.yml and injections."""
    project = load_project(REPO_ROOT / "composer.yml")
    env = project.environment("prod")
    files = [str(p.relative_to(REPO_ROOT)) for p in [*project.base_files, *env.overlays]]
    merged = oracle.run_config(files, cwd=REPO_ROOT, project_name="ecommerce", no_interpolate=True)
    assert merged.model is not None, merged.describe()
    doc = injection_overlay(
        env.injections, merged.model["services"], project=project.name, env="prod", tag="0abcdef"
    )
    injected = tmp_path / "injected.yml"
    injected.write_text(dump(doc))
    result = oracle.run_config([*files, str(injected)], cwd=REPO_ROOT, project_name="ecommerce")
    assert result.model is not None, result.describe()
    gateway = result.model["services"]["gateway"]
    assert gateway["platform"] == "linux/amd64"
    assert gateway["restart"] == "on-failure:3"
    assert gateway["container_name"] == "ecommerce-gateway"
    assert gateway["build"]["target"] == "final"
    assert gateway["image"] == "registry.example.com/ecommerce/gateway:0abcdef"
    ports = [(p["published"], p["target"], p["protocol"]) for p in gateway["ports"]]
    assert ports == [("8080", 8080, "tcp"), ("8443", 443, "tcp"), ("8443", 443, "udp")]
    assert gateway["environment"]["DISCOVERY_DSN"] == "consul://consul:8500"
    assert gateway["environment"]["DISCOVERY_CONFIG_PATH"] == "ecommerce/gateway/config.yaml"
    mounts = [(v["type"], v["source"], v["target"]) for v in gateway["volumes"]]
    assert mounts == [("bind", str(REPO_ROOT / "dynamic-config"), "/app/dynamic-config")]
    assert (REPO_ROOT / "dynamic-config").is_dir()


# --------------------------------------------------------------------------- --set


def test_set_builds_nested_mappings_in_order() -> None:
    doc = set_overlay(
        [
            "services.gateway.platform=linux/amd64",
            "services.gateway.ports=['8080:8080', 9000]",
            "services.gateway.environment.DEBUG=true",
            'services.gateway.labels."com.example.team"=shop',
            "services.db.restart=no",
            "services.gateway.platform=linux/arm64",
        ]
    )
    gateway = doc["services"]["gateway"]
    assert gateway["platform"] == "linux/arm64"
    assert gateway["ports"] == ["8080:8080", 9000]
    assert gateway["environment"]["DEBUG"] is True
    assert gateway["labels"] == {"com.example.team": "shop"}
    assert doc["services"]["db"]["restart"] == "no"
    assert list(doc["services"]) == ["gateway", "db"]


def test_set_values_are_yaml() -> None:
    doc = set_overlay(["a.int=3", "a.str='3'", "a.map={x: 1}", "a.eq=x=y", "a.empty="])
    assert doc["a"] == {"int": 3, "str": "3", "map": {"x": 1}, "eq": "x=y", "empty": None}


@pytest.mark.parametrize(
    ("assignment", "words"),
    [
        ("services.web.platform", "PATH=VALUE"),
        ("services..platform=x", "empty key"),
        (".platform=x", "empty key"),
        ("=x", "empty key"),
        ('services."web.platform=x', "unterminated quote"),
        ('services."web"x=1', "after a quoted key"),
        ("services.web.ports=[8080", "not valid YAML"),
        ("services.web.command=echo: hi", "flow collection"),
        ("services.web.command=- a", "flow collection"),
    ],
)
def test_set_refusals_name_the_assignment(assignment: str, words: str) -> None:
    with pytest.raises(ProjectError) as info:
        set_overlay([assignment])
    assert assignment in str(info.value)
    assert words in str(info.value)


def test_set_cannot_descend_into_a_scalar() -> None:
    with pytest.raises(ProjectError, match="already set"):
        set_overlay(["services.web=x", "services.web.platform=y"])
