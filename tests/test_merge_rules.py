"""Docker Compose v2's merge rules one by one: `Merger().merge` on small round-trip nodes.

Every row is one behaviour of Compose's merge (the per-field rules and the de-duplication of merged
lists), written as the base value, the overlay value and the plain result; rows marked "Go" pin
a quirk of Compose's implementation that a reader would not guess (each one was checked against
the Docker Compose v2 binary). `test_every_rule_has_a_row` keeps the tables and the rows in step.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from composer.errors import MergeError
from composer.merge import Merger
from composer.nodes import plain
from composer.rules import rule_for, rule_table, unique_for, unique_table
from composer.yamlio import dump, load_text


def document(text: str) -> Any:
    return load_text(textwrap.dedent(text), Path("rule.yml")).documents[0]


def value(text: str) -> Any:
    """The YAML value `text` (flow or block), loaded round-trip the way composer loads files."""
    text = textwrap.dedent(text).strip("\n")
    if "\n" in text:
        return document("v:\n" + textwrap.indent(text, "  "))["v"]
    return document(f"v: {text}")["v"]


@dataclass(frozen=True)
class Row:
    path: str
    base: str
    over: str
    want: Any


def rows(table: Mapping[str, Any]) -> list[Any]:
    return [pytest.param(row, id=name) for name, row in table.items()]


DEFAULTS = {
    "scalar-replaced": Row("services.web.image", "nginx:1.25", "nginx:1.26", "nginx:1.26"),
    "scalar-type-may-change": Row("services.web.mem_limit", "512m", "1073741824", 1073741824),
    # Go: MergeYaml returns the base when the override is nil
    "null-keeps-base-scalar": Row("services.web.restart", "always", "null", "always"),
    "empty-keeps-base-scalar": Row("services.web.restart", "always", "", "always"),
    "null-keeps-base-mapping": Row("services.web.deploy", "{replicas: 2}", "~", {"replicas": 2}),
    "mapping-merged-by-key": Row(
        "services.web.healthcheck",
        "{interval: 30s, retries: 3}",
        "{interval: 10s, timeout: 5s}",
        {"interval": "10s", "retries": 3, "timeout": "5s"},
    ),
    "nested-mappings-merged": Row(
        "services.web.deploy",
        """
        resources:
          limits: {cpus: "1", memory: 1G}
        """,
        """
        resources:
          limits: {memory: 2G}
          reservations: {memory: 1G}
        """,
        {"resources": {"limits": {"cpus": "1", "memory": "2G"}, "reservations": {"memory": "1G"}}},
    ),
    "new-keys-added": Row(
        "services",
        "{web: {image: a}}",
        "{api: {image: b}}",
        {"web": {"image": "a"}, "api": {"image": "b"}},
    ),
    "list-appended": Row(
        "services.web.security_opt",
        "[no-new-privileges:true]",
        "[seccomp:unconfined]",
        ["no-new-privileges:true", "seccomp:unconfined"],
    ),
    "list-without-unique-rule-keeps-duplicates": Row(
        "services.web.group_add", "[audio]", "[audio, video]", ["audio", "audio", "video"]
    ),
    "extension-field-merged": Row(
        "x-shop",
        "{team: a, release: {channel: stable, approvers: [b]}}",
        "{release: {approvers: [c]}}",
        {"team": "a", "release": {"channel": "stable", "approvers": ["b", "c"]}},
    ),
    "extension-field-in-a-service-merged": Row(
        "services.web.x-meta", "{a: 1}", "{b: 2}", {"a": 1, "b": 2}
    ),
}

OVERRIDE = {
    "command-list-replaces-string": Row(
        "services.web.command", "npm start", '["node", "server.js"]', ["node", "server.js"]
    ),
    "command-string-replaces-list": Row(
        "services.web.command", '["serve", "--port", "80"]', "serve --port 81", "serve --port 81"
    ),
    # Go: the override rule runs before the nil check, so null clears the value
    "command-null-clears": Row("services.web.command", "[serve]", "null", None),
    "entrypoint-replaced": Row(
        "services.web.entrypoint", "/a.sh", '["tini", "--"]', ["tini", "--"]
    ),
    "entrypoint-null-clears": Row("services.web.entrypoint", "/a.sh", "null", None),
    "healthcheck-test-replaced": Row(
        "services.web.healthcheck.test",
        '["CMD", "curl", "-f", "http://localhost"]',
        '["CMD-SHELL", "wget -q localhost"]',
        ["CMD-SHELL", "wget -q localhost"],
    ),
}

ULIMITS = {
    "ulimit-mapping-replaces-number": Row(
        "services.web.ulimits.nofile",
        "1024",
        "{soft: 1024, hard: 2048}",
        {"soft": 1024, "hard": 2048},
    ),
    "ulimit-number-replaces-mapping": Row(
        "services.web.ulimits.nofile", "{soft: 1024, hard: 2048}", "4096", 4096
    ),
    # Go: mergeUlimit merges the override with itself, so nothing of the base survives
    "ulimit-mapping-not-merged": Row(
        "services.web.ulimits.nofile", "{soft: 1024, hard: 2048}", "{hard: 4096}", {"hard": 4096}
    ),
    "ulimits-other-limits-kept": Row(
        "services.web.ulimits",
        "{nproc: 10, nofile: 20}",
        "{nofile: 30}",
        {"nproc": 10, "nofile": 30},
    ),
}

KEY_VALUE = {
    "environment-mapping-and-mapping": Row(
        "services.web.environment",
        "{A: '1', B: '2'}",
        "{B: '3', C: '4'}",
        {"A": "1", "B": "3", "C": "4"},
    ),
    "environment-mapping-and-list": Row(
        "services.web.environment",
        "{A: '1', B: '2'}",
        "[B=3, C=4]",
        {"A": "1", "B": "3", "C": "4"},
    ),
    "environment-list-and-mapping": Row(
        "services.web.environment", "[A=1, B=2]", "{B: 3, C: true}", ["A=1", "B=3", "C=true"]
    ),
    "environment-list-and-list-by-key": Row(
        "services.web.environment", "[A=1, B=2]", "[B=3, A]", ["A", "B=3"]
    ),
    # Go: a null in the overlay is not ignored here: it becomes the bare key (passed through)
    "environment-null-unsets-in-list": Row("services.web.environment", "[A=1]", "{A: null}", ["A"]),
    "environment-null-unsets-in-mapping": Row(
        "services.web.environment", "{A: '1'}", "{A: }", {"A": None}
    ),
    "environment-overlay-null-keeps-base": Row(
        "services.web.environment", "{A: '1'}", "null", {"A": "1"}
    ),
    "environment-base-null": Row("services.web.environment", "null", "{A: '1'}", {"A": "1"}),
    # Go: values become text with %v: 1.0 is "1", 0.00001 is "1e-05"
    "values-formatted-like-go": Row(
        "services.web.labels",
        "[a=0]",
        "{f: 1.0, t: true, e: 1.5e+21, s: 0.00001}",
        ["a=0", "f=1", "t=true", "e=1.5e+21", "s=1e-05"],
    ),
    # Go: a list value is spread into one key=item entry per item; the last one wins
    "list-values-spread": Row("services.web.labels", "[a=0]", "{k: [x, y]}", ["a=0", "k=y"]),
    "labels-mapping-and-list": Row(
        "services.web.labels",
        "{com.example.team: web}",
        "[com.example.team=api, com.example.tier=1]",
        {"com.example.team": "api", "com.example.tier": "1"},
    ),
    "annotations": Row("services.web.annotations", "[a=1, b=2]", "{b: '3'}", ["a=1", "b=3"]),
    "sysctls": Row(
        "services.web.sysctls",
        "[net.core.somaxconn=1024]",
        "{net.core.somaxconn: 4096}",
        ["net.core.somaxconn=4096"],
    ),
    "build-args": Row("services.web.build.args", "{A: '1'}", "[A=2, B]", {"A": "2", "B": None}),
    "build-labels": Row("services.web.build.labels", "[a=1]", "[a=2, b=3]", ["a=2", "b=3"]),
    "build-additional-contexts": Row(
        "services.web.build.additional_contexts",
        "{base: ./base}",
        "[assets=./assets]",
        {"base": "./base", "assets": "./assets"},
    ),
    "deploy-labels": Row(
        "services.web.deploy.labels", "{tier: web}", "{tier: edge}", {"tier": "edge"}
    ),
    "network-labels": Row("networks.front.labels", "[zone=dmz]", "{zone: public}", ["zone=public"]),
    "volume-labels": Row(
        "volumes.data.labels", "{backup: daily}", "[backup=hourly]", {"backup": "hourly"}
    ),
    # Compose lists this path too; merged lists are never entered, so it only applies when a
    # service volume itself is merged (volumes are otherwise replaced whole by target)
    "service-volume-labels": Row(
        "services.web.volumes.0.volume.labels", "{a: '1'}", "[b=2]", {"a": "1", "b": "2"}
    ),
}

SEQUENCE = {
    "dns-string-and-string": Row("services.web.dns", "1.1.1.1", "8.8.8.8", ["1.1.1.1", "8.8.8.8"]),
    "dns-string-and-list-deduplicated": Row(
        "services.web.dns", "1.1.1.1", "[1.1.1.1, 8.8.8.8]", ["1.1.1.1", "8.8.8.8"]
    ),
    "dns-list-and-string": Row("services.web.dns", "[1.1.1.1]", "8.8.8.8", ["1.1.1.1", "8.8.8.8"]),
    "dns-overlay-null-keeps-base": Row("services.web.dns", "1.1.1.1", "null", "1.1.1.1"),
    "dns-base-null": Row("services.web.dns", "null", "[8.8.8.8]", ["8.8.8.8"]),
    # Go: entries are told apart by the text before "=", so ndots:2 and ndots:3 both stay
    "dns-opt-by-whole-text": Row(
        "services.web.dns_opt", "[ndots:2]", "[ndots:3, ndots:2]", ["ndots:2", "ndots:3"]
    ),
    "dns-search": Row(
        "services.web.dns_search",
        "shop.internal",
        "[prod.internal]",
        ["shop.internal", "prod.internal"],
    ),
    "tmpfs-by-text-before-equals": Row(
        "services.web.tmpfs", "[/tmp:size=64m, /run]", "/tmp:size=128m", ["/tmp:size=128m", "/run"]
    ),
    "tmpfs-string-and-string": Row("services.web.tmpfs", "/run", "/tmp", ["/run", "/tmp"]),
    "env-file-string-and-list": Row(
        "services.web.env_file", "a.env", "[b.env, a.env]", ["a.env", "b.env"]
    ),
    "env-file-long-replaces-short-by-path": Row(
        "services.web.env_file",
        "[a.env, b.env]",
        "[{path: a.env, required: false}]",
        [{"path": "a.env", "required": False}, "b.env"],
    ),
    "label-file-appended-without-unique-rule": Row(
        "services.web.label_file", "a.labels", "a.labels", ["a.labels", "a.labels"]
    ),
}

BUILD = {
    "build-string-and-string": Row("services.web.build", "./a", "./b", "./b"),
    "build-string-and-mapping": Row(
        "services.web.build", "./a", "{target: prod}", {"context": "./a", "target": "prod"}
    ),
    "build-mapping-and-string": Row(
        "services.web.build",
        "{context: ./a, target: dev}",
        "./b",
        {"context": "./b", "target": "dev"},
    ),
    "build-mapping-and-mapping": Row(
        "services.web.build",
        "{context: ./a, args: {A: '1'}}",
        "{dockerfile: Dockerfile.prod, args: [B=2]}",
        {"context": "./a", "args": {"A": "1", "B": "2"}, "dockerfile": "Dockerfile.prod"},
    ),
    "build-overlay-null-keeps-base": Row("services.web.build", "./a", "null", "./a"),
    "build-tags-deduplicated": Row(
        "services.web.build.tags",
        "[shop/web:dev]",
        "[shop/web:dev, shop/web:1]",
        ["shop/web:dev", "shop/web:1"],
    ),
    "build-extra-hosts": Row(
        "services.web.build.extra_hosts",
        '["mirror=10.0.0.5"]',
        "{mirror: 10.0.0.5, cache: 10.0.0.6}",
        ["mirror=10.0.0.5", "cache=10.0.0.6"],
    ),
    # Compose de-duplicates a list at build.platform (build.platforms is the real field)
    "build-platform-list-deduplicated": Row(
        "services.web.build.platform",
        "[linux/amd64]",
        "[linux/amd64, linux/arm64]",
        ["linux/amd64", "linux/arm64"],
    ),
}

STARTED = {"condition": "service_started", "required": True}

NAMES = {
    "depends-on-list-and-list": Row(
        "services.web.depends_on", "[db]", "[cache, db]", ["db", "cache"]
    ),
    "depends-on-list-and-mapping": Row(
        "services.web.depends_on",
        "[db, cache]",
        "{db: {condition: service_healthy}}",
        {"db": {"condition": "service_healthy", "required": True}, "cache": STARTED},
    ),
    # Go: a name in list form carries the default condition, which replaces the base's
    "depends-on-mapping-and-list-resets-condition": Row(
        "services.web.depends_on",
        "{db: {condition: service_healthy, restart: true}}",
        "[db, queue]",
        {
            "db": {"condition": "service_started", "restart": True, "required": True},
            "queue": STARTED,
        },
    ),
    "depends-on-mapping-and-mapping": Row(
        "services.web.depends_on",
        "{db: {condition: service_healthy}}",
        "{db: {restart: true}}",
        {"db": {"condition": "service_healthy", "restart": True}},
    ),
    "networks-list-and-list": Row(
        "services.web.networks", "[front]", "[back, front]", ["front", "back"]
    ),
    "networks-list-and-mapping": Row(
        "services.web.networks",
        "[front]",
        "{back: {aliases: [b]}}",
        {"front": None, "back": {"aliases": ["b"]}},
    ),
    "networks-mapping-and-list-keeps-settings": Row(
        "services.web.networks",
        "{back: {ipv4_address: 10.0.0.2}}",
        "[back, front]",
        {"back": {"ipv4_address": "10.0.0.2"}, "front": None},
    ),
    "networks-mapping-and-mapping": Row(
        "services.web.networks",
        "{back: {aliases: [a, b]}}",
        "{back: {aliases: [b, c], priority: 10}}",
        {"back": {"aliases": ["a", "b", "c"], "priority": 10}},
    ),
    "network-aliases-deduplicated": Row(
        "services.web.networks.back.aliases", "[a, b]", "[b, c]", ["a", "b", "c"]
    ),
    "network-link-local-ips-deduplicated": Row(
        "services.web.networks.back.link_local_ips",
        "[169.254.8.1]",
        "[169.254.8.1, 169.254.8.2]",
        ["169.254.8.1", "169.254.8.2"],
    ),
    "models-list-and-mapping": Row(
        "services.web.models",
        "[small]",
        "{small: {endpoint_var: URL}, large: }",
        {"small": {"endpoint_var": "URL"}, "large": None},
    ),
    "models-mapping-and-list": Row(
        "services.web.models",
        "{small: {endpoint_var: URL}}",
        "[large]",
        {"small": {"endpoint_var": "URL"}, "large": None},
    ),
}

EXTRA_HOSTS = {
    "extra-hosts-same-text-once": Row(
        "services.web.extra_hosts",
        '["db=10.0.0.1"]',
        '["db=10.0.0.1", "cache=10.0.0.2"]',
        ["db=10.0.0.1", "cache=10.0.0.2"],
    ),
    # Go: entries are compared as text, so host:ip and host=ip are both kept
    "extra-hosts-colon-and-equals-differ": Row(
        "services.web.extra_hosts",
        '["db:10.0.0.1"]',
        '["db=10.0.0.1"]',
        ["db:10.0.0.1", "db=10.0.0.1"],
    ),
    # Go: a mapping becomes host=ip entries sorted as text
    "extra-hosts-mapping-over-list-sorted": Row(
        "services.web.extra_hosts",
        '["b=10.0.0.5"]',
        "{z: 10.0.0.9, a: 10.0.0.1}",
        ["b=10.0.0.5", "a=10.0.0.1", "z=10.0.0.9"],
    ),
    "extra-hosts-list-over-mapping-adds-addresses": Row(
        "services.web.extra_hosts",
        "{db: 10.0.0.1}",
        '["db=10.0.0.1", "db=10.0.0.2", "cache=10.0.0.3"]',
        {"db": ["10.0.0.1", "10.0.0.2"], "cache": "10.0.0.3"},
    ),
    "extra-hosts-mapping-and-mapping": Row(
        "services.web.extra_hosts",
        "{db: 10.0.0.1}",
        "{db: 10.0.0.1, cache: 10.0.0.3}",
        {"db": "10.0.0.1", "cache": "10.0.0.3"},
    ),
    "extra-hosts-overlay-null-keeps-base": Row(
        "services.web.extra_hosts", '["db=10.0.0.1"]', "null", ["db=10.0.0.1"]
    ),
}

JSON_FILE = "{driver: json-file, options: {max-size: 10m}}"

LOGGING = {
    "logging-same-driver-merged": Row(
        "services.web.logging",
        JSON_FILE,
        "{driver: json-file, options: {max-file: '3'}}",
        {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
    ),
    "logging-other-driver-replaces": Row(
        "services.web.logging",
        JSON_FILE,
        "{driver: syslog, options: {tag: web}}",
        {"driver": "syslog", "options": {"tag": "web"}},
    ),
    "logging-no-driver-in-overlay-merged": Row(
        "services.web.logging",
        JSON_FILE,
        "{options: {max-file: '3'}}",
        {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
    ),
    "logging-no-driver-in-base-merged": Row(
        "services.web.logging",
        "{options: {tag: web}}",
        "{driver: local, options: {max-size: 1m}}",
        {"options": {"tag": "web", "max-size": "1m"}, "driver": "local"},
    ),
    "logging-overlay-null-keeps-base": Row(
        "services.web.logging",
        JSON_FILE,
        "null",
        {"driver": "json-file", "options": {"max-size": "10m"}},
    ),
}

A, B, C = "10.20.0.0/24", "fd00:20::/64", "10.21.0.0/24"

IPAM = {
    "ipam-same-subnet-merged": Row(
        "networks.pci.ipam.config",
        f"[{{subnet: {A}, gateway: 10.20.0.1}}]",
        f"[{{subnet: {A}, ip_range: 10.20.0.128/25}}]",
        [{"subnet": A, "gateway": "10.20.0.1", "ip_range": "10.20.0.128/25"}],
    ),
    # Go: only overrides are collected, merged with the base entry of their subnet: a base
    # subnet that no override names is dropped
    "ipam-unnamed-base-subnet-dropped": Row(
        "networks.pci.ipam.config",
        f"[{{subnet: {A}}}]",
        f"[{{subnet: {C}, gateway: 10.21.0.1}}]",
        [{"subnet": C, "gateway": "10.21.0.1"}],
    ),
    "ipam-same-and-new-subnet": Row(
        "networks.pci.ipam.config",
        f"[{{subnet: {A}, gateway: 10.20.0.1}}]",
        f"[{{subnet: {A}, ip_range: 10.20.0.128/25}}, {{subnet: {C}}}]",
        [{"subnet": A, "gateway": "10.20.0.1", "ip_range": "10.20.0.128/25"}, {"subnet": C}],
    ),
    # Go: every base entry is merged with an override whose subnet is already listed, and
    # replaces that entry: the IPv6 range is gone and the IPv4 range has its gateway
    "ipam-two-base-subnets-one-override": Row(
        "networks.pci.ipam.config",
        f"[{{subnet: {A}, gateway: 10.20.0.1}}, {{subnet: '{B}', gateway: 'fd00:20::1'}}]",
        f"[{{subnet: {A}, ip_range: 10.20.0.128/25}}]",
        [{"subnet": A, "gateway": "fd00:20::1", "ip_range": "10.20.0.128/25"}],
    ),
    # Go: the same, and the base entries are changed in place, so a later override sees the
    # subnet an earlier one wrote (tracked in known_failures.txt)
    "ipam-two-base-subnets-two-overrides": Row(
        "networks.pci.ipam.config",
        f"[{{subnet: {A}, gateway: 10.20.0.1}}, {{subnet: '{B}', gateway: 'fd00:20::1'}}]",
        f"[{{subnet: {A}, ip_range: 10.20.0.128/25}}, {{subnet: {C}, gateway: 10.21.0.1}}]",
        [
            {"subnet": C, "gateway": "10.21.0.1", "ip_range": "10.20.0.128/25"},
            {"subnet": C, "gateway": "10.21.0.1"},
        ],
    ),
    "ipam-options-list-deduplicated": Row(
        "networks.pci.ipam.options", "[a=1]", "[a=2, b=3]", ["a=2", "b=3"]
    ),
}

UNIQUE = {
    "cap-add-deduplicated": Row(
        "services.web.cap_add",
        "[NET_ADMIN]",
        "[SYS_PTRACE, NET_ADMIN]",
        ["NET_ADMIN", "SYS_PTRACE"],
    ),
    "cap-drop-deduplicated": Row("services.web.cap_drop", "[ALL]", "[ALL]", ["ALL"]),
    "profiles-deduplicated": Row(
        "services.web.profiles", "[debug]", "[debug, ci]", ["debug", "ci"]
    ),
    # Go: a link is told apart by its whole text: db:database and db:postgres both stay
    "links-by-whole-text": Row(
        "services.web.links",
        "[db, db:database]",
        "[db, db:postgres]",
        ["db", "db:database", "db:postgres"],
    ),
    "expose-int-and-string-are-one-port": Row(
        "services.web.expose", '["9000", 9001]', '[9000, "9002/udp"]', [9000, 9001, "9002/udp"]
    ),
    "devices-by-container-path": Row(
        "services.web.devices",
        '["/dev/sda:/dev/xvda", /dev/snd]',
        '["/dev/sdb:/dev/xvda", {source: /dev/snd2, target: /dev/snd}]',
        ["/dev/sdb:/dev/xvda", {"source": "/dev/snd2", "target": "/dev/snd"}],
    ),
    "volumes-by-target-in-place": Row(
        "services.web.volumes",
        '["./a:/data", /cache, "./c:/etc/c:ro"]',
        '["./b:/data/", {type: volume, source: c, target: /cache}]',
        ["./b:/data/", {"type": "volume", "source": "c", "target": "/cache"}, "./c:/etc/c:ro"],
    ),
    "volumes-long-entry-replaced-whole": Row(
        "services.web.volumes",
        "[{type: volume, source: a, target: /a, volume: {nocopy: true}}]",
        "[{type: volume, source: b, target: /a}]",
        [{"type": "volume", "source": "b", "target": "/a"}],
    ),
    "secrets-short-and-long-same-target": Row(
        "services.web.secrets",
        "[db_pw]",
        "[{source: db_pw_prod, target: /run/secrets/db_pw}]",
        [{"source": "db_pw_prod", "target": "/run/secrets/db_pw"}],
    ),
    # Go: the target is compared as written; a relative one is another key
    "secrets-relative-target-is-another-entry": Row(
        "services.web.secrets",
        "[db_pw]",
        "[{source: other, target: db_pw}]",
        ["db_pw", {"source": "other", "target": "db_pw"}],
    ),
    "secrets-long-without-target-by-source": Row(
        "services.web.secrets", "[{source: a, mode: 0400}]", "[a, b]", ["a", "b"]
    ),
    "configs-default-target-is-slash-source": Row(
        "services.web.configs",
        "[app]",
        "[{source: app_prod, target: /app}]",
        [{"source": "app_prod", "target": "/app"}],
    ),
    "ports-same-mapping-once": Row(
        "services.web.ports", '["8080:80"]', '["8080:80", "443:443"]', ["8080:80", "443:443"]
    ),
    "ports-short-and-long-same-key": Row(
        "services.web.ports",
        '["8080:80"]',
        '[{target: 80, published: "8080", protocol: tcp}]',
        [{"target": 80, "published": "8080", "protocol": "tcp"}],
    ),
    # Go: the key formats published with %s: the int 8080 is not the string "8080"
    "ports-published-int-and-string-differ": Row(
        "services.web.ports",
        '[{target: 80, published: "8080"}]',
        "[{target: 80, published: 8080}]",
        [{"target": 80, "published": "8080"}, {"target": 80, "published": 8080}],
    ),
    "ports-same-int-published-once": Row(
        "services.web.ports",
        "[{target: 80, published: 8080}]",
        "[{target: 80, published: 8080, mode: host}]",
        [{"target": 80, "published": 8080, "mode": "host"}],
    ),
    "ports-host-ip-differs": Row(
        "services.web.ports",
        '["127.0.0.1:8080:80"]',
        '["8080:80"]',
        ["127.0.0.1:8080:80", "8080:80"],
    ),
    "ports-default-host-ip-is-any": Row(
        "services.web.ports", '["0.0.0.0:8080:80"]', '["8080:80"]', ["8080:80"]
    ),
    "ports-protocol-differs": Row(
        "services.web.ports", '["53:53/udp"]', '["53:53"]', ["53:53/udp", "53:53"]
    ),
    "ports-ipv6-host": Row(
        "services.web.ports",
        '["[::1]:8080:80"]',
        '[{target: 80, published: "8080", host_ip: "::1"}]',
        [{"target": 80, "published": "8080", "host_ip": "::1"}],
    ),
    "ports-target-only": Row(
        "services.web.ports",
        '["80"]',
        "[{target: 80, app_protocol: http}]",
        [{"target": 80, "app_protocol": "http"}],
    ),
    "ports-int-and-string-target-only": Row("services.web.ports", "[8080]", '["8080"]', ["8080"]),
    # a range stands for several ports: no key, Compose removes the duplicate when it loads
    "ports-ranges-not-keyed": Row(
        "services.web.ports",
        '["9000-9001:9000-9001"]',
        '["9000-9001:9000-9001"]',
        ["9000-9001:9000-9001", "9000-9001:9000-9001"],
    ),
}

TABLES = {
    "defaults": DEFAULTS,
    "override": OVERRIDE,
    "ulimits": ULIMITS,
    "key-value": KEY_VALUE,
    "sequence": SEQUENCE,
    "build": BUILD,
    "names": NAMES,
    "extra-hosts": EXTRA_HOSTS,
    "logging": LOGGING,
    "ipam": IPAM,
    "unique": UNIQUE,
}
ALL_ROWS = {name: row for table in TABLES.values() for name, row in table.items()}


def merge_row(row: Row) -> Any:
    base, over = value(row.base), value(row.over)
    before = (plain(base), plain(over), dump({"b": base, "o": over}))
    merged = Merger().merge(base, over, tuple(row.path.split(".")))
    assert (plain(base), plain(over), dump({"b": base, "o": over})) == before, "inputs changed"
    return merged


@pytest.mark.parametrize("row", rows(ALL_ROWS))
def test_rule(row: Row) -> None:
    merged = merge_row(row)
    assert plain(merged) == row.want
    # the result is a real YAML tree: its dump reads back to the same value
    assert plain(document(dump({"v": merged}))["v"]) == row.want


def _matches(pattern: str, path: str) -> bool:
    parts, keys = pattern.split("."), path.split(".")
    return len(parts) == len(keys) and all(p in ("*", k) for p, k in zip(parts, keys, strict=False))


@pytest.mark.parametrize("pattern", sorted(rule_table()))
def test_every_rule_has_a_row(pattern: str) -> None:
    paths = [row.path for row in ALL_ROWS.values() if _matches(pattern, row.path)]
    assert paths, f"no row for the rule at {pattern}"
    assert all(rule_for(tuple(p.split("."))) is rule_table()[pattern] for p in paths)


@pytest.mark.parametrize("pattern", sorted(unique_table()))
def test_every_unique_rule_has_a_row(pattern: str) -> None:
    paths = [row.path for row in ALL_ROWS.values() if _matches(pattern, row.path)]
    assert paths, f"no row for the de-duplication at {pattern}"
    assert all(unique_for(tuple(p.split("."))) is unique_table()[pattern] for p in paths)


# --- list keys see interpolated values ----------------------------------------------------------


def test_keys_compare_interpolated_values() -> None:
    """Compose interpolates each file before merging: `${PORT}:80` is `8080:80` for the key."""
    env = {"PORT": "8080", "DATA": "/srv/data"}

    def resolve(text: str) -> str:
        for name, val in env.items():
            text = text.replace("${" + name + "}", val)
        return text

    merger = Merger(resolve)
    ports = merger.merge(
        value('["${PORT}:80"]'), value('["8080:80"]'), ("services", "web", "ports")
    )
    assert plain(ports) == ["8080:80"]
    volumes = merger.merge(
        value('["./a:${DATA}"]'), value('["./b:/srv/data"]'), ("services", "web", "volumes")
    )
    assert plain(volumes) == ["./b:/srv/data"]
    without = Merger().merge(
        value('["${PORT}:80"]'), value('["8080:80"]'), ("services", "web", "ports")
    )
    assert plain(without) == ["${PORT}:80", "8080:80"]


# --- refusals -----------------------------------------------------------------------------------

REFUSED = {
    "mapping-over-list": Row("services.web.security_opt", "[a]", "{a: b}", None),
    "list-over-mapping": Row("services.web.healthcheck", "{interval: 5s}", "[a]", None),
    "key-value-entry-not-text": Row("services.web.environment", "{A: '1'}", "[1]", None),
    "sequence-mapping": Row("services.web.dns", "[1.1.1.1]", "{a: b}", None),
    "ipam-config-not-a-list": Row(
        "networks.n.ipam.config", "[{subnet: 10.0.0.0/24}]", "{subnet: x}", None
    ),
}


@pytest.mark.parametrize("row", rows(REFUSED))
def test_refused(row: Row) -> None:
    with pytest.raises(MergeError) as caught:
        merge_row(row)
    assert caught.value.message


# --- !reset and !override, through the real pipeline on files ----------------------------------


@dataclass(frozen=True)
class Docs:
    base: str
    over: str
    want: dict[str, Any]


BASE = """
services:
  web:
    image: nginx
    command: [serve]
    ports: ["80:80", "443:443"]
    environment: {A: "1", B: "2"}
    healthcheck: {test: [CMD, "true"], interval: 5s}
  db:
    image: postgres
