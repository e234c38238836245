"""Manual steps: what the file declares that no HubSpot API can set or read, and their confirmations.

View-only access, the deal sidebar and an app's CRM card on the deal record are set by a person
in HubSpot's UI. Each becomes a step
with the exact clicks and a digest of the declared state. A person records that a step was done
with ``provisioner confirm``, which writes the step's digest into a confirmations file next to the
config (reviewed in the repository like the config, one section per portal). A confirmed step stops
asking until its declared state, and so its digest, changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from provisioner.config.loader import format_path, read_document
from provisioner.errors import ConfigError, Problem, UsageError
from provisioner.files import write_atomic
from provisioner.model import Config, CrmCard
from provisioner.plan import ManualStep, fingerprint

ACCESS_TEXT = {
    "view_only": "Allow everyone to view",
    "view_and_edit": "Allow everyone to view and edit",
}

HEADER = """\
# Manual steps done by hand in HubSpot's UI, per portal id. HubSpot has no API to set or read
# these (view-only access, the deal sidebar, an app's CRM card), so `provisioner confirm` records them here.
# Review this file like the config: a step asks again when its declared state changes.
"""


CONFIRMATION_FIELDS = ("digest", "confirmed_at", "confirmed_by")


@dataclass(frozen=True)
class Confirmation:
    digest: str
    confirmed_at: str
    confirmed_by: str


def confirmations_path(config_path: str | os.PathLike) -> Path:
    """hubspot_schema.yaml -> hubspot_schema.confirmations.yaml, beside it."""
    path = Path(config_path)
    return path.with_name(f"{path.stem}.confirmations.yaml")


def declared_steps(config: Config) -> list[ManualStep]:
    """The manual steps the file declares, unconfirmed."""
    labels = {name: prop.label for name, prop in config.desired.properties.items()}
    steps = []
    for name, level in sorted(config.access.items()):
        label = labels.get(name, name)
        desired = {"property": name, "access": level}
        steps.append(
            ManualStep(
                id=f"access/{name}",
                title=f"Set access of '{label}' ({name}) to \"{ACCESS_TEXT[level]}\"",
                # The same clicks for every property (the title names it), so a plan can show them once.
                instructions=(
                    "In HubSpot, open Settings > Data Management > Properties and choose Deal properties.",
                    "Search for the property by its label or internal name and click it to edit.",
                    f"Under field access, change to \"{ACCESS_TEXT[level]}\""
                    + (" (needs HubSpot Enterprise)." if level == "view_only" else "."),
                    "Save.",
                ),
                desired=desired,
                digest=fingerprint(desired),
            )
        )
    if config.sidebar is not None:
        sidebar = config.sidebar
        desired = {"section": sidebar.section, "properties": list(sidebar.properties)}
        order = [f"{i}. '{labels.get(p, p)}' ({p})" for i, p in enumerate(sidebar.properties, start=1)]
        steps.append(
            ManualStep(
                id="sidebar",
                title=f"Show the sidebar section '{sidebar.section}' on deals with {len(sidebar.properties)} "
                "properties in order",
                instructions=(
                    "In HubSpot, open Settings > Objects > Deals > Record Customization > Customize the left sidebar.",
                    "Select Edit default view.",
                    f"Select Add section (or open the existing one) and title it '{sidebar.section}'.",
                    "Add these properties, in this order, and no others: " + ", ".join(order) + ".",
                    "Select Save.",
                ),
                desired=desired,
                digest=fingerprint(desired),
            )
        )
    if config.crm_card is not None:
        steps.append(crm_card_step(config.crm_card))
    return steps


CRM_CARD_PLACES = {"right_sidebar": "right sidebar", "middle_column": "middle column"}


def crm_card_step(card: CrmCard) -> ManualStep:
    """The seed's reminder: an app's card (e.g. Accord's) on the deal record, placed by hand."""
    place = CRM_CARD_PLACES[card.location]
    desired = {"app": card.app, "location": card.location}
    return ManualStep(
        id="crm_card",
        title=f"Add the '{card.app}' CRM card to the deal record's {place}",
        instructions=(
            f"Make sure the {card.app} app is connected to HubSpot (its card is offered only once the app is installed).",
            "In HubSpot, open Settings > Objects > Deals > Record Customization and choose the default view.",
            f"In the {place}, click Add cards and open the Card library; filter the card types by apps.",
            f"Find the '{card.app}' card and click Add card; move it where you want it in the {place}.",
            "Click Save and exit.",
        ),
        desired=desired,
        digest=fingerprint(desired),
    )


def load_confirmations(path: str | os.PathLike) -> dict[str, dict[str, Confirmation]]:
    """portal id (str) -> step id -> Confirmation; an absent file means none.

    Read like the config file (size limit, no aliases, depth limit, FILE:LINE:COL problems), since
    it is reviewed and edited by hand the same way.
    """
    path = Path(path)
    if not path.exists():
        return {}
    doc, problems = read_document(path)
    if problems:
        raise ConfigError(problems)

    def problem(where: tuple, what: str) -> Problem:
        line, column = doc.marks.get(where, (1, 1))
        return Problem(str(path), line, column, format_path(where), what)

    data = {} if doc.data is None else doc.data
    portals = data.get("portals") if isinstance(data, dict) else None
    if not isinstance(portals, dict):
        raise ConfigError([problem(("portals",) if isinstance(data, dict) else (), "expected a mapping of portal "
                                   "ids to confirmed steps (portals: {12345678: {sidebar: {digest: ...}}})")])
    out: dict[str, dict[str, Confirmation]] = {}
    for portal, steps in portals.items():
        if not isinstance(steps, (dict, type(None))):
            raise ConfigError([problem(("portals", portal), "expected a mapping of step ids")])
        mine = out.setdefault(str(portal), {})
        for step, entry in (steps or {}).items():
            where = ("portals", portal, step)
            values = [entry.get(name) if isinstance(entry, dict) else None for name in CONFIRMATION_FIELDS]
            if any(not isinstance(value, (str, int)) or isinstance(value, bool) for value in values):
                raise ConfigError([problem(where, "expected " + ", ".join(CONFIRMATION_FIELDS) + " as text")])
            mine[str(step)] = Confirmation(*(str(value) for value in values))
    return out


def apply_confirmations(
    steps: list[ManualStep], confirmations: Mapping[str, Mapping[str, Confirmation]], portal_id: int
) -> list[ManualStep]:
    """Mark the steps whose confirmation for this portal has the same digest."""
    mine = confirmations.get(str(portal_id), {})
    out = []
    for step in steps:
        entry = mine.get(step.id)
        if entry is not None and entry.digest == step.digest:
            step = ManualStep(**{**step.__dict__, "confirmed_at": entry.confirmed_at, "confirmed_by": entry.confirmed_by})
        out.append(step)
    return out


def record_confirmations(
    path: str | os.PathLike, portal_id: int, steps: list[ManualStep], *, confirmed_by: str, confirmed_at: str
) -> None:
    """Write the given steps as confirmed for this portal (atomically, keeping other portals)."""
    path = Path(path)
    existing = load_confirmations(path)
    portals: dict[str, Any] = {
        portal: {
            step: {"digest": c.digest, "confirmed_at": c.confirmed_at, "confirmed_by": c.confirmed_by}
            for step, c in entries.items()
        }
        for portal, entries in existing.items()
    }
    mine = portals.setdefault(str(portal_id), {})
    for step in steps:
        mine[step.id] = {"digest": step.digest, "confirmed_at": confirmed_at, "confirmed_by": confirmed_by}
    portals[str(portal_id)] = dict(sorted(mine.items()))
    text = HEADER + yaml.safe_dump({"portals": dict(sorted(portals.items()))}, sort_keys=False)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write the confirmations to {path}: {exc.strerror or exc}") from None
