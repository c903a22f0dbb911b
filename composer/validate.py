"""Validation of a merged model against the Compose Specification schema, as Docker Compose does it.

The schema is the copy shipped by check-jsonschema. Docker Compose v2.40.3 validates with its own,
older copy (compose-go v2.9.1, draft-07, santhosh-tekuri/jsonschema); `_as_compose_does` turns the
shipped schema into the one the binary applies. The differences, checked against the binary:

- the shipped copy is draft 2020-12 and splits `service` into `container_spec` + `workload_spec`
  joined by allOf + unevaluatedProperties; the binary's is one flat draft-07 object. Flattening
  gives the same accepted set and lets the draft-07 validator (the binary's draft) run it fast;
- the shipped copy knows newer keys the binary rejects as unknown: top-level `jobs`, service
  `pre_start` and `umask`, `build.no_cache_filter`, `networks.<name>.use_service_name_alias`;
- the shipped copy is stricter where the binary is looser: `mem_limit`, `memswap_limit` and
  `shm_size` accept any number (not only integers), `pull_policy`'s pattern is unanchored, and
  top-level `networks`/`models` accept any name;
- Compose de-duplicates some lists while merging (cap_add, ports, volumes, environment, ...),
  before validating, so their uniqueItems never fails; it is dropped there;
- a pattern ending in `$` matches before a trailing newline in Python, never in Go: `\\Z` instead.

Neither schema uses `format`, so format checking changes nothing (the binary asserts formats,
draft-07 style; the format checker is passed for the same behaviour should one appear).

Speed: services are validated one by one against the service subschema, each distinct definition
once (and remembered per process), by a predicate compiled from the schema; jsonschema is only
imported and run to explain a rejected definition, and then only on its keys that fail.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.errors import Problem
from composer.findings import (
    Finding,
    Locator,
    ModelPath,
    canonical_key,
    describe,
    format_where,
    locate_safely,
    sort_findings,
)
from composer.predicates import (
    ANNOTATIONS,
    Check,
    LazyChecks,
    PredicateCompiler,
    json_equal,
    node_at,
)

if TYPE_CHECKING:  # jsonschema is imported only when a model needs explaining
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError as SchemaError

SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
SCHEMA_FILE = "compose-spec.json"

# --------------------------------------------------------------------------- the schema


# Keys the shipped schema knows and Compose v2.40.3 rejects as unknown.
_NOT_IN_COMPOSE: tuple[tuple[tuple[str | int, ...], str], ...] = (
    (("properties",), "jobs"),
    (("$defs", "service", "properties"), "pre_start"),
    (("$defs", "service", "properties"), "umask"),
    (("$defs", "service", "properties", "build", "oneOf", 1, "properties"), "no_cache_filter"),
    (("$defs", "service", "properties", "networks", "oneOf", 1, "patternProperties",
      "^[a-zA-Z0-9._-]+$", "oneOf", 0, "properties"), "use_service_name_alias"),
)
_NEWER_KEYS = frozenset(key for _, key in _NOT_IN_COMPOSE)
# Lists Compose de-duplicates while merging, before it validates: uniqueItems never fails there.
_SERVICE = ("$defs", "service", "properties")
_NETWORK_ENTRY = (*_SERVICE, "networks", "oneOf", 1, "patternProperties", "^[a-zA-Z0-9._-]+$",
                  "oneOf", 0, "properties")
_MERGED_LISTS: tuple[tuple[str | int, ...], ...] = (
    *((*_SERVICE, key) for key in ("ports", "expose", "cap_add", "cap_drop", "dns", "dns_opt",
                                   "dns_search", "volumes", "links", "profiles", "tmpfs",
                                   "annotations", "environment", "labels", "sysctls")),
    *((*_SERVICE, "build", "oneOf", 1, "properties", key)
      for key in ("args", "labels", "additional_contexts")),
    *((*_NETWORK_ENTRY, key) for key in ("aliases", "link_local_ips")),
    ("$defs", "deployment", "properties", "labels"),
    ("$defs", "network", "properties", "labels"),
)
# Sizes Compose accepts as any number (it ignores a fractional one).
_NUMBER_SIZES = ("mem_limit", "memswap_limit", "shm_size")
def _flatten_all_of(defs: dict[str, Any]) -> None:
    """allOf of object definitions + unevaluatedProperties: false -> one closed object."""
    for name, definition in list(defs.items()):
        if definition.get("unevaluatedProperties") is not False or "allOf" not in definition:
            continue
        parts = [definition]
        for part in definition["allOf"]:
            ref = part.get("$ref", "") if isinstance(part, dict) else ""
            target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/$defs/") else None
            if target is None or set(part) != {"$ref"}:
                break
            parts.append(target)
        else:
            allowed = {"type", "properties", "patternProperties", "required", "allOf",
                       "unevaluatedProperties", *ANNOTATIONS}
            if any(set(p) - allowed or p.get("type", "object") != "object" for p in parts[1:]):
                continue
            properties: dict[str, Any] = {}
            patterns: dict[str, Any] = {}
            required: list[str] = []
            for part in reversed(parts):  # the definition's own keys win
                properties.update(part.get("properties", {}))
                patterns.update(part.get("patternProperties", {}))
                required += [r for r in part.get("required", []) if r not in required]
            flat: dict[str, Any] = {k: v for k, v in definition.items()
                    if k not in ("allOf", "unevaluatedProperties")}
            flat.update(type="object", properties=properties, patternProperties=patterns,
                        additionalProperties=False)
            if required:
                flat["required"] = required
            defs[name] = flat


def _without_unique(node: Any, defs: Mapping[str, Any]) -> Any:
    """The list rule of one property without uniqueItems (through $ref and oneOf branches)."""
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        return _without_unique(copy.deepcopy(defs[ref[8:]]), defs)  # draft-07: no siblings
    out = {k: v for k, v in node.items() if k != "uniqueItems"}
    if isinstance(out.get("oneOf"), list):
        out["oneOf"] = [_without_unique(branch, defs) for branch in out["oneOf"]]
    return out


def _fix_anchor(pattern: str) -> str:
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(
        "\\$") else pattern


def _go_anchors(schema: Any) -> None:
    """Python's `$` also matches before a final newline; Go's does not (fixed in place)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                schema[key] = _fix_anchor(value)
            elif key == "patternProperties" and isinstance(value, dict):
                schema[key] = {_fix_anchor(p): v for p, v in value.items()}
                for v in value.values():
                    _go_anchors(v)
            else:
                _go_anchors(value)
    elif isinstance(schema, list):
        for v in schema:
            _go_anchors(v)


