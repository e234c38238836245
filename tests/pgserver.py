"""A throwaway PostgreSQL server for the tests and benchmarks: temporary directory, loopback port.

The system's server binaries are used where present (``pg_config --bindir``, Debian's
``/usr/lib/postgresql/N/bin``, or ``postgres`` on the PATH); otherwise those of the ``pgserver``
package from PyPI, which ships a server. PostgreSQL refuses to run as root: as root, the server
runs as the ``postgres`` user (or ``nobody``) through ``runuser``.

Every wait has a deadline; ``stop`` ends the server with a fast shutdown and removes its files.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 60.0


def _bindir() -> Path:
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    postgres = shutil.which("postgres")
    if postgres:
        candidates.append(str(Path(os.path.realpath(postgres)).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    try:
        import pgserver  # noqa: F401 - a server shipped on PyPI
    except ImportError:
        raise RuntimeError("no PostgreSQL server binaries: install PostgreSQL, or `pip install pgserver`") from None
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """``start()`` it, use ``url`` (a database of its own per ``create_database``), ``stop()`` it."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="provisioner-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self._user = name
                break
            if self._user is None:
                raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run the server")
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chmod(self.root, 0o700)

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess:
        command = ([shutil.which("runuser") or "runuser", "-u", self._user, "--"] if self._user else []) + args
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://provisioner@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        out = self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "provisioner", "-A", "trust",
                         "-E", "UTF8", "--no-locale", "--no-sync"], timeout=START_TIMEOUT_S)
        if out.returncode:
            raise RuntimeError(f"initdb failed: {out.stderr.strip()[-500:]}")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                   " -c shared_buffers=128MB -c idle_in_transaction_session_timeout=60s")
        out = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                         str(self.root / "server.log"), "-w", "-t", str(int(START_TIMEOUT_S)), "start"],
                        timeout=START_TIMEOUT_S + 10)
        if out.returncode:
            log = (self.root / "server.log").read_text(errors="replace")[-800:]
            raise RuntimeError(f"the PostgreSQL server did not start: {out.stderr.strip()[-300:]} {log}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the PostgreSQL server does not answer on its port") from None
                time.sleep(0.05)

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def stop(self) -> None:
        try:
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"],
                      timeout=40)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
