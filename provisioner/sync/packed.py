"""A deal's registers packed in one value: the ``registers`` column of the store's ``deals`` table.

One row per deal instead of one per (deal, property) makes the store about a third the size and
a chunk's write one row per deal, which is most of what accepting an event costs at a million
deals. The packed form (MessagePack, through msgspec) is ``[pairs, entries]``:
- ``pairs``: the distinct ``[accord_id, event]`` of the deal's writes (usually one: the deal's
  Accord and the trigger that wrote it);
- ``entries``: per property ``[property id, occurred_at, pair index, value, confirmed, parked,
  confirmed_at]``, where ``confirmed`` is ``true`` when it equals ``value`` (the common case once
  HubSpot took it), null when HubSpot confirmed nothing (or a full resync forgot it), else the
  text HubSpot holds; property ids are the rows of the ``properties`` table.

Unpacked, a deal's registers are ``{property: [value, occurred_at, accord_id, event, confirmed,
parked, confirmed_at]}`` (``Fields``), the columns the store's readers expect, and ``pack``
counts what the row's ``pending`` and ``synced`` columns hold: how many values are pending
(not parked, not the confirmed one) and how many have a confirmed value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

import msgspec

from provisioner.sync.coalesce import Write

# Positions in an unpacked register.
VALUE, OCCURRED_AT, ACCORD_ID, EVENT, CONFIRMED, PARKED, CONFIRMED_AT = range(7)
Fields = list  # [value, occurred_at, accord_id, event, confirmed, parked, confirmed_at]
# Positions in a packed entry (``Packed.named``); its CONFIRMED is read and set through
# ``confirmed_of`` and ``set_confirmed`` (``true`` stands for the entry's value).
ENTRY_ID, ENTRY_OCCURRED_AT, ENTRY_PAIR, ENTRY_VALUE, ENTRY_CONFIRMED, ENTRY_PARKED, ENTRY_CONFIRMED_AT = range(7)

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


class PropertyIds:
    """The ``properties`` table, read once per transaction step: names to small ids and back."""

    __slots__ = ("db", "ids", "names")

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.names: dict[int, str] = dict(db.execute("SELECT id, name FROM properties"))
        self.ids: dict[str, int] = {name: pid for pid, name in self.names.items()}

    def id_of(self, name: str) -> int:
        pid = self.ids.get(name)
        if pid is None:
            pid = self.db.execute("INSERT INTO properties (name) VALUES (?)", (name,)).lastrowid
            self.ids[name] = pid
            self.names[pid] = name
        return pid


class Packed:
    """A deal's packed registers, decoded to be changed in place (the store's writes other than accepting)."""

    __slots__ = ("pairs", "entries", "named")

    def __init__(self, blob: bytes, names: dict[int, str]) -> None:
        self.pairs, self.entries = _decode(blob)
        self.named = {names[entry[0]]: entry for entry in self.entries}

    def pending(self) -> list[tuple[str, tuple[str | None, str, int, str, str]]]:
        """Its pending values in property order: (property, (confirmed, value, occurred_at, accord_id, event))."""
        pairs = self.pairs
        return [(name, (entry[4], entry[3], entry[1], *pairs[entry[2]]))
                for name, entry in sorted(self.named.items()) if entry[4] is not True and not entry[5]]

    def encode(self) -> tuple[bytes, int, int]:
        """(the packed registers, how many values are pending, how many have a confirmed value)."""
        return _encoded(self.pairs, self.entries)


def confirmed_of(entry: list) -> str | None:
    confirmed = entry[ENTRY_CONFIRMED]
    return entry[ENTRY_VALUE] if confirmed is True else confirmed


def set_confirmed(entry: list, text: str | None) -> None:
    entry[ENTRY_CONFIRMED] = True if text == entry[ENTRY_VALUE] else text


def unpack(blob: bytes, names: dict[int, str]) -> dict[str, Fields]:
    pairs, entries = _decode(blob)
    return {names[pid]: [value, at, pairs[pair][0], pairs[pair][1], value if confirmed is True else confirmed,
                         parked, confirmed_at]
            for pid, at, pair, value, confirmed, parked, confirmed_at in entries}


def pack(registers: dict[str, Fields], ids: PropertyIds) -> tuple[bytes, int, int]:
    """(the packed registers, how many values are pending, how many have a confirmed value)."""
    pairs: dict[tuple[str, str], int] = {}
    entries = []
    pending = synced = 0
    for name, (value, at, accord_id, event, confirmed, parked, confirmed_at) in registers.items():
        key = (accord_id, event)
        pair = pairs.get(key)
        if pair is None:
            pair = pairs[key] = len(pairs)
        if confirmed is not None:
            synced += 1
        if confirmed == value:
            confirmed = True
        elif not parked:
            pending += 1
        entries.append((ids.id_of(name), at, pair, value, confirmed, parked, confirmed_at))
    return _encode((tuple(pairs), entries)), pending, synced


def merge(blob: bytes | None, writes: Sequence[Write], ids: PropertyIds) -> tuple[bytes, int, int, int] | None:
    """Apply the ordering rule to a deal's packed registers (``None``: the deal is new): each winning
    value of ``writes`` (``coalesce.Write``: its stamp is ``(occurred_at, accord_id, value, event)``)
    replaces its register only when its stamp is greater (releasing it if parked). Returns None when
    nothing changed, else (the packed registers, how many registers changed, how many values are
    pending, how many have a confirmed value).

    The hot path of accepting a chunk: it works on the packed form itself, without unpacking.
    """
    pairs, entries = ([], []) if blob is None else _decode(blob)
    if len(writes) == 1 and entries:
        done = _replace_all(entries, *writes[0], ids.names)
        if done is not None:
            return done
    by_id = {entry[0]: entry for entry in entries}
    known = ids.ids
    changed = 0
    for at, accord_id, event, values in writes:
        pair = None
        for name, value in values.items():
            pid = known.get(name)
            if pid is None:
                pid = ids.id_of(name)
            held = by_id.get(pid)
            if held is not None:
                held_at = held[1]
                if at < held_at:
                    continue
                if at == held_at:
                    accord_held, event_held = pairs[held[2]]
                    if (accord_id, value, event) <= (accord_held, held[3], event_held):
                        continue
            if pair is None:
                pair = next((i for i, (a, e) in enumerate(pairs) if a == accord_id and e == event), len(pairs))
                if pair == len(pairs):
                    pairs.append((accord_id, event))
            if held is None:
                entries.append([pid, at, pair, value, None, 0, None])
            else:
                confirmed = held[4]
                if confirmed is True:
                    confirmed = held[3]
                held[1], held[2], held[3], held[5] = at, pair, value, 0
                held[4] = True if confirmed == value else confirmed
            changed += 1
    if not changed:
        return None
    blob, pending, synced = _encoded(pairs, entries)
    return blob, changed, pending, synced


def _replace_all(entries: list, at: int, accord_id: str, event: str, values: Mapping[str, str],
                 names: dict[int, str]) -> tuple[bytes, int, int, int] | None:
    """``merge``'s common case, in one pass: one write, newer than every register, with a value for
    each: it replaces them all. None when that is not the case (``merge`` then goes property by property)."""
    if len(values) != len(entries):
        return None
    replaced = []
    pending = synced = 0
    for pid, held_at, _, held_value, confirmed, _, confirmed_at in entries:
        value = values.get(names[pid]) if held_at < at else None
        if value is None:
            return None
        if confirmed is True:
            confirmed = held_value
        if confirmed == value:
            confirmed = True
            synced += 1
        else:
            if confirmed is not None:
                synced += 1
            pending += 1
        replaced.append((pid, at, 0, value, confirmed, 0, confirmed_at))
    return _encode((((accord_id, event),), replaced)), len(replaced), pending, synced


def _encoded(pairs: list, entries: list) -> tuple[bytes, int, int]:
    if len(pairs) > 1:
        pairs = _drop_unused(pairs, entries)
    pending = synced = 0
    for entry in entries:
        confirmed = entry[4]
        if confirmed is True:
            synced += 1
        else:
            if confirmed is not None:
                synced += 1
            if not entry[5]:
                pending += 1
    return _encode((pairs, entries)), pending, synced


def _drop_unused(pairs: list, entries: list) -> list:
    """The pairs no register refers to any more, dropped (and the entries renumbered)."""
    used = sorted({entry[2] for entry in entries})
    if len(used) == len(pairs):
        return pairs
    number = {old: new for new, old in enumerate(used)}
    for entry in entries:
        entry[2] = number[entry[2]]
    return [pairs[old] for old in used]
