"""Load-time consistency checks Docker Compose makes that the JSON schema cannot express.

Conditions follow compose-go v2.9.1 (the loader of Docker Compose v2.40.3), each proved against
the binary: its whole-model validation (external volumes, config/secret sources, host IPs, watch
paths, device requests), the consistency check after loading (references to undefined services,
networks, volumes, secrets, configs and models; image or build; scale, resources, mounts), the
entries its merge cannot index, and the decoding of what the schema only knows as strings (sizes,
durations, booleans, port and volume specs, extra hosts). Wording keeps the binary's key phrase.
The rules that read one service alone are in service_checks (shared by identical definitions),
the value parsers in goparse; this module holds the rules across the model and the entry point.

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
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.errors import Problem
from composer.findings import (
    CONTAINER_PREFIX,
    SERVICE_PREFIX,
    Finding,
    Locator,
    ModelPath,
    as_list,
    as_mapping,
    canonical_key,
    describe,
    format_where,
    locate_safely,
    sort_findings,
)
from composer.goparse import (
    PortMapping,
    VolumeSpec,
    is_int,
    is_ip,
    parse_port_spec,
    parse_volume_spec,
    port_range,
)
from composer.service_checks import service_findings

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
        return as_mapping(self.model.get(name))

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
        for key, value in as_mapping(as_mapping(secret).get("driver_opts")).items():
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
    for i, item in enumerate(as_list(value)):
        if isinstance(item, str):
            yield (i,), item
        elif isinstance(item, dict) and "source" not in item:
            yield (i,), ""
        elif isinstance(item, dict) and isinstance(item.get("source"), str):
            yield (i, "source"), item["source"]


def _named_volumes(volumes: Any) -> Iterator[tuple[int, str]]:
    for i, volume in enumerate(as_list(volumes)):
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
    for i, link in enumerate(as_list(service.get("links"))):
        if isinstance(link, str):
            parts = link.split(":")
            yield ("links", i), parts[0] if len(parts) == 2 else link, "links to"
    for namespace in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        ref = service.get(namespace)
        if isinstance(ref, str) and ref.startswith(SERVICE_PREFIX):
            yield (namespace,), ref[len(SERVICE_PREFIX):], "refers to"
    for i, source in enumerate(as_list(service.get("volumes_from"))):
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
        for i, item in enumerate(as_list(contexts)):
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
        elif "build" not in as_mapping(services[target]):
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
        entries = [(None, value)] if isinstance(value, str) else list(enumerate(as_list(value)))
        for index, entry in entries:
            path, required = entry, True
            if isinstance(entry, dict):
                path, required = entry.get("path"), entry.get("required", True) is not False
            if not isinstance(path, str) or not required:
                continue
            where: ModelPath = ("services", name, key)
            if index is not None:
                where = (*where, index)
            full = Path(os.path.normpath(ctx.project_dir / Path(path).expanduser()))
            if not path or not full.exists():  # Compose does not resolve an empty path
                ctx.report(where, f"{what} {path} not found")
            elif full.is_dir():
                ctx.report(where, f"{what} {path} is a directory, not a file")


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
        for i, port in enumerate(as_list(service.get("ports"))):
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
        profiles = frozenset(str(p) for p in as_list(service.get("profiles")))
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
