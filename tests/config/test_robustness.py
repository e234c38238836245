"""Whatever the file holds, validation answers with problems, never a traceback."""

from __future__ import annotations

import random

import pytest

from provisioner.config import MAX_FILE_BYTES, load_config, validate_file
from provisioner.config import loader as loader_module
from provisioner.errors import ConfigError

HOSTILE = {
    "binary-junk": (b"\x00\x01\x02\xfe\xff\x00junk", "not UTF-8 text"),
    "nul-byte": (b"format_version: 1\nx: \x00\n", "binary data (NUL byte)"),
    "invalid-utf8": (b"format_version: 1\nlabel: caf\xe9\n", "not UTF-8 text (byte 0xe9"),
    "empty": (b"", "the file is empty"),
    "only-comments": (b"# nothing here\n\n", "the file is empty"),
    "null-document": (b"~\n", "the file is empty"),
    "list-at-top": (b"- a\n- b\n", "expected a mapping, got a list"),
    "scalar-at-top": (b"hello\n", "expected a mapping, got the string 'hello'"),
    "tab-indentation": (b"format_version: 1\ngroup:\n\tname: x\n", "YAML syntax error"),
    "syntax-error": (b"group: {name: [a, b\n", "YAML syntax error"),
    "two-documents": (b"format_version: 1\n---\nformat_version: 1\n", "only one YAML document"),
    "complex-key": (b"? [a, b]\n: 1\n", "a key must be a plain string"),
    "deep-flow-nesting": (b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n", "YAML syntax error"),
    "deep-block-nesting": (
        b"".join(b"  " * depth + b"k:\n" for depth in range(200)) + b"  " * 200 + b"v\n",
        "nested deeper than 64 levels",
    ),
    "python-tag": (b"x: !!python/object/apply:os.system ['true']\n", "is not supported"),
    "billion-laughs": (
        b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode()
            for i in range(8)
        ),
        "aliases (*a) are not supported",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_content_gives_problems(name: str, tmp_path) -> None:
    content, message = HOSTILE[name]
    path = tmp_path / "hubspot_schema.yaml"
    path.write_bytes(content)

    problems = validate_file(path)

    assert problems, name
    assert any(message in problem.what for problem in problems), [str(p) for p in problems]
    for problem in problems:
        assert problem.line >= 1 and problem.column >= 1
        assert str(problem).startswith(f"{path}:{problem.line}:{problem.column}: ")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems == problems


def test_syntax_error_is_placed_where_yaml_found_it(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("format_version: 1\ngroup:\n  name: x\n label: y\n")

    (problem,) = validate_file(path)

    assert (problem.line, problem.where) == (4, "file")
    assert "YAML syntax error" in problem.what


def test_file_over_the_size_limit_is_refused_unread(tmp_path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"x: " + b"a" * (MAX_FILE_BYTES + 10))

    (problem,) = validate_file(path)

    assert "a config file may be at most 5 MB" in problem.what


def test_big_but_allowed_file_loads_every_property(tmp_path) -> None:
    # How long it takes is measured in benchmarks, never asserted in a test.
    lines = ["format_version: 1", "group: {name: accord, label: Accord}", "properties:"]
    for index in range(3000):
        lines += [
            f"  - name: prop_{index}",
            f"    label: Property {index}",
            "    type: string",
            "    field_type: text",
            "    rules: {max_length: 200}",
        ]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")

    config = load_config(path)

    assert len(config.desired.properties) == 3000
    assert len(config.desired.rules) == 3000


def test_missing_file(tmp_path) -> None:
    (problem,) = validate_file(tmp_path / "absent.yaml")
    assert (problem.line, problem.column, problem.where, problem.what) == (1, 1, "file", "no such file")


def test_directory_given_as_file(tmp_path) -> None:
    (problem,) = validate_file(tmp_path)
    assert problem.what == "is a directory, not a config file"


def test_unreadable_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("format_version: 1\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Tests may run as root, where chmod does not stop reading.
    monkeypatch.setattr(loader_module, "open", refuse, raising=False)
    (problem,) = validate_file(path)
    assert problem.what == "permission denied: cannot read the file"


MUTATIONS = [
    "null",
    "[]",
    "{}",
    "- x",
    "&a x",
    "*a",
    "'",
    ":",
    "-1",
    ".nan",
    "yes",
    "\t",
    "[[",
    "hs_x",
    "select",
]


def test_mutated_shipped_file_never_raises_anything_but_config_error(tmp_path) -> None:
    from tests.config.test_load_config import SHIPPED

    rng = random.Random(20261127)
    base = SHIPPED.read_text().splitlines()
    outcomes = {"valid": 0, "invalid": 0}
    for index in range(200):
        lines = list(base)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(lines))
            choice = rng.random()
            if choice < 0.3:
                del lines[position]
            elif choice < 0.7 and ":" in lines[position]:
                line = lines[position]
                lines[position] = line[: line.index(":") + 1] + " " + rng.choice(MUTATIONS)
            else:
                lines.insert(position, lines[rng.randrange(len(lines))])
        path = tmp_path / f"mutant{index}.yaml"
        path.write_text("\n".join(lines) + "\n")
        problems = validate_file(path)
        try:
            load_config(path)
        except ConfigError as error:
            assert error.problems == problems
            outcomes["invalid"] += 1
        else:
            assert problems == []
            outcomes["valid"] += 1
    assert outcomes["invalid"] > 100
