"""JSON schemas compiled into plain Python predicates.

jsonschema is exact but slow on large models, and importing it costs start-up time; most
inputs are valid. A predicate answers "valid or not" quickly for the keywords compiled here
and asks jsonschema itself (the caller's `fallback`) about any other, so it never accepts what
jsonschema rejects; jsonschema is then only needed to explain what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from typing import Any

ANNOTATIONS = {"description", "title", "default", "examples", "deprecated", "$comment", "$id",
               "$schema", "readOnly", "writeOnly"}


def node_at(schema: Any, path: tuple[str | int, ...]) -> Any:
    """The part of a schema at path, or None."""
    for key in path:
        try:
            schema = schema[key]
        except (KeyError, IndexError, TypeError):
            return None
    return schema


Check = Callable[[Any], bool]


def always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema defines it: booleans are not numbers."""
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _unique(items: list[Any]) -> bool:
    if all(type(i) is str for i in items):
        return len(set(items)) == len(items)
    return not any(
        json_equal(items[i], items[j])
        for i in range(len(items)) for j in range(i + 1, len(items))
    )


def _type_check(names: str | list[str]) -> Check:
    wanted = {names} if isinstance(names, str) else set(names)
    number = "number" in wanted
    integer = number or "integer" in wanted
    exact: dict[type, bool] = {
        str: "string" in wanted, bool: "boolean" in wanted, int: integer,
        dict: "object" in wanted, list: "array" in wanted, type(None): "null" in wanted,
    }

    def check(value: Any) -> bool:
        known = exact.get(type(value))
        if known is not None:
            return known
        if isinstance(value, float):
            return number or (integer and value.is_integer())
        for kind, ok in exact.items():  # subclasses (bool before int: dict order above)
            if isinstance(value, kind):
                return ok
        return False  # foreign types: jsonschema decides and explains

    return check


