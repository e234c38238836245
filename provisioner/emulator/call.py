"""One request as the API handlers see it: portal, settings, API version, query and JSON body."""

from __future__ import annotations

import json
from dataclasses import dataclass

from provisioner.emulator.settings import EmulatorSettings
from provisioner.emulator.state import Portal
from provisioner.emulator.wire import error, iso, now_ms, validation_error


@dataclass
class Call:
    portal: Portal
    settings: EmulatorSettings
    version: str  # "v3" or a date such as "2026-03"
    method: str
    path: str
    args: dict[str, list[str]]
    raw_body: bytes
    base_url: str
    _body: object = None

    @property
    def dated(self) -> bool:
        return self.version != "v3"

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.args.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.arg(name, "false") or "").lower() == "true"

    def json(self) -> object:
        if self._body is None:
            if not self.raw_body:
                raise error(400, "VALIDATION_ERROR", "Invalid input JSON: the request body is empty.")
            try:
                self._body = json.loads(self.raw_body)
            except RecursionError:
                raise error(400, "VALIDATION_ERROR", "Invalid input JSON: nested too deeply.") from None
            except (ValueError, UnicodeDecodeError) as exc:
                line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
                raise error(
                    400, "VALIDATION_ERROR", f"Invalid input JSON on line {line}, column {col}: {exc}"
                ) from None
        return self._body

    def json_object(self) -> dict:
        body = self.json()
        if not isinstance(body, dict):
            raise error(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object.")
        return body

    def inputs(self, limit: int | None = 100) -> list:
        body = self.json_object()
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise error(400, "VALIDATION_ERROR", "Invalid input JSON: 'inputs' must be a list.")
        if limit is not None and len(inputs) > limit:
            raise error(
                400, "VALIDATION_ERROR", f"Batch input is limited to {limit} inputs; got {len(inputs)}.",
                errors=[{"message": f"size must be between 0 and {limit}", "code": "INVALID_SIZE", "in": "inputs"}],
            )
        for item in inputs:
            if not isinstance(item, dict):
                raise error(400, "VALIDATION_ERROR", "Invalid input JSON: each input must be an object.")
        return inputs

    def reject_unknown(self, body: dict, allowed: set[str], what: str) -> None:
        """400 for fields HubSpot's schema for ``what`` does not have (a strictness switch)."""
        unknown = sorted(set(body) - allowed)
        if unknown and self.settings.reject_unknown_fields:
            raise validation_error(
                f"Invalid input JSON: unrecognised field(s) {unknown} in {what}",
                [(f"Unrecognized field \"{key}\"", "UNRECOGNIZED_FIELD", key) for key in unknown],
            )

    def batch_answer(self, results: list, errors: list, started_ms: int, success: int = 200) -> tuple[int, dict]:
        """HubSpot's batch answer: 207 with numErrors/errors for per-input failures.

        The 2026-09 draft folds 207 into ``success`` (a switch; by default only on those paths).
        """
        body = {"status": "COMPLETE", "results": results, "startedAt": iso(started_ms), "completedAt": iso(now_ms())}
        if not errors:
            return success, body
        body["numErrors"] = len(errors)
        body["errors"] = errors
        fold = self.settings.batch_207_as_200
        if fold is None:
            fold = self.version >= "2026-09" and self.dated
        return (success if fold else 207), body
