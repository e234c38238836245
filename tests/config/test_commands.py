"""The validate and schema commands, through the console entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from provisioner.cli import main
from tests.config.test_load_config import ENVIRONMENTS, SHIPPED


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_validate_shipped_file(tmp_path, capsys, monkeypatch) -> None:
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    monkeypatch.chdir(tmp_path)

    code, out, err = run(["validate"], capsys)

    assert code == 0, err
    assert out == (
        "hubspot_schema.yaml: valid (1 group, 7 properties, 1 validation rule, "
        "3 manual settings, 7 mapped fields)\n"
    )


def test_validate_reports_every_problem_and_exits_1(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        SHIPPED.read_text()
        .replace("    label: Accord URL", "    lable: Accord URL", 1)
        .replace("  - accord_viewed\n", "  - accord_viewd\n")
    )

    code, out, err = run(["validate", "-f", str(path)], capsys)

    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[-1] == "error: 2 problem(s) found"
    assert any(
        line.endswith("properties[0].lable: unknown key 'lable' (did you mean 'label'?)") for line in lines
    )
    assert any(f"{path}:" in line and "(did you mean 'accord_viewed'?)" in line for line in lines)
    assert "Traceback" not in err


def test_validate_missing_file_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, err = run(["validate"], capsys)

    assert code == 1
    assert err.splitlines()[0] == "error: hubspot_schema.yaml: no such file"


def test_validate_with_environment_flag_and_variable(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(ENVIRONMENTS)

    code, out, _ = run(["validate", "-f", str(path), "--env", "sandbox"], capsys)
    assert code == 0
    assert out.startswith(f"{path}: valid for environment sandbox (")

    monkeypatch.setenv("PROVISIONER_ENV", "nowhere")
    code, out, err = run(["validate", "-f", str(path)], capsys)
    assert code == 1
    assert "unknown environment 'nowhere' (known: sandbox, production)" in err


def test_schema_command_prints_the_shipped_schema(capsys) -> None:
    code, out, _ = run(["schema"], capsys)

    assert code == 0
    schema = json.loads(out)
    shipped = Path(__file__).resolve().parents[2] / "provisioner" / "schema" / "hubspot_schema.schema.json"
    assert schema == json.loads(shipped.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert out == json.dumps(schema, indent=2) + "\n"
