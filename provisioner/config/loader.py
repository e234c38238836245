"""Read a config file into plain data, keeping where every key and value sits in the file.

PyYAML's own loaders lose the marks, accept duplicate keys silently and expand aliases (the
"billion laughs" attack), so the tree is built here from the parser's events: iteratively (no
recursion limit to hit), with aliases, anchors and custom tags refused, and every problem
collected rather than stopping at the first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events
from yaml.nodes import ScalarNode

from provisioner.errors import Problem

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64

Path = tuple[Any, ...]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()


def format_path(path: Path) -> str:
    """``("properties", 0, "rules")`` -> ``properties[0].rules``; the root is ``top level``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "top level"


@dataclass
class Document:
    """The parsed file: plain data plus the 1-based (line, column) of each value and key."""

    file: str
    data: Any = None
    raw: bytes = b""
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def value_at(self, path: Path) -> tuple[int, int]:
        """Where the value at ``path`` starts (or the nearest enclosing value that exists)."""
        path = tuple(path)
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), (1, 1))

    def key_at(self, path: Path) -> tuple[int, int]:
        """Where the key naming ``path`` sits; the value's place for list items."""
        path = tuple(path)
        if path in self.key_marks:
            return self.key_marks[path]
        return self.value_at(path)

    def problem(self, path: Path, what: str, *, at_key: bool = False) -> Problem:
        line, column = self.key_at(path) if at_key else self.value_at(path)
        return Problem(self.file, line, column, format_path(path), what)


