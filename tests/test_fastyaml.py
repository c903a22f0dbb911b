"""The fast loader (libyaml events + comments from the text) against ruamel's pure round-trip
loader: the same model, and output at least as faithful to the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.comments import normalize
from composer.fastyaml import available, load_documents
from composer.nodes import plain
from composer.yamlio import dump, new_yaml

pytestmark = pytest.mark.skipif(not available(), reason="ruamel.yaml.clib is not installed")

HERE = Path(__file__).parent
CORPUS = HERE.parent.parent / "shared" / "corpus"


def _sources() -> list[Path]:
    files = sorted((HERE / "cases").rglob("*.yml"))
    if CORPUS.is_dir():
        files += sorted(p for p in CORPUS.rglob("*.y*ml") if not p.name.startswith("expected"))
    return files


def _pure(text: str) -> list[object]:
    docs = [d for d in new_yaml().load_all(text) if d is not None]
    for doc in docs:
        if hasattr(doc, "ca"):
            normalize(doc)
    return docs


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(p.parents[2])))
def test_same_model_as_the_pure_loader(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = load_documents(text, new_yaml())
    try:
        pure = _pure(text)
    except Exception:
        assert fast is None  # what the pure loader refuses, the fast one leaves to it
        return
    if fast is None:
        pytest.skip("left to the pure loader")
    assert [plain(d) for d in fast if d is not None] == [plain(d) for d in pure]


SAMPLES = {
    "comments-everywhere": (
        "# head\n\nservices:\n  # above web\n  web:  # on web\n    image: x  # eol\n"
        "    ports: [80]  # flow\n    # between\n    env:\n      - A=1  # item\n\n"
        "      - B=2\n# tail\n"
    ),
    "block-scalars": "a: |\n  line one\n  # not a comment\n\nb: |-\n  kept\n",
    "anchors-and-merges": (
        "x: &x {image: a}\ny:\n  <<: *x\n  z: 1\nw:\n  <<: [*x, {restart: always, tty: true}]\n"
    ),
    "quotes-and-types": "a: 'single'\nb: \"double\"\nc: 0o12\nd: 1_000\nf: yes\n",
    "empty-flow": "a: {}  # empty\nb: []\nc:\n  d: {}\n",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_is_exact(name: str) -> None:
    text = SAMPLES[name]
    docs = load_documents(text, new_yaml())
    assert docs is not None
    assert [plain(d) for d in docs] == [plain(d) for d in _pure(text)]
    assert dump(docs[0]) == text


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "a:\n\tb: 1\n", "a: *nope\n", "[1, 2\n"])
def test_hard_cases_are_left_to_the_pure_loader(text: str) -> None:
    assert load_documents(text, new_yaml()) is None
