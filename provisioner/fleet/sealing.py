"""Secrets at rest: refresh and access tokens sealed with Fernet, the key from the environment.

``PROVISIONER_SECRET_KEY`` holds one Fernet key (or several, space-separated: the first seals, every
one opens, so a key can be rotated). No key, no sealing: a refresh token is never stored in the
clear. Opening a token sealed under another key is one clear error, never a traceback, and the
error never shows the key or the token.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from provisioner.errors import UsageError
from provisioner.logs import register_secret

SECRET_KEY_VARIABLE = "PROVISIONER_SECRET_KEY"
MAKE_KEY = ("make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'")


def _cipher() -> MultiFernet:
    raw = os.environ.get(SECRET_KEY_VARIABLE, "")
    keys = raw.split()
    if not keys:
        raise UsageError(f"{SECRET_KEY_VARIABLE} is not set: refresh tokens are stored only encrypted with it",
                         hint=f"set {SECRET_KEY_VARIABLE} to a Fernet key; {MAKE_KEY}")
    fernets = []
    for index, key in enumerate(keys, 1):
        register_secret(key)
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise UsageError(f"{SECRET_KEY_VARIABLE}: key {index} is not a Fernet key (32 url-safe base64 bytes; "
                             "its value is not shown)", hint=MAKE_KEY) from None
    return MultiFernet(fernets)


def seal(secret: str) -> str:
    """The secret encrypted under the first key of PROVISIONER_SECRET_KEY (ASCII text)."""
    return _cipher().encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(sealed: str, what: str) -> str:
    """The secret ``sealed`` held; ``what`` names it in the error when no key opens it."""
    try:
        secret = _cipher().decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise UsageError(f"{what} cannot be decrypted with {SECRET_KEY_VARIABLE}",
                         hint="it was stored under another key: put that key in the variable too "
                         "(space-separated, the new key first), or add the portal again") from None
    register_secret(secret)
    return secret