class PredicateCompiler:
    """Compiles the keywords this schema uses into plain closures; any other keyword defers to
    jsonschema for its subschema, so the predicate never accepts what jsonschema rejects."""

    def __init__(self, root: Mapping[str, Any], fallback: Callable[[Any], Check]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}
        self.fallback = fallback  # a check by jsonschema itself, for keywords not compiled here

    def ref(self, pointer: str) -> Check:
        if pointer in self.refs:
            return self.refs[pointer]
        slot: list[Check] = []
        self.refs[pointer] = lambda value: slot[0](value)  # recursive references
        target: Any = None
        if pointer == "#":
            target = self.root
        elif pointer.startswith("#/"):
            parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[2:].split("/")]
            target = node_at(self.root, tuple(parts))
        compiled = self.fallback({"$ref": pointer}) if target is None else self.compile(target)
        slot.append(compiled)
        self.refs[pointer] = compiled
        return compiled

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            return self.fallback(schema)
        if "$ref" in schema:  # draft-07: keywords next to $ref are ignored
            return self.ref(schema["$ref"])
        checks: list[Check] = []
        handled = set(ANNOTATIONS) | {"$defs", "definitions"}
        handled.update(k for k in schema if k.startswith("x-"))  # unknown keywords: ignored
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
            handled.add("type")
        if "enum" in schema:
            checks.append(self._enum(schema["enum"]))
            handled.add("enum")
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda v: json_equal(v, const))
            handled.add("const")
        if "pattern" in schema:
            checks.append(self._pattern(schema["pattern"]))
            handled.add("pattern")
        for key, op in (("minimum", float.__ge__), ("maximum", float.__le__)):
            if key in schema:
                checks.append(self._bound(op, float(schema[key])))
                handled.add(key)
        sized: tuple[tuple[str, type[Sized]], ...] = (
            ("minLength", str), ("minItems", list), ("minProperties", dict))
        for key, kind in sized:
            if key in schema and type(schema[key]) is int:
                checks.append(self._at_least(kind, schema[key]))
                handled.add(key)
        object_keys = {"properties", "patternProperties", "additionalProperties", "required"}
        if object_keys & schema.keys():
            checks.append(self._object(schema))
            handled |= object_keys
        if "items" in schema or "uniqueItems" in schema:
            checks.append(self._array(schema))
            handled |= {"items", "uniqueItems"}
        for key in ("oneOf", "anyOf", "allOf"):
            if key in schema:
                checks.append(self._combinator(key, [self.compile(s) for s in schema[key]]))
                handled.add(key)
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda v: not negated(v))
            handled.add("not")
        rest = {k: v for k, v in schema.items() if k not in handled}
        if rest:
            checks.append(self.fallback(rest))
        if not checks:
            return always
        if len(checks) == 1:
            return checks[0]
        first, *others = checks

        def all_of(value: Any) -> bool:
            if not first(value):
                return False
            return all(c(value) for c in others)

        return all_of

    @staticmethod
    def _enum(values: list[Any]) -> Check:
        if all(type(v) is str for v in values):
            allowed = frozenset(values)
            return lambda v: isinstance(v, str) and v in allowed
        return lambda v: any(json_equal(v, e) for e in values)

    @staticmethod
    def _pattern(pattern: str) -> Check:
        regex = re.compile(pattern)
        return lambda v: not isinstance(v, str) or regex.search(v) is not None

    @staticmethod
    def _bound(op: Callable[[float, float], bool], limit: float) -> Check:
        def check(value: Any) -> bool:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return True
            return op(float(value), limit)

        return check

    @staticmethod
    def _at_least(kind: type[Sized], count: int) -> Check:
        def check(value: Any) -> bool:
            return not isinstance(value, kind) or len(value) >= count

        return check

    def _object(self, schema: Mapping[str, Any]) -> Check:
        raw: Mapping[str, Any] = schema.get("properties", {})
        properties: dict[str, Check] = {}  # compiled on first use: a run pays for its keys only
        compile_ = self.compile
        patterns = [(re.compile(p), self.compile(v))
                    for p, v in schema.get("patternProperties", {}).items()]
        additional_schema = schema.get("additionalProperties", True)
        additional = self.compile(additional_schema)
        open_ended = additional is always
        required = tuple(schema.get("required", ()))

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key in required:
                if key not in value:
                    return False
            for key, item in value.items():
                if type(key) is not str:
                    return False  # jsonschema cannot match patterns on other keys
                prop = properties.get(key)
                if prop is None and key in raw:
                    prop = properties[key] = compile_(raw[key])
                matched = prop is not None
                if prop is not None and not prop(item):
                    return False
                for regex, sub in patterns:
                    if regex.search(key) is not None:
                        matched = True
                        if not sub(item):
                            return False
                if not matched and not open_ended and not additional(item):
                    return False
            return True

        return check

    def _array(self, schema: Mapping[str, Any]) -> Check:
        items = schema.get("items", True)
        unique = schema.get("uniqueItems", False) is True
        if isinstance(items, list):
            positional = [self.compile(s) for s in items]

            def each(value: list[Any]) -> bool:
                return all(c(v) for c, v in zip(positional, value, strict=False))
        else:
            item = self.compile(items)

            def each(value: list[Any]) -> bool:
                return item is always or all(item(v) for v in value)

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return True
            return each(value) and (not unique or _unique(value))

        return check

    @staticmethod
    def _combinator(kind: str, branches: list[Check]) -> Check:
        if kind == "anyOf":
            return lambda v: any(b(v) for b in branches)
        if kind == "allOf":
            return lambda v: all(b(v) for b in branches)

        def one_of(value: Any) -> bool:
            found = 0
            for branch in branches:
                if branch(value):
                    found += 1
                    if found > 1:
                        return False
            return found == 1

        return one_of


class LazyChecks(dict[str, Check]):
    """Property checks compiled on first use: a run only pays for the keys its files use."""

    def __init__(self, compiler: PredicateCompiler, schemas: Mapping[str, Any]) -> None:
        super().__init__()
        self.compiler = compiler
        self.schemas = schemas

    def get(self, key: str, default: Any = None) -> Any:
        check = super().get(key)
        if check is None:
            schema = self.schemas.get(key, _MISSING)
            if schema is _MISSING:
                return default
            check = self[key] = self.compiler.compile(schema)
        return check


_MISSING = object()
