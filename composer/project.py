"""composer.yml: which files make up each environment, where results go, what is injected.

The file is read with ruamel's round-trip loader so that every refusal can point at the line and
column of the offending value (`composer.yml:7:14: environments.prod.inject.restart: ...`).
The JSON schema (schemas/composer.schema.json) is the documentation of the format; the checks
here add what a schema cannot say: paths stay inside the project, templates use known fields,
environments do not share an output file.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from composer.errors import Location, Problem, ProjectError
from composer.inject import (
    IMAGE_FIELDS,
    NAME_FIELDS,
    InjectionLayer,
    Injections,
    template_fields,
)
from composer.predicates import Check, PredicateCompiler

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaError

PROJECT_FILE = "composer.yml"
SCHEMA_FILE = "composer.schema.json"
#: Compose's own lookup order when no file is named.
COMPOSE_DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
DEFAULT_OUTPUT = "deploy/compose.{env}.yml"
DEFAULT_SECRETS_PATTERNS = ("*PASSWORD*", "*SECRET*", "*TOKEN*", "*_KEY")
OUTPUT_FIELDS = frozenset({"env", "project"})

STARTER = """\
name: myapp            # Compose project name written into every output
base: compose.yml
environments:
  prod: {}             # merges overlays/prod.yml into deploy/compose.prod.yml"""

DocPath = tuple[str | int, ...]  # a position in the document, as jsonschema reports it


@dataclass(frozen=True)
class Environment:
    """One deployment target: its overlays, interpolation inputs, output and injections."""

    name: str
    overlays: list[Path]
    env_files: list[Path]
    output: Path
    injections: Injections
    profiles: list[str] | None = None  # None: not set, Compose's default applies
    location: Location = field(default_factory=Location)  # the entry in composer.yml


@dataclass(frozen=True)
class Project:
    """A loaded composer.yml; all paths are absolute and inside `root`."""

    root: Path
    path: Path
    name: str
    base_files: list[Path]
    environments: dict[str, Environment]
    output_template: str
    secrets_patterns: list[str]
    env_files: list[Path] = field(default_factory=list)
    injections: Injections = field(default_factory=Injections)

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise ProjectError(
                f"unknown environment {name!r}; {self.path.name} defines: {known}",
                Location(self.path),
            ) from None

    def is_secret(self, key: str) -> bool:
        """Whether an environment variable's value must never be shown."""
        upper = key.upper()
        return any(fnmatch.fnmatchcase(upper, p.upper()) for p in self.secrets_patterns)

    def inputs(self, name: str) -> list[Path]:
        """The files an environment's output is made from, in merge order (env files last)."""
        env = self.environment(name)
        return [self.path, *self.base_files, *env.overlays, *env.env_files]

    @property
    def outputs(self) -> list[Path]:
        """Every environment's output file (what the image tag must not depend on)."""
        return [env.output for env in self.environments.values()]


