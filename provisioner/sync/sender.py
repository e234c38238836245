"""Sending deal updates in batches of 100, and telling per deal what HubSpot did with each.

A batch HubSpot rejects as a whole (400) is split in halves until the bad record stands alone;
207 answers are read per deal. Transient failures the client could not retry away leave the
deals *failed* (they stay pending in the store and go out again on the next run).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from provisioner.errors import (
    DailyLimitError,
    NotFoundError,
    ProvisionerError,
    RateLimitError,
    RequestValidationError,
    ServerError,
)
from provisioner.hubspot.batching import BATCH_LIMIT as BATCH_SIZE
from provisioner.hubspot.client import BatchResult, HubSpotClient

WRITTEN = "written"
REJECTED = "rejected"  # HubSpot refused the values: dead letter
MISSING = "missing"  # the deal does not exist (any more): dead letter, not retried by itself
FAILED = "failed"  # transient: stays pending

_REJECT_CATEGORIES = frozenset({"VALIDATION_ERROR", "INVALID_PROPERTY", "PROPERTY_DOESNT_EXIST"})


class SyncAborted(ProvisionerError):
    """The run cannot go on (e.g. a mapped property does not exist in the portal)."""


@dataclass(frozen=True)
class Outcome:
    deal_id: str
    status: str
    values: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""


def _error_text(exc: ProvisionerError) -> str:
    body = getattr(exc, "body", None)
    details = []
    if isinstance(body, dict):
        for item in body.get("errors") or []:
            if isinstance(item, dict) and item.get("message"):
                details.append(str(item["message"]))
    text = exc.args[0] if exc.args else str(exc)
    return f"{text} ({'; '.join(details)})" if details and "".join(details) not in text else str(text)


def _missing_property(exc: ProvisionerError) -> bool:
    body = getattr(exc, "body", None)
    text = json.dumps(body) if body is not None else ""
    return "PROPERTY_DOESNT_EXIST" in text or getattr(exc, "sub_category", None) == "PROPERTY_DOESNT_EXIST"


def _is_not_found(exc: ProvisionerError) -> bool:
    if isinstance(exc, NotFoundError):
        return True
    body = getattr(exc, "body", None)
    return "OBJECT_NOT_FOUND" in (json.dumps(body) if body is not None else "")


def send_updates(
    client: HubSpotClient, work: list[tuple[str, Mapping[str, str]]], batch_size: int = BATCH_SIZE
) -> Iterator[list[Outcome]]:
    """Yield the outcomes of each answered request, in order, for every (deal id, values) of ``work``.

    Raises what makes going on pointless (daily limit spent, portal unreachable, bad token,
    a mapped property missing from the portal); outcomes yielded before stay valid.
    """
    for start in range(0, len(work), batch_size):
        yield from _send(client, list(work[start : start + batch_size]))


def _send(client: HubSpotClient, batch: list[tuple[str, Mapping[str, str]]]) -> Iterator[list[Outcome]]:
    try:
        result = client.batch_update_deals([(deal, dict(values)) for deal, values in batch])
    except DailyLimitError:
        raise
    except (RequestValidationError, NotFoundError) as exc:
        if _missing_property(exc):
            raise SyncAborted(
                f"HubSpot says a mapped property does not exist: {_error_text(exc)}",
                hint="run `provisioner apply` to create the properties, or fix sync.mapping",
            ) from None
        if len(batch) == 1:
            deal, values = batch[0]
            status = MISSING if _is_not_found(exc) else REJECTED
            yield [Outcome(deal, status, values, _error_text(exc))]
            return
        middle = len(batch) // 2
        yield from _send(client, batch[:middle])
        yield from _send(client, batch[middle:])
        return
    except (ServerError, RateLimitError) as exc:
        yield [Outcome(deal, FAILED, values, str(exc)) for deal, values in batch]
        return
    yield read_batch_result(batch, result)


def read_batch_result(batch: list[tuple[str, Mapping[str, str]]], result: BatchResult) -> list[Outcome]:
    """Per deal: written when HubSpot returned it, else what its error says."""
    confirmed = {record.id for record in result.results}
    errored = {}
    for error in result.errors:
        for deal in error.ids:
            errored[deal] = error
    outcomes = []
    for deal, values in batch:
        error = errored.get(deal)
        if error is not None:
            if error.category == "OBJECT_NOT_FOUND":
                status = MISSING
            elif error.category in _REJECT_CATEGORIES:
                status = REJECTED
            else:
                status = FAILED
            outcomes.append(Outcome(deal, status, values, f"{error.category}: {error.message}"))
        elif deal in confirmed:
            outcomes.append(Outcome(deal, WRITTEN, values))
        else:
            outcomes.append(Outcome(deal, FAILED, values, "HubSpot's answer did not confirm this deal"))
    return outcomes
