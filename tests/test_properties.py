"""Properties of the merge over generated stacks: services with random fields in random forms.

(a) an empty overlay changes nothing; (b) the merged file keeps every line of the base, apart
from the header and `name:`; (c) merging the output again gives the same bytes; (d) Docker
Compose v2 reads the merged file as it reads the base and a random overlay; (e) a merge never
changes the parsed inputs it was given. Runs are deterministic (derandomize).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Oracle, canonical, model_diff

from composer.api import merge_files
from composer.errors import ComposerError
from composer.nodes import plain
from composer.pipeline import FileCache
from composer.render import is_generated
from composer.yamlio import dump, load_text

PROJECT = "props"
EXAMPLES = 200
ORACLE_EXAMPLES = 30
COMMON = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_folders = itertools.count()

# --- generated stacks -------------------------------------------------------------------------

Lines = list[str]
Field = Callable[[st.DrawFn], Lines]


def q(text: str) -> str:
    return '"' + text + '"'


def block_list(key: str, items: list[str]) -> Lines:
    return [f"{key}:", *(f"  - {item}" for item in items)]


def block_map(key: str, items: list[tuple[str, str]]) -> Lines:
    return [f"{key}:", *(f"  {k}: {v}" if v else f"  {k}:" for k, v in items)]


def subset(draw: st.DrawFn, pool: list[Any], min_size: int = 1) -> list[Any]:
    picked = draw(st.sets(st.sampled_from(range(len(pool))), min_size=min_size))
    return [pool[i] for i in sorted(picked)]


def flow_or_block(draw: st.DrawFn, key: str, items: list[str]) -> Lines:
    if draw(st.booleans()):
        return [f"{key}: [{', '.join(items)}]"]
    return block_list(key, items)


ENV_KEYS = ["LOG_LEVEL", "WORKERS", "REGION", "FEATURE_X", "DEBUG"]
ENV_VALUES = ["info", q("4"), "eu-west-1", q("true"), q("a b"), "${REGION:-eu}", ""]


def key_values(draw: st.DrawFn, key: str, keys: list[str]) -> Lines:
    entries = [(k, draw(st.sampled_from(ENV_VALUES))) for k in subset(draw, keys)]
    form = draw(st.sampled_from(["map", "list", "quoted-list"]))
    if form == "map":
        return block_map(key, entries)
    texts = [f"{k}={v.strip(chr(34))}" if v else k for k, v in entries]
    if form == "quoted-list":
        texts = [q(t) for t in texts]
    return block_list(key, texts)


def environment(draw: st.DrawFn) -> Lines:
    return key_values(draw, "environment", ENV_KEYS)


def labels(draw: st.DrawFn) -> Lines:
    return key_values(draw, "labels", ["com.example.team", "com.example.tier", "traefik.enable"])


PORTS = [q("8080:80"), q("127.0.0.1:8443:443"), q("53:53/udp"), q("9000"), q("3000-3001:3000-3001")]
LONG_PORTS = [
    ["target: 80", 'published: "8080"'],
    ["target: 443", 'published: "8443"', "host_ip: 127.0.0.1", "mode: host"],
    ["target: 7000", "protocol: tcp"],
]


def long_items(key: str, entries: list[list[str]]) -> Lines:
    lines = [f"{key}:"]
    for entry in entries:
        lines.append(f"  - {entry[0]}")
        lines.extend(f"    {part}" for part in entry[1:])
    return lines


def ports(draw: st.DrawFn) -> Lines:
    if draw(st.booleans()):
        return flow_or_block(draw, "ports", subset(draw, PORTS))
    return long_items("ports", subset(draw, LONG_PORTS))


VOLUMES = [q("./data:/data"), "cache:/var/cache", q("./conf:/etc/app:ro"), "/scratch"]
LONG_VOLUMES = [
    ["type: bind", "source: ./data", "target: /data"],
    ["type: volume", "source: cache", "target: /var/cache"],
]


def volumes(draw: st.DrawFn) -> Lines:
    if draw(st.booleans()):
        return block_list("volumes", subset(draw, VOLUMES))
    return long_items("volumes", subset(draw, LONG_VOLUMES))


def networks(draw: st.DrawFn) -> Lines:
    names = subset(draw, ["front", "back"])
    if draw(st.booleans()):
        return flow_or_block(draw, "networks", names)
    lines = ["networks:"]
    for name in names:
        if draw(st.booleans()):
            lines += [f"  {name}:", f"    aliases: [{name}-alias]"]
        else:
            lines.append(f"  {name}:")
    return lines


def depends_on(draw: st.DrawFn) -> Lines:
    if draw(st.booleans()):
        return flow_or_block(draw, "depends_on", ["db"])
    condition = draw(st.sampled_from(["service_started", "service_healthy"]))
    return ["depends_on:", "  db:", f"    condition: {condition}"]


def extra_hosts(draw: st.DrawFn) -> Lines:
    hosts = subset(draw, [("db.local", "10.0.0.5"), ("cache.local", "10.0.0.6")])
    form = draw(st.sampled_from(["map", "equals", "colon"]))
    if form == "map":
        return block_map("extra_hosts", hosts)
    sep = "=" if form == "equals" else ":"
    return block_list("extra_hosts", [q(f"{h}{sep}{ip}") for h, ip in hosts])


def dns(draw: st.DrawFn) -> Lines:
    if draw(st.booleans()):
        return ["dns: 1.1.1.1"]
    return flow_or_block(draw, "dns", subset(draw, ["1.1.1.1", "8.8.8.8"]))


def command(draw: st.DrawFn) -> Lines:
    key = draw(st.sampled_from(["command", "entrypoint"]))
    form = draw(st.sampled_from(["string", "flow", "block"]))
    words = draw(st.sampled_from([["serve", "--port", "80"], ["run", "--workers", "2"]]))
    if form == "string":
        return [f"{key}: {' '.join(words)}"]
    if form == "flow":
        return [f"{key}: [{', '.join(q(w) for w in words)}]"]
    return block_list(key, [q(w) for w in words])


def healthcheck(draw: st.DrawFn) -> Lines:
    test = draw(st.sampled_from(['["CMD", "true"]', "curl -f http://localhost || exit 1"]))
    interval = draw(st.sampled_from(["10s", "30s"]))
    return ["healthcheck:", f"  test: {test}", f"  interval: {interval}"]


def logging(draw: st.DrawFn) -> Lines:
    driver = draw(st.sampled_from(["json-file", "local"]))
    size = draw(st.sampled_from(["10m", "50m"]))
    return ["logging:", f"  driver: {driver}", "  options:", f"    max-size: {size}"]


def deploy(draw: st.DrawFn) -> Lines:
    replicas = draw(st.integers(min_value=1, max_value=3))
    memory = draw(st.sampled_from(["256M", "1G"]))
    return [
        "deploy:",
        f"  replicas: {replicas}",
        "  resources:",
        "    limits:",
        f"      memory: {memory}",
    ]


def env_file(draw: st.DrawFn) -> Lines:
    form = draw(st.sampled_from(["string", "list", "long"]))
    if form == "string":
        return ["env_file: a.env"]
    if form == "list":
        return block_list("env_file", subset(draw, ["a.env", "b.env"]))
    return long_items("env_file", [["path: b.env", "required: false"]])


def ulimits(draw: st.DrawFn) -> Lines:
    if draw(st.booleans()):
        return ["ulimits:", "  nofile: 1024"]
    return ["ulimits:", "  nofile:", "    soft: 1024", "    hard: 2048", "  nproc: 512"]


def tmpfs(draw: st.DrawFn) -> Lines:
    if draw(st.booleans()):
        return ["tmpfs: /run"]
    return block_list("tmpfs", subset(draw, ["/run", "/tmp:size=64m"]))


def small_lists(draw: st.DrawFn) -> Lines:
    key = draw(st.sampled_from(["cap_add", "expose", "security_opt"]))
    pool = {
        "cap_add": ["NET_ADMIN", "SYS_PTRACE"],
        "expose": [q("9000"), "9001"],
        "security_opt": ["no-new-privileges:true", "seccomp:unconfined"],
    }[key]
    return flow_or_block(draw, key, subset(draw, pool))


def scalars(draw: st.DrawFn) -> Lines:
    key, values = draw(
        st.sampled_from(
            [
                ("restart", ["always", "unless-stopped", q("no")]),
                ("stop_grace_period", ["10s", "1m"]),
                ("working_dir", ["/srv", "/app"]),
                ("x-owner", ["team-a", "team-b"]),
            ]
        )
    )
    return [f"{key}: {draw(st.sampled_from(values))}"]


FIELDS: list[Field] = [
    environment,
    labels,
    ports,
    volumes,
    networks,
    depends_on,
    extra_hosts,
    dns,
    command,
    healthcheck,
    logging,
    deploy,
    env_file,
    ulimits,
    tmpfs,
    small_lists,
    scalars,
]


def first_keys(lines: Lines) -> str:
    return lines[0].split(":", 1)[0]


Plan = dict[str, list[Field]]  # the fields each service of the base has


def fields_for(draw: st.DrawFn, name: str, pool: list[Field], least: int, most: int) -> list[Field]:
    least = min(least, len(pool))
    strategy = st.lists(st.sampled_from(pool), min_size=least, max_size=most, unique=True)
    chosen = draw(strategy) if pool else []
    return [f for f in chosen if f is not depends_on or name != "db"]


def service_body(draw: st.DrawFn, name: str, fields: list[Field], *, image: bool) -> Lines:
    """One service; every field drawn in a random form of its own."""
    lines: Lines = []
    if image:
        tag = draw(st.sampled_from(["1.0", "1.1"]))
        comment = "  # pinned" if draw(st.booleans()) else ""
        lines.append(f"image: shop/{name}:{tag}{comment}")
    seen = {"image"} if image else set()
    for field_fn in fields:
        field_lines = field_fn(draw)
        if first_keys(field_lines) in seen:
            continue  # command and entrypoint, or two scalars, drew the same key
        seen.add(first_keys(field_lines))
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            lines.append(f"# about {first_keys(field_lines)}")
        lines.extend(field_lines)
    return lines


def section(name: str, body: Lines, heading: str | None) -> Lines:
    out = [f"  # {heading}"] if heading else []
    return [*out, f"  {name}:", *(f"    {line}" for line in body)]


@st.composite
def plan(draw: st.DrawFn) -> Plan:
    others = st.lists(st.sampled_from(["api", "web", "worker"]), min_size=1, unique=True)
    return {name: fields_for(draw, name, FIELDS, 3, 8) for name in ["db", *draw(others)]}


@st.composite
def base_stack(draw: st.DrawFn, services: Plan | None = None) -> str:
    services = services if services is not None else draw(plan())
    lines = ["# a generated stack", "services:"]
    for name, fields in services.items():
        heading = f"the {name} service" if draw(st.booleans()) else None
        lines += section(name, service_body(draw, name, fields, image=True), heading)
    if draw(st.booleans()):
        lines += ["", "x-shop:", "  team: platform", "  tags: [a, b]"]
    lines += ["", "networks:", "  front: {}", "  back: {}", "volumes:", "  cache: {}"]
    return "\n".join(lines) + "\n"


@st.composite
def overlay(draw: st.DrawFn, services: Plan) -> str:
    """Mostly the fields the base already has (in other forms), some new ones, a new service."""
    lines = ["services:"]
    names = draw(st.lists(st.sampled_from([*services, "cron"]), min_size=1, unique=True))
    for name in names:
        fields = fields_for(draw, name, services.get(name, []), 2, 8)
        fields += fields_for(draw, name, FIELDS, 0, 2)
        body = service_body(draw, name, list(dict.fromkeys(fields)), image=name == "cron")
        lines += section(name, body or ["restart: always"], None)
    if draw(st.booleans()):
        lines += ["networks:", "  back:", "    internal: true"]
    return "\n".join(lines) + "\n"


@st.composite
def stack_pair(draw: st.DrawFn) -> tuple[str, str]:
    services = draw(plan())
    return draw(base_stack(services)), draw(overlay(services))


EMPTY_OVERLAYS = st.sampled_from(["", "{}\n", "services: {}\n", "services:\n", "---\n"])


@dataclass
class Stack:
    folder: Path
    base: Path
    overlay: Path

    @classmethod
    def write(cls, factory: pytest.TempPathFactory, base: str, over: str) -> Stack:
        folder = factory.mktemp(f"stack{next(_folders)}", numbered=False)
        (folder / "a.env").write_text("A=1\n", encoding="utf-8")
        (folder / "b.env").write_text("B=2\n", encoding="utf-8")
        base_path = folder / "compose.yml"
        base_path.write_text(base, encoding="utf-8")
        over_path = folder / "overlay.yml"
        over_path.write_text(over, encoding="utf-8")
        return cls(folder, base_path, over_path)

    def merge(
        self, *files: Path, output: Path | None = None, cache: FileCache | None = None
    ) -> Any:
        return merge_files(
            list(files or (self.base, self.overlay)),
            output=output or self.folder / "merged.yml",
            project_name=PROJECT,
            environ={},
            cache=cache or FileCache(),
        )


def without_header(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and is_generated(lines[0]):
        lines.pop(0)
    return "".join(lines)


def body_lines(text: str) -> list[str]:
    """The lines after composer's header, without the `name:` line it adds."""
    lines = text.splitlines()
    while lines and is_generated(lines[0]):
        lines.pop(0)
    return [line for line in lines if not line.startswith("name: ")]


