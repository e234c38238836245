"""Serving the emulator's WSGI app on a socket: threaded, loopback by default.

A dropped-connection fault raised by the app closes the socket without a byte of answer.
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

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def handle(self):
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            return
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        try:
            handler.run(self.server.get_app())
        except DroppedConnection:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


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