def find_project_file(start: Path) -> Path:
    """The nearest composer.yml in `start` or a parent directory (like git finds .git)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    raise ProjectError(
        f"no {PROJECT_FILE} in {start} or any parent directory; create one next to your "
        f"compose file, e.g.\n{STARTER}"
    )


def load_project(path: Path) -> Project:
    """Read and check composer.yml (or the composer.yml inside a directory)."""
    if path.is_dir():
        path = path / PROJECT_FILE
    if not path.is_file():
        raise ProjectError(_missing_message(path), Location(path))
    path = Path(os.path.abspath(path))
    doc = _read(path)
    problems = list(_non_text_keys(path, doc, ()))
    problems = problems or [_problem(path, doc, err) for err in _schema_errors(doc)]
    if problems:
        problems.sort(key=lambda p: (p.location.line, p.location.column))
        raise ProjectError(problems[0].message, problems[0].location, problems[0].where, problems)
    return _Builder(path, doc).project()


def _missing_message(path: Path) -> str:
    return f"{path.name} not found; create one next to your compose file, e.g.\n{STARTER}"


# --------------------------------------------------------------------------- reading & schema


def _read(path: Path) -> CommentedMap:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read {path.name}: {exc}", Location(path)) from None
    try:
        doc = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        raise ProjectError(f"not valid YAML: {exc.problem or exc.context}", where) from None
    except YAMLError as exc:
        raise ProjectError(f"not valid YAML: {exc}", Location(path)) from None
    if doc is None:
        raise ProjectError(f"{path.name} is empty; start from:\n{STARTER}", Location(path))
    if not isinstance(doc, CommentedMap):
        raise ProjectError(f"{path.name} must be a mapping of settings", Location(path, 1, 1))
    return doc


@cache
def schema() -> dict[str, Any]:
    """composer.yml's JSON schema, shipped as package data of `composer.schemas`."""
    try:
        text = resources.files("composer.schemas").joinpath(SCHEMA_FILE).read_text("utf-8")
    except ModuleNotFoundError:  # running from a source tree that is not installed
        text = (Path(__file__).parent.parent / "schemas" / SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def _jsonschema_check(subschema: Any) -> Check:
    def check(value: Any) -> bool:
        return bool(_validator().evolve(schema=subschema).is_valid(value))

    return check


@cache
def _valid() -> Check:
    """A valid project file, the usual case, is told apart without importing jsonschema."""
    return PredicateCompiler(schema(), _jsonschema_check).compile(schema())


def _schema_errors(doc: CommentedMap) -> Iterator[SchemaError]:
    if _valid()(doc):
        return
    for err in _validator().iter_errors(doc):
        yield _closest(err)


def _closest(err: SchemaError) -> SchemaError:
    """For oneOf/anyOf, the error inside the alternative whose type fits the value.

    Alternatives rejected only for their type say nothing useful ("expected a list" about a
    mapping); when every alternative fails that way, one error naming all types is clearer.
    """
    if not err.context:
        return err
    fitting = [e for e in err.context if not (e.validator == "type" and not e.relative_path)]
    from jsonschema.exceptions import ValidationError, best_match

    if fitting:
        return _closest(best_match(fitting))
    types = [t for e in err.context for t in _listed(e.validator_value)]
    return ValidationError(
        f"expected {_types(list(dict.fromkeys(types)))}, got {_shown(err.instance)}",
        path=err.path,
        instance=err.instance,
        schema=err.schema,
        validator="oneOf",
    )


def _listed(names: Any) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _problem(path: Path, doc: CommentedMap, err: SchemaError) -> Problem:
    at: DocPath = tuple(err.absolute_path)
    hint = err.schema.get("x-hint") if isinstance(err.schema, Mapping) else None
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        allowed = err.schema.get("properties", {}) if isinstance(err.schema, Mapping) else {}
        extra = [k for k in err.instance if k not in allowed]
        if extra and allowed:
            key = extra[0]
            message = f"unknown key {key!r}; expected one of: {', '.join(allowed)}"
            return Problem(message, _key_location(path, doc, (*at, key)), _where((*at, key)))
    if err.validator == "required":
        message = err.message.replace("is a required property", "is required")
    elif err.validator == "pattern" and hint:
        message = f"{err.instance!r} is not valid: {hint}"
    elif err.validator == "type":
        message = f"expected {_types(err.validator_value)}, got {_shown(err.instance)}"
    elif err.validator in ("minProperties", "minItems", "minLength"):
        message = "must not be empty"
    else:
        message = err.message
    return Problem(message, _value_location(path, doc, at), _where(at))


def _non_text_keys(path: Path, node: Any, at: DocPath) -> Iterator[Problem]:
    """`1:` or `null:` as a key reads as a number or nothing, never as a name."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not isinstance(key, str):
                text = "null" if key is None else str(key).lower() if isinstance(key, bool) else key
                yield Problem(
                    f'key {text} is not text; quote it: "{text}"',
                    _key_location(path, node, (key,)),
                    _where(at),
                )
            else:
                yield from _non_text_keys(path, value, (*at, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _non_text_keys(path, item, (*at, index))


def _types(names: Any) -> str:
    words = {"object": "a mapping", "array": "a list", "string": "a string", "null": "nothing"}
    shown = [words.get(n, f"a {n}") for n in _listed(names)]
    return " or ".join(shown) if len(shown) < 3 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)


def _where(at: DocPath) -> str:
    text = ""
    for step in at:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _value_location(path: Path, doc: Any, at: DocPath) -> Location:
    """Line and column of the value at `at`, falling back to the closest known parent."""
    line, col = 0, 0
    node = doc
    for step in at:
        pos = _child_position(node, step, value=True)
        if pos is None:
            break
        line, col = pos
        node = node[step]
    return Location(path, line + 1, col + 1)


def _key_location(path: Path, doc: Any, at: DocPath) -> Location:
    parent = _value_location(path, doc, at[:-1])
    node = doc
    for step in at[:-1]:
        node = node[step]
    pos = _child_position(node, at[-1], value=False)
    return Location(path, pos[0] + 1, pos[1] + 1) if pos else parent


def _child_position(node: Any, step: str | int, *, value: bool) -> tuple[int, int] | None:
    try:
        if isinstance(node, CommentedMap) and step in node:
            pos = node.lc.value(step) if value else node.lc.key(step)
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            pos = node.lc.item(step)
        else:
            return None
    except (KeyError, TypeError, AttributeError):  # keys merged in with <<: have no position
        return None
    return (int(pos[0]), int(pos[1])) if pos and pos[0] is not None else None


# --------------------------------------------------------------------------- building


class _Builder:
    """Turns a schema-valid document into a Project, checking what the schema cannot."""

    def __init__(self, path: Path, doc: CommentedMap) -> None:
        self.path = path
        self.root = path.parent
        self.doc = doc

    def fail(self, message: str, at: DocPath, *, key: bool = False) -> ProjectError:
        where = _key_location if key else _value_location
        return ProjectError(message, where(self.path, self.doc, at), _where(at))

    def project(self) -> Project:
        doc = self.doc
        name = str(doc["name"])
        template = str(doc.get("output", DEFAULT_OUTPUT))
        self.check_template(template, OUTPUT_FIELDS, ("output",))
        env_files = self.paths(doc.get("env_files") or [], ("env_files",), must_exist=False)
        global_inj = Injections((self.layer(doc.get("inject"), ("inject",)),))
        base_files = self.base_files()
        environments: dict[str, Environment] = {}
        for env_name in doc["environments"]:
            environments[env_name] = self.environment(
                env_name, name, template, env_files, global_inj
            )
        self.check_outputs(environments, base_files)
        return Project(
            root=self.root,
            path=self.path,
            name=name,
            base_files=base_files,
            environments=environments,
            output_template=template,
            secrets_patterns=[
                str(p) for p in doc.get("secrets_patterns", DEFAULT_SECRETS_PATTERNS)
            ],
            env_files=env_files,
            injections=global_inj,
        )

    def base_files(self) -> list[Path]:
        base = self.doc.get("base")
        if base is None:
            for candidate in COMPOSE_DEFAULT_FILES:
                if (self.root / candidate).is_file():
                    return [self.root / candidate]
            raise ProjectError(
                f"no compose.yml next to {self.path.name}; create it or set `base:` "
                "to your Compose file",
                Location(self.path, 1, 1),
            )
        if isinstance(base, str):
            return self.paths([base], ("base",), must_exist=True, single=True)
        return self.paths(base, ("base",), must_exist=True)

    def environment(
        self,
        env_name: str,
        project: str,
        template: str,
        global_env_files: list[Path],
        global_inj: Injections,
    ) -> Environment:
        at: DocPath = ("environments", env_name)
        self.check_env_name(env_name, at)
        entry: Mapping[str, Any] = self.doc["environments"][env_name] or {}
        if "overlays" in entry:
            overlays = self.paths(entry["overlays"], (*at, "overlays"), must_exist=True)
        else:
            default = self.root / "overlays" / f"{env_name}.yml"
            if not default.is_file():
                raise self.fail(
                    f"overlay overlays/{env_name}.yml does not exist; create it, or list "
                    f"this environment's overlays (`overlays: []` for none)",
                    at,
                    key=True,
                )
            overlays = [default]
        own_files = self.paths(entry.get("env_files") or [], (*at, "env_files"), must_exist=False)
        env_files = list(dict.fromkeys([*global_env_files, *own_files]))
        if "output" in entry:
            out_template, out_at = str(entry["output"]), (*at, "output")
            self.check_template(out_template, OUTPUT_FIELDS, out_at)
        else:
            out_template, out_at = template, ("output",)
        rendered = out_template.format(env=env_name, project=project)
        output = self.paths([rendered], out_at, must_exist=False, single=True)[0]
        injections = global_inj.then(
            Injections((self.layer(entry.get("inject"), (*at, "inject")),))
        )
        profiles = entry.get("profiles")
        return Environment(
            name=env_name,
            overlays=overlays,
            env_files=env_files,
            output=output,
            injections=injections,
            profiles=[str(p) for p in profiles] if profiles is not None else None,
            location=_key_location(self.path, self.doc, at),
        )

    def check_env_name(self, env_name: str, at: DocPath) -> None:
        if (
            not env_name
            or any(bad in env_name for bad in ("/", "\\", ".."))
            or (env_name.startswith("."))
        ):
            raise self.fail(
                f"environment name {env_name!r} is not allowed: names are used in file names, "
                "so they may not contain '/', '\\' or '..' nor start with '.'",
                at,
                key=True,
            )

    def check_outputs(
        self, environments: Mapping[str, Environment], base_files: list[Path]
    ) -> None:
        seen: dict[Path, str] = {}
        inputs = {self.path, *base_files}
        for env in environments.values():
            inputs.update(env.overlays)
        for env in environments.values():
            at: DocPath = ("environments", env.name)
            if env.output in inputs:
                raise self.fail(
                    f"output {env.output.name} would overwrite an input file", at, key=True
                )
            if env.output in seen:
                raise self.fail(
                    f"environments {seen[env.output]!r} and {env.name!r} would both write "
                    f"{os.path.relpath(env.output, self.root)}; give the output template {{env}}",
                    at,
                    key=True,
                )
            seen[env.output] = env.name

    def paths(
        self, values: Iterable[Any], at: DocPath, *, must_exist: bool, single: bool = False
    ) -> list[Path]:
        result = []
        for index, value in enumerate(values):
            here = at if single else (*at, index)
            candidate = Path(os.path.normpath(self.root / str(value)))
            real_root = self.root.resolve()
            resolved = candidate.resolve()
            if Path(str(value)).is_absolute() or not resolved.is_relative_to(real_root):
                raise self.fail(
                    f"{value!r} is outside the project directory {self.root}; paths in "
                    f"{self.path.name} are relative to it and must stay inside",
                    here,
                )
            if must_exist and not candidate.is_file():
                raise self.fail(f"file {value!r} does not exist", here)
            result.append(candidate)
        return result

    def check_template(self, template: str, allowed: frozenset[str], at: DocPath) -> None:
        try:
            used = template_fields(template)
        except ValueError as exc:
            raise self.fail(f"{exc}; fields are {', '.join(sorted(allowed))}", at) from None
        unknown = sorted(used - allowed)
        if unknown:
            raise self.fail(
                f"unknown template field {{{unknown[0]}}}; fields are "
                + ", ".join(f"{{{f}}}" for f in sorted(allowed)),
                at,
            )

    def layer(self, block: Mapping[str, Any] | None, at: DocPath) -> InjectionLayer:
        block = block or {}
        defaults = self.settings(block, at)
        if "container_name" in defaults and "service" not in template_fields(
            defaults["container_name"]
        ):
            raise self.fail(
                "a container_name for every service must contain {service}, "
                "or all containers would get the same name",
                (*at, "container_name"),
            )
        services = {}
        locations = {}
        for service, settings in (block.get("services") or {}).items():
            services[str(service)] = self.settings(settings or {}, (*at, "services", service))
            locations[str(service)] = _key_location(self.path, self.doc, (*at, "services", service))
        return InjectionLayer(defaults, services, _where(at), locations)

    def settings(self, block: Mapping[str, Any], at: DocPath) -> dict[str, Any]:
        settings = {k: _plain(v) for k, v in block.items() if k != "services"}
        for key in ("environment", "labels"):
            if isinstance(settings.get(key), list):
                settings[key] = dict(_key_value(item) for item in settings[key])
        if "image" in settings and "tag" in settings["image"]:
            self.check_template(settings["image"]["tag"], IMAGE_FIELDS, (*at, "image", "tag"))
        if "container_name" in settings:
            self.check_template(settings["container_name"], NAME_FIELDS, (*at, "container_name"))
        return settings


def _key_value(item: str) -> tuple[str, str | None]:
    key, sep, value = item.partition("=")
    return key, (value if sep else None)


def _plain(value: Any) -> Any:
    """Plain Python values, so injected data carries nothing of composer.yml's nodes."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)
