"""Serving the emulator's WSGI app on a socket: threaded, loopback by default, HTTP/1.1 keep-alive.

A connection stays open for the next request (as HubSpot's does) unless the client asks to close
it, the request's body was not read whole, or the app dropped it: a dropped-connection fault
closes the socket without a byte of answer. A client silent for ``CLIENT_TIMEOUT_S`` is dropped.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from provisioner.emulator.wire import DroppedConnection

CLIENT_TIMEOUT_S = 30.0  # a client silent this long (mid-headers or mid-body) is dropped


class _ServerHandler(ServerHandler):
    def handle_error(self):
        # wsgiref would write a 500 page; a dropped connection must answer nothing at all.
        if isinstance(sys.exc_info()[1], DroppedConnection):
            raise sys.exc_info()[1]
        super().handle_error()

    def log_exception(self, exc_info):
        pass


class _RequestHandler(WSGIRequestHandler):
    def setup(self):
        self.timeout = CLIENT_TIMEOUT_S  # read when the socket is set up: a silent client cannot hold a thread
        super().setup()
        # Headers and body go out as separate writes: without this, a kept-alive connection waits
        # for the client's delayed ACK (about 40 ms) on every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    protocol_version = "HTTP/1.1"

    def handle(self):
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def _handle_one(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            self.close_connection = True
            return
        environ = self.get_environ()
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), environ, multithread=True)
        handler.http_version = "1.1"
        handler.request_handler = self
        app, seen = self.server.get_app(), {}

        def recording(app_environ, start_response):  # wsgiref hands the app a copy of ``environ``
            seen["environ"] = app_environ
            return app(app_environ, start_response)

        try:
            handler.run(recording)
        except DroppedConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if "emulator.body" not in seen.get("environ", {}) and (environ.get("CONTENT_LENGTH") or "0") not in ("", "0"):
            self.close_connection = True  # a body left unread (413) would be taken for the next request


class EmulatorServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a client that hangs up is not the server's problem


def make_emulator_server(emulator, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    server = EmulatorServer((host, port), _RequestHandler)
    server.set_app(emulator.app)
    return server


@contextmanager
def serve_in_thread(emulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``emulator`` on a background thread; yields the base URL, e.g. "http://127.0.0.1:54321"."""
    server = make_emulator_server(emulator, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
