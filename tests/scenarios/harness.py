"""Running the CLI against the emulator, as a user or a pipeline would."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from provisioner.cli import main
from provisioner.hubspot.client import HubSpotClient

SHIPPED = Path(__file__).resolve().parents[2] / "hubspot_schema.yaml"


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Portal:
    emulator: object
    base_url: str
    request_log: Path
    workdir: Path

    def client(self, **kwargs) -> HubSpotClient:
        kwargs.setdefault("sleep", lambda s: None)
        return HubSpotClient(self.base_url, "test-token", **kwargs)

    def requests(self) -> list[dict]:
        if not self.request_log.exists():
            return []
        return [json.loads(line) for line in self.request_log.read_text().splitlines() if line.strip()]

    def clear_log(self) -> None:
        self.request_log.write_text("")

    def writes(self) -> list[dict]:
        return [r for r in self.requests() if r["method"] != "GET" and "access-token-info" not in r["path"]]

    def config(self, name: str = "hubspot_schema.yaml") -> Path:
        target = self.workdir / name
        if not target.exists():
            shutil.copy(SHIPPED, target)
        return target


def run(capsys: pytest.CaptureFixture, *args: str) -> Result:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
