"""The direct writer and its read-back check.

Every text the writer produces must read back, through ruamel's own pure loader, as the tree it
was written from; and the read-back check (`same_model`) that guards every write must say no to
any text that does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from composer.emit import Unsupported, emit, same_model
from composer.fastyaml import available, load_documents
from composer.nodes import plain
from composer.yamlio import new_yaml

pytestmark = pytest.mark.skipif(not available(), reason="ruamel.yaml.clib is not installed")

HERE = Path(__file__).parent


def _pure_model(text: str) -> Any:
    return plain(new_yaml().load(text))


def _load(text: str) -> CommentedMap:
    docs = load_documents(text, new_yaml())
    assert docs is not None
    doc = docs[0]
    assert isinstance(doc, CommentedMap)
    return doc


def _sources() -> list[Path]:
    return sorted(p for p in (HERE / "cases").rglob("*.yml") if p.name != "case.yml")


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(HERE / "cases")))
def test_written_text_reads_back_as_the_tree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    docs = load_documents(text, new_yaml())
    if not docs or not isinstance(docs[0], CommentedMap):
        pytest.skip("not a single mapping the fast loader reads")
    doc = docs[0]
    try:
        written = emit(doc, 2, 4, 2)
    except Unsupported:
        pytest.skip("left to ruamel's dumper")
    assert _pure_model(written) == plain(doc)
    assert same_model(written, doc, new_yaml())


SOURCE = """\
services:
  web:
    image: "nginx:1.27"   # quoted
    ports:
      - 8080:80
      - "8443:443"
    environment:
      DEBUG: "true"
      WORKERS: 4
      EMPTY:
      NAME: web
    labels: {a: b}
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('DEBUG: "true"', "DEBUG: true"),  # text -> boolean
        ("WORKERS: 4", 'WORKERS: "4"'),  # number -> text
        ("WORKERS: 4", "WORKERS: 4.0"),  # int -> float
        ("EMPTY:", 'EMPTY: ""'),  # null -> empty text
        ("NAME: web", "NAME: web2"),  # another value
        ("NAME: web", "NAME: ~"),  # text -> null
        ("      - 8080:80\n", ""),  # an item less
        ("      - 8080:80\n", "      - 8080:80\n      - 9090:90\n"),  # an item more
        ("    labels: {a: b}\n", ""),  # a key less
        ("    labels: {a: b}\n", "    labels: {a: b}\n    user: root\n"),  # a key more
        ("    labels: {a: b}", "    labels: [a, b]"),  # mapping -> list
        ("      EMPTY:\n      NAME: web\n", "      NAME: web\n      EMPTY:\n"),  # key order
        ("    image:", "    &img image:"),  # an anchor
        ("      NAME: web\n", "      NAME: web\n  extra: 1\n"),  # indentation: a new level
        ("", "---\nother: 1\n"),  # a second document
    ],
)
def test_read_back_refuses_any_other_model(old: str, new: str) -> None:
    doc = _load(SOURCE)
    assert same_model(SOURCE, doc, new_yaml())
    changed = SOURCE.replace(old, new, 1) if old else SOURCE + new
    assert changed != SOURCE
    assert not same_model(changed, doc, new_yaml())


def test_read_back_refuses_unreadable_text() -> None:
    doc = _load(SOURCE)
    assert not same_model(SOURCE + "  bad: [\n", doc, new_yaml())


# --------------------------------------------------------------------------- generated trees

_TEXT = st.one_of(
    st.sampled_from(["", "x", "yes", "no", "on", "true", "False", "null", "~", "1", "0x1f",
                     "1e3", "08", "1_000", "12:30", "2024-01-01", "-", "- x", "a: b", "a #b",
                     "#x", "'q'", '"q"', "${VAR}", "$${X}", "*a", "&a", "!t", "%x", "@x",
                     "`x", "[x]", "{x}", "a,b", " lead", "trail ", "tab\tin", "é", "multi\nline",
                     "<<", "=", "?", ":"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), _TEXT)
_KEYS = st.one_of(st.sampled_from(["image", "ports", "x-a", "1", "true", "a b", "web"]),
                  st.text(alphabet="abcxyz_-.", min_size=1, max_size=6))


def _tree(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return _SCALARS
    inner = _tree(depth - 1)
    flow = st.booleans()
    return st.one_of(
        _SCALARS,
        st.builds(_commented_map, st.dictionaries(_KEYS, inner, max_size=4), flow),
        st.builds(_commented_seq, st.lists(st.one_of(
            _SCALARS,
            st.builds(_commented_map, st.dictionaries(_KEYS, inner, min_size=1, max_size=3),
                      st.just(False)),
        ), max_size=4), flow),
    )


def _commented_map(value: dict[str, Any], flow: bool = False) -> CommentedMap:
    out = CommentedMap()
    for k, v in value.items():
        out[k] = v
    if flow:
        out.fa.set_flow_style()
    return out


def _commented_seq(value: list[Any], flow: bool) -> CommentedSeq:
    out = CommentedSeq(value)
    if flow:
        out.fa.set_flow_style()
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _tree(3), min_size=1, max_size=4).map(_commented_map))
def test_generated_trees_are_written_faithfully_or_refused(doc: CommentedMap) -> None:
    try:
        written = emit(doc, 2, 4, 2)
    except Unsupported:
        return
    assert _pure_model(written) == plain(doc), written
    assert same_model(written, doc, new_yaml())


def test_block_text_moved_into_a_flow_list_is_quoted_where_flow_needs_it(tmp_path: Path) -> None:
    from composer.api import merge_files

    (tmp_path / "a.yml").write_text("services: {web: {image: x}}\nx-list: [a]\n")
    (tmp_path / "b.yml").write_text("x-list:\n  - :x\n  - b,c\n  - d #e\n  - what?\n  - plain\n")
    text = merge_files([tmp_path / "a.yml", tmp_path / "b.yml"]).text
    assert 'x-list: [a, ":x", "b,c", d, "what?", plain]' in text
    assert _pure_model(text)["x-list"] == ["a", ":x", "b,c", "d", "what?", "plain"]
