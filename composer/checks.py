"""Load-time consistency checks Docker Compose makes that the JSON schema cannot express.

Conditions follow compose-go v2.9.1 (the loader of Docker Compose v2.40.3), each proved against
the binary: its whole-model validation (external volumes, config/secret sources, host IPs, watch
paths, device requests), the consistency check after loading (references to undefined services,
networks, volumes, secrets, configs and models; image or build; scale, resources, mounts), the
entries its merge cannot index, and the decoding of what the schema only knows as strings (sizes,
durations, booleans, port and volume specs, extra hosts). Wording keeps the binary's key phrase.

One build rule Compose leaves to the build: `build.target` must name a stage of the Dockerfile.
Two findings are warnings because Compose only fails at `up`: an unknown restart policy and a host
port published twice. Every rule tolerates values of the wrong type: the schema reports those.

Differences with the binary, on purpose: every problem is reported (the binary stops at the
first), and services are checked whatever their profiles (the binary skips services of inactive
profiles, and calls a dependency on one "undefined"; which profiles are active is only known at
`up`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.errors import Location, Problem
from composer.goparse import (
    PortMapping,
    VolumeSpec,
    duration_error,
    go_path_clean,
    is_int,
    is_ip,
    nano_cpus,
    parse_go_float,
    parse_port_spec,
    parse_ram_size,
    parse_volume_spec,
    pids_limit,
    port_range,
    split_shell_words,
    unit_bytes,
)

ModelPath = tuple[str | int, ...]
Locator = Callable[[ModelPath], Location]
Finding = tuple[ModelPath, Problem]
Local = tuple[ModelPath, str, str]  # path inside a service, message, severity

SERVICE_PREFIX = "service:"
CONTAINER_PREFIX = "container:"


# --------------------------------------------------------------------------- shared helpers


def format_where(path: ModelPath) -> str:
    """services.gateway.ports[0]: keys joined by dots, list indexes in brackets."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate_safely(locate: Locator, path: ModelPath) -> Location:
    """The nearest located ancestor: injected or missing values have no position of their own."""
    for n in range(len(path), -1, -1):
        try:
            loc = locate(path[:n])
        except LookupError:
            continue
        if loc.path is not None:
            return loc
    return Location()


def path_sort_key(path: ModelPath) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def sort_findings(findings: list[Finding]) -> list[Problem]:
    """Deterministic: by model path, then errors before warnings, then message; no repeats."""
    ordered = sorted(
        findings,
        key=lambda f: (path_sort_key(f[0]), f[1].severity != "error", f[1].message),
    )
    seen: set[tuple[str, str, str]] = set()
    out: list[Problem] = []
    for _, problem in ordered:
        ident = (problem.where, problem.severity, problem.message)
        if ident not in seen:
            seen.add(ident)
            out.append(problem)
    return out


def describe(value: Any) -> str:
    """A short rendering of a value for messages (never a dump of a whole mapping)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def canonical_key(value: Any) -> str | None:
    """Structural identity of a definition, to check identical ones once."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None  # keys of mixed types or foreign values: no sharing


_EMPTY: dict[str, Any] = {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int_or_none(value: Any) -> int | None:
    return int(value) if is_int(value) else None


# --------------------------------------------------------------------------- one service alone
# Rules that read nothing but the service: their result is shared by identical definitions.


class _Out:
    def __init__(self) -> None:
        self.found: list[Local] = []

    def error(self, path: ModelPath, message: str) -> None:
        self.found.append((path, message, "error"))

    def warn(self, path: ModelPath, message: str) -> None:
        self.found.append((path, message, "warning"))


def _check_build(out: _Out, service: dict[str, Any]) -> None:
    build = service.get("build")
    if build is None and not service.get("image") and "provider" not in service:
        out.error((), "has neither an image nor a build context specified")
    if not isinstance(build, dict):
        return
    if build.get("dockerfile") and build.get("dockerfile_inline"):
        out.error(("build",), "dockerfile and dockerfile_inline are mutually exclusive")
    platforms = build.get("platforms")
    platform = service.get("platform")
    if isinstance(platforms, list) and platforms and platform and platform not in platforms:
        out.error(("platform",), f'build.platforms must include platform "{platform}"')
    for i, key in enumerate(_list(build.get("ssh"))):  # ID=PATH, or `default` alone
        if not isinstance(key, str):
            out.error(("build", "ssh", i), f"invalid ssh key {describe(key)}")
        elif "=" not in key and key != "default":
            out.error(("build", "ssh", i), f'invalid ssh key "{key}"')


def _check_healthcheck(out: _Out, service: dict[str, Any]) -> None:
    test = _dict(service.get("healthcheck")).get("test")
    if isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        out.error(("healthcheck", "test", 0),
                  'healthcheck.test must start with "CMD", "CMD-SHELL" or "NONE"')


def _check_scale(out: _Out, service: dict[str, Any]) -> None:
    scale = _int_or_none(service.get("scale"))
    replicas = _int_or_none(_dict(service.get("deploy")).get("replicas"))
    if scale is not None and replicas is not None and scale != replicas:
        out.error(("scale",), f"can't set distinct values on 'scale' ({scale}) and "
                              f"'deploy.replicas' ({replicas})")
    if scale is not None and scale < 0:
        out.error(("scale",), "must be greater than or equal to 0")
    if replicas is not None and replicas < 0:
        out.error(("deploy", "replicas"), "must be greater than or equal to 0")
    effective = scale if scale is not None else replicas if replicas is not None else 1
    if service.get("container_name") and effective > 1:
        attr = "scale" if scale is not None else "deploy.replicas"
        out.error(("container_name",), f"can't set container_name with {attr} {effective}: "
                                       "container names must be unique")


_PAIRS: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("cpus", "limits", "cpus", nano_cpus),
    ("mem_limit", "limits", "memory", unit_bytes),
    ("pids_limit", "limits", "pids", pids_limit),
    ("mem_reservation", "reservations", "memory", unit_bytes),
)


