"""The emulator's portals beyond the first: the checks on a new one, and their rows in the state file.

``POST /__emulator__/portals`` (and ``Emulator.add_portal``) takes ``{"portal_id": N, "token": T}``
or ``{"portal_id": N, "refresh_token": R}`` plus optional ``burst_limit``, ``daily_limit`` and
``tier`` (a tier sizes the burst limit when none is given). Every mistake is named, one line
each. With ``--state FILE`` each added portal's data lives in ``FILE.portal-N`` (its own SQLite
file, so portals never wait on each other's writes) and the list of portals in ``FILE``'s
``portals`` table, with tokens kept only as SHA-256 digests; issued access tokens likewise.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass

# The emulator's own copy of HubSpot's burst limits by tier (it shares no code with the client).
TIER_BURST = {"starter": 100, "professional": 190, "enterprise": 190, "increase": 250}
MAX_TOKEN = 512  # HubSpot asks clients to allow tokens up to 512 characters
MAX_PORTAL_ID = 2**53 - 1
FORGET_AFTER_S = 86400.0  # an access token expired this long ago is no longer kept
FIELDS = ("portal_id", "token", "refresh_token", "burst_limit", "daily_limit", "tier")

SCHEMA = """
CREATE TABLE IF NOT EXISTS portals (portal_id INTEGER PRIMARY KEY, position INTEGER NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_tokens (sha TEXT PRIMARY KEY, portal_id INTEGER NOT NULL, expires REAL NOT NULL);
"""


class PortalConflict(Exception):
    """The portal id or a token is already taken (409)."""


@dataclass(frozen=True)
class NewPortal:
    portal_id: int
    token: str | None
    refresh_token: str | None
    burst_limit: int | None
    daily_limit: int | None
    tier: str | None


def _limit(data: dict, name: str, default: int | None, problems: list[str]) -> int | None:
    if name not in data:
        return default
    value = data[name]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{name}: must be a whole number of at least 1, or null for no limit; got {json.dumps(value)}")
        return default
    return value


def _token(data: dict, name: str, problems: list[str]) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"{name}: must be a non-empty string")
        return None
    if len(value) > MAX_TOKEN:
        problems.append(f"{name}: longer than {MAX_TOKEN} characters")
        return None
    if not all(33 <= ord(ch) <= 126 for ch in value):
        problems.append(f"{name}: only printable ASCII without spaces can travel in a header or a form")
        return None
    return value


def check_new_portal(data, default_burst: int | None, default_daily: int | None) -> NewPortal:
    """A new portal's request checked; ValueError naming every mistake, one line each."""
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object: {\"portal_id\": N, \"token\": T} or {\"portal_id\": N, "
                         "\"refresh_token\": R}")
    problems = [f"{key}: unknown field (use {', '.join(FIELDS)})" for key in sorted(set(data) - set(FIELDS))]
    portal_id = data.get("portal_id")
    if isinstance(portal_id, bool) or not isinstance(portal_id, int) or not 1 <= portal_id <= MAX_PORTAL_ID:
        problems.append(f"portal_id: must be a whole number from 1 to {MAX_PORTAL_ID}; got {json.dumps(portal_id)}")
    token, refresh = _token(data, "token", problems), _token(data, "refresh_token", problems)
    if (data.get("token") is None) == (data.get("refresh_token") is None):  # null counts as not given
        problems.append("token / refresh_token: give exactly one (a private-app token, or an OAuth refresh token)")
    tier = data.get("tier")
    if tier is not None and (not isinstance(tier, str) or tier not in TIER_BURST):
        problems.append(f"tier: one of {', '.join(TIER_BURST)}; got {json.dumps(tier)}")
        tier = None
    burst = _limit(data, "burst_limit", TIER_BURST[tier] if tier else default_burst, problems)
    daily = _limit(data, "daily_limit", default_daily, problems)
    if problems:
        raise ValueError("\n".join(problems))
    return NewPortal(portal_id, token, refresh, burst, daily, tier)


class PortalRegistry:
    """The ``portals`` and ``access_tokens`` tables of the state file (its own connection)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def rows(self) -> list[dict]:
        with self._lock:
            return [json.loads(spec) for (spec,) in self.db.execute("SELECT spec FROM portals ORDER BY position")]

    def access_tokens(self) -> list[tuple[str, int, float]]:
        with self._lock:
            return list(self.db.execute("SELECT sha, portal_id, expires FROM access_tokens"))

    def save(self, spec: dict) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO portals VALUES (?, COALESCE((SELECT position FROM portals "
                            "WHERE portal_id = ?), (SELECT COUNT(*) FROM portals)), ?)",
                            (spec["portal_id"], spec["portal_id"], json.dumps(spec)))

    def save_access_token(self, sha: str, portal_id: int, expires: float, now: float) -> None:
        """Keep an issued token's digest; tokens expired for a day are forgotten (then unknown, as any other)."""
        with self._lock:
            self.db.execute("DELETE FROM access_tokens WHERE expires < ?", (now - FORGET_AFTER_S,))
            self.db.execute("INSERT OR REPLACE INTO access_tokens VALUES (?, ?, ?)", (sha, portal_id, expires))

    def close(self) -> None:
        with self._lock:
            self.db.close()
