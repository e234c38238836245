"""The ordering rule of the value sync, and coalescing a run's events under it.

Each (deal, property) is a last-writer-wins register. An event's value for a property carries a
*stamp*: ``(occurred_at, accord_id, value, event)``, with ``occurred_at`` an instant in
microseconds since the Unix epoch (UTC). Of two stamps the greater wins, compared in that order:
the later instant; at the same instant the greater ``accord_id``; then the greater value; then
the greater event name (texts compare by code point, which is also SQLite's order for UTF-8
text). The stamp depends on the event alone, never on line order or run boundaries, and
"greater" is a total order, so the winner of any set of events is the same in every order of
arrival and every split into runs.

A key missing from an event's ``data`` is no write at all; an explicit ``null`` is a write of
``""`` (clear) at that instant, and competes like any value.

``Coalescer`` keeps the run's winners per (deal, property) as events arrive; the store applies
the same rule against what it holds (``store.SyncStore.accept_rows``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from provisioner.sync.events import Ignored, Invalid, Rules, Snapshot, parse_line

# Events read before their winners are handed to the store: bounds a run's memory (a chunk holds
# about 1 KB a deal; 2,000,000 events onto 1,000,000 deals peaked at 410 MB in all, and chunks of
# 700,000 lines at 562 MB for no CPU shown, see benchmarks/results/sync.md).
CHUNK_EVENTS = 400_000

# (occurred_at in microseconds, accord_id, value, event): compare as a tuple, the greater wins.
Stamp = tuple[int, str, str, str]
# A register as the store writes it: (deal_id, property, value, occurred_at, accord_id, event).
Row = tuple[str, str, str, int, str, str]


# A deal's winning values that share one write: (occurred_at, accord_id, event, {property: value}).
Write = tuple[int, str, str, Mapping[str, str]]


class Coalescer:
    """Per (deal, property), the winning stamp of the snapshots added so far, in any order.

    A deal seen once keeps its snapshot as it is (most deals of a chunk at a million deals): its
    stamps per property are made only when a second snapshot of the deal arrives.
    """

    __slots__ = ("held", "added", "superseded")

    def __init__(self) -> None:
        self.held: dict[str, Snapshot | dict[str, Stamp]] = {}  # deal -> its one snapshot, or property -> stamp
        self.added = 0  # snapshots
        self.superseded = 0  # values that lost to another value of the same run

    def add(self, snap: Snapshot) -> None:
        self.added += 1
        held = self.held.get(snap.deal_id)
        if held is None:
            self.held[snap.deal_id] = snap
            return
        if type(held) is not dict:
            # Two snapshots of different instants, the later one carrying every property of the
            # other: each of its values wins on the instant alone, so it replaces the other whole.
            at, held_at = snap.occurred_at, held.occurred_at
            if at > held_at and held.values.keys() <= snap.values.keys():
                self.held[snap.deal_id] = snap
                self.superseded += len(held.values)
                return
            if at < held_at and snap.values.keys() <= held.values.keys():
                self.superseded += len(snap.values)
                return
            held = self.held[snap.deal_id] = _stamps(held)
        at = snap.occurred_at
        accord_id, event = snap.accord_id, snap.event
        for prop, value in snap.values.items():
            stamp = (at, accord_id, value, event)
            before = held.get(prop)
            if before is None:
                held[prop] = stamp
                continue
            self.superseded += 1
            if stamp > before:
                held[prop] = stamp

    def add_row(self, row: Row) -> None:
        """One register's write (a store's row): it wins its property when its stamp is greater."""
        deal, prop, value, at, accord_id, event = row
        held = self.held.get(deal)
        if type(held) is not dict:
            held = self.held[deal] = {} if held is None else _stamps(held)
        stamp = (at, accord_id, value, event)
        if prop not in held or stamp > held[prop]:
            held[prop] = stamp

    @property
    def winners(self) -> dict[str, dict[str, Stamp]]:
        """Per deal and property, the winning stamp."""
        return {deal: held if type(held) is dict else _stamps(held) for deal, held in self.held.items()}

    def writes(self, deal: str) -> Sequence[Write]:
        """A deal's winners grouped by the write they come from (one, for a deal seen once)."""
        held = self.held[deal]
        if type(held) is not dict:
            return ((held.occurred_at, held.accord_id, held.event, held.values),)
        groups: dict[tuple[int, str, str], dict[str, str]] = {}
        for prop, (at, accord_id, value, event) in held.items():
            groups.setdefault((at, accord_id, event), {})[prop] = value
        return [(at, accord_id, event, values) for (at, accord_id, event), values in groups.items()]

    def __len__(self) -> int:
        return sum(len(held if type(held) is dict else held.values) for held in self.held.values())

    def rows(self) -> Iterator[Row]:
        """The winners in key order (deal, property): the order the store writes them (made one by one)."""
        winners = self.winners
        return ((deal, prop, s[2], s[0], s[1], s[3])
                for deal in sorted(winners) for prop, s in sorted(winners[deal].items()))


def _stamps(snap: Snapshot) -> dict[str, Stamp]:
    at, accord_id, event = snap.occurred_at, snap.accord_id, snap.event
    return {prop: (at, accord_id, value, event) for prop, value in snap.values.items()}


def coalesce(snapshots: Iterable[Snapshot]) -> Coalescer:
    merger = Coalescer()
    for snap in snapshots:
        merger.add(snap)
    return merger


def newest_values(snapshots: Iterable[Snapshot]) -> dict[str, dict[str, str]]:
    """Per deal, the value that wins each property: what HubSpot ends with once they are pushed."""
    merged = coalesce(snapshots)
    return {deal: {prop: stamp[2] for prop, stamp in held.items()} for deal, held in merged.winners.items()}


@dataclass
class Chunk:
    """A stretch of a run's input, read: its winners, its bad records, its counts."""

    merged: Coalescer = field(default_factory=Coalescer)
    invalid: list[Invalid] = field(default_factory=list)
    ignored: int = 0
    read: int = 0  # non-blank lines


def read_chunks(lines: Iterable[str], rules: Rules, chunk_events: int = CHUNK_EVENTS,
                start: int = 1, merger: Callable[[], Coalescer] = Coalescer) -> Iterator[Chunk]:
    """The input in chunks of about ``chunk_events`` lines, each coalesced as it is read.

    ``lines`` is consumed once, one line at a time; a run holds one chunk, never the whole input.
    Under the ordering rule, accepting the chunks one by one equals accepting the whole input.
    ``merger`` makes each chunk's coalescer (the fleet's routes snapshots by portal).
    """
    chunk = Chunk(merger())
    add = chunk.merged.add
    for line_no, line in enumerate(lines, start):
        result = parse_line(line_no, line, rules)
        if result is None:
            continue
        chunk.read += 1
        kind = type(result)
        if kind is Snapshot:
            add(result)
        elif kind is Ignored:
            chunk.ignored += 1
        else:
            chunk.invalid.append(result)
        if chunk.read >= chunk_events:
            del add  # nothing here holds the chunk while the caller has it (``engine.release`` frees it)
            yield chunk
            chunk = Chunk(merger())
            add = chunk.merged.add
    if chunk.read:
        del add
        yield chunk
