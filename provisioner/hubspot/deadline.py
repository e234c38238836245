"""Every wait has an end: the command's overall deadline, and a total deadline for each request.

``Deadline`` is the command's budget (``PROVISIONER_TIMEOUT`` seconds, 900 by default): it bounds
every request, retry pause and rate-limit wait of the command, and a pause that would outlast it
ends the command at once with ``DeadlineExceeded`` rather than sleeping first.

Socket timeouts bound each connect and each read, but a server that trickles its answer one byte
at a time resets the read timeout with every byte, headers included. ``Watchdog`` puts a wall-clock
limit on a whole request: the transport's pools tell it which connection a request is using, and
when the request's time is up it shuts that socket down, which ends any read blocked on it at once
(plain or TLS). The transport then reports the request as timed out.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from provisioner import errors

DEFAULT_TIMEOUT_S = 900.0
TIMEOUT_VARIABLE = "PROVISIONER_TIMEOUT"
# A number of seconds as people write it: digits, maybe a decimal part (no sign, exponent or "inf").
SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


class Deadline:
    """The command's end: ``seconds`` from its creation (None: no overall deadline, for services)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise errors.UsageError(f"{TIMEOUT_VARIABLE} must be a positive number of seconds, not {seconds!r}")
        self.seconds = seconds
        self._clock = clock
        self._end = math.inf if seconds is None else clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def expired(self, doing: str) -> errors.DeadlineExceeded:
        return errors.DeadlineExceeded(
            f"gave up {doing}: the command's deadline of {self.seconds:g}s has passed",
            hint=f"set {TIMEOUT_VARIABLE} (seconds) to allow longer, or check the portal's address and health",
        )

    def check(self, doing: str) -> float:
        """The time left, or DeadlineExceeded when there is none."""
        left = self.remaining()
        if left <= 0:
            raise self.expired(doing)
        return left


def parse_timeout(text: str | None) -> float:
    """PROVISIONER_TIMEOUT's value: a positive number of seconds (default 900)."""
    if text is None or not text.strip():
        return DEFAULT_TIMEOUT_S
    value = float(text.strip()) if SECONDS.fullmatch(text.strip()) else 0.0
    if not value > 0:
        raise errors.UsageError(f"{TIMEOUT_VARIABLE} must be a positive number of seconds, not {text!r}",
                                hint=f"for example {TIMEOUT_VARIABLE}=900")
    return value


class Watchdog:
    """Cuts the connections of one request off when its total time is up.

    One thread (``_Reaper``) serves every watchdog of the process, rather than one started and
    stopped for each request.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connections: list = []
        self._done = False
        self.fired = False
        self._seconds = max(0.0, seconds)

    def __enter__(self) -> Watchdog:
        _current.watchdog = self
        _reaper.watch(self, time.monotonic() + self._seconds)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
            self._connections = []
        _current.watchdog = None

    def watch(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)
        if self.fired:
            _shut(connection)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)


class _Reaper:
    """The thread that fires watchdogs: it sleeps until the earliest deadline of those still running.

    A finished watchdog stays queued until its deadline comes up, then is dropped: the queue holds
    at most the requests of one request timeout.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Empty, without a thread: at start, and in a forked child (which has no thread, and whose
        copy of the lock may have been held at the fork)."""
        self._wake = threading.Condition()
        self._queue: list[tuple[float, int, Watchdog]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, watchdog: Watchdog, at: float) -> None:
        with self._wake:
            heapq.heappush(self._queue, (at, next(self._order), watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="provisioner-watchdog", daemon=True)
                self._thread.start()
            elif self._queue[0][2] is watchdog:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                at, _, watchdog = self._queue[0]
                left = at - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._queue)
            watchdog._fire()


_reaper = _Reaper()
os.register_at_fork(after_in_child=_reaper.reset)


def _shut(connection) -> None:
    try:
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass


_current = threading.local()


class _Watched:
    """Tells the running request's watchdog which connection it uses (urllib3 picks it per request)."""

    def _make_request(self, conn, *args, **kwargs):
        watchdog = getattr(_current, "watchdog", None)
        if watchdog is not None:
            watchdog.watch(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPPool(_Watched, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_Watched, HTTPSConnectionPool):
    pass


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connection pools report to the running request's watchdog."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
