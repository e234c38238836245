"""A minimal in-memory stand-in for the client's deal calls, for engine tests that need exact control.

Scenario tests against the emulator (test_scenarios.py) cover the real wire format.
"""

from __future__ import annotations

from provisioner.errors import RequestValidationError, ServerError
from provisioner.hubspot.client import BatchError, BatchResult, Record, RequestStats


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs, no handler catches it."""


class FakeDeals:
    def __init__(self, deal_ids=(), *, bad_value="BAD", fail_ids=(), server_error_calls=(), crash_after_call=None,
                 raise_on_call=None):
        self.deals: dict[str, dict[str, str]] = {d: {} for d in deal_ids}
        self.bad_value = bad_value
        self.fail_ids = set(fail_ids)
        self.server_error_calls = set(server_error_calls)
        self.crash_after_call = crash_after_call
        self.raise_on_call = dict(raise_on_call or {})  # call number -> exception raised before applying
        self.calls: list[list[tuple[str, dict[str, str]]]] = []
        self.stats = RequestStats()

    def batch_update_deals(self, inputs):
        self.stats.requests += 1
        self.calls.append(inputs)
        if len(self.calls) in self.raise_on_call:
            raise self.raise_on_call[len(self.calls)]
        if len(self.calls) in self.server_error_calls:
            raise ServerError("boom", method="POST", path="/batch/update", status=502)
        if any(self.bad_value in values.values() for _, values in inputs):
            raise RequestValidationError(
                "Property values were not valid", method="POST", path="/batch/update", status=400,
                category="VALIDATION_ERROR", body={"errors": [{"message": "bad value", "code": "INVALID_INTEGER"}]},
            )
        results, errors = [], []
        for deal_id, values in inputs:
            if deal_id not in self.deals:
                errors.append(BatchError("error", "OBJECT_NOT_FOUND", f"deal {deal_id} not found", (deal_id,)))
            elif deal_id in self.fail_ids:
                errors.append(BatchError("error", "INTERNAL_ERROR", "try again", (deal_id,)))
            else:
                self.deals[deal_id].update(values)
                results.append(Record(deal_id, dict(self.deals[deal_id])))
        if self.crash_after_call == len(self.calls):
            raise Crash()
        return BatchResult(207 if errors else 200, results, errors)

    def batch_read_deals(self, ids, properties):
        self.stats.requests += 1
        results = [Record(d, {p: self.deals[d].get(p) for p in properties}) for d in ids if d in self.deals]
        errors = [BatchError("error", "OBJECT_NOT_FOUND", "not found", (d,)) for d in ids if d not in self.deals]
        return BatchResult(207 if errors else 200, results, errors)
