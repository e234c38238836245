"""`provisioner check` against the emulator: the round trip, what stops it, and that it leaves no trace."""

from __future__ import annotations

import json

from provisioner.check import FAILED, PASSED, run_check
from provisioner.config import load_config
from provisioner.hubspot.client import HubSpotClient
from provisioner.model import ValidationRule
from provisioner.sync.events import Rules
from tests.check.conftest import active_deals, store_rows, writes
from tests.scenarios.harness import run
from tests.sync.conftest import event

STEPS = ["plan", "manual steps", "scopes", "deal", "push", "read back", "URL limit", "cleanup"]


def statuses(out: str) -> dict[str, str]:
    return {step["name"]: step["status"] for step in json.loads(out)["steps"]}


def test_check_on_a_converged_portal_passes_and_leaves_no_trace(applied, capsys):
    client = applied.client()
    seeded = client.batch_create_deals([{"dealname": "A real deal"}]).results[0].id
    (applied.workdir / "events.jsonl").write_text(event(deal_id=seeded) + "\n")
    assert run(capsys, "sync", "push", "--source", "events.jsonl").code == 0
    store = applied.workdir / ".provisioner" / "sync.sqlite"
    store_before, deals_before = store_rows(store), active_deals(applied)
    assert store_before["deals"]

    result = run(capsys, "check", "--format", "json")

    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report["ok"] is True
    assert [s["name"] for s in report["steps"]] == STEPS
    assert all(s["status"] in (PASSED, "skipped") for s in report["steps"])
    assert [(p["property"], p["matches"]) for p in report["properties"]] == [
        (prop, True) for prop in Rules.from_config(load_config("hubspot_schema.yaml")).mapping.values()
    ]
    assert all(p["sent"] == p["read"] for p in report["properties"])
    url = next(p for p in report["properties"] if p["field"] == "URL")
    assert len(url["read"]) == 255  # exactly the declared character limit
    test_deal = report["deal"]["id"]
    assert report["deal"] == {"id": test_deal, "created": True, "kept": False}
    assert applied.emulator.portal.deals[test_deal].archived
    assert active_deals(applied) == deals_before
    assert store_rows(store) == store_before
    assert not list(applied.workdir.glob(".provisioner/*check*"))


def test_a_portal_missing_a_property_stops_before_any_write(applied, capsys):
    applied.client().archive_property("accord_progress")
    applied.clear_log()

    result = run(capsys, "check")

    assert result.code == 1
    assert "[FAIL] plan:" in result.out and "property accord_progress: archived" in result.out
    assert "run `provisioner apply`" in result.out
    assert applied.requests() and writes(applied) == []
    assert "deal" not in statuses(run(capsys, "check", "--format", "json").out)


def test_an_empty_portal_stops_before_any_write(serve, capsys):
    portal = serve()
    portal.config()
    result = run(capsys, "check", "--format", "json")
    assert result.code == 1
    assert statuses(result.out) == {"plan": FAILED}
    assert "property accord_url: missing" in json.loads(result.out)["steps"][0]["detail"]
    assert writes(portal) == [] and active_deals(portal) == set()


def test_a_smaller_url_rule_in_the_portal_stops_the_check_and_names_the_property(applied, capsys):
    applied.client().put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("150",)))
    applied.clear_log()
    result = run(capsys, "check")
    assert result.code == 1
    assert "rule accord_url/MAX_LENGTH: 150 in the portal, 255 in the file" in result.out
    assert writes(applied) == []


def _truncating(app, prop: str, keep: int):
    """A portal that silently cuts one property's values short on deal updates."""

    def middleware(environ, start_response):
        if environ["PATH_INFO"].endswith("/batch/update"):
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(size))
            for item in body["inputs"]:
                if prop in item["properties"]:
                    item["properties"][prop] = item["properties"][prop][:keep]
            raw = json.dumps(body).encode()
            import io

            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
        return app(environ, start_response)

    return middleware


def test_a_value_cut_short_fails_the_check_and_names_the_property(applied):
    client = HubSpotClient("http://portal.test", "t", tier="unlimited", sleep=lambda s: None,
                           wsgi_app=_truncating(applied.emulator.app, "accord_url", 200))
    config = load_config(str(applied.config()))

    report = run_check(client, config, sleep=lambda s: None, read_back_deadline_s=0)

    assert not report.ok
    steps = {step.name: step for step in report.steps}
    assert steps["read back"].status == FAILED and "accord_url" in steps["read back"].detail
    assert steps["URL limit"].status == FAILED
    assert "accord_url holds 200 of the 255 characters sent" in steps["URL limit"].detail
    assert [c.property for c in report.properties if not c.matches] == ["accord_url"]
    assert steps["cleanup"].status == PASSED and applied.emulator.portal.deals[report.deal_id].archived


def test_a_token_without_the_deal_write_scope_is_named(serve, capsys):
    portal = serve(scopes={"crm.schemas.deals.read", "crm.schemas.deals.write", "crm.objects.deals.read"})
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    portal.clear_log()
    result = run(capsys, "check")
    assert result.code == 1
    assert "[FAIL] scopes: the token lacks crm.objects.deals.write" in result.out
    assert writes(portal) == [] and active_deals(portal) == set()