def _as_compose_does(schema: dict[str, Any]) -> dict[str, Any]:
    """Changes the freshly parsed schema in place (no copy: it is read once per process)."""
    defs = schema.setdefault("$defs", {})
    _flatten_all_of(defs)
    for path, key in _NOT_IN_COMPOSE:
        node = node_at(schema, path)
        if isinstance(node, dict):
            node.pop(key, None)
    for path in _MERGED_LISTS:
        parent = node_at(schema, path[:-1])
        if isinstance(parent, dict) and path[-1] in parent:
            parent[path[-1]] = _without_unique(parent[path[-1]], defs)
    service_props = node_at(schema, _SERVICE) or {}
    for key in _NUMBER_SIZES:
        prop = service_props.get(key)
        if isinstance(prop, dict) and prop.get("type") == ["integer", "string"]:
            prop["type"] = ["number", "string"]
    pull = service_props.get("pull_policy")
    if isinstance(pull, dict) and isinstance(pull.get("pattern"), str):
        match = re.fullmatch(r"\^\((.*)\)\$", pull["pattern"])
        if match:
            pull["pattern"] = match.group(1)
    for section in ("networks", "models"):
        node = node_at(schema, ("properties", section))
        if isinstance(node, dict):
            node.pop("additionalProperties", None)
    texts = {k: json.dumps(v) for k, v in defs.items()}
    for unused in ("job", "schedule", "pre_start_hook", "container_spec", "workload_spec"):
        ref = f'"#/$defs/{unused}"'
        if not any(ref in text for k, text in texts.items() if k != unused):
            defs.pop(unused, None)
            texts.pop(unused, None)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    _go_anchors(schema)
    return schema


def load_shipped_schema() -> dict[str, Any]:
    """The Compose Specification schema as check-jsonschema ships it.

    Importing check_jsonschema starts its whole command line (a quarter second), so the file
    is read through the package's resource reader, found without running the package."""
    text: str | None = None
    spec = importlib.util.find_spec(SCHEMA_PACKAGE.split(".")[0])
    loader = spec.loader if spec is not None else None
    get_reader = getattr(loader, "get_resource_reader", None)
    if spec is not None and get_reader is not None:
        reader = get_reader(spec.name)
        if reader is not None and hasattr(reader, "files"):
            resource = reader.files().joinpath(*SCHEMA_PACKAGE.split(".")[1:], SCHEMA_FILE)
            if resource.is_file():
                text = resource.read_text("utf-8")
    if text is None:
        text = importlib.resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def compose_schema() -> dict[str, Any]:
    """The schema as Docker Compose v2.40.3 applies it (see the module docstring)."""
    return _as_compose_does(load_shipped_schema())


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class _Predicates:
    root_ok: Check
    service_ok: Check
    service_keys: dict[str, Check]  # one per service property, to explain only what fails


