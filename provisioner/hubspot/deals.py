"""Deal record endpoints: batch create (to seed), read and update, 100 inputs a request."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from provisioner.hubspot.batching import chunks, merge_results
from provisioner.hubspot.endpoints import Endpoints
from provisioner.hubspot.wire import BatchResult, batch_result_from_json


class DealEndpoints(Endpoints):
    def _batch(self, verb: str, inputs: Sequence, body_for) -> BatchResult:
        """One batch call per 100 inputs, merged; 200 and 207 both return a BatchResult."""
        return merge_results([
            batch_result_from_json(self.request("POST", self.paths.deals(f"/batch/{verb}"), body=body_for(part)))
            for part in chunks(list(inputs))
        ])

    def batch_update_deals(self, inputs: Sequence[tuple[str, dict[str, str]]]) -> BatchResult:
        return self._batch("update", inputs, lambda part: {
            "inputs": [{"id": str(deal_id), "properties": dict(values)} for deal_id, values in part]})

    def batch_read_deals(self, ids: Sequence[str], properties: Sequence[str]) -> BatchResult:
        return self._batch("read", ids, lambda part: {
            "properties": list(properties), "propertiesWithHistory": [],
            "inputs": [{"id": str(deal_id)} for deal_id in part]})

    def archive_deal(self, deal_id: str) -> None:
        """Move a deal to HubSpot's recycle bin (204 whether or not it was there)."""
        self.request("DELETE", self.paths.deals(f"/{quote(str(deal_id), safe='')}"))

    def batch_create_deals(self, values: Sequence[dict[str, str]]) -> BatchResult:
        return self._batch("create", values, lambda part: {"inputs": [{"properties": dict(v)} for v in part]})
