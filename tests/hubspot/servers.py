"""Hostile HTTP servers on 127.0.0.1, for the deadline tests: one that never answers, one that trickles."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
          b'{"portalId": 42, "accountType": "STANDARD", "timeZone": "UTC"}')


@contextlib.contextmanager
def hostile_server(behaviour: str, byte_every_s: float = 0.05, limit_s: float = 30.0) -> Iterator[str]:
    """A server on a free loopback port: ``silent`` accepts and never answers; ``trickle-headers`` and
    ``trickle-body`` send a valid answer one byte at a time, the body never ending. Every connection
    is closed after ``limit_s`` at the latest, and all of them when the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        ends = time.monotonic() + limit_s
        try:
            if behaviour == "silent":
                stop.wait(limit_s)
                return
            head, _, body = ANSWER.partition(b"\r\n\r\n")
            if behaviour == "trickle-body":
                conn.sendall(head.replace(b"Content-Length: 60", b"Content-Length: 100000") + b"\r\n\r\n")
                payload = body + b" " * 100_000
            else:
                payload = ANSWER
            for i in range(len(payload)):
                if stop.is_set() or time.monotonic() > ends:
                    return
                conn.sendall(payload[i : i + 1])
                time.sleep(byte_every_s)
            stop.wait(max(0.0, ends - time.monotonic()))
        except OSError:
            return
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for conn in accepted:
            with contextlib.suppress(OSError):
                conn.close()


def child_exit_code(pid: int, bound_s: float = 30.0) -> int | None:
    """The exit code of a forked child, waited for at most ``bound_s`` (then killed: None)."""
    deadline = time.monotonic() + bound_s
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    return os.waitstatus_to_exitcode(done[1])
