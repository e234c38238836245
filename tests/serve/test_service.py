"""provisioner serve as a real process on 127.0.0.1: intake answers, durability, stopping, operations."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import requests

from provisioner.sync.store import SyncStore
from tests.serve.conftest import (
    CLIENT_SECRET,
    KEY,
    OLD_KEY,
    SECRETS,
    TOKEN,
    event,
    free_port,
    post_events,
    signed_headers,
    wait_for,
)


def test_first_line_names_the_url_and_port_0_picks_a_free_port(setup):
    setup.emulator()
    proc = setup.serve(port=0)
    assert proc.first_line.startswith("provisioner serve listening on http://127.0.0.1:")
    assert not proc.url.endswith(":0")
    assert requests.get(proc.url + "/healthz", timeout=5).json() == {"status": "alive"}


def test_a_signed_event_is_answered_202_and_reaches_its_deal(setup):
    setup.emulator()
    url = setup.serve().url
    deal = setup.deals[0]
    answer = post_events(url, [event(deal, STATUS="At Risk", PROGRESS=60)])
    assert answer.status_code == 202
    assert answer.json()["results"] == [{"index": 0, "result": "accepted"}]
    wait_for(lambda: setup.values(deal)["accord_status"] == "At Risk")
    assert setup.values(deal)["accord_progress"] == "60"


def test_signatures_wrong_stale_and_rotated_keys(setup):
    setup.emulator()
    url = setup.serve().url
    records = [event(setup.deals[0])]
    assert post_events(url, records, key=b"not-the-key").status_code == 401
    assert post_events(url, records, stamp=int(time.time()) - 301).status_code == 401
    assert post_events(url, records, stamp=int(time.time()) + 301).status_code == 401
    assert post_events(url, records, key=OLD_KEY).status_code == 202  # the second configured key
    assert post_events(url, records, key=KEY, msg_id="other").status_code == 202
    unsigned = requests.post(url + "/v1/events", data=json.dumps(records), timeout=5)
    assert unsigned.status_code == 401


def test_a_redelivery_is_a_duplicate_and_changes_nothing(setup):
    setup.emulator()
    url = setup.serve().url
    records = [event(setup.deals[0], STATUS="Stalled")]
    first = post_events(url, records, msg_id="msg_same")
    again = post_events(url, records, msg_id="msg_same")
    assert first.json()["accepted"] == 1
    assert again.status_code == 202 and again.json()["duplicate"] == 1 and again.json()["accepted"] == 0
    # the same record in another delivery is recognised by its hash
    assert post_events(url, records, msg_id="msg_other").json()["duplicate"] == 1


def test_a_mixed_batch_gets_a_result_per_record_and_the_invalid_one_is_a_dead_letter(setup):
    setup.emulator()
    url = setup.serve().url
    good = event(setup.deals[1], STATUS="On Track")
    bad = event(setup.deals[2], STATUS="Exploding")
    ignored = {**event(setup.deals[3]), "event": "comment_added"}
    lines = "\n".join(json.dumps(r) for r in (good, bad, ignored)).encode()  # JSON lines this time
    answer = post_events(url, lines)
    assert answer.status_code == 202
    results = answer.json()["results"]
    assert [r["result"] for r in results] == ["accepted", "invalid", "ignored"]
    assert "STATUS" in results[1]["reason"]
    listed = json.loads(_cli(setup, "sync", "dead-letters", "--format", "json").stdout)
    assert len(listed) == 1 and listed[0]["deal_id"] == setup.deals[2]


def test_size_and_shape_refusals(setup):
    setup.emulator()
    url = setup.serve("--max-body", "2048").url
    big = json.dumps([event(setup.deals[0], STAGE_NAME="x" * 3000)]).encode()
    assert post_events(url, big).status_code == 413
    assert post_events(url, b"this is not json").status_code == 400
    assert post_events(url, b"[1, 2").status_code == 400


def test_backpressure_answers_429_with_retry_after(setup):
    setup.emulator()
    # a long max-delay keeps values pending, so the bound is reached
    url = setup.serve("--max-queue", "2", "--max-delay", "60").url
    answers = [post_events(url, [event(deal)]) for deal in setup.deals[:4]]
    codes = [a.status_code for a in answers]
    assert codes[:2] == [202, 202] and 429 in codes[2:]
    refused = answers[codes.index(429)]
    assert int(refused.headers["Retry-After"]) > 0


def test_sigterm_finishes_requests_in_flight_and_sends_what_is_pending(setup):
    setup.emulator()
    proc = setup.serve("--max-delay", "30")
    url = proc.url
    host, port = url[len("http://"):].split(":")
    # A request in flight for sure: its headers and half its body are sent before the signal.
    body = json.dumps([event(setup.deals[0], STATUS="Stalled", PROGRESS=77)]).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(body, "inflight").items())
    raw = socket.create_connection((host, int(port)), timeout=20)
    raw.sendall(f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
                + body[:10])
    time.sleep(0.5)
    answers: list = []

    def post(i: int) -> None:
        try:
            answers.append(post_events(url, [event(setup.deals[1 + i % 4], accord_id=f"acc_{i}", PROGRESS=i)]))
        except requests.ConnectionError:
            answers.append(None)  # refused after the socket closed: never answered 202, nothing promised

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for thread in threads[:10]:
        thread.start()
    proc.proc.send_signal(signal.SIGTERM)
    for thread in threads[10:]:
        thread.start()
    time.sleep(0.5)
    raw.sendall(body[10:])
    answer = raw.recv(65536).decode()
    raw.close()
    assert answer.startswith("HTTP/1.1 202"), answer
    for thread in threads:
        thread.join(20)
    assert proc.proc.wait(30) == 0
    assert {a.status_code for a in answers if a is not None} <= {202, 503}
    # every 202'd value was sent during the drain (max-delay 30 s would not have sent it otherwise)
    assert "still pending" not in proc.stderr()
    with SyncStore(setup.store) as store:
        assert store.load_confirmed()[setup.deals[0]]["accord_status"] == "Stalled"
    assert setup.values(setup.deals[0])["accord_status"] == "Stalled"


def test_kill_9_after_202_loses_nothing(setup):
    setup.emulator()
    # no sending before the kill: max-delay far away, and the values must survive the kill
    proc = setup.serve("--max-delay", "600")
    deal = setup.deals[4]
    assert post_events(proc.url, [event(deal, STATUS="Stalled", PROGRESS=99)]).status_code == 202
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait(10)
    assert setup.values(deal)["accord_status"] is None
    setup.serve()  # a new start finds the pending value and sends it
    wait_for(lambda: setup.values(deal)["accord_status"] == "Stalled")


def test_health_readiness_and_metrics(setup):
    setup.emulator()
    url = setup.serve().url
    post_events(url, [event(setup.deals[0], STATUS="At Risk")])
    wait_for(lambda: setup.values(setup.deals[0])["accord_status"] == "At Risk")
    ready = requests.get(url + "/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["store_writable"] is True
    text = wait_for(lambda: (t := requests.get(url + "/metrics", timeout=5).text)
                    and "provisioner_event_to_confirmed_seconds_count 1.0" in t and t)
    for name in ("provisioner_events_total{result=\"accepted\"} 1.0", "provisioner_queue_depth",
                 "provisioner_oldest_pending_seconds", "provisioner_hubspot_requests_total{status=\"200\"}",
                 "provisioner_hubspot_rate_limited_total", "provisioner_batch_deals_bucket",
                 "provisioner_guard_events"):
        assert name in text


def test_readyz_says_not_ready_when_the_portal_is_unreachable(setup):
    setup.emulator()
    nobody = f"http://127.0.0.1:{free_port()}"  # a closed port: connections are refused
    proc = setup.start(["serve", "--port", "0"], "serve", HUBSPOT_BASE_URL=nobody, PROVISIONER_MAX_RETRIES="0")
    ready = requests.get(proc.url + "/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["portal_reachable"] is False


def test_no_secret_in_logs_or_answers(setup):
    setup.emulator()
    proc = setup.start(["-vv", "--log-format", "json", "serve", "--port", "0", "--max-delay", "0.1"], "serve",
                       HUBSPOT_BASE_URL=setup.emu.url)
    answers = [
        post_events(proc.url, [event(setup.deals[0])]),
        post_events(proc.url, [event(setup.deals[0])], key=b"wrong"),
        post_events(proc.url, b"junk"),
        requests.post(proc.url + "/hubspot/webhooks", data=b"[]", headers={"X-HubSpot-Signature-v3": "x"}, timeout=5),
        requests.get(proc.url + "/metrics", timeout=5),
        requests.get(proc.url + "/readyz", timeout=5),
    ]
    wait_for(lambda: setup.values(setup.deals[0])["accord_status"] == "On Track")
    proc.stop()
    seen = proc.stderr() + "".join(a.text + json.dumps(dict(a.headers)) for a in answers)
    for secret in [TOKEN, CLIENT_SECRET, KEY.decode(), OLD_KEY.decode(), *SECRETS.split()]:
        assert secret not in seen
    for line in proc.stderr().splitlines()[1:]:
        json.loads(line)  # JSON lines after the URL line


def _cli(setup, *args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "provisioner", *args], cwd=setup.dir, env=setup.env(),
                          capture_output=True, text=True, timeout=60)


def test_a_path_naming_another_portal_is_404_and_its_own_portal_is_served(setup):
    setup.emulator()
    url = setup.serve().url
    body = json.dumps([event(setup.deals[0])]).encode()
    other = requests.post(url + "/v1/portals/999/events", data=body, headers=signed_headers(body, "p1"), timeout=5)
    ours = requests.post(url + "/v1/portals/12345678/events", data=body, headers=signed_headers(body, "p2"),
                         timeout=5)
    assert other.status_code == 404 and ours.status_code == 202


def test_hubspots_daily_limit_pauses_sending_and_readyz_says_so(setup):
    setup.emulator("--fault-rate", "1", "--fault-kinds", "429-daily", "--fault-path", "/batch/update")
    url = setup.serve().url
    assert post_events(url, [event(setup.deals[0])]).status_code == 202
    ready = wait_for(lambda: (r := requests.get(url + "/readyz", timeout=5)).status_code == 503 and r.json())
    assert ready["daily_limit_ok"] is False and ready["store_writable"] is True