"""

TAGS = {
    "reset-scalar": Docs(
        BASE,
        "services: {web: {command: !reset null}}",
        {
            "web": {
                "image": "nginx",
                "ports": ["80:80", "443:443"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
            },
            "db": {"image": "postgres"},
        },
    ),
    "reset-list-then-add": Docs(
        BASE,
        "services: {web: {ports: !reset [], expose: ['9000']}}",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
                "expose": ["9000"],
            },
            "db": {"image": "postgres"},
        },
    ),
    "reset-mapping-key": Docs(
        BASE,
        "services: {web: {environment: {B: !reset , C: '3'}}}",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "ports": ["80:80", "443:443"],
                "environment": {"A": "1", "C": "3"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
            },
            "db": {"image": "postgres"},
        },
    ),
    "reset-whole-service": Docs(
        BASE,
        "services: {db: !reset }",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "ports": ["80:80", "443:443"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
            }
        },
    ),
    "reset-of-an-absent-path-is-nothing": Docs(
        BASE,
        "services: {web: {labels: !reset {}}, cache: !reset }",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "ports": ["80:80", "443:443"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
            },
            "db": {"image": "postgres"},
        },
    ),
    "override-list": Docs(
        BASE,
        "services: {web: {ports: !override ['8443:443']}}",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
                "ports": ["8443:443"],
            },
            "db": {"image": "postgres"},
        },
    ),
    "override-mapping": Docs(
        BASE,
        "services: {web: {environment: !override {C: '3'}}}",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "ports": ["80:80", "443:443"],
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
                "environment": {"C": "3"},
            },
            "db": {"image": "postgres"},
        },
    ),
    "override-whole-service": Docs(
        BASE,
        "services: {web: !override {image: caddy}}",
        {"db": {"image": "postgres"}, "web": {"image": "caddy"}},
    ),
    # Go: a !reset on a list item is dropped from its own file, and matches nothing before it
    "reset-through-a-list-never-matches": Docs(
        BASE,
        "services: {web: {ports: [!reset '80:80', '8080:80']}}",
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "ports": ["80:80", "443:443", "8080:80"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
            },
            "db": {"image": "postgres"},
        },
    ),
    # Go: the decoder drops a !reset from a shared node where it first meets it; an alias of
    # the mapping around it later finds nothing to reset
    "reset-inside-an-anchor-ignored-at-the-alias": Docs(
        BASE,
        """
        x-quiet: &quiet
          ports: !reset []
          restart: always
        services:
          web:
            <<: *quiet
        """,
        {
            "web": {
                "image": "nginx",
                "command": ["serve"],
                "ports": ["80:80", "443:443"],
                "environment": {"A": "1", "B": "2"},
                "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
                "restart": "always",
            },
            "db": {"image": "postgres"},
        },
    ),
}


@pytest.mark.parametrize("case", rows(TAGS))
def test_tags(case: Docs, tmp_path: Path) -> None:
    from composer.pipeline import FileCache, Inputs, merge_inputs

    base = tmp_path / "compose.yml"
    base.write_text(textwrap.dedent(case.base), encoding="utf-8")
    over = tmp_path / "override.yml"
    over.write_text(textwrap.dedent(case.over), encoding="utf-8")
    merged = merge_inputs(Inputs(files=[base, over], project_name="rules"), FileCache())
    assert plain(merged.document)["services"] == case.want
