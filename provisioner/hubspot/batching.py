"""HubSpot's batch limit, in one place: every batch endpoint splits its inputs here and merges the answers.

HubSpot takes at most 100 inputs in one batch request (a larger one is a 400 for the whole request), so
a caller may hand any number of inputs to a batch method: it sends ceil(n / 100) requests, in input
order, and returns one merged answer as if HubSpot had taken them all at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import TypeVar

from provisioner.hubspot.wire import BatchResult

BATCH_LIMIT = 100

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BATCH_LIMIT) -> Iterator[Sequence[T]]:
    """The items in consecutive slices of at most ``size`` (none for no items)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def merge_results(parts: list[BatchResult]) -> BatchResult:
    """One answer for several batch requests: 207 if any part had failures, records in input order."""
    results = [record for part in parts for record in part.results]
    failures = [error for part in parts for error in part.errors]
    partial = failures or any(part.status == HTTPStatus.MULTI_STATUS for part in parts)
    status = HTTPStatus.MULTI_STATUS if partial else HTTPStatus.OK
    return BatchResult(status=status, results=results, errors=failures)
