"""Bounded line reading: an over-long line is dropped in chunks and reported, never held whole."""

from __future__ import annotations

import io

from provisioner.sync.events import Invalid, Snapshot, parse_line
from provisioner.sync.source import LongLine, read_lines
from tests.sync.conftest import event


class CountingStream(io.BytesIO):
    """Remembers the largest read asked for: the reader never asks for a whole long line."""

    largest = 0

    def readline(self, size=-1):
        assert size > 0
        self.largest = max(self.largest, size)
        return super().readline(size)


def test_lines_up_to_the_limit_pass_and_longer_ones_are_reported_with_their_length():
    stream = CountingStream(b"a" * 10 + b"\n" + b"b" * 11 + b"\n" + b"c" * 30 + b"\n" + b"d" * 10 + b"\nlast")
    lines = list(read_lines(stream, limit=10))
    assert lines[0] == b"a" * 10 + b"\n"
    assert isinstance(lines[1], LongLine) and lines[1].reason == "the line is 11 bytes, over the limit of 10"
    assert isinstance(lines[2], LongLine) and lines[2].reason == "the line is 30 bytes, over the limit of 10"
    assert lines[3:] == [b"d" * 10 + b"\n", b"last"]
    assert stream.largest <= 64 * 1024


def test_no_line_break_at_all_ends_the_reading_with_the_reason():
    stream = CountingStream(b"first\n" + b"x" * 300_000 + b"\n" + b"never read\n")
    first, line = list(read_lines(stream, limit=10, skip_limit=100_000))
    assert first == b"first\n"  # what came before is used
    assert "no line break within 100000 bytes" in line.reason and "not read" in line.reason
    assert len(line) == 11  # the first bytes only


def test_a_long_line_becomes_an_invalid_record_with_a_bounded_prefix(rules):
    lines = list(read_lines(io.BytesIO(b"{" + b"x" * 200_000 + b"\n" + event().encode() + b"\r\n")))
    first, second = (parse_line(n, text, rules) for n, text in enumerate(lines, 1))
    assert isinstance(first, Invalid) and "over the limit of 65536" in first.reason
    assert len(first.raw) == 2049 and first.raw.endswith("…")
    assert isinstance(second, Snapshot)
