"""``sync push`` (and ``verify --repair``, ``retry``) next to a running worker: one more producer into its queue.

Real processes: an emulator whose app webhooks go to a recorder (so every value change HubSpot
makes is seen once), ``provisioner serve`` on the store, signed posts and ``sync push`` at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from provisioner.serve.producer import hold_worker_mark, lock_or_find_worker
from provisioner.sync.store import StoreError, SyncStore
from tests.serve.conftest import CLIENT_SECRET, PROPS, event, post_events, wait_for


class Recorder:
    """A loopback HTTP server keeping every HubSpot webhook event the emulator posts."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        lock = threading.Lock()
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with lock:
                    events.extend(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def changes(self) -> Counter:
        return Counter((str(e["objectId"]), e["propertyName"], e["propertyValue"]) for e in list(self.events)
                       if e.get("subscriptionType") == "deal.propertyChange")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    made = Recorder()
    try:
        yield made
    finally:
        made.close()


def _cli(setup, *args, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "provisioner", *args], cwd=setup.dir,
                          env=setup.env(HUBSPOT_BASE_URL=setup.emu.url), capture_output=True, text=True,
                          timeout=timeout)


def _expected(deal: str, n: int, via: str) -> dict[str, str]:
    return {"accord_status": via, "accord_progress": str(n % 100), "current_stage": f"Stage {n}"}


def test_push_and_signed_posts_at_once_reach_every_deal_exactly_once(setup, recorder, tmp_path):
    setup.emulator("--webhook-url", recorder.url, "--client-secret", CLIENT_SECRET, "--app-id", "777", deals=200)
    proc = setup.serve()
    intake, pushed = setup.deals[:100], setup.deals[100:]
    lines = [event(deal, STATUS="At Risk", PROGRESS=n % 100, STAGE_NAME=f"Stage {n}")
             for n, deal in enumerate(pushed, start=100)]
    # the same records as ten of the posts: one change each, whichever producer takes it first
    lines += [event(deal, STATUS="Stalled", PROGRESS=n % 100, STAGE_NAME=f"Stage {n}")
              for n, deal in enumerate(intake[:10])]
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    answers: list[int] = []

    def post_all() -> None:
        for start in range(0, 100, 2):
            records = [event(deal, STATUS="Stalled", PROGRESS=n % 100, STAGE_NAME=f"Stage {n}")
                       for n, deal in enumerate(intake[start:start + 2], start=start)]
            answers.append(post_events(proc.url, records).status_code)

    poster = threading.Thread(target=post_all)
    poster.start()
    run = _cli(setup, "sync", "push", "--source", str(source), "--format", "json")
    poster.join(60)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["deals_written"] == 0 and report["requests"] == 0  # the running worker sends, not the push
    assert 300 <= report["queued_for_worker"] <= 330
    assert answers == [202] * 50

    want = {(deal, prop, value) for n, deal in enumerate(setup.deals)
            for prop, value in _expected(deal, n, "Stalled" if n < 100 else "At Risk").items()}
    try:
        wait_for(lambda: set(recorder.changes()) >= want, timeout=60)
    except AssertionError:
        got = set(recorder.changes())
        raise AssertionError(f"missing {sorted(want - got)[:5]} ({len(want - got)}), extra {sorted(got - want)[:5]}") from None
    changes = recorder.changes()
    assert set(changes) == want  # nothing else was written
    assert all(count == 1 for count in changes.values())  # and each change exactly once
    values = {deal: setup.values(deal) for deal in (setup.deals[0], setup.deals[150])}
    assert values[setup.deals[0]] == _expected(setup.deals[0], 0, "Stalled")
    assert values[setup.deals[150]] == _expected(setup.deals[150], 150, "At Risk")
    assert PROPS == list(values[setup.deals[0]])


def test_push_text_output_says_the_values_are_queued_for_the_worker(setup, tmp_path):
    setup.emulator(deals=2)
    setup.serve()
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(event(setup.deals[1], STATUS="At Risk", PROGRESS=7)) + "\n{not json\n")
    run = _cli(setup, "sync", "push", "--source", str(source))
    assert run.returncode == 1  # the bad line is a dead letter, reported as such
    assert "3 values queued for the running worker" in run.stdout
    assert "invalid: line 2:" in run.stderr
    wait_for(lambda: setup.values(setup.deals[1])["accord_status"] == "At Risk")


def test_verify_repair_next_to_serve_requeues_and_the_worker_restores(setup):
    setup.emulator(deals=2)
    proc = setup.serve()
    deal = setup.deals[0]
    assert post_events(proc.url, [event(deal, STATUS="On Track", PROGRESS=45)]).status_code == 202
    wait_for(lambda: setup.values(deal)["accord_status"] == "On Track")
    wait_for(lambda: _cli(setup, "sync", "verify").returncode == 0)  # the worker recorded HubSpot's answer
    edit = requests.patch(f"{setup.emu.url}/__emulator__/ui/deals/{deal}",
                          json={"properties": {"accord_status": "Stalled"}, "user_id": 5}, timeout=5)
    assert edit.status_code == 200, edit.text
    run = _cli(setup, "sync", "verify", "--repair")
    assert run.returncode == 0, run.stderr
    assert "1 deals queued for the running worker" in run.stdout
    wait_for(lambda: setup.values(deal)["accord_status"] == "On Track")


def test_a_run_lock_held_by_another_push_still_fails_as_before(tmp_path):
    path = tmp_path / "s.sqlite"
    with SyncStore(path) as holder, SyncStore(path) as other:
        holder.lock()
        with pytest.raises(StoreError, match="another sync run is using this store"):
            lock_or_find_worker(other, 0)
        mark = hold_worker_mark(path)  # now the holder is a worker: the other only queues
        try:
            assert lock_or_find_worker(other, 0) is False
        finally:
            mark.close()
        holder.unlock()
        assert lock_or_find_worker(other, 0) is True