def _check_resource_pairs(out: _Out, service: dict[str, Any]) -> None:
    """Compose refuses a service-level limit next to a different deploy.resources one (even
    when deploy.resources.limits just does not set it)."""
    deploy = service.get("deploy")
    if not isinstance(deploy, dict):
        return
    resources = _dict(deploy.get("resources"))
    for attr, block_name, key, decode in _PAIRS:
        block = resources.get(block_name)
        if attr not in service or not isinstance(block, dict):
            continue
        own, other = decode(service[attr]), decode(block.get(key))
        if own in (None, 0) or other is None or own == other:
            continue
        shown = describe(block[key]) if key in block else "unset"
        out.error((attr,), f"can't set distinct values on '{attr}' ({describe(service[attr])})"
                           f" and 'deploy.resources.{block_name}.{key}' ({shown})")


def _check_develop(out: _Out, service: dict[str, Any]) -> None:
    for i, rule in enumerate(_list(_dict(service.get("develop")).get("watch"))):
        if not isinstance(rule, dict):
            continue
        if rule.get("path") == "":
            out.error(("develop", "watch", i, "path"), "value can't be blank")
        action = rule.get("action")
        if not rule.get("target") and action not in ("rebuild", "restart"):
            out.error(("develop", "watch", i), f'target is required for action "{action}"')


def _check_mounts(out: _Out, service: dict[str, Any]) -> None:
    tmpfs = service.get("tmpfs")
    mounts: dict[str, ModelPath] = {}
    seen: set[str] = set()
    entries = [tmpfs] if isinstance(tmpfs, str) else _list(tmpfs)
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or entry in seen:
            continue  # identical entries are merged by Compose
        seen.add(entry)
        where: ModelPath = ("tmpfs", i) if isinstance(tmpfs, list) else ("tmpfs",)
        path = entry.partition(":")[0]
        if path in mounts:
            out.error(where, f"target {path} already mounted by {format_where(mounts[path])}")
        else:
            mounts[path] = where
    for i, volume in enumerate(_list(service.get("volumes"))):
        target: Any = None
        if isinstance(volume, str):
            spec = parse_volume_spec(volume)
            if isinstance(spec, str):
                out.error(("volumes", i), spec)
                continue
            target = spec.target
        elif isinstance(volume, dict):
            target = volume.get("target")
        if mounts and isinstance(target, str) and target:
            # Duplicate volume targets are merged by Compose: only a tmpfs clash counts.
            first = mounts.get(go_path_clean(target))
            if first is not None:
                out.error(("volumes", i), f"target {go_path_clean(target)} already mounted by "
                                          f"{format_where(first)}")


def _check_ports(out: _Out, service: dict[str, Any]) -> None:
    for i, port in enumerate(_list(service.get("ports"))):
        if isinstance(port, float):
            out.error(("ports", i), 'invalid port: use an integer or a "host:container" string')
        elif is_int(port) or isinstance(port, str):
            parsed = parse_port_spec(str(port))
            if isinstance(parsed, str):
                out.error(("ports", i), parsed)
            elif parsed.container_start == 0:  # dropped as empty, then missing its target
                out.error(("ports", i), "invalid containerPort: 0")
        elif isinstance(port, dict):
            host_ip = port.get("host_ip")
            if isinstance(host_ip, str) and not is_ip(host_ip):
                out.error(("ports", i, "host_ip"), f"invalid ip address: {host_ip}")
            published = port.get("published")
            if isinstance(published, float):  # the schema takes 8080.0 as an integer
                out.error(("ports", i, "published"),
                          f"expected a string or integer, got {published}")


def _check_merge_keys(out: _Out, service: dict[str, Any]) -> None:
    """Compose indexes these lists while merging and refuses entries it cannot index."""
    for i, port in enumerate(_list(service.get("ports"))):
        if isinstance(port, dict) and "target" not in port:
            out.error(("ports", i), "missing a target port")
    for key in ("volumes", "devices"):
        for i, item in enumerate(_list(service.get(key))):
            if isinstance(item, dict) and "target" not in item:
                out.error((key, i), "missing a mount target")
    for i, item in enumerate(_list(service.get("volumes"))):
        if isinstance(item, dict) and item.get("type") == "bind" and "source" not in item:
            out.error(("volumes", i), 'a "bind" mount needs a source')
    for section in ("secrets", "configs"):
        for i, item in enumerate(_list(service.get(section))):
            mode = _dict(item).get("mode")
            if isinstance(mode, float):  # the schema takes 288.0 as a number
                out.error((section, i, "mode"), f"expected an integer (e.g. 0440), got {mode}")
    for i, item in enumerate(_list(service.get("expose"))):
        if isinstance(item, float):
            out.error(("expose", i), f"unsupported expose value {item}: use an integer or string")


