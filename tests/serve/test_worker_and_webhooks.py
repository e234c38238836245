"""`sync worker` on a store other processes fill, one worker at a time; the emulator's webhook delivery."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from provisioner.emulator.state import Deal
from provisioner.emulator.webhooks import WebhookSender, check_target
from provisioner.serve.intake import read_body
from provisioner.serve.queue import Job, Queue
from provisioner.sync.events import Rules
from tests.serve.conftest import event, wait_for


def _queue_values(setup, *records: dict) -> None:
    queue = Queue(str(setup.store), Rules.from_config(setup.config))
    try:
        queue.commit([Job(records=read_body("\n".join(json.dumps(r) for r in records).encode(), queue.rules))])
    finally:
        queue.close()


def test_sync_worker_drains_the_store_and_a_second_worker_waits_for_the_lock(setup):
    setup.emulator()
    setup.store.parent.mkdir(parents=True, exist_ok=True)
    _queue_values(setup, event(setup.deals[0], STATUS="Stalled"))
    first = setup.start(["sync", "worker", "--max-delay", "0.1"], "worker", ready="draining", HUBSPOT_BASE_URL=setup.emu.url)
    wait_for(lambda: setup.values(setup.deals[0])["accord_status"] == "Stalled")
    second = setup.start(["sync", "worker", "--max-delay", "0.1"], "worker", ready="draining", HUBSPOT_BASE_URL=setup.emu.url)
    wait_for(lambda: "waiting" in second.stderr())
    assert first.stop() == 0
    _queue_values(setup, event(setup.deals[1], STATUS="At Risk"))
    wait_for(lambda: setup.values(setup.deals[1])["accord_status"] == "At Risk")  # the second took over
    assert "Took the store's run lock" in second.stderr()
    assert second.stop() == 0


class _Target(BaseHTTPRequestHandler):
    answers: list[int] = []
    bodies: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 - the base class's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((dict(self.headers), body))
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def target():
    _Target.answers, _Target.bodies = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _sender(url: str) -> WebhookSender:
    from provisioner.emulator import Emulator, EmulatorSettings

    emulator = Emulator(EmulatorSettings(burst_limit=None))
    sender = WebhookSender(url, "s3cret", app_id=99, sleep=lambda s: None)
    sender.attach(emulator)
    with emulator._lock:
        emulator.portal.add_deal("10000000001", Deal(0, 0, {"accord_status": "On Track"}))
        sender.after_request(emulator.portal)  # a creation posts nothing
        deal = emulator.portal.deals["10000000001"]
        emulator.portal.touch("deal", "10000000001", deal)
        deal.props["accord_status"] = "Stalled"
        sender.after_request(emulator.portal)
    return sender


def test_delivery_retries_5xx_and_never_4xx(target):
    _Target.answers = [503, 500, 200]
    sender = _sender(target)
    wait_for(lambda: sender.delivered == 1)
    attempts = [json.loads(body)[0]["attemptNumber"] for _headers, body in _Target.bodies]
    assert attempts == [0, 1, 2]
    event_sent = json.loads(_Target.bodies[-1][1])[0]
    assert {k: event_sent[k] for k in ("subscriptionType", "propertyName", "propertyValue", "changeSource",
                                       "sourceId", "appId")} == {
        "subscriptionType": "deal.propertyChange", "propertyName": "accord_status", "propertyValue": "Stalled",
        "changeSource": "API", "sourceId": "99", "appId": 99}
    sender.close()

    _Target.bodies, _Target.answers = [], [400]
    refused = _sender(target)
    wait_for(lambda: refused.failed == 1)
    assert len(_Target.bodies) == 1
    refused.close()


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://example.com/hook", "ftp://127.0.0.1/x",
                                 "http://169.254.169.254/latest"])
def test_only_loopback_targets(url):
    with pytest.raises(ValueError):
        check_target(url)
    assert check_target("http://[::1]:9/x") and check_target("http://localhost:9/x")


def test_ui_edit_endpoint_checks_values_like_the_api(setup):
    setup.emulator()
    url = f"{setup.emu.url}/__emulator__/ui/deals/{setup.deals[0]}"
    assert requests.patch(url, json={"properties": {"accord_progress": "not a number"}, "user_id": 3},
                          timeout=5).status_code == 400
    assert requests.patch(url, json={"properties": {}}, timeout=5).status_code == 400
    missing = f"{setup.emu.url}/__emulator__/ui/deals/99999"
    assert requests.patch(missing, json={"properties": {"accord_status": "Stalled"}}, timeout=5).status_code == 404
    assert requests.patch(url, json={"properties": {"accord_status": "Stalled"}, "user_id": 3},
                          timeout=5).status_code == 200
    assert setup.values(setup.deals[0])["accord_status"] == "Stalled"


def test_sync_push_on_a_store_a_worker_holds_queues_for_it(setup):
    import subprocess
    import sys

    setup.emulator()
    setup.store.parent.mkdir(parents=True, exist_ok=True)
    worker = setup.start(["sync", "worker"], "worker", ready="draining", HUBSPOT_BASE_URL=setup.emu.url)
    wait_for(lambda: setup.store.exists())
    (setup.dir / "events.jsonl").write_text(json.dumps(event(setup.deals[0])) + "\n")
    pushed = subprocess.run([sys.executable, "-m", "provisioner", "sync", "push", "--source", "events.jsonl"],
                            cwd=setup.dir, env=setup.env(HUBSPOT_BASE_URL=setup.emu.url), capture_output=True,
                            text=True, timeout=60)
    assert pushed.returncode == 0, pushed.stderr
    assert "3 values queued for the running worker" in pushed.stdout
    wait_for(lambda: setup.values(setup.deals[0])["accord_status"] == "On Track")
    assert worker.stop() == 0
