"""Checking who sent a webhook: Standard Webhooks (Accord's intake) and HubSpot's v3 signature (the guard).

Pure functions over the raw bytes of a request; no secret ever leaves them (a failure says what
was wrong, never a key or an expected signature).

Standard Webhooks: ``webhook-signature`` holds one or more space-separated ``v1,<base64>``
signatures of ``"{webhook-id}.{webhook-timestamp}.{raw body}"`` (HMAC-SHA256); any of them made
with any configured key is enough (several keys let a key be rotated). A key written
``whsec_<base64>`` is the decoded bytes, any other key its UTF-8 bytes. The timestamp (Unix
seconds) must be within 5 minutes of now, in either direction.

HubSpot v3: ``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(client secret, method + URI + raw
body + X-HubSpot-Request-Timestamp)), the timestamp in milliseconds and not older than 5 minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

TOLERANCE_S = 300
MAX_SIGNATURE_HEADER = 4096  # a header longer than this is refused unread


class SignatureError(Exception):
    """The request is not signed by a key we hold (the message never contains a secret)."""


def parse_keys(text: str | None) -> tuple[bytes, ...]:
    """PROVISIONER_WEBHOOK_SECRET's keys: space-separated, ``whsec_`` + base64 or raw text.

    Raises ValueError naming the position of a bad key, never the key.
    """
    keys = []
    for position, word in enumerate((text or "").split(), 1):
        if word.startswith("whsec_"):
            try:
                key = base64.b64decode(word[len("whsec_"):], validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"key {position} starts with whsec_ but the rest is not base64") from None
        else:
            key = word.encode("utf-8")
        if not key:
            raise ValueError(f"key {position} is empty")
        keys.append(key)
    return tuple(keys)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError(f"the {name} header is missing")
    return value


def verify_standard(keys: tuple[bytes, ...], headers: Mapping[str, str], body: bytes, now: float) -> str:
    """Check a Standard Webhooks signature; returns the ``webhook-id``. ``headers`` is case-insensitive."""
    if not keys:
        raise SignatureError("no webhook key is configured")
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if len(signatures) > MAX_SIGNATURE_HEADER or len(msg_id) > 256:
        raise SignatureError("a signature header is too long")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("webhook-timestamp is not a Unix time in seconds")
    if abs(now - int(stamp)) > TOLERANCE_S:
        raise SignatureError("webhook-timestamp is more than 5 minutes away from now")
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()) for key in keys]
    for part in signatures.split(" "):
        version, _, given = part.partition(",")
        if version != "v1" or not given:
            continue
        given_bytes = given.encode("ascii", "replace")
        # Compare against every key (no early exit between keys: timing says nothing about which).
        matched = False
        for candidate in expected:
            matched |= hmac.compare_digest(candidate, given_bytes)
        if matched:
            return msg_id
    raise SignatureError("no v1 signature matches a configured key")


def sign_standard(key: bytes, msg_id: str, stamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a body (what Accord's sender computes)."""
    signed = msg_id.encode() + b"." + str(stamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_hubspot_v3(secret: bytes, method: str, uri: str, headers: Mapping[str, str], body: bytes,
                      now: float) -> None:
    """Check HubSpot's v3 signature of a webhook request to ``uri`` (the full URI HubSpot called)."""
    if not secret:
        raise SignatureError("HUBSPOT_CLIENT_SECRET is not set")
    given = _header(headers, "x-hubspot-signature-v3")
    stamp = _header(headers, "x-hubspot-request-timestamp")
    if len(given) > MAX_SIGNATURE_HEADER:
        raise SignatureError("the signature header is too long")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 15:
        raise SignatureError("X-HubSpot-Request-Timestamp is not a time in milliseconds")
    if abs(now - int(stamp) / 1000.0) > TOLERANCE_S:
        raise SignatureError("X-HubSpot-Request-Timestamp is more than 5 minutes away from now")
    signed = method.encode() + uri.encode() + body + stamp.encode()
    expected = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, given.encode("ascii", "replace")):
        raise SignatureError("X-HubSpot-Signature-v3 does not match")