def _check_extra_hosts(out: _Out, service: dict[str, Any]) -> None:
    """`host:ip`, `host=ip` or host -> ip: the host name must not be empty or hold : or =."""
    for base, hosts in ((("extra_hosts",), service.get("extra_hosts")),
                        (("build", "extra_hosts"), _dict(service.get("build")).get("extra_hosts"))):
        entries: list[tuple[str | int, str]] = []
        if isinstance(hosts, list):
            for i, entry in enumerate(hosts):
                text = entry if isinstance(entry, str) else describe(entry)
                host, sep, _ = text.partition("=") if "=" in text else text.partition(":")
                if not sep:
                    out.error((*base, i), f"invalid additional host, missing IP: {text}")
                else:
                    entries.append((i, host))
        elif isinstance(hosts, dict):
            entries = [(key, str(key)) for key in hosts]
        for key, host in entries:
            if not host or ":" in host or "=" in host:
                out.error((*base, key), f"bad host name {host!r}")


def _check_devices(out: _Out, service: dict[str, Any]) -> None:
    reservations = _dict(_dict(_dict(service.get("deploy")).get("resources")).get("reservations"))
    lists: tuple[tuple[ModelPath, Any], ...] = (
        (("deploy", "resources", "reservations", "devices"), reservations.get("devices")),
        (("gpus",), service.get("gpus")),
    )
    for base, devices in lists:
        for i, device in enumerate(_list(devices)):
            if isinstance(device, dict) and "count" in device and "device_ids" in device:
                out.error((*base, i), '"count" and "device_ids" are exclusive')
    for i, mapping in enumerate(_list(service.get("devices"))):  # SOURCE[:TARGET[:PERMISSIONS]]
        if isinstance(mapping, str) and mapping.count(":") > 2:
            out.error(("devices", i),
                      f"confusing device mapping, please use long syntax: {mapping}")


# Unsigned integers of Compose's types: a negative value does not decode.
_UNSIGNED: tuple[tuple[str, ...], ...] = (
    ("healthcheck", "retries"), ("blkio_config", "weight"),
    ("deploy", "update_config", "parallelism"), ("deploy", "rollback_config", "parallelism"),
    ("deploy", "restart_policy", "max_attempts"), ("deploy", "placement", "max_replicas_per_node"),
)