# --- (a), (b), (c): an empty overlay -----------------------------------------------------------


@settings(COMMON, max_examples=EXAMPLES)
@given(base=base_stack(), over=EMPTY_OVERLAYS)
def test_empty_overlay_changes_nothing(
    base: str, over: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = Stack.write(tmp_path_factory, base, over)
    result = stack.merge()
    original = load_text(base, stack.base).documents[0]
    # (a) the model is the base's
    assert plain(result.merged.document) == plain(original)
    # (b) and so is the text, line for line
    assert body_lines(result.text) == base.splitlines()
    # (c) merging the output again over an empty overlay writes the same bytes
    output = stack.folder / "merged.yml"
    output.write_text(result.text, encoding="utf-8")
    again = stack.merge(output, stack.overlay, output=output).text
    assert without_header(again) == without_header(result.text)


# --- (d): Compose agrees --------------------------------------------------------------------------


@settings(COMMON, max_examples=ORACLE_EXAMPLES)
@given(pair=stack_pair())
def test_compose_reads_the_merged_file_as_the_pair(
    pair: tuple[str, str], oracle: Oracle, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base, over = pair
    stack = Stack.write(tmp_path_factory, base, over)
    original = oracle.run_config(
        ["compose.yml", "overlay.yml"], cwd=stack.folder, project_name=PROJECT
    )
    try:
        text = stack.merge().text
    except ComposerError as error:
        assert original.rc != 0, f"composer refuses what Compose accepts: {error}\n{over}"
        return
    assert original.rc == 0, f"composer accepts what Compose refuses:\n{original.describe()}"
    (stack.folder / "merged.yml").write_text(text, encoding="utf-8")
    merged = oracle.run_config(["merged.yml"], cwd=stack.folder, project_name=PROJECT)
    assert merged.rc == 0, f"{merged.describe()}\n--- merged file\n{text}"
    places = {str(stack.folder): "@STACK@"}
    got = canonical(merged.model or {}, replacements=places)
    want = canonical(original.model or {}, replacements=places)
    assert got == want, "\n".join(model_diff(got, want)) + f"\n--- merged file\n{text}"


# --- (e): inputs are never changed ----------------------------------------------------------------


@settings(COMMON, max_examples=EXAMPLES)
@given(pair=stack_pair())
def test_merge_never_changes_its_inputs(
    pair: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    base, over = pair
    stack = Stack.write(tmp_path_factory, base, over)
    cache = FileCache()
    loaded = [cache.load(stack.base), cache.load(stack.overlay)]
    before = [(dump(doc), plain(doc)) for file in loaded for doc in file.documents]
    try:
        first = stack.merge(cache=cache).text
    except ComposerError:
        first = None
    after = [(dump(doc), plain(doc)) for file in loaded for doc in file.documents]
    assert after == before
    if first is not None:  # the shared parses give the same result a second time
        assert stack.merge(cache=cache).text == first


KEYS = {
    "environment",
    "labels",
    "ports",
    "volumes",
    "networks",
    "depends_on",
    "extra_hosts",
    "dns",
    "command",
    "entrypoint",
    "healthcheck",
    "logging",
    "deploy",
    "env_file",
    "ulimits",
    "tmpfs",
    "cap_add",
    "expose",
    "security_opt",
    "restart",
    "x-owner",
    "x-shop",
}


def test_generated_stacks_are_varied() -> None:
    """The generator reaches every field, key=value lists and long syntax: no dead strategy."""
    seen: set[str] = set()

    @settings(COMMON, max_examples=100)
    @given(base=base_stack())
    def collect(base: str) -> None:
        for line in base.splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith(("#", "-")):
                seen.add(stripped.split(":", 1)[0])
            if stripped.startswith("- ") and "=" in stripped:
                seen.add("key=value list")
            if stripped.startswith("- target:"):
                seen.add("long syntax")

    collect()
    missing = (KEYS | {"key=value list", "long syntax"}) - seen
    assert not missing, sorted(missing)
