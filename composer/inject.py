"""Deployment settings declared in composer.yml, turned into an ordinary Compose overlay.

Injections never edit the model directly: they produce one more overlay document, which the
merge engine merges after the environment's overlays with the same Compose rules as any other
file. That keeps a single source of merge semantics (a `build: ./dir` string in the base still
works with the overlay's `build: {target: final}`, ports are merged by Compose's keys, ...).

Each setting is a pure function in a registry (`INJECTORS`, name -> function) with one shared
signature, so adding a setting is one decorated function plus its entry in the JSON schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from composer.errors import Location, ProjectError

#: Fields available in `image.tag` templates.
IMAGE_FIELDS = frozenset({"registry", "service", "project", "env", "git_sha"})
#: Fields available in `container_name` templates.
NAME_FIELDS = frozenset({"service", "project", "env"})
DEFAULT_IMAGE_TAG = "{registry}/{service}:{git_sha}"


@dataclass(frozen=True)
class ServiceContext:
    """What an injector may look at: the service as merged so far and the run's identity."""

    service: str
    definition: Mapping[str, Any]
    project: str
    env: str
    tag: str | None

    @property
    def has_build(self) -> bool:
        return "build" in self.definition


Injector = Callable[[Any, ServiceContext], dict[str, Any]]
INJECTORS: dict[str, Injector] = {}


def injector(name: str) -> Callable[[Injector], Injector]:
    """Register a setting; the registration order is the key order in the overlay."""

    def register(func: Injector) -> Injector:
        INJECTORS[name] = func
        return func

    return register