def _check_unsigned(out: _Out, service: dict[str, Any]) -> None:
    def negative(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0

    for path in _UNSIGNED:
        value: Any = service
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if negative(value):
            out.error(path, f"must not be negative, got {value}")
    lists: tuple[tuple[tuple[str, ...], str], ...] = (
        (("ports",), "target"), (("blkio_config", "weight_device"), "weight"))
    for base, key in lists:
        items: Any = service
        for part in base:
            items = items.get(part) if isinstance(items, dict) else None
        for i, item in enumerate(_list(items)):
            if isinstance(item, dict) and negative(item.get(key)):
                out.error((*base, i, key), f"must not be negative, got {item[key]}")
    for i, volume in enumerate(_list(service.get("volumes"))):
        mode = _dict(_dict(volume).get("tmpfs")).get("mode")
        if negative(mode):
            out.error(("volumes", i, "tmpfs", "mode"), f"must not be negative, got {mode}")


# (path, kind): strings the schema lets through that Compose must decode. In a path, "*" is any
# key and "[]" any list item. Fields cast while interpolating are not here: that stage did it.
_DECODED: tuple[tuple[tuple[str, ...], str], ...] = (
    *(((key,), "size") for key in ("mem_limit", "mem_reservation", "memswap_limit",
                                   "mem_swappiness", "shm_size")),
    (("build", "shm_size"), "size"),
    (("deploy", "resources", "limits", "memory"), "size"),
    (("deploy", "resources", "reservations", "memory"), "size"),
    (("volumes", "[]", "tmpfs", "size"), "size"),
    *((("blkio_config", key, "[]", "rate"), "size")
      for key in ("device_read_bps", "device_read_iops", "device_write_bps", "device_write_iops")),
    (("deploy", "resources", "limits", "cpus"), "cpus"),
    (("deploy", "resources", "reservations", "cpus"), "cpus"),
    *((("healthcheck", key), "duration")
      for key in ("interval", "timeout", "start_period", "start_interval")),
    (("stop_grace_period",), "duration"),
    *((("deploy", block, key), "duration")
      for block in ("update_config", "rollback_config") for key in ("delay", "monitor")),
    (("deploy", "restart_policy", "delay"), "duration"),
    (("deploy", "restart_policy", "window"), "duration"),
    *((path, "bool") for path in (
        ("attach",), ("build", "no_cache"), ("build", "pull"), ("build", "privileged"),
        ("depends_on", "*", "restart"), ("env_file", "[]", "required"),
        ("volumes", "[]", "bind", "create_host_path"), ("develop", "watch", "[]", "exec",
                                                        "privileged"),
        ("post_start", "[]", "privileged"), ("pre_stop", "[]", "privileged"))),
    (("deploy", "resources", "limits", "pids"), "int"),
    (("gpus", "[]", "count"), "count"),
    (("deploy", "resources", "reservations", "devices", "[]", "count"), "count"),
    (("blkio_config", "weight"), "number"),
    (("secrets", "[]", "mode"), "octal"),
    (("configs", "[]", "mode"), "octal"),
    (("deploy", "resources", "reservations", "generic_resources", "[]", "discrete_resource_spec",
      "value"), "int"),
    (("blkio_config", "weight_device", "[]", "weight"), "number"),
)
_BOOLEANS = {"true", "false", "y", "yes", "on", "n", "no", "off"}
_GO_DIGITS = {10: re.compile(r"[+-]?[0-9]+\Z"), 8: re.compile(r"[+-]?[0-7]+\Z")}


def is_go_int64(text: str, base: int = 10) -> bool:
    """strconv.ParseInt(text, base, 64): ASCII digits of the base, a sign, no overflow."""
    return bool(_GO_DIGITS[base].match(text)) and -(1 << 63) <= int(text, base) < (1 << 63)


def _decode_error(kind: str, value: str) -> str | None:
    if kind == "size":
        parsed = parse_ram_size(value)
        return parsed if isinstance(parsed, str) else None
    if kind == "duration":
        return duration_error(value)
    if kind == "cpus":
        return None if parse_go_float(value) is not None else f"invalid number of CPUs {value!r}"
    if kind == "bool":
        return None if value.lower() in _BOOLEANS else f"invalid boolean {value!r}"
    if kind == "int":
        return None if is_go_int64(value) else f"invalid integer {value!r}"
    if kind == "count":
        return None if value.lower() == "all" or is_go_int64(value) else (
            f"invalid count {value!r}: use 'all' or a number")
    if kind == "octal":
        return None if is_go_int64(value, 8) else (
            f"invalid file mode {value!r}: use octal digits, e.g. 0440")
    return f"expected a number, got {value!r}"


@dataclass
class _Trie:
    """The decoded paths merged into one tree, so a service is walked once."""

    kind: str | None = None
    children: dict[str, _Trie] = field(default_factory=dict)


def _build_trie(paths: tuple[tuple[tuple[str, ...], str], ...]) -> _Trie:
    root = _Trie()
    for pattern, kind in paths:
        node = root
        for part in pattern:
            node = node.children.setdefault(part, _Trie())
        node.kind = kind
    return root


_DECODED_TRIE = _build_trie(_DECODED)


def _walk_decoded(out: _Out, trie: _Trie, value: Any, path: ModelPath) -> None:
    if trie.kind is not None and isinstance(value, str):
        error = _decode_error(trie.kind, value)
        if error:
            out.error(path, error)
    for head, child in trie.children.items():
        if head == "[]":
            if isinstance(value, list):
                for i, item in enumerate(value):
                    _walk_decoded(out, child, item, (*path, i))
        elif isinstance(value, dict):
            if head == "*":
                for key, item in value.items():
                    _walk_decoded(out, child, item, (*path, key))
            elif head in value:
                _walk_decoded(out, child, value[head], (*path, head))


def _check_decoding(out: _Out, service: dict[str, Any]) -> None:
    """Strings the schema accepts but Compose cannot decode (other types: the schema's job)."""
    _walk_decoded(out, _DECODED_TRIE, service, ())
    for i, volume in enumerate(_list(service.get("volumes"))):
        mode = _dict(_dict(volume).get("tmpfs")).get("mode")
        if isinstance(mode, str):  # an unsigned integer field that nothing casts
            out.error(("volumes", i, "tmpfs", "mode"),
                      f"expected an integer, got {mode!r}: write the mode unquoted, e.g. 0755")
    _check_string_fields(out, service)
    _check_ulimits(out, service)


def _check_ulimits(out: _Out, service: dict[str, Any]) -> None:
    """Compose takes an integer or {soft, hard} of integers; floats such as 1.0 pass the schema
    as integers, and build ulimits are not cast from strings (the binary crashes on both)."""
    lists = ((("ulimits",), service.get("ulimits"), (float,)),
             (("build", "ulimits"), _dict(service.get("build")).get("ulimits"), (str, float)))
    for base, limits, wrong in lists:  # service ulimits were cast from strings when interpolated
        for name, limit in _dict(limits).items():
            if isinstance(limit, wrong):
                out.error((*base, name), f"expected an integer or a mapping, got {limit!r}")
            for key in ("soft", "hard"):
                value = _dict(limit).get(key)
                if isinstance(value, wrong):
                    out.error((*base, name, key), f"expected an integer, got {value!r}")


def _check_string_fields(out: _Out, service: dict[str, Any]) -> None:
    """Text fields the schema lets hold numbers (or anything): Compose converts integers only."""
    for i, group in enumerate(_list(service.get("group_add"))):
        if isinstance(group, float):
            out.error(("group_add", i), f"expected a string or integer, got {group}")
    for key, value in _dict(service.get("storage_opt")).items():
        if value is not None and not isinstance(value, str) and not is_int(value):
            out.error(("storage_opt", key), f"expected a string or integer, got {describe(value)}")
    reservations = _dict(_dict(_dict(service.get("deploy")).get("resources")).get("reservations"))
    for base, devices in ((("deploy", "resources", "reservations", "devices"),
                           reservations.get("devices")), (("gpus",), service.get("gpus"))):
        for i, device in enumerate(_list(devices)):
            count = _dict(device).get("count")
            if isinstance(count, float):
                out.error((*base, i, "count"), f"invalid count {count}: use 'all' or an integer")


def _key_ends_in_space(key: str) -> bool:
    """Compose tests the last byte of the UTF-8 name as a character: a name ending in a space,
    a tab, a no-break space, or any character whose encoding ends in 0x85 or 0xA0 (like Å)."""
    return bool(key) and key.encode("utf-8", "surrogatepass")[-1] in _GO_SPACE_BYTES


_GO_SPACE_BYTES = frozenset(b"\t\n\v\f\r \x85\xa0")


def _check_variable_names(out: _Out, service: dict[str, Any]) -> None:
    """Variables in list form: Compose refuses a name with trailing space (build args without
    a value are dropped before that, unless the variable is set)."""
    lists: list[tuple[ModelPath, Any]] = [
        (("environment",), service.get("environment")),
        (("build", "args"), _dict(service.get("build")).get("args"))]
    for hook in ("post_start", "pre_stop"):
        lists += [((hook, i, "environment"), _dict(item).get("environment"))
                  for i, item in enumerate(_list(service.get(hook)))]
    lists += [(("develop", "watch", i, "exec", "environment"),
               _dict(_dict(rule).get("exec")).get("environment"))
              for i, rule in enumerate(_list(_dict(service.get("develop")).get("watch")))]
    for base, entries in lists:
        for i, entry in enumerate(_list(entries)):
            if isinstance(entry, str) and ("=" in entry or base != ("build", "args")):
                name = entry.partition("=")[0]
                if _key_ends_in_space(name):
                    out.error((*base, i),
                              f"environment variable {name!r} is declared with a trailing space")


def _check_commands(out: _Out, service: dict[str, Any]) -> None:
    """Command strings Compose splits into words (go-shellwords): refused when it cannot, a
    warning when it silently stops at a shell operator."""
    commands: list[tuple[ModelPath, Any]] = [
        (("command",), service.get("command")), (("entrypoint",), service.get("entrypoint"))]
    for hook in ("post_start", "pre_stop"):
        commands += [((hook, i, "command"), _dict(item).get("command"))
                     for i, item in enumerate(_list(service.get(hook)))]
    commands += [(("develop", "watch", i, "exec", "command"),
                  _dict(_dict(rule).get("exec")).get("command"))
                 for i, rule in enumerate(_list(_dict(service.get("develop")).get("watch")))]
    for path, command in commands:
        if not isinstance(command, str):
            continue
        problem, stop = split_shell_words(command)
        if problem:
            out.error(path, f"invalid command line string: {problem} (Compose splits it "
                            "into words like a shell; use a list to pass it as it is)")
        elif stop is not None:  # accepted, but not what the author meant
            rest = command[stop:]
            shown = rest if len(rest) <= 40 else rest[:37] + "..."
            out.warn(path, f"Compose reads this command only up to {command[stop]!r} and "
                           f"drops the rest ({shown!r}); to run it in a shell use a list "
                           "such as [sh, -c, ...]")


_RESTART = re.compile(r"(no|always|unless-stopped|on-failure(:\d+)?)\Z")


def _check_restart(out: _Out, service: dict[str, Any]) -> None:
    """Compose accepts any string here; the engine refuses an unknown policy at `up`."""
    restart = service.get("restart")
    if isinstance(restart, str) and not _RESTART.match(restart):
        out.warn(("restart",), f'{describe(restart)} is not one of "no", "always", '
                               '"on-failure[:N]", "unless-stopped" (the engine refuses it at up)')


_LOCAL_RULES: tuple[Callable[[_Out, dict[str, Any]], None], ...] = (
    _check_build, _check_healthcheck, _check_scale, _check_resource_pairs, _check_develop,
    _check_mounts, _check_ports, _check_merge_keys, _check_extra_hosts, _check_devices,
    _check_unsigned, _check_decoding, _check_restart, _check_variable_names, _check_commands,
)
_LOCAL_CACHE: dict[str, tuple[Local, ...]] = {}
_LOCAL_CACHE_LIMIT = 4096


def service_findings(service: dict[str, Any], key: str | None) -> tuple[Local, ...]:
    """Problems of one definition on its own, remembered per process by canonical key."""
    if key is not None:
        cached = _LOCAL_CACHE.get(key)
        if cached is not None:
            return cached
    out = _Out()
    for rule in _LOCAL_RULES:
        rule(out, service)
    found = tuple(out.found)
    if key is not None:
        if len(_LOCAL_CACHE) >= _LOCAL_CACHE_LIMIT:
            _LOCAL_CACHE.clear()
        _LOCAL_CACHE[key] = found
    return found


# --------------------------------------------------------------------------- the whole model


@dataclass
class _Context:
    model: Mapping[str, Any]
    locate: Locator
    project_dir: Path | None
    findings: list[Finding] = field(default_factory=list)
    stages: dict[Path, list[str] | None] = field(default_factory=dict)

    def report(self, path: ModelPath, message: str, severity: str = "error") -> None:
        problem = Problem(message, locate_safely(self.locate, path), format_where(path), severity)
        self.findings.append((path, problem))

    def section(self, name: str) -> dict[str, Any]:
        return _dict(self.model.get(name))

    def services(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, service in self.section("services").items():
            if isinstance(service, dict):
                yield name, service

    def where_is(self, path: ModelPath) -> str:
        """Another place, named by model path and source position."""
        shown = locate_safely(self.locate, path).render()
        return f"{format_where(path)} ({shown})" if shown else format_where(path)


def _check_resources(ctx: _Context) -> None:
    for section in ("volumes", "networks", "secrets", "configs"):
        for name, resource in ctx.section(section).items():
            external = resource.get("external") if isinstance(resource, dict) else None
            if not isinstance(external, dict) or "name" not in external:
                continue
            at: ModelPath = (section, name, "external", "name")
            if "name" in resource and resource["name"] != external["name"]:
                ctx.report(at, "name and external.name conflict; only use name")
            else:
                ctx.report(at, "external.name is deprecated; set name and external: true",
                           "warning")
    for name, volume in ctx.section("volumes").items():
        if isinstance(volume, dict) and (volume.get("external") is True
                                         or isinstance(volume.get("external"), dict)):
            for key in volume:
                if key not in ("name", "external") and not str(key).startswith("x-"):
                    ctx.report(("volumes", name, key),
                               f'conflicting parameters "external" and "{key}" specified')
    for name, secret in ctx.section("secrets").items():
        for key, value in _dict(_dict(secret).get("driver_opts")).items():
            if isinstance(value, float):  # a text field: Compose converts integers only
                ctx.report(("secrets", name, "driver_opts", key),
                           f"expected a string or integer, got {value}")
    for section, keys in (("configs", ("file", "environment", "content")),
                          ("secrets", ("file", "environment"))):
        for name, resource in ctx.section(section).items():
            if not isinstance(resource, dict):
                continue
            present = [k for k in keys if k in resource]
            path: ModelPath = (section, name)
            if len(present) > 1:
                ctx.report(path, f"{' and '.join(present)} are mutually exclusive")
            elif not present and "driver" not in resource and "external" not in resource:
                ctx.report(path, f"one of {'|'.join(keys)} must be set")
            elif (section == "secrets" and resource.get("external") is not True
                  and "file" not in resource and not resource.get("environment")):
                # an empty environment name declares nothing (a file path never ends up empty)
                ctx.report(path, "must declare either `file` or `environment`")


def _named_entries(value: Any) -> Iterator[tuple[str | int, str]]:
    """(path element, name) for a list of names or a mapping keyed by name."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield i, item
    elif isinstance(value, dict):
        for key in value:
            yield key, str(key)


def _file_mounts(value: Any) -> Iterator[tuple[ModelPath, str]]:
    """secrets/configs entries: short names or {source: name} (no source: the name "")."""
    for i, item in enumerate(_list(value)):
        if isinstance(item, str):
            yield (i,), item
        elif isinstance(item, dict) and "source" not in item:
            yield (i,), ""
        elif isinstance(item, dict) and isinstance(item.get("source"), str):
            yield (i, "source"), item["source"]


def _named_volumes(volumes: Any) -> Iterator[tuple[int, str]]:
    for i, volume in enumerate(_list(volumes)):
        source: Any = None
        if isinstance(volume, str):
            spec = parse_volume_spec(volume)
            if isinstance(spec, VolumeSpec) and spec.kind == "volume":
                source = spec.source
        elif isinstance(volume, dict) and volume.get("type") == "volume":
            source = volume.get("source")
        if isinstance(source, str) and source:
            yield i, source


def _service_dependencies(service: dict[str, Any]) -> Iterator[tuple[ModelPath, str, str]]:
    """(path, service name, phrase): depends_on plus what Compose turns into dependencies."""
    for key, name in _named_entries(service.get("depends_on")):
        yield ("depends_on", key), name, "depends on"
    for i, link in enumerate(_list(service.get("links"))):
        if isinstance(link, str):
            parts = link.split(":")
            yield ("links", i), parts[0] if len(parts) == 2 else link, "links to"
    for namespace in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        ref = service.get(namespace)
        if isinstance(ref, str) and ref.startswith(SERVICE_PREFIX):
            yield (namespace,), ref[len(SERVICE_PREFIX):], "refers to"
    for i, source in enumerate(_list(service.get("volumes_from"))):
        if isinstance(source, str) and not source.startswith(CONTAINER_PREFIX):
            yield ("volumes_from", i), source.split(":")[0], "refers to"


def _check_dependency_cycles(ctx: _Context) -> None:
    """Compose refuses a stack whose services depend on each other in a circle."""
    graph: dict[str, list[tuple[ModelPath, str]]] = {}
    for name, service in ctx.services():
        graph[str(name)] = [(rel, str(dep)) for rel, dep, _ in _service_dependencies(service)]
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        pending = [iter(graph[root])]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                finished = path.pop()
                done.add(finished)
                on_path.discard(finished)
                pending.pop()
                continue
            dep = step[1]
            if dep not in graph or dep in done:
                continue
            if dep in on_path:
                cycle = [*path[path.index(dep):], dep]
                first, second = cycle[0], cycle[1]
                rel = next(r for r, d in graph[first] if d == second)
                ctx.report(
                    ("services", first, *rel), "dependency cycle detected: " + " -> ".join(cycle)
                )
                return
            path.append(dep)
            on_path.add(dep)
            pending.append(iter(graph[dep]))


def _check_references(ctx: _Context) -> None:
    def names(section: str) -> frozenset[str]:
        return frozenset(str(k) for k in ctx.section(section))

    services = ctx.section("services")
    # Compose adds the project's `default` network whenever a service uses it.
    networks = names("networks") | {"default"}
    volumes, secrets, configs, models = (names(s) for s in ("volumes", "secrets", "configs",
                                                            "models"))
    for name, service in ctx.services():
        base: ModelPath = ("services", name)
        network_list = service.get("networks")
        if service.get("network_mode") and network_list and isinstance(network_list, (list, dict)):
            ctx.report((*base, "networks"), "`network_mode` and `networks` are mutually exclusive")
        for key, network in _named_entries(network_list):
            if network not in networks:
                ctx.report((*base, "networks", key), f"refers to undefined network {network}")
        for path, target, phrase in _service_dependencies(service):
            if target not in services:
                ctx.report((*base, *path), f'{phrase} undefined service "{target}"')
        for i, source in _named_volumes(service.get("volumes")):
            if source not in volumes:
                ctx.report((*base, "volumes", i), f"refers to undefined volume {source}")
        build = service.get("build")
        if isinstance(build, dict):
            for sub, secret in _file_mounts(build.get("secrets")):
                if secret not in secrets:
                    ctx.report((*base, "build", "secrets", *sub),
                               f"refers to undefined build secret {secret}" if secret
                               else "a build secret needs a source")
            _check_additional_contexts(ctx, base, build, services)
        for section, known in (("secrets", secrets), ("configs", configs)):
            for sub, ref in _file_mounts(service.get(section)):
                if ref not in known:
                    ctx.report((*base, section, *sub),
                               f"refers to undefined {section[:-1]} {ref}" if ref
                               else f"a {section[:-1]} needs a source")
        for key, model in _named_entries(service.get("models")):
            if model not in models:
                ctx.report((*base, "models", key), f"refers to undefined model {model}")


def _check_additional_contexts(ctx: _Context, base: ModelPath, build: dict[str, Any],
                               services: dict[str, Any]) -> None:
    contexts = build.get("additional_contexts")
    entries: list[tuple[str | int, str, str]] = []
    if isinstance(contexts, dict):
        entries = [(k, str(k), v) for k, v in contexts.items() if isinstance(v, str)]
        for key, value in contexts.items():
            if not isinstance(value, str):  # Compose's path resolution crashes on it
                ctx.report((*base, "build", "additional_contexts", key),
                           f"additional context {key} needs a path or URL, got {describe(value)}")
    else:
        for i, item in enumerate(_list(contexts)):
            if isinstance(item, str) and "=" in item:
                key, _, value = item.partition("=")
                entries.append((i, key, value))
            elif isinstance(item, str):  # Compose reads the list as a mapping, NAME=CONTEXT
                ctx.report((*base, "build", "additional_contexts", i),
                           f"invalid value {item}, expected key=value")
    for path_key, label, value in entries:
        if not value.startswith(SERVICE_PREFIX):
            continue
        target = value[len(SERVICE_PREFIX):]
        where = (*base, "build", "additional_contexts", path_key)
        if target not in services:
            ctx.report(where, f'additional context {label} refers to unknown service "{target}"')
        elif "build" not in _dict(services[target]):
            ctx.report(where,
                       f'additional context {label} refers to non-buildable service "{target}"')


# --------------------------------------------------------------------------- build targets

_REMOTE_CONTEXT = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://|git@|github\.com/)")
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")


def dockerfile_stages(text: str) -> list[str]:
    """Stage names (`FROM image AS name`), lowercased as BuildKit compares them."""
    escape = "\\"
    lines = text.splitlines()
    for line in lines:  # parser directives come first, before anything else
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("`", "\\"):
            escape = match.group(2)
    stages: list[str] = []
    pending = ""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#") or (not pending and not stripped):
            continue  # comments, also inside a continued instruction
        if stripped.endswith(escape):
            pending += stripped[:-1] + " "
            continue
        words = (pending + stripped).split()
        pending = ""
        if words and words[0].upper() == "FROM":
            args = [w for w in words[1:] if not w.startswith("--")]
            if len(args) >= 3 and args[1].upper() == "AS":
                stages.append(args[2].lower())
    return stages


def _check_build_target(ctx: _Context, name: str, service: dict[str, Any]) -> None:
    build = service.get("build")
    if not isinstance(build, dict):
        return
    target = build.get("target")
    if not isinstance(target, str) or not target or "dockerfile_inline" in build:
        return
    context = build.get("context", ".")
    dockerfile = build.get("dockerfile", "Dockerfile")
    if not isinstance(context, str) or not isinstance(dockerfile, str):
        return
    if _REMOTE_CONTEXT.match(context):
        return
    context_dir = Path(context).expanduser()
    if not context_dir.is_absolute():
        if ctx.project_dir is None:
            return
        context_dir = ctx.project_dir / context_dir
    path = Path(dockerfile) if Path(dockerfile).is_absolute() else context_dir / dockerfile
    path = Path(os.path.normpath(path))  # `deploy/../app`: deploy/ may not exist yet
    if path not in ctx.stages:  # services often share a Dockerfile
        try:
            ctx.stages[path] = dockerfile_stages(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            ctx.stages[path] = None  # absent or unreadable: the build itself will say so
    stages = ctx.stages[path]
    if stages is None or any("$" in stage for stage in stages):
        return  # a stage named from an ARG cannot be checked here
    if target.lower() not in stages:
        known = f"stages: {', '.join(stages)}" if stages else "it has no named stages"
        ctx.report(("services", name, "build", "target"),
                   f'target stage "{target}" not found in {path.name} ({known})')


def _check_service_files(ctx: _Context, name: str, service: dict[str, Any]) -> None:
    """Compose reads env_file and label_file when loading, so a missing one fails `config`."""
    if ctx.project_dir is None:
        return
    for key, what in (("env_file", "env file"), ("label_file", "label file")):
        value = service.get(key)
        entries = [(None, value)] if isinstance(value, str) else list(enumerate(_list(value)))
        for index, entry in entries:
            path, required = entry, True
            if isinstance(entry, dict):
                path, required = entry.get("path"), entry.get("required", True) is not False
            if not isinstance(path, str) or not path or not required:
                continue
            full = Path(os.path.normpath(ctx.project_dir / Path(path).expanduser()))
            if not full.exists():
                where: ModelPath = ("services", name, key)
                ctx.report(where if index is None else (*where, index),
                           f"{what} {path} not found")


# --------------------------------------------------------------------------- host ports


def _published(port: Any) -> Iterator[tuple[str, int, str]]:
    """(host ip, host port, protocol) of each fixed host port one ports entry publishes."""
    if is_int(port) or isinstance(port, str):
        parsed = parse_port_spec(str(port))
        if not isinstance(parsed, PortMapping) or parsed.host_start is None:
            return
        assert parsed.host_end is not None
        if parsed.container_start == parsed.container_end and parsed.host_start != parsed.host_end:
            return  # a host range for one container port: Docker picks a free one
        for host in range(parsed.host_start, parsed.host_end + 1):
            yield parsed.host_ip, host, parsed.protocol
    elif isinstance(port, dict):
        published = port.get("published")
        published = str(published) if is_int(published) else published
        span = port_range(published) if isinstance(published, str) else None
        if span is None or span[0] != span[1]:
            return
        ip, protocol = port.get("host_ip"), port.get("protocol")
        yield (ip if isinstance(ip, str) else "", span[0],
               protocol.lower() if isinstance(protocol, str) else "tcp")


def _ip_overlap(a: str, b: str) -> bool:
    """Two host IPs collide when equal, or when one is the wildcard of the other's family."""
    if a == b or not a or not b:
        return True
    for wild, other in ((a, b), (b, a)):
        family = {"0.0.0.0": 4, "::": 6}.get(wild)
        if family is not None and is_ip(other):
            return ipaddress.ip_address(other).version == family
    return False


def _check_host_ports(ctx: _Context) -> None:
    """The same host port twice only fails at `up`, hence a warning."""
    taken: dict[tuple[int, str], list[tuple[str, ModelPath, Any]]] = {}
    for name, service in ctx.services():
        for i, port in enumerate(_list(service.get("ports"))):
            path: ModelPath = ("services", name, "ports", i)
            for ip, host, protocol in _published(port):
                holders = taken.setdefault((host, protocol), [])
                clash = next((h for h in holders if _ip_overlap(h[0], ip)), None)
                if clash is None:
                    holders.append((ip, path, port))
                    continue
                if clash[1][:2] == path[:2] and clash[2] == port:
                    break  # one service listing the same entry twice: Compose merges them
                shown = f"{ip}:{host}" if ip else str(host)
                ctx.report(path, f"host port {shown}/{protocol} is already published by "
                                 f"{ctx.where_is(clash[1])}", "warning")
                break


def _check_container_names(ctx: _Context) -> None:
    """Two services that can run together cannot share a container name.

    Compose checks the active services only; here two services clash when both are always
    active (no profiles) or share a profile, so alternatives (`profiles: [cpu]` against
    `profiles: [gpu]`) may keep one name, as real projects do.
    """
    seen: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for name, service in ctx.services():
        container = service.get("container_name")
        if not isinstance(container, str) or not container:
            continue
        profiles = frozenset(str(p) for p in _list(service.get("profiles")))
        for other, other_profiles in seen.get(container, []):
            if not profiles or not other_profiles or profiles & other_profiles:
                ctx.report(("services", name, "container_name"),
                           f'container name "{container}" is already in use by '
                           f'{ctx.where_is(("services", other, "container_name"))}')
                break
        seen.setdefault(container, []).append((name, profiles))


# --------------------------------------------------------------------------- entry points


def collect_findings(
    model: Mapping[str, Any],
    locate: Locator,
    *,
    project_dir: Path | None,
    keys: Mapping[Any, str | None] | None = None,
) -> list[Finding]:
    """Unsorted findings with their model paths; `keys` are canonical keys of the services
    when the caller has them already."""
    if not isinstance(model, Mapping):
        return []
    ctx = _Context(model, locate, project_dir)
    if not model:
        ctx.report((), "empty compose file")
    _check_resources(ctx)
    _check_references(ctx)
    _check_dependency_cycles(ctx)
    for name, service in ctx.services():
        key = keys.get(name) if keys is not None else canonical_key(service)
        for rel, message, severity in service_findings(service, key):
            ctx.report(("services", name, *rel), message, severity)
        _check_build_target(ctx, name, service)
        _check_service_files(ctx, name, service)
    _check_host_ports(ctx)
    _check_container_names(ctx)
    return ctx.findings


def check_model(
    model: Mapping[str, Any], locate: Locator, *, project_dir: Path | None
) -> list[Problem]:
    """Consistency problems of a merged model, sorted by model path."""
    return sort_findings(collect_findings(model, locate, project_dir=project_dir))
