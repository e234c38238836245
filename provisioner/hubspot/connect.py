"""Choosing the portal a command talks to: HubSpot (token from the environment) or the local portal.

Never falls back to the local portal by itself: a pipeline that lost its secret must fail.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from provisioner.errors import UsageError
from provisioner.hubspot.client import DEFAULT_BASE_URL, HubSpotClient
from provisioner.hubspot.deadline import TIMEOUT_VARIABLE, parse_timeout
from provisioner.hubspot.transport import LOCAL_TOKEN
from provisioner.model import DEFAULT_API_VERSION

LOCAL_BASE_URL = "http://local.portal"
DEFAULT_LOCAL_STATE = ".provisioner/local-portal"
LOCAL_WAIT_S = 30.0  # how long a command waits for another one using the local portal


def local_state_path() -> Path:
    """Where the embedded local portal keeps its state (PROVISIONER_LOCAL_STATE overrides)."""
    return Path(os.environ.get("PROVISIONER_LOCAL_STATE") or DEFAULT_LOCAL_STATE)


def local_wait_s() -> float:
    """Seconds a command waits for the local portal held by another (PROVISIONER_LOCAL_WAIT; 0: fail at once)."""
    raw = os.environ.get("PROVISIONER_LOCAL_WAIT")
    if raw is None:
        return LOCAL_WAIT_S
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 86_400:
        raise UsageError(f"PROVISIONER_LOCAL_WAIT must be a number of seconds from 0 to 86400, not {raw!r}")
    return wait


def connect(*, local: bool, api_version: str | None = None, tier: str | None = None,
            default_api_version: str | None = None, token: str | None = None, **client_options) -> HubSpotClient:
    """A client for the portal the command should use, from the --local flag and the environment.

    API version: ``api_version`` (a flag), else HUBSPOT_API_VERSION, else ``default_api_version``
    (the file's), else DEFAULT_API_VERSION. The command's overall deadline: PROVISIONER_TIMEOUT seconds.
    ``token`` (a registered portal's) or a ``token_provider`` in ``client_options`` stands in for
    HUBSPOT_ACCESS_TOKEN.
    """
    version = api_version or os.environ.get("HUBSPOT_API_VERSION") or default_api_version or DEFAULT_API_VERSION
    client_options.setdefault("deadline_s", parse_timeout(os.environ.get(TIMEOUT_VARIABLE)))
    tier = tier or os.environ.get("HUBSPOT_TIER") or "starter"
    retries = os.environ.get("PROVISIONER_MAX_RETRIES")
    if retries is not None:
        if not retries.isdigit():
            raise UsageError(f"PROVISIONER_MAX_RETRIES must be a whole number, not {retries!r}")
        client_options.setdefault("max_retries", int(retries))
    if local:
        from provisioner.emulator import Emulator, EmulatorSettings, StateFileError, StateInUse

        state = local_state_path()
        wait = local_wait_s()
        try:
            state.parent.mkdir(parents=True, exist_ok=True)
            emulator = Emulator(EmulatorSettings(state_file=str(state), burst_limit=None, daily_limit=None,
                                                 state_lock_wait_s=wait))
        except StateInUse as exc:
            raise UsageError(
                f"the local portal is busy: {exc}",
                hint="another command is using it; run this one when it has finished "
                "(PROVISIONER_LOCAL_WAIT sets how many seconds to wait)",
            ) from None
        except (StateFileError, OSError) as exc:
            raise UsageError(
                f"cannot open the local portal: {exc}",
                hint="remove that file to start an empty local portal, or point PROVISIONER_LOCAL_STATE elsewhere",
            ) from None
        client = HubSpotClient(
            LOCAL_BASE_URL, LOCAL_TOKEN, api_version=version, tier="unlimited", wsgi_app=emulator.app, **client_options
        )
        # The local portal (and its lock) lives exactly as long as the client: let go of it, let go of the portal.
        weakref.finalize(client, emulator.close)
        return client
    token = token or os.environ.get("HUBSPOT_ACCESS_TOKEN")
    if not token and client_options.get("token_provider") is None:
        raise UsageError(
            "no portal to talk to: HUBSPOT_ACCESS_TOKEN is not set and --local was not given",
            hint="export HUBSPOT_ACCESS_TOKEN (a private-app token or Service Key), or pass --local "
            "to use the embedded local portal",
        )
    base_url = os.environ.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL
    return HubSpotClient(base_url, token, api_version=version, tier=tier, **client_options)
