"""Which merge rule applies where: Docker Compose v2's per-field rules as a table.

Paths are tuples of keys; `*` matches any one key (a service name, a network name, a list index).
Everything not listed here follows the default: mappings merge key by key, scalars are replaced,
sequences are appended.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from typing import Any


class Rule(Enum):
    OVERRIDE = "override"  # the later value replaces the earlier one whole
    KEY_VALUE = "key-value"  # key=value lists and mappings, merged by key
    SEQUENCE = "sequence"  # a string or a list; lists appended
    BUILD = "build"  # `build: ./dir` is `build: {context: ./dir}`
    DEPENDS_ON = "depends_on"  # list form is a mapping of default conditions
    NAME_MAP = "name-map"  # list of names is a mapping of names to null (networks, models)
    EXTRA_HOSTS = "extra_hosts"  # appended, entries already present skipped
    LOGGING = "logging"  # options merged only when the driver stays the same
    ULIMIT = "ulimit"  # the later value wins (Compose v2 behaviour)
    IPAM_CONFIG = "ipam-config"  # merged by subnet


_RULES: dict[str, Rule] = {
    "networks.*.ipam.config": Rule.IPAM_CONFIG,
    "networks.*.labels": Rule.KEY_VALUE,
    "volumes.*.labels": Rule.KEY_VALUE,
    "services.*.annotations": Rule.KEY_VALUE,
    "services.*.build": Rule.BUILD,
    "services.*.build.args": Rule.KEY_VALUE,
    "services.*.build.additional_contexts": Rule.KEY_VALUE,
    "services.*.build.extra_hosts": Rule.EXTRA_HOSTS,
    "services.*.build.labels": Rule.KEY_VALUE,
    "services.*.command": Rule.OVERRIDE,
    "services.*.depends_on": Rule.DEPENDS_ON,
    "services.*.deploy.labels": Rule.KEY_VALUE,
    "services.*.dns": Rule.SEQUENCE,
    "services.*.dns_opt": Rule.SEQUENCE,
    "services.*.dns_search": Rule.SEQUENCE,
    "services.*.entrypoint": Rule.OVERRIDE,
    "services.*.env_file": Rule.SEQUENCE,
    "services.*.label_file": Rule.SEQUENCE,
    "services.*.environment": Rule.KEY_VALUE,
    "services.*.extra_hosts": Rule.EXTRA_HOSTS,
    "services.*.healthcheck.test": Rule.OVERRIDE,
    "services.*.labels": Rule.KEY_VALUE,
    "services.*.volumes.*.volume.labels": Rule.KEY_VALUE,
    "services.*.logging": Rule.LOGGING,
    "services.*.models": Rule.NAME_MAP,
    "services.*.networks": Rule.NAME_MAP,
    "services.*.sysctls": Rule.KEY_VALUE,
    "services.*.tmpfs": Rule.SEQUENCE,
    "services.*.ulimits.*": Rule.ULIMIT,
}


class Unique(Enum):
    """How entries of a merged list are told apart; a later entry replaces an earlier equal one."""

    KEY = "key"  # text before the first `=`
    VOLUME = "volume"  # mount target
    DEVICE = "device"  # container path
    PORT = "port"  # host ip, published port, target port, protocol
    SECRET = "secret"  # target, default /run/secrets/<source>
    CONFIG = "config"  # target, default /<source>
    EXPOSE = "expose"  # the port as text
    ENV_FILE = "env_file"  # the path


_UNIQUE: dict[str, Unique] = {
    "networks.*.labels": Unique.KEY,
    "networks.*.ipam.options": Unique.KEY,
    "services.*.annotations": Unique.KEY,
    "services.*.build.args": Unique.KEY,
    "services.*.build.additional_contexts": Unique.KEY,
    "services.*.build.platform": Unique.KEY,
    "services.*.build.tags": Unique.KEY,
    "services.*.build.labels": Unique.KEY,
    "services.*.cap_add": Unique.KEY,
    "services.*.cap_drop": Unique.KEY,
    "services.*.devices": Unique.DEVICE,
    "services.*.configs": Unique.CONFIG,
    "services.*.deploy.labels": Unique.KEY,
    "services.*.dns": Unique.KEY,
    "services.*.dns_opt": Unique.KEY,
    "services.*.dns_search": Unique.KEY,
    "services.*.environment": Unique.KEY,
    "services.*.env_file": Unique.ENV_FILE,
    "services.*.expose": Unique.EXPOSE,
    "services.*.labels": Unique.KEY,
    "services.*.links": Unique.KEY,
    "services.*.networks.*.aliases": Unique.KEY,
    "services.*.networks.*.link_local_ips": Unique.KEY,
    "services.*.ports": Unique.PORT,
    "services.*.profiles": Unique.KEY,
    "services.*.secrets": Unique.SECRET,
    "services.*.sysctls": Unique.KEY,
    "services.*.tmpfs": Unique.KEY,
    "services.*.volumes": Unique.VOLUME,
}


_Trie = dict[str, Any]
_VALUE = "\0value"  # no path segment contains a NUL


def _trie(table: dict[str, Rule] | dict[str, Unique]) -> _Trie:
    root: _Trie = {}
    for pattern, value in table.items():
        node = root
        for part in pattern.split("."):
            node = node.setdefault(part, {})
        node[_VALUE] = value
    return root


_RULES_TRIE = _trie(_RULES)
_UNIQUE_TRIE = _trie(_UNIQUE)


def _match(path: tuple[str, ...], node: _Trie, start: int = 0) -> object:
    """The value of the pattern matching path (segments equal, or `*`), if any."""
    if start == len(path):
        return node.get(_VALUE)
    part = path[start]
    exact = node.get(part)
    if exact is not None:
        found = _match(path, exact, start + 1)
        if found is not None:
            return found
    wild = node.get("*")
    return None if wild is None else _match(path, wild, start + 1)


@lru_cache(maxsize=65536)
def rule_for(path: tuple[str, ...]) -> Rule | None:
    """The special merge rule at path, or None for the default behaviour."""
    found = _match(path, _RULES_TRIE)
    return found if isinstance(found, Rule) else None


@lru_cache(maxsize=65536)
def unique_for(path: tuple[str, ...]) -> Unique | None:
    """How the list at path is de-duplicated after a merge, or None when it is not."""
    found = _match(path, _UNIQUE_TRIE)
    return found if isinstance(found, Unique) else None


def rule_table() -> dict[str, Rule]:
    return dict(_RULES)


def unique_table() -> dict[str, Unique]:
    return dict(_UNIQUE)
