"""Which store a command uses: a SQLite file (the embedded default) or a PostgreSQL database.

``PROVISIONER_STORE_URL`` wins over the file's ``sync.store``, so a password never has to sit in
the file; a ``sync.store`` URL that carries a password is refused when the file is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from provisioner.errors import UsageError

STORE_URL_VARIABLE = "PROVISIONER_STORE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(text: str) -> bool:
    return urlsplit(text).scheme in POSTGRES_SCHEMES if "://" in text else False


@dataclass(frozen=True)
class StoreLocation:
    """Exactly one of ``path`` (SQLite) and ``url`` (PostgreSQL)."""

    path: str | None = None
    url: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def __repr__(self) -> str:  # never shows a password
        if self.url is None:
            return f"StoreLocation(path={self.path!r})"
        return f"StoreLocation(url={redact_url(self.url)!r})"


def store_url_has_password(text: str) -> bool:
    """Whether a postgresql:// URL names a password (in its user-info or as a ``password=`` parameter)."""
    if not is_postgres_url(text):
        return False
    try:
        parts = urlsplit(text)
        return parts.password is not None or "password=" in parts.query.lower()
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def store_location(configured: str, override: str | None = None) -> StoreLocation:
    """``override`` (a --store option), else PROVISIONER_STORE_URL, else ``configured`` (the file's)."""
    chosen = override or os.environ.get(STORE_URL_VARIABLE) or configured
    if "://" in chosen:
        if not is_postgres_url(chosen):
            raise UsageError(f"store {redact_url(chosen)!r}: only postgresql:// URLs or SQLite file paths are stores",
                             hint=f"set {STORE_URL_VARIABLE}=postgresql://USER@HOST:PORT/DB, or give a file path")
        return StoreLocation(url=chosen)
    return StoreLocation(path=chosen)