@injector("target")
def _target(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    # Only images built here have stages; a pulled image has nothing to select.
    return {"build": {"target": value}} if ctx.has_build else {}


@injector("platform")
def _platform(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {"platform": value}


@injector("restart")
def _restart(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {"restart": value}


@injector("image")
def _image(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    # Pulled images (consul, postgres, ...) keep their own reference; only built ones are named.
    if not ctx.has_build:
        return {}
    template = value.get("tag") or DEFAULT_IMAGE_TAG
    fields = template_fields(template)
    if "registry" in fields and not value.get("registry"):
        raise ProjectError(
            f"services.{ctx.service}: image tag template {template!r} uses {{registry}} "
            "but no image.registry is set in composer.yml"
        )
    if "git_sha" in fields and not ctx.tag:
        raise ProjectError(
            f"services.{ctx.service}: image tag template {template!r} uses {{git_sha}} but no "
            "tag is known; run inside a git repository or pass --tag TAG"
        )
    values = {
        "registry": str(value.get("registry") or "").rstrip("/"),
        "service": ctx.service,
        "project": ctx.project,
        "env": ctx.env,
        "git_sha": ctx.tag or "",
    }
    return {"image": template.format(**values)}


@injector("container_name")
def _container_name(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {
        "container_name": str(value).format(service=ctx.service, project=ctx.project, env=ctx.env)
    }


@injector("ports")
def _ports(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {"ports": list(value)}


@injector("volumes")
def _volumes(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {"volumes": list(value)}


@injector("environment")
def _environment(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {"environment": _like_base(value, ctx.definition.get("environment"))}


@injector("labels")
def _labels(value: Any, ctx: ServiceContext) -> dict[str, Any]:
    return {"labels": _like_base(value, ctx.definition.get("labels"))}


def _like_base(value: Mapping[str, Any], base: Any) -> Any:
    """Write KEY=VALUE lists when the base does, so the merged file keeps one style."""
    if not isinstance(base, list):
        return dict(value)
    return [key if val is None else f"{key}={_scalar_text(val)}" for key, val in value.items()]


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- declared injections


@dataclass(frozen=True)
class InjectionLayer:
    """One `inject:` block: settings for every service plus per-service settings."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    origin: str = "inject"  # model path of the block, for messages
    locations: Mapping[str, Location] = field(default_factory=dict)  # service name -> key


@dataclass(frozen=True)
class Injections:
    """Ordered layers (global first, then the environment's); later layers win."""

    layers: tuple[InjectionLayer, ...] = ()

    def then(self, other: Injections) -> Injections:
        return Injections(self.layers + other.layers)

    def __bool__(self) -> bool:
        return any(layer.defaults or layer.services for layer in self.layers)

    def for_service(self, name: str) -> dict[str, Any]:
        """Settings for one service: each layer's defaults, then its per-service block."""
        settings: dict[str, Any] = {}
        for layer in self.layers:
            settings = combine(settings, layer.defaults)
            settings = combine(settings, layer.services.get(name, {}))
        return settings

    def check_services(self, known: Iterable[str]) -> None:
        """A per-service block for a service that does not exist is a typo, not a no-op."""
        names = set(known)
        for layer in self.layers:
            for service in layer.services:
                if service not in names:
                    shown = ", ".join(sorted(names)) or "none"
                    raise ProjectError(
                        f"no service {service!r} in the merged model (services: {shown})",
                        layer.locations.get(service),
                        f"{layer.origin}.services.{service}",
                    )


def combine(lower: Mapping[str, Any], upper: Mapping[str, Any]) -> dict[str, Any]:
    """Layer settings: scalars are replaced, mappings merged by key, lists extended."""
    result = dict(lower)
    for key, value in upper.items():
        old = result.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            result[key] = {**old, **value}
        elif isinstance(old, list) and isinstance(value, list):
            result[key] = old + [item for item in value if item not in old]
        else:
            result[key] = value
    return result


def template_fields(template: str) -> set[str]:
    """Names used by a `{field}` template; raises ValueError on anything but plain fields."""
    names: set[str] = set()
    import string

    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"unsupported template field {{{name}}}")
        names.add(name)
    return names


# --------------------------------------------------------------------------- overlay building


def injection_overlay(
    inj: Injections,
    services: Mapping[str, Mapping[str, Any]],
    *,
    project: str,
    env: str,
    tag: str | Mapping[str, str] | None,
) -> CommentedMap:
    """The Compose overlay that applies `inj` to `services` (the model merged so far).

    `tag` is the `{git_sha}` of image templates: one value for all services or one per service.
    """
    inj.check_services(services)
    doc = CommentedMap()
    out = CommentedMap()
    for name, definition in services.items():
        settings = inj.for_service(name)
        if not settings:
            continue
        service_tag = tag.get(name) if isinstance(tag, Mapping) else tag
        ctx = ServiceContext(name, definition or {}, project, env, service_tag)
        fragment: dict[str, Any] = {}
        for key, func in INJECTORS.items():
            if key in settings:
                fragment = _deep_merge(fragment, func(settings[key], ctx))
        if fragment:
            out[name] = _node(fragment, key="")
    if out:
        doc["services"] = out
    return doc


def _deep_merge(lower: dict[str, Any], upper: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(lower)
    for key, value in upper.items():
        if isinstance(result.get(key), dict) and isinstance(value, Mapping):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _node(value: Any, key: str) -> Any:
    """Fresh round-trip nodes, so nothing from composer.yml (comments, anchors) leaks out."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[str(k)] = _node(v, str(k))
        return node
    if isinstance(value, list | tuple):
        return CommentedSeq(_node(item, key) for item in value)
    if key == "ports" and isinstance(value, str) and ":" in value:
        # "8080:80" reads as a base-60 number to YAML 1.1 readers; quote it as Compose docs do.
        return DoubleQuotedScalarString(value)
    return value


# --------------------------------------------------------------------------- --set


def set_overlay(assignments: Sequence[str]) -> CommentedMap:
    """An overlay from `--set dotted.path=value` assignments, applied in order."""
    doc = CommentedMap()
    for assignment in assignments:
        path, raw = _split_assignment(assignment)
        value = _parse_value(raw, assignment)
        node = doc
        for depth, key in enumerate(path[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = CommentedMap()
            elif not isinstance(child, CommentedMap):
                prefix = ".".join(path[: depth + 1])
                raise ProjectError(
                    f"--set {assignment}: {prefix} was already set to a value, not a mapping"
                )
            node = child
        node[path[-1]] = value
    return doc


def _split_assignment(assignment: str) -> tuple[list[str], str]:
    """Split `a.b."c.d"=value` into its path and the raw value text."""
    path: list[str] = []
    segment: list[str] = []
    quoted = False  # the current segment was written in quotes
    i = 0
    while i < len(assignment):
        char = assignment[i]
        if char in "\"'" and not segment and not quoted:
            end = assignment.find(char, i + 1)
            if end < 0:
                raise ProjectError(f"--set {assignment}: unterminated quote in the path")
            segment.extend(assignment[i + 1 : end])
            quoted = True
            i = end + 1
            if i < len(assignment) and assignment[i] not in ".=":
                raise ProjectError(f"--set {assignment}: expected '.' or '=' after a quoted key")
            continue
        if char in ".=":
            if not segment and not quoted:
                raise ProjectError(f"--set {assignment}: empty key in the path")
            path.append("".join(segment))
            segment, quoted = [], False
            if char == "=":
                return path, assignment[i + 1 :]
        else:
            segment.append(char)
        i += 1
    raise ProjectError(f"--set {assignment}: expected PATH=VALUE, e.g. services.web.restart=always")


def _parse_value(raw: str, assignment: str) -> Any:
    """Read the value as YAML: a scalar or a flow collection such as [a, b] or {k: v}."""
    try:
        value = YAML(typ="rt", pure=True).load(raw)
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProjectError(f"--set {assignment}: the value is not valid YAML ({problem})") from None
    flow = raw.lstrip().startswith(("[", "{"))
    if isinstance(value, Mapping | list) and not flow:
        raise ProjectError(
            f"--set {assignment}: the value must be a scalar or a flow collection "
            "([a, b] or {k: v}); quote it to pass text containing ': ' or '- '"
        )
    return _plain_nodes(value)


def _plain_nodes(value: Any) -> Any:
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = _plain_nodes(v)
        return node
    if isinstance(value, list):
        return CommentedSeq(_plain_nodes(item) for item in value)
    return value
