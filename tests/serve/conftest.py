"""Real processes on 127.0.0.1 for the service tests: an emulator, ``provisioner serve``, signed posts.

Every wait is bounded; every process started is stopped (killed if it does not stop).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from provisioner.config import load_config
from provisioner.hubspot.client import HubSpotClient
from provisioner.serve.signatures import sign_standard
from tests.sync.portal import prepare_portal, seed_deals

ROOT = Path(__file__).resolve().parents[2]
KEY = b"test-webhook-key-0123456789"
OLD_KEY = b"previous-key-abcdef"
SECRETS = f"whsec_{__import__('base64').b64encode(KEY).decode()} {OLD_KEY.decode()}"
CLIENT_SECRET = "hubspot-client-secret-9f8e7d"
TOKEN = "pat-na1-test-token-5555"
PROPS = ["accord_status", "accord_progress", "current_stage"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proc:
    """A started command: its process, its URL (from the first stderr line) and its stderr file."""

    def __init__(self, args: list[str], env: dict, log: Path, cwd: Path, timeout: float = 20.0,
                 ready: str = "http://") -> None:
        self.log = log
        self.handle = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "provisioner", *args], env=env, cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=self.handle)
        deadline = time.monotonic() + timeout
        self.url = None
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if ready in text:
                first = self.first_line = text.splitlines()[0]
                self.url = first[first.index("http://"):].split()[0] if "http://" in first else ""
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.url is None:
            self.stop()
            raise AssertionError(f"{args[0]} did not start: {log.read_text(errors='replace')}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.handle.close()
        return self.proc.returncode

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(check, timeout: float = 20.0, interval: float = 0.05):
    """Poll ``check`` until it returns something truthy (returned) or the timeout passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def event(deal_id: str, at: str = "2026-11-27T10:00:00Z", accord_id: str = "acc_1", **data) -> dict:
    values = {"STATUS": "On Track", "PROGRESS": 45, "STAGE_NAME": "Discovery"}
    values.update(data)
    return {"event": "step_updated", "occurred_at": at, "accord_id": accord_id, "deal_id": deal_id, "data": values}


def signed_headers(body: bytes, msg_id: str, key: bytes = KEY, stamp: int | None = None) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": sign_standard(key, msg_id, stamp, body), "content-type": "application/json"}


def post_events(url: str, records, msg_id: str | None = None, **kwargs) -> requests.Response:
    body = records if isinstance(records, bytes) else json.dumps(records).encode()
    msg_id = msg_id or f"msg_{time.monotonic_ns()}"
    return requests.post(url + "/v1/events", data=body, headers=signed_headers(body, msg_id, **kwargs), timeout=15)


class Setup:
    """A working directory with the shipped file (store inside it), an emulator and its deals."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        text = (ROOT / "hubspot_schema.yaml").read_text()
        assert "store: .provisioner/sync.sqlite" in text
        (tmp_path / "hubspot_schema.yaml").write_text(text)
        self.config = load_config(str(tmp_path / "hubspot_schema.yaml"))
        self.store = tmp_path / ".provisioner" / "sync.sqlite"
        self.procs: list[Proc] = []
        self.serve_port = free_port()

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
        env.update({"PYTHONPATH": str(ROOT), "HUBSPOT_ACCESS_TOKEN": TOKEN, "PROVISIONER_WEBHOOK_SECRET": SECRETS,
                    "HUBSPOT_CLIENT_SECRET": CLIENT_SECRET})
        env.update(extra)
        return env

    def start(self, args: list[str], name: str, ready: str = "http://", **env) -> Proc:
        proc = Proc(args, self.env(**env), self.dir / f"{name}-{len(self.procs)}.log", self.dir, ready=ready)
        self.procs.append(proc)
        return proc

    def emulator(self, *extra: str, webhooks: bool = False, deals: int = 5) -> Proc:
        args = ["emulator", "serve", "--port", "0", "--burst-limit", "190", *extra]
        if webhooks:
            args += ["--webhook-url", f"http://127.0.0.1:{self.serve_port}/hubspot/webhooks",
                     "--client-secret", CLIENT_SECRET, "--app-id", "777"]
        self.emu = self.start(args, "emulator")
        self.client = HubSpotClient(self.emu.url, TOKEN, tier="unlimited")
        prepare_portal(self.client, self.config)
        self.deals = seed_deals(self.client, deals)
        return self.emu

    def serve(self, *extra: str, port: int | None = None, **env) -> Proc:
        args = ["serve", "--port", str(self.serve_port if port is None else port), "--max-delay", "0.2",
                "--drain-timeout", "10", *extra]
        return self.start(args, "serve", HUBSPOT_BASE_URL=self.emu.url, **env)

    def values(self, deal_id: str) -> dict:
        record = self.client.batch_read_deals([deal_id], PROPS).results[0]
        return {p: record.properties.get(p) for p in PROPS}

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=15)


@pytest.fixture
def setup(tmp_path):
    made = Setup(tmp_path)
    try:
        yield made
    finally:
        made.close()
