"""The consistency checks that read one service alone (types Compose decodes, mounts, ports,
resources, commands, ...). Their result depends on nothing else, so identical definitions are
checked once."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from composer.findings import (
    Local,
    ModelPath,
    as_list,
    as_mapping,
    describe,
    format_where,
    int_or_none,
)
from composer.goparse import (
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
    split_shell_words,
    unit_bytes,
)

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
    for i, key in enumerate(as_list(build.get("ssh"))):  # ID=PATH, or `default` alone
        if not isinstance(key, str):
            out.error(("build", "ssh", i), f"invalid ssh key {describe(key)}")
        elif "=" not in key and key != "default":
            out.error(("build", "ssh", i), f'invalid ssh key "{key}"')


def _check_healthcheck(out: _Out, service: dict[str, Any]) -> None:
    test = as_mapping(service.get("healthcheck")).get("test")
    if isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        out.error(("healthcheck", "test", 0),
                  'healthcheck.test must start with "CMD", "CMD-SHELL" or "NONE"')


def _check_scale(out: _Out, service: dict[str, Any]) -> None:
    scale = int_or_none(service.get("scale"))
    replicas = int_or_none(as_mapping(service.get("deploy")).get("replicas"))
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
    resources = as_mapping(deploy.get("resources"))
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
    for i, rule in enumerate(as_list(as_mapping(service.get("develop")).get("watch"))):
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
    entries = [tmpfs] if isinstance(tmpfs, str) else as_list(tmpfs)
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
    for i, volume in enumerate(as_list(service.get("volumes"))):
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
    for i, port in enumerate(as_list(service.get("ports"))):
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
    for i, port in enumerate(as_list(service.get("ports"))):
        if isinstance(port, dict) and "target" not in port:
            out.error(("ports", i), "missing a target port")
    for key in ("volumes", "devices"):
        for i, item in enumerate(as_list(service.get(key))):
            if isinstance(item, dict) and "target" not in item:
                out.error((key, i), "missing a mount target")
    for i, item in enumerate(as_list(service.get("volumes"))):
        if isinstance(item, dict) and item.get("type") == "bind" and "source" not in item:
            out.error(("volumes", i), 'a "bind" mount needs a source')
    for section in ("secrets", "configs"):
        for i, item in enumerate(as_list(service.get(section))):
            mode = as_mapping(item).get("mode")
            if isinstance(mode, float):  # the schema takes 288.0 as a number
                out.error((section, i, "mode"), f"expected an integer (e.g. 0440), got {mode}")
    for i, item in enumerate(as_list(service.get("expose"))):
        if isinstance(item, float):
            out.error(("expose", i), f"unsupported expose value {item}: use an integer or string")


def _check_extra_hosts(out: _Out, service: dict[str, Any]) -> None:
    """`host:ip`, `host=ip` or host -> ip: the host name must not be empty or hold : or =."""
    build_hosts = as_mapping(service.get("build")).get("extra_hosts")
    for base, hosts in ((("extra_hosts",), service.get("extra_hosts")),
                        (("build", "extra_hosts"), build_hosts)):
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


def _reservations(service: dict[str, Any]) -> dict[str, Any]:
    resources = as_mapping(as_mapping(service.get("deploy")).get("resources"))
    return as_mapping(resources.get("reservations"))


def _check_devices(out: _Out, service: dict[str, Any]) -> None:
    reservations = _reservations(service)
    lists: tuple[tuple[ModelPath, Any], ...] = (
        (("deploy", "resources", "reservations", "devices"), reservations.get("devices")),
        (("gpus",), service.get("gpus")),
    )
    for base, devices in lists:
        for i, device in enumerate(as_list(devices)):
            if isinstance(device, dict) and "count" in device and "device_ids" in device:
                out.error((*base, i), '"count" and "device_ids" are exclusive')
    for i, mapping in enumerate(as_list(service.get("devices"))):  # SOURCE[:TARGET[:PERMISSIONS]]
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
        for i, item in enumerate(as_list(items)):
            if isinstance(item, dict) and negative(item.get(key)):
                out.error((*base, i, key), f"must not be negative, got {item[key]}")
    for i, volume in enumerate(as_list(service.get("volumes"))):
        mode = as_mapping(as_mapping(volume).get("tmpfs")).get("mode")
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
    for i, volume in enumerate(as_list(service.get("volumes"))):
        mode = as_mapping(as_mapping(volume).get("tmpfs")).get("mode")
        if isinstance(mode, str):  # an unsigned integer field that nothing casts
            out.error(("volumes", i, "tmpfs", "mode"),
                      f"expected an integer, got {mode!r}: write the mode unquoted, e.g. 0755")
    _check_string_fields(out, service)
    _check_ulimits(out, service)


def _check_ulimits(out: _Out, service: dict[str, Any]) -> None:
    """Compose takes an integer or {soft, hard} of integers for every limit, whatever its name
    (the schema only checks the names it knows). Service limits were cast from strings when
    interpolated; build limits are not, and floats such as 1.0 pass the schema as integers."""
    lists = ((("ulimits",), service.get("ulimits"), True),
             (("build", "ulimits"), as_mapping(service.get("build")).get("ulimits"), False))
    for base, limits, cast in lists:
        for name, limit in as_mapping(limits).items():
            if isinstance(limit, dict):
                for key in ("soft", "hard"):
                    value = limit.get(key)
                    if key in limit and not _integer(value, cast):
                        out.error((*base, name, key),
                                  f"expected an integer, got {describe(value)}")
            elif not _integer(limit, cast):
                out.error((*base, name),
                          f"expected an integer or a mapping, got {describe(limit)}")


def _integer(value: Any, cast: bool) -> bool:
    """An integer, or text interpolation already turned into one (or refused)."""
    return is_int(value) or (cast and isinstance(value, str))


def _check_string_fields(out: _Out, service: dict[str, Any]) -> None:
    """Text fields the schema lets hold numbers (or anything): Compose converts integers only."""
    for i, group in enumerate(as_list(service.get("group_add"))):
        if isinstance(group, float):
            out.error(("group_add", i), f"expected a string or integer, got {group}")
    for key, value in as_mapping(service.get("storage_opt")).items():
        if value is not None and not isinstance(value, str) and not is_int(value):
            out.error(("storage_opt", key), f"expected a string or integer, got {describe(value)}")
    reservations = _reservations(service)
    for base, devices in ((("deploy", "resources", "reservations", "devices"),
                           reservations.get("devices")), (("gpus",), service.get("gpus"))):
        for i, device in enumerate(as_list(devices)):
            count = as_mapping(device).get("count")
            if isinstance(count, float):
                out.error((*base, i, "count"), f"invalid count {count}: use 'all' or an integer")


def _key_ends_in_space(key: str) -> bool:
    """Compose tests the last byte of the UTF-8 name as a character: a name ending in a space,
    a tab, a no-break space, or any character whose encoding ends in 0x85 or 0xA0 (like Å)."""
    return bool(key) and key.encode("utf-8", "surrogatepass")[-1] in _GO_SPACE_BYTES


_GO_SPACE_BYTES = frozenset(b"\t\n\v\f\r \x85\xa0")


def _in_hooks(service: dict[str, Any], field: str) -> list[tuple[ModelPath, Any]]:
    """field of every post_start/pre_stop hook and every develop.watch exec, with its path."""
    found: list[tuple[ModelPath, Any]] = []
    for hook in ("post_start", "pre_stop"):
        found += [((hook, i, field), as_mapping(item).get(field))
                  for i, item in enumerate(as_list(service.get(hook)))]
    watch = as_list(as_mapping(service.get("develop")).get("watch"))
    found += [(("develop", "watch", i, "exec", field),
               as_mapping(as_mapping(rule).get("exec")).get(field))
              for i, rule in enumerate(watch)]
    return found


def _check_variable_names(out: _Out, service: dict[str, Any]) -> None:
    """Variables in list form: Compose refuses a name with trailing space (build args without
    a value are dropped before that, unless the variable is set)."""
    lists: list[tuple[ModelPath, Any]] = [
        (("environment",), service.get("environment")),
        (("build", "args"), as_mapping(service.get("build")).get("args")),
        *_in_hooks(service, "environment")]
    for base, entries in lists:
        for i, entry in enumerate(as_list(entries)):
            if isinstance(entry, str) and ("=" in entry or base != ("build", "args")):
                name = entry.partition("=")[0]
                if _key_ends_in_space(name):
                    out.error((*base, i),
                              f"environment variable {name!r} is declared with a trailing space")


def _check_commands(out: _Out, service: dict[str, Any]) -> None:
    """Command strings Compose splits into words (go-shellwords): refused when it cannot, a
    warning when it silently stops at a shell operator."""
    commands: list[tuple[ModelPath, Any]] = [
        (("command",), service.get("command")), (("entrypoint",), service.get("entrypoint")),
        *_in_hooks(service, "command")]
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