@functools.cache
def _predicates() -> _Predicates:
    """Compiled once per process, on first use."""
    schema = compose_schema()
    compiler = PredicateCompiler(schema, _jsonschema_check)
    service = schema["$defs"]["service"]
    keys = LazyChecks(compiler, service.get("properties", {}))
    return _Predicates(compiler.compile(schema), compiler.compile(service), keys)


def _jsonschema_check(schema: Any) -> Check:
    def check(value: Any) -> bool:
        sub = _validators().root.evolve(schema=schema)
        return bool(sub.is_valid(value))

    return check


@dataclass(frozen=True)
class _Validators:
    root: Draft7Validator
    service: Draft7Validator


@functools.cache
def _validators() -> _Validators:
    """jsonschema validators, built the first time a model needs its problems explained."""
    from jsonschema import Draft7Validator

    schema = compose_schema()
    root = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    # A document of its own whose only rule is the service definition: references still resolve.
    service = Draft7Validator(
        {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/service"},
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    return _Validators(root, service)


@functools.cache
def _property_validator(key: str) -> Draft7Validator:
    """jsonschema for one service property (definitions kept, so references resolve)."""
    from jsonschema import Draft7Validator

    schema = compose_schema()
    prop = schema["$defs"]["service"]["properties"][key]
    document = {**prop, "$schema": schema["$schema"], "$defs": schema["$defs"]}
    return Draft7Validator(document, format_checker=Draft7Validator.FORMAT_CHECKER)


# --------------------------------------------------------------------------- explaining errors

Explained = tuple[ModelPath, str]
_TYPE_NAMES = {"object": "mapping", "array": "list"}
_NAME_NOUNS = {"services": "service", "networks": "network", "volumes": "volume",
               "secrets": "secret", "configs": "config", "models": "model",
               "depends_on": "service"}


def _type_phrase(types: list[str]) -> str:
    names: list[str] = []
    for t in types:
        name = _TYPE_NAMES.get(t, t)
        if name not in names:
            names.append(name)
    if "number" in names and "integer" in names:
        names.remove("integer")
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    if names[0] == "null":
        return text
    return ("an " if text[0] in "aeiou" else "a ") + text


def _shown_pattern(pattern: str) -> str:
    return pattern[:-2] + "$" if pattern.endswith(r"\Z") else pattern


def _leaves(error: SchemaError) -> Iterator[SchemaError]:
    if not error.context:
        yield error
        return
    for cause in error.context:
        yield from _leaves(cause)


def _specificity(error: SchemaError) -> int:
    """Deepest first, an unknown key above a wrong type at the same place (as Compose ranks)."""
    return len(error.absolute_path) + (1 if error.validator == "additionalProperties" else 0)


def _most_specific(error: SchemaError) -> list[SchemaError]:
    leaves = list(_leaves(error))
    top = max(_specificity(e) for e in leaves)
    tied = [e for e in leaves if _specificity(e) == top]
    for leaf in tied:
        if leaf.validator != "type":
            return [leaf]
    return tied


def _explain(error: SchemaError, base: ModelPath = ()) -> list[Explained]:
    chosen = _most_specific(error)
    leaf = chosen[0]
    path: ModelPath = (*base, *leaf.absolute_path)
    instance, keyword, value = leaf.instance, leaf.validator, leaf.validator_value
    if keyword == "type":
        wanted: list[str] = []
        for e in chosen:
            if (*base, *e.absolute_path) == path:
                wanted += [e.validator_value] if isinstance(e.validator_value, str) \
                    else list(e.validator_value)
        return [(path, f"expected {_type_phrase(wanted)}, got {describe(instance)}")]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        return _unknown_keys(path, instance, leaf.schema)
    if keyword == "required" and isinstance(instance, dict):
        return [(path, f"missing required key '{key}'") for key in value if key not in instance]
    if keyword == "enum":
        allowed = ", ".join(json.dumps(v) for v in value)
        return [(path, f"{describe(instance)} is not one of {allowed}")]
    if keyword == "pattern":
        return [(path, f"{describe(instance)} does not match {_shown_pattern(value)}")]
    if keyword == "minimum":
        return [(path, f"must be greater than or equal to {value}, got {describe(instance)}")]
    if keyword == "maximum":
        return [(path, f"must be less than or equal to {value}, got {describe(instance)}")]
    if keyword == "uniqueItems" and isinstance(instance, list):
        for j, item in enumerate(instance):
            for i in range(j):
                if json_equal(instance[i], item):
                    return [((*path, j), f"duplicate entry {describe(item)} "
                                         f"(already at index {i})")]
    if keyword == "oneOf":
        return [(path, "matches more than one of the allowed forms; remove the ambiguity")]
    message = leaf.message if len(leaf.message) <= 120 else leaf.message[:117] + "..."
    return [(path, message)]


def _unknown_keys(path: ModelPath, instance: dict[str, Any],
                  schema: Mapping[str, Any]) -> list[Explained]:
    properties = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    out: list[Explained] = []
    for key in instance:
        if key in properties or any(p.search(str(key)) for p in patterns):
            continue
        if properties:
            message = f"unknown key '{key}'"
            if key in _NEWER_KEYS:
                message += " (newer than Docker Compose v2.40.3, which refuses it)"
                out.append(((*path, key), message))
                continue
            import difflib

            close = difflib.get_close_matches(str(key), list(properties), n=1, cutoff=0.75)
            if close:
                message += f" (did you mean '{close[0]}'?)"
        else:
            noun = _NAME_NOUNS.get(str(path[-1]) if path else "", "")
            named = [_shown_pattern(p.pattern) for p in patterns if p.pattern != "^x-"]
            rule = "use only letters, digits, '.', '_' and '-'" \
                if named == ["^[a-zA-Z0-9._-]+$"] else f"must match {' or '.join(named)}"
            message = f"invalid {noun + ' ' if noun else ''}name {describe(str(key))}: {rule}"
        out.append(((*path, key), message))
    return out


def _string_keys(value: Any) -> Any:
    """YAML allows other keys; Compose reads every key as a string."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _explain_all(
    validator: Draft7Validator, instance: Any, base: ModelPath = ()
) -> tuple[Explained, ...]:
    """Explanations with paths below `base` (the key a property validator was given)."""
    explained: list[Explained] = []
    for error in validator.iter_errors(_string_keys(instance)):
        explained += _explain(error, base)
    return tuple(explained)


# --------------------------------------------------------------------------- per-service cache

_SERVICE_CACHE: dict[str, tuple[Explained, ...]] = {}
_SERVICE_CACHE_LIMIT = 4096


def _explain_service(service: Any) -> tuple[Explained, ...]:
    """What is wrong with one service. jsonschema is the slow part, so it only sees the keys
    that fail; anything unusual goes to it whole."""
    predicates = _predicates()
    schema = compose_schema()["$defs"]["service"]
    patterns = schema.get("patternProperties", {})
    if (not isinstance(service, dict) or any(type(k) is not str for k in service)
            or "required" in schema or set(patterns) != {"^x-"} or patterns["^x-"] != {}):
        return _explain_all(_validators().service, service)
    explained: list[Explained] = []
    unknown = False
    for key, value in service.items():
        check = predicates.service_keys.get(key)
        if check is None:
            unknown = unknown or not key.startswith("x-")
        elif not check(value):
            explained += _explain_all(_property_validator(key), value, (key,))
    if unknown:
        explained += _unknown_keys((), service, schema)
    return tuple(explained)


def _service_errors(service_ok: Check, service: Any, key: str | None) -> tuple[Explained, ...]:
    if key is not None:
        cached = _SERVICE_CACHE.get(key)
        if cached is not None:
            return cached
    result = () if service_ok(service) else _explain_service(service)
    if key is not None:
        if len(_SERVICE_CACHE) >= _SERVICE_CACHE_LIMIT:
            _SERVICE_CACHE.clear()
        _SERVICE_CACHE[key] = result
    return result


# --------------------------------------------------------------------------- entry points


def schema_findings(
    model: Any, locate: Locator, keys: Mapping[Any, str | None] | None = None
) -> list[Finding]:
    """Schema problems, each with its model path; `keys`: canonical keys of the services."""
    predicates = _predicates()

    def finding(path: ModelPath, message: str) -> Finding:
        return path, Problem(message, locate_safely(locate, path), format_where(path))

    if not isinstance(model, dict):
        return [finding((), f"the top level must be a mapping, got {describe(model)}")]
    services = model.get("services")
    top = model
    if isinstance(services, dict):
        # Services are validated one by one below; the rest of the document keeps their names
        # (for the name pattern) with an empty definition, which the service schema accepts.
        top = {**model, "services": {name: {} for name in services}}
    explained = [] if predicates.root_ok(top) else list(_explain_all(_validators().root, top))
    findings = [finding(path, message) for path, message in explained]
    if isinstance(services, dict):
        shared: dict[str, tuple[Explained, ...]] = {}
        for name, service in services.items():
            key = keys[name] if keys is not None else canonical_key(service)
            if key is not None and key in shared:
                errors = shared[key]
            else:
                errors = _service_errors(predicates.service_ok, service, key)
                if key is not None:
                    shared[key] = errors
            for rel, message in errors:
                findings.append(finding(("services", name, *rel), message))
    return findings


def validate_model(
    model: Mapping[str, Any],
    locate: Locator,
    *,
    project_dir: Path | None = None,
) -> list[Problem]:
    """Schema problems of the merged model, located in the source files, sorted by model path.

    Compose's own consistency rules are `composer.checks.check_model` (callers run both);
    project_dir is accepted for the same call shape and is not needed by the schema.
    """
    del project_dir
    return sort_findings(schema_findings(model, locate))
