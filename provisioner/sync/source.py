"""Reading event lines with bounded memory, whatever the input (a huge line, ``/dev/zero``).

``read_lines`` yields each line of a binary stream as bytes, one at a time. A line over
``MAX_LINE_BYTES`` is never held whole: its first bytes are kept and the rest is read and dropped
in chunks; it is yielded as a ``LongLine`` that the parser turns into an invalid record with the
reason. A line with no line break within ``MAX_SKIP_BYTES`` (``/dev/zero``, a binary file) ends the
reading: what came before is used, and the reason says the rest of the input was not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

# An event line is about 330 bytes; 64 KiB leaves room for long texts while keeping a run of
# hostile lines bounded in memory and time (docs/sync.md, Input).
MAX_LINE_BYTES = 64 * 1024
MAX_SKIP_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_PREFIX = 8 * 1024  # bytes of an over-long line kept (its dead letter keeps fewer characters)


class LongLine(bytes):
    """A line over the limit: its first bytes, and the reason it is set aside."""

    reason: str

    def __new__(cls, prefix: bytes, reason: str) -> LongLine:
        made = super().__new__(cls, prefix)
        made.reason = reason
        return made


def read_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES, skip_limit: int = MAX_SKIP_BYTES) -> Iterator[bytes]:
    """Each line of ``stream`` (with its line break), at most ``limit`` bytes held at a time."""
    readline = stream.readline
    while True:
        line = readline(limit + 1)
        if len(line) <= limit or line[-1:] == b"\n":
            if not line:
                return
            yield line
            continue
        size = len(line)
        prefix = line[:_PREFIX]
        del line
        while True:
            chunk = readline(_CHUNK)
            size += len(chunk)
            if not chunk or chunk[-1:] == b"\n":
                break
            if size > skip_limit:
                yield LongLine(prefix, f"no line break within {skip_limit} bytes: not line-delimited JSON; "
                                       "the rest of the input was not read")
                return
        size -= chunk[-1:] == b"\n"
        yield LongLine(prefix, f"the line is {size} bytes, over the limit of {limit}")
