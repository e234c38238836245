"""The project's exceptions. ``cli`` maps them to a message and an exit code, once."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


class ProvisionerError(Exception):
    """Base of every expected error: printed as one line (plus a hint), exit code 1."""

    exit_code = EXIT_ERROR
    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file, located as FILE:LINE:COL."""

    file: str
    line: int
    column: int
    where: str  # a path into the document, e.g. "properties[2].rules.max_length"
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.where}: {self.what}"


class ConfigError(ProvisionerError):
    """The config file is unreadable or invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid config"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class UsageError(ProvisionerError):
    """The command was called in a way that cannot work (never exit code 2)."""


class ConnectionFailed(ProvisionerError):
    """The portal could not be reached at all (DNS, refused, timeouts after retries)."""


class DeadlineExceeded(ConnectionFailed):
    """No answer in time: a request outlived its own timeout, or the command its PROVISIONER_TIMEOUT."""


class PortalGuardError(ProvisionerError):
    """The portal answering is not the one the file (or saved plan) is for."""


class PortalPaused(ProvisionerError):
    """A registered portal is paused (its refresh token was refused, say): nothing is sent to it."""

    def __init__(self, portal_id: int, reason: str) -> None:
        super().__init__(f"portal {portal_id} is paused: {reason}",
                         hint=f"renew its credentials, then `provisioner portals resume {portal_id}`")
        self.portal_id = portal_id
        self.reason = reason


class StalePlanError(ProvisionerError):
    """A saved plan no longer matches the file or the portal."""


class PlanFileError(ProvisionerError):
    """A saved plan file cannot be read: missing, too big, damaged, or not a plan this version writes."""


class UnsafeChangeError(ProvisionerError):
    """The plan holds a change that needs an explicit flag (type change, archive)."""


class ApplyError(ProvisionerError):
    """Apply stopped part-way; ``done`` and ``not_done`` say what happened."""

    def __init__(self, message: str, done: list[str], not_done: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.done = done
        self.not_done = not_done


class ApiError(ProvisionerError):
    """HubSpot answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int,
        category: str | None = None,
        sub_category: str | None = None,
        correlation_id: str | None = None,
        body: object = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.method = method
        self.path = path
        self.status = status
        self.category = category
        self.sub_category = sub_category
        self.correlation_id = correlation_id
        self.body = body

    def __str__(self) -> str:
        text = f"HubSpot {self.status} on {self.method} {self.path}: {self.args[0]}"
        if self.category:
            text += f" [{self.category}" + (f"/{self.sub_category}" if self.sub_category else "") + "]"
        if self.correlation_id:
            text += f" (correlation id {self.correlation_id})"
        return text


class AuthError(ApiError):
    hint = "Check HUBSPOT_ACCESS_TOKEN: HubSpot did not accept it."


class MissingScopesError(ApiError):
    def __init__(self, message: str, *, required_scopes: list[str] | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.required_scopes = list(required_scopes or [])
        if self.required_scopes:
            self.hint = "Grant the token these scopes: " + ", ".join(self.required_scopes)


class NotFoundError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class RequestValidationError(ApiError):
    """HubSpot rejected the request body (400 VALIDATION_ERROR and similar)."""


class RateLimitError(ApiError):
    def __init__(self, message: str, *, policy: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.policy = policy


class DailyLimitError(RateLimitError):
    hint = "HubSpot's daily limit is spent: wait until midnight in the portal's time zone."


class ServerError(ApiError):
    pass