def read_document(path: str | os.PathLike) -> tuple[Document, list[Problem]]:
    """Read and parse ``path``. Problems that stop parsing leave ``Document.data`` as None."""
    name = os.fspath(path)
    doc = Document(file=name)

    def fail(what: str, line: int = 1, column: int = 1) -> tuple[Document, list[Problem]]:
        return doc, [Problem(name, line, column, "file", what)]

    try:
        if os.path.isdir(name):
            return fail("is a directory, not a config file")
        size = os.path.getsize(name)
        if size > MAX_FILE_BYTES:
            return fail(
                f"file is {size / 1024 / 1024:.1f} MB; a config file may be at most "
                f"{MAX_FILE_BYTES // 1024 // 1024} MB"
            )
        with open(name, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return fail("no such file")
    except PermissionError:
        return fail("permission denied: cannot read the file")
    except OSError as error:
        return fail(f"cannot read the file: {error.strerror or error}")
    if len(raw) > MAX_FILE_BYTES:
        return fail(f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    doc.raw = raw
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        return fail(f"not UTF-8 text (byte 0x{raw[error.start]:02x} cannot be decoded)", line, column)
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        return fail(
            "binary data (NUL byte): not a YAML text file", line, offset - text.rfind("\n", 0, offset)
        )
    problems = _build(doc, text)
    return doc, problems


def _mark(event: events.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _scalar(event: events.ScalarEvent) -> tuple[Any, str | None]:
    """The Python value of a scalar event, or (None, problem) for a tag this format refuses."""
    tag = event.tag
    if tag is None or tag == "!":
        tag = _resolver.resolve(ScalarNode, event.value, event.implicit) if tag is None else _STR
    if tag == _STR or tag == _TIMESTAMP:
        # Dates stay text: no field of this format holds a date, and a label must never
        # turn into a datetime behind a reviewer's back.
        return event.value, None
    node = ScalarNode(tag, event.value)
    try:
        if tag == _NULL:
            return None, None
        if tag == _BOOL:
            return _constructor.construct_yaml_bool(node), None
        if tag == _INT:
            return _constructor.construct_yaml_int(node), None
        if tag == _FLOAT:
            return _constructor.construct_yaml_float(node), None
    except (ValueError, yaml.YAMLError):
        return None, f"cannot read {event.value!r} as {tag.rsplit(':', 1)[-1]}"
    return None, f"YAML tag {event.tag} is not supported"


class _Frame:
    __slots__ = ("container", "path", "key", "key_mark", "skip_value", "first_seen")

    def __init__(self, container: Any, path: Path) -> None:
        self.container = container
        self.path = path
        self.key: Any = None  # mappings: the key waiting for its value
        self.key_mark: tuple[int, int] | None = None
        self.skip_value = False  # mappings: the pending key was refused, drop its value
        self.first_seen: dict[str, tuple[int, int]] = {}


def _events(text: str) -> Iterator[events.Event]:
    loader = _Loader(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def _build(doc: Document, text: str) -> list[Problem]:
    problems: list[Problem] = []
    stack: list[_Frame] = []
    # Depth of a subtree being skipped (too deep, or the value of a refused key): 0 = building.
    skipping = 0
    documents = 0
    root_set = False

    def add(path: Path, mark: tuple[int, int], what: str) -> None:
        problems.append(Problem(doc.file, mark[0], mark[1], format_path(path), what))

    def place(value: Any, mark: tuple[int, int], event: events.Event) -> bool:
        """Attach a finished value to its parent; False when it must be dropped."""
        nonlocal root_set
        if not stack:
            doc.data = value
            doc.marks[()] = mark
            root_set = True
            return True
        frame = stack[-1]
        if isinstance(frame.container, list):
            path = frame.path + (len(frame.container),)
            frame.container.append(value)
            doc.marks[path] = mark
            return True
        if frame.key is None and frame.key_mark is None:
            # This value is a key.
            if not isinstance(event, events.ScalarEvent):
                add(frame.path, mark, "a key must be a plain string, not a list or mapping")
                frame.key_mark, frame.skip_value = mark, True
                return False
            if not isinstance(value, str):
                shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else value
                add(frame.path, mark, f'key {shown} must be a string (quote it: "{event.value}")')
                frame.key_mark, frame.skip_value = mark, True
                return True
            path = frame.path + (value,)
            if value in frame.first_seen:
                first = frame.first_seen[value]
                add(
                    path,
                    mark,
                    f"duplicate key '{value}' (first given on line {first[0]}); YAML would keep only the last",
                )
                frame.skip_value = True
            else:
                frame.first_seen[value] = mark
            frame.key, frame.key_mark = value, mark
            return True
        key, key_mark, skip = frame.key, frame.key_mark, frame.skip_value
        frame.key, frame.key_mark, frame.skip_value = None, None, False
        if skip:
            return False
        path = frame.path + (key,)
        frame.container[key] = value
        doc.key_marks[path] = key_mark  # type: ignore[assignment]
        doc.marks[path] = mark
        return True

    def child_path() -> Path:
        if not stack:
            return ()
        frame = stack[-1]
        if isinstance(frame.container, list):
            return frame.path + (len(frame.container),)
        return frame.path + ((frame.key,) if frame.key is not None else ())

    def is_value_of_refused_key() -> bool:
        if not stack or isinstance(stack[-1].container, list):
            return False
        frame = stack[-1]
        return frame.key_mark is not None and frame.skip_value

    try:
        for event in _events(text):
            if isinstance(event, events.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    add((), _mark(event), "only one YAML document per file (remove the second '---')")
                    break
                continue
            if isinstance(event, (events.StreamStartEvent, events.StreamEndEvent, events.DocumentEndEvent)):
                continue
            mark = _mark(event)
            if skipping:
                if isinstance(event, (events.MappingStartEvent, events.SequenceStartEvent)):
                    skipping += 1
                elif isinstance(event, (events.MappingEndEvent, events.SequenceEndEvent)):
                    skipping -= 1
                continue
            if isinstance(event, (events.MappingEndEvent, events.SequenceEndEvent)):
                frame = stack.pop()
                place(frame.container, doc.marks.get(frame.path, mark), event)
                continue
            anchor = getattr(event, "anchor", None)
            if isinstance(event, events.AliasEvent):
                add(child_path(), mark, f"aliases (*{event.anchor}) are not supported: write the value out")
                place(None, mark, event)
                continue
            if anchor is not None:
                add(child_path(), mark, f"anchors (&{anchor}) are not supported: write the value out")
            if isinstance(event, events.ScalarEvent):
                value, trouble = _scalar(event)
                if trouble:
                    add(child_path(), mark, trouble)
                place(value, mark, event)
                continue
            # A mapping or a sequence starts.
            tag = event.tag
            expected = _MAP if isinstance(event, events.MappingStartEvent) else _SEQ
            if tag not in (None, "!", expected):
                add(child_path(), mark, f"YAML tag {tag} is not supported")
            is_key = bool(stack) and isinstance(stack[-1].container, dict) and stack[-1].key_mark is None
            if is_key or is_value_of_refused_key() or len(stack) >= MAX_DEPTH:
                if is_key:
                    place(None, mark, event)  # reports the complex key and drops its value
                elif len(stack) >= MAX_DEPTH:
                    add(child_path(), mark, f"nested deeper than {MAX_DEPTH} levels")
                    place(None, mark, events.ScalarEvent(None, None, (True, False), ""))
                else:
                    place(None, mark, event)
                skipping = 1
                continue
            path = child_path()
            doc.marks[path] = mark
            stack.append(_Frame({} if expected == _MAP else [], path))
    except yaml.MarkedYAMLError as error:
        problem_mark = error.problem_mark or error.context_mark
        line, column = (problem_mark.line + 1, problem_mark.column + 1) if problem_mark else (1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        problems.append(Problem(doc.file, line, column, "file", f"YAML syntax error: {what}"))
        doc.data = None
        return problems
    except yaml.YAMLError as error:
        problems.append(Problem(doc.file, 1, 1, "file", f"YAML error: {str(error).splitlines()[0]}"))
        doc.data = None
        return problems
    if not root_set or (doc.data is None and not problems):
        problems.append(
            Problem(
                doc.file,
                1,
                1,
                "file",
                "the file is empty: expected a mapping with format_version, group and properties",
            )
        )
        doc.data = None
    return problems
