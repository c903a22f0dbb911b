"""Env files read like Docker Compose reads `.env` and `--env-file`, checked against the binary."""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from composer.envfile import load_env_files, project_environment
from composer.errors import InputError, InterpolationError, Location

# --- the reference binary (fixture `compose_bin` in conftest.py) -------------------------


BASE_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNSET = "__composer_unset__"


def _binary_environment(
    binary: Path,
    project: Path,
    names: Sequence[str],
    environ: Mapping[str, str],
    env_files: Sequence[Path] | None = None,
) -> dict[str, str] | None:
    """What the binary interpolates `${NAME}` to, for each name it has a value for."""
    lines = ["services:", "  probe:", "    image: busybox", "    environment:"]
    lines += [f'      {name}: "${{{name}-{_UNSET}}}"' for name in names]
    (project / "compose.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args: list[str] = []
    for path in env_files or ():
        args += ["--env-file", str(path)]
    done = subprocess.run(
        [str(binary), "-p", "t", *args, "config", "--format", "json"],
        cwd=project,
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return None
    seen = json.loads(done.stdout)["services"]["probe"]["environment"]
    return {n: seen[n].replace("$$", "$") for n in names if seen[n] != _UNSET}


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# --- parsing table ----------------------------------------------------------------------

CASES: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    # (id, file content, process environment, what the file defines)
    ("basic", "A=1\nB=two words\n", {}, {"A": "1", "B": "two words"}),
    ("no-final-newline", "A=1\nB=2", {}, {"A": "1", "B": "2"}),
    ("export-and-colon", "export A=1\nexport   B = 2\nC: 3\n", {}, {"A": "1", "B": "2", "C": "3"}),
    ("export-alone", "export\nA=1\n", {}, {"A": "1"}),
    ("spaces", "  A  =  x y  \n\tB=\t2\t\n", {}, {"A": "x y", "B": "2"}),
    (
        "comments",
        "# c\n  # indented\nA=1 # trailing\nB=1# kept\nC=1\t#tab kept\nD='q' # c\nE=\"q\"#c\n",
        {},
        {"A": "1", "B": "1# kept", "C": "1\t#tab kept", "D": "q", "E": "q"},
    ),
    ("empty", "A=\nB=\"\"\nC=''\nD=   \n", {}, {"A": "", "B": "", "C": "", "D": ""}),
    (
        "equals-in-value",
        "A==x\nB=a=b\nC=http://h:80/p\n",
        {},
        {"A": "=x", "B": "a=b", "C": "http://h:80/p"},
    ),
    ("repeated-key", "A=1\nA=2\n", {}, {"A": "2"}),
    ("crlf", 'A=1\r\nB="2"\r\nC\r\n', {"C": "os"}, {"A": "1", "B": "2", "C": "os"}),
    ("bom", "\ufeffA=1\n", {}, {"A": "1"}),
    (
        "double-quote-escapes",
        'A="x\\"y\\\\z\\n\\t\\$A\\c\\a"\n',
        {},
        {"A": 'x"y\\z\n\t$A\\c\a'},
    ),
    (
        "octal-escapes",
        'A="\\0101\\012\\08\\0\\0400\\0351"\n',
        {},
        {"A": "A\\12\\8\\\\400\u00e9"},
    ),
    ("single-quotes", "A='x\\'y\\\\z\\n $B'\n", {}, {"A": "x'y\\\\z\\n $B"}),
    ("unquoted-backslashes", "A=x\\ny\\\n", {}, {"A": "x\\ny\\"}),
    (
        "multi-line",
        "A=\"multi\nline\"\nB='two\nlines'\n",
        {},
        {"A": "multi\nline", "B": "two\nlines"},
    ),
    ("after-closing-quote", 'A="x\ny" B=2\nC="z" junk\n', {}, {"A": "x\ny", "B": "2", "C": "z"}),
    (
        "expansion",
        'A=1\nB=${A}x\nC=$A\nD=\'$A\'\nE="$A"\nF=$$A\nG=\\$A\nH="\\$A"\n',
        {},
        {"A": "1", "B": "1x", "C": "1", "D": "$A", "E": "1", "F": "$A", "G": "\\1", "H": "$A"},
    ),
    (
        "expansion-forms",
        "A=${U:-def}\nB=${U-}\nC=${A:+alt}\nD=${U:-${A}}\n",
        {},
        {"A": "def", "B": "", "C": "alt", "D": "def"},
    ),
    ("forward-reference", "A=${B:-x}\nB=2\nC=$B\n", {}, {"A": "x", "B": "2", "C": "2"}),
    ("os-wins-in-expansion", "A=file\nB=${A}\n", {"A": "os"}, {"A": "file", "B": "os"}),
    ("inherited", "P\nQ\nA=1\nexport A\nexport P\n", {"P": "os"}, {"P": "os", "A": "1"}),
    ("unicode-keys", "\u00c9T\u00c9=1\nA=\u00e9\n", {}, {"\u00c9T\u00c9": "1", "A": "\u00e9"}),
    (
        "odd-keys",
        "A.B=1\nA-B=2\nA[0]=3\n1A=4\nZ=5\n",
        {},
        {"A.B": "1", "A-B": "2", "A[0]": "3", "1A": "4", "Z": "5"},
    ),
]


@pytest.mark.parametrize(
    ("content", "environ", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_parsing(
    tmp_path: Path, content: str, environ: dict[str, str], expected: dict[str, str]
) -> None:
    path = _write(tmp_path / ".env", content)
    assert load_env_files([path], environ) == expected


ERRORS = [
    ("A B=1\n", "cannot contain a space", 1),
    ("A=1\n\n\n  B C=2\n", "cannot contain a space", 4),
    ("A$=1\n", 'unexpected character "$" in a variable name', 1),
    ("A='it''s'\n", 'unexpected character "\'"', 1),
    ('A=1\n\n\nB="x\n\n', 'unterminated quoted value: no closing "', 4),
    ("A=1\nB=${\n", 'unterminated "${"', 2),
    ("A=${B\n", 'missing "}" to close "${B"', 1),
    ("A=1\n# c\nB=${U:?set U first}\n", "required variable U is missing a value: set U first", 3),
    ('A=1\nB="${U:?in quotes}"\n', "required variable U is missing a value: in quotes", 2),
    ("A=1\nexport   ", '"export" is not followed by a variable name', 2),
]


@pytest.mark.parametrize(("content", "fragment", "line"), ERRORS)
def test_errors_point_at_the_line(tmp_path: Path, content: str, fragment: str, line: int) -> None:
    path = _write(tmp_path / "app.env", content)
    with pytest.raises(InputError) as info:
        load_env_files([path], {})
    assert fragment in info.value.message
    assert info.value.location == Location(path, line)


def test_interpolation_errors_keep_their_type(tmp_path: Path) -> None:
    path = _write(tmp_path / ".env", "A=${U:?needed}\n")
    with pytest.raises(InterpolationError):
        load_env_files([path], {})


def test_not_utf8_is_refused_with_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / ".env", b"A=1\nB=caf\xe9\n")
    with pytest.raises(InputError) as info:
        load_env_files([path], {})
    assert "UTF-8" in info.value.message
    assert info.value.location == Location(path, 2)


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(InputError) as info:
        project_environment(tmp_path, [missing], {})
    assert info.value.location.path == missing
    assert "not found" in info.value.message


def test_explicit_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.env").mkdir()
    with pytest.raises(InputError) as info:
        project_environment(tmp_path, [tmp_path / "dir.env"], {})
    assert "directory" in info.value.message


def test_unreadable_path(tmp_path: Path) -> None:
    _write(tmp_path / "plain", "not a directory")
    path = tmp_path / "plain" / "x.env"
    with pytest.raises(InputError) as info:
        load_env_files([path], {})
    assert info.value.location.path == path
    assert "cannot read" in info.value.message


# --- layering ----------------------------------------------------------------------------


def test_later_files_override_and_see_earlier_ones(tmp_path: Path) -> None:
    one = _write(tmp_path / "one.env", "A=one\nB=${A}-b\n")
    two = _write(tmp_path / "two.env", "A=two\nC=${A}/${B}\nB\n")
    assert load_env_files([one, two], {}) == {"A": "two", "B": "one-b", "C": "two/one-b"}


def test_process_environment_wins(tmp_path: Path) -> None:
    _write(tmp_path / ".env", "A=file\nB=file\n")
    assert project_environment(tmp_path, None, {"A": "os"}) == {"A": "os", "B": "file"}


def test_dot_env_is_automatic_only_without_explicit_files(tmp_path: Path) -> None:
    _write(tmp_path / ".env", "A=dot\n")
    other = _write(tmp_path / "other.env", "B=other\n")
    assert project_environment(tmp_path, None, {}) == {"A": "dot"}
    assert project_environment(tmp_path, [other], {}) == {"B": "other"}
    assert project_environment(tmp_path, [], {}) == {}


def test_no_dot_env(tmp_path: Path) -> None:
    assert project_environment(tmp_path, None, {"X": "1"}) == {"X": "1"}


def test_dot_env_directory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    assert project_environment(tmp_path, None, {}) == {}


@pytest.mark.parametrize(
    ("flag", "loaded"), [("1", False), ("true", False), ("True", False), ("0", True), ("F", True)]
)
def test_disable_env_file(tmp_path: Path, flag: str, loaded: bool) -> None:
    _write(tmp_path / ".env", "A=dot\n")
    result = project_environment(tmp_path, None, {"COMPOSE_DISABLE_ENV_FILE": flag})
    assert ("A" in result) is loaded


def test_disable_env_file_must_be_boolean(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        project_environment(tmp_path, None, {"COMPOSE_DISABLE_ENV_FILE": "maybe"})
    assert "COMPOSE_DISABLE_ENV_FILE" in info.value.message


# --- differential: the real binary --------------------------------------------------------


def _ours(project: Path, environ: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    full = project_environment(project, None, environ)
    return {n: full[n] for n in names if n in full}


@pytest.mark.parametrize(
    ("content", "environ"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_parsing_matches_the_binary(
    compose_bin: Path, tmp_path: Path, content: str, environ: dict[str, str]
) -> None:
    _write(tmp_path / ".env", content)
    env = {**BASE_ENV, **environ}
    ours = project_environment(tmp_path, None, env)
    names = sorted({n for n in ours if _NAME.fullmatch(n)} | {"A", "B", "C", "Q", "U"})
    assert _binary_environment(compose_bin, tmp_path, names, env) == _ours(tmp_path, env, names)


@pytest.mark.parametrize(("content", "fragment", "line"), ERRORS)
def test_errors_match_the_binary(
    compose_bin: Path, tmp_path: Path, content: str, fragment: str, line: int
) -> None:
    _write(tmp_path / ".env", content)
    with pytest.raises(InputError):
        project_environment(tmp_path, None, BASE_ENV)
    assert _binary_environment(compose_bin, tmp_path, ["A"], BASE_ENV) is None


def test_env_file_order_matches_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    one = _write(tmp_path / "one.env", "A=one\nB=${A}-b\nD=${OS}\n")
    two = _write(tmp_path / "two.env", "A=two\nC=${A}/${B}\nB\nOS=file\n")
    _write(tmp_path / ".env", "A=ignored\nE=ignored\n")
    env = {**BASE_ENV, "OS": "os"}
    names = ["A", "B", "C", "D", "E", "OS"]
    ours = project_environment(tmp_path, [one, two], env)
    theirs = _binary_environment(compose_bin, tmp_path, names, env, [one, two])
    assert theirs == {n: ours[n] for n in names if n in ours}


@pytest.mark.parametrize("flag", ["1", "true", "0", "false", "maybe"])
def test_disable_flag_matches_the_binary(compose_bin: Path, tmp_path: Path, flag: str) -> None:
    _write(tmp_path / ".env", "A=dot\n")
    env = {**BASE_ENV, "COMPOSE_DISABLE_ENV_FILE": flag}
    theirs = _binary_environment(compose_bin, tmp_path, ["A"], env)
    try:
        ours: dict[str, str] | None = _ours(tmp_path, env, ["A"])
    except InputError:
        ours = None
    assert theirs == ours


def test_missing_env_file_matches_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    assert _binary_environment(compose_bin, tmp_path, ["A"], BASE_ENV, [missing]) is None
    with pytest.raises(InputError):
        project_environment(tmp_path, [missing], BASE_ENV)


def test_random_files_match_the_binary(compose_bin: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    pieces = [
        "A", "B", "C", "O", "=", "=", ":", "\n", "\n", " ", "\t", "#", " #", "'", '"', "\\",
        "$", "${", "}", "x", "export ", "-", "?", "\\n", "\\0101", "\r", "$A", "${B:-d}", ".",
    ]  # fmt: skip
    env = {**BASE_ENV, "O": "os"}
    names = ["A", "B", "C", "O", "export"]
    outcomes = set()
    for index in range(40):
        project = tmp_path / f"p{index}"
        project.mkdir()
        content = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        _write(project / ".env", content)
        try:
            ours: dict[str, str] | None = _ours(project, env, names)
        except InputError:
            ours = None
        outcomes.add(ours is None)
        assert _binary_environment(compose_bin, project, names, env) == ours, repr(content)
    assert outcomes == {True, False}, "the sample should exercise both errors and values"