def test_a_token_without_the_schema_read_scope_is_named(serve, capsys):
    portal = serve(scopes={"crm.objects.deals.read", "crm.objects.deals.write"})
    portal.config()
    result = run(capsys, "check", "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["steps"] == [{"name": "scopes", "status": FAILED,
                                "detail": "the token lacks crm.schemas.deals.read: grant it and check again"}]


def test_deal_uses_the_given_deal_keeps_it_and_restores_its_values(applied, capsys):
    client = applied.client()
    deal = client.batch_create_deals([{"dealname": "Acme renewal", "accord_status": "At Risk",
                                       "accord_progress": "12"}]).results[0].id
    before = dict(applied.emulator.portal.deals[deal].props)
    applied.clear_log()

    result = run(capsys, "check", "--deal", deal, "--format", "json")

    assert result.code == 0, result.out
    report = json.loads(result.out)
    assert report["deal"] == {"id": deal, "created": False, "kept": True}
    assert active_deals(applied) == {deal}
    assert not applied.emulator.portal.deals[deal].archived
    after = {k: v for k, v in applied.emulator.portal.deals[deal].props.items() if v != ""}
    assert after == before
    assert not [w for w in writes(applied) if w["method"] == "DELETE" or w["path"].endswith("/batch/create")]


def test_deal_that_does_not_exist_fails_without_writing(applied, capsys):
    result = run(capsys, "check", "--deal", "999999")
    assert result.code == 1
    assert "[FAIL] deal: deal 999999 does not exist" in result.out
    assert writes(applied) == []


def test_deal_must_be_a_record_id(applied, capsys):
    result = run(capsys, "check", "--deal", "12a")
    assert result.code == 1 and "not a HubSpot deal id" in result.err and result.out == ""


def test_keep_leaves_the_test_deal_with_its_values(applied, capsys):
    result = run(capsys, "check", "--keep", "--format", "json")
    assert result.code == 0
    deal = json.loads(result.out)["deal"]
    assert deal["kept"] and deal["created"]
    assert active_deals(applied) == {deal["id"]}
    assert applied.emulator.portal.deals[deal["id"]].props["accord_status"] == "On Track"


def test_read_back_waits_out_hubspots_read_after_write_lag(serve, capsys):
    portal = serve(lag_min_s=0.3, lag_max_s=0.3)
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    result = run(capsys, "check", "--format", "json")
    assert result.code == 0, result.out


def test_text_and_markdown_outputs(applied, capsys):
    text = run(capsys, "check")
    assert text.code == 0
    lines = text.out.splitlines()
    assert lines[0] == "provisioner check: portal 12345678 (hubspot_schema.yaml)"
    assert [line.split(":")[0] for line in lines if line.startswith("[")] == [
        "[  ok] plan", "[  --] manual steps", "[  ok] scopes", "[  ok] deal", "[  ok] push", "[  ok] read back",
        "[  ok] URL limit", "[  ok] cleanup"]
    assert "accord_url (URL)" in text.out and "[ ] sidebar: not confirmed" in text.out
    assert lines[-1].startswith("PASSED: every step passed (")
    markdown = run(capsys, "check", "--format", "markdown")
    assert markdown.code == 0
    assert markdown.out.startswith("### provisioner check: PASSED: every step passed\n")
    assert "| :white_check_mark: | URL limit | accord_url holds a value of exactly 255 characters" in markdown.out
    assert "- [ ] `sidebar`:" in markdown.out


def test_manual_steps_show_their_confirmation(applied, capsys):
    assert run(capsys, "confirm", "sidebar", "--by", "jane").code == 0
    report = json.loads(run(capsys, "check", "--format", "json").out)
    sidebar = next(m for m in report["manual_steps"] if m["id"] == "sidebar")
    assert sidebar["confirmed_by"] == "jane" and sidebar["confirmed_at"]
    assert report["ok"]


def test_the_v3_path_family_works_too(applied, capsys):
    result = run(capsys, "check", "--api-version", "v3", "--format", "json")
    assert result.code == 0, result.out
    assert all("/crm/v3/" in r["path"] for r in applied.requests() if r["path"].startswith("/crm/"))


def test_another_portal_is_refused_before_any_write(applied, capsys):
    config = applied.config()
    config.write_text(config.read_text().replace("  id: null", "  id: 99999999"))
    result = run(capsys, "check")
    assert result.code == 1
    assert "is for portal 99999999, but the token opens portal 12345678" in result.err
    assert "Traceback" not in result.err and writes(applied) == []


def test_a_portal_that_cannot_be_reached_is_one_line(tmp_path, monkeypatch, capsys):
    from tests.scenarios.harness import SHIPPED

    monkeypatch.chdir(tmp_path)
    (tmp_path / "hubspot_schema.yaml").write_text(SHIPPED.read_text())
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "t")
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PROVISIONER_MAX_RETRIES", "0")
    result = run(capsys, "check")
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("error: ") and "Traceback" not in result.err


def test_the_sync_store_is_never_opened(applied, capsys):
    assert run(capsys, "check").code == 0
    assert not (applied.workdir / ".provisioner").exists()


def test_a_failed_check_in_markdown_names_the_failed_step(serve, capsys):
    portal = serve()
    portal.config()
    result = run(capsys, "check", "--format", "markdown")
    assert result.code == 1
    assert result.out.startswith("### provisioner check: FAILED: plan\n")
    assert "| :x: | plan | the portal is not as declared (group accord_customer_collaboration_data: missing;" in result.out
