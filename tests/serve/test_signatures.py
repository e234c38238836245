"""Standard Webhooks and HubSpot v3 signatures: the rules hold for every body, id, time and key."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.emulator.webhooks import sign_v3
from provisioner.serve.signatures import (
    SignatureError,
    parse_keys,
    sign_standard,
    verify_hubspot_v3,
    verify_standard,
)

NOW = 1_795_000_000
KEY = b"k3y-for-tests"
ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60)
keys = st.binary(min_size=1, max_size=64)


def headers(msg_id: str, stamp: int, signature: str) -> dict:
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


@given(body=st.binary(max_size=2000), msg_id=ids, key=keys, skew=st.integers(-300, 300))
def test_a_body_signed_with_a_configured_key_within_5_minutes_is_accepted(body, msg_id, key, skew):
    signature = sign_standard(key, msg_id, NOW + skew, body)
    assert verify_standard((b"other", key), headers(msg_id, NOW + skew, signature), body, NOW) == msg_id


@given(body=st.binary(min_size=1, max_size=500), msg_id=ids, position=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_changed_byte_of_the_body_is_refused(body, msg_id, position, flip):
    signature = sign_standard(KEY, msg_id, NOW, body)
    changed = bytearray(body)
    changed[position % len(body)] ^= flip
    with pytest.raises(SignatureError):
        verify_standard((KEY,), headers(msg_id, NOW, signature), bytes(changed), NOW)


@given(skew=st.one_of(st.integers(301, 10**9), st.integers(-(10**9), -301)))
def test_a_timestamp_more_than_5_minutes_away_is_refused_in_both_directions(skew):
    signature = sign_standard(KEY, "m", NOW + skew, b"{}")
    with pytest.raises(SignatureError, match="5 minutes"):
        verify_standard((KEY,), headers("m", NOW + skew, signature), b"{}", NOW)


def test_several_signatures_in_the_header_any_one_matching_is_enough():
    good = sign_standard(KEY, "m", NOW, b"{}")
    both = f"v1,AAAA {sign_standard(b'other', 'm', NOW, b'{}')} {good}"
    assert verify_standard((KEY,), headers("m", NOW, both), b"{}", NOW) == "m"
    with pytest.raises(SignatureError):
        verify_standard((KEY,), headers("m", NOW, "v2," + good[3:]), b"{}", NOW)  # only v1 counts


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused_by_name(missing):
    sent = headers("m", NOW, sign_standard(KEY, "m", NOW, b"{}"))
    del sent[missing]
    with pytest.raises(SignatureError, match=missing):
        verify_standard((KEY,), sent, b"{}", NOW)


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "1e9", "１２３", "9" * 40])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(stamp):
    sent = {"webhook-id": "m", "webhook-timestamp": stamp, "webhook-signature": "v1,x"}
    with pytest.raises(SignatureError):
        verify_standard((KEY,), sent, b"{}", NOW)


def test_keys_whsec_base64_raw_and_rotation():
    raw = b"\x00\xffbinary"
    parsed = parse_keys(f"whsec_{base64.b64encode(raw).decode()}  plain-text-key")
    assert parsed == (raw, b"plain-text-key")
    assert parse_keys("") == ()
    with pytest.raises(ValueError, match="key 2") as error:
        parse_keys("good whsec_!!!not-base64")
    assert "not-base64" not in str(error.value)  # a bad key is named by position, never shown


def test_no_key_configured_refuses_everything():
    with pytest.raises(SignatureError):
        verify_standard((), headers("m", NOW, sign_standard(KEY, "m", NOW, b"")), b"", NOW)


@given(body=st.binary(max_size=1000), path=st.text(st.characters(min_codepoint=48, max_codepoint=122), max_size=30))
def test_hubspot_v3_signed_by_the_emulator_is_accepted_by_the_service(body, path):
    uri = f"http://127.0.0.1:8080/hubspot/webhooks?{path}"
    stamp = NOW * 1000
    sent = {"x-hubspot-signature-v3": sign_v3(b"secret", "POST", uri, body, stamp),
            "x-hubspot-request-timestamp": str(stamp)}
    verify_hubspot_v3(b"secret", "POST", uri, sent, body, NOW)
    with pytest.raises(SignatureError):
        verify_hubspot_v3(b"secret", "POST", uri + "x", sent, body, NOW)
    with pytest.raises(SignatureError):
        verify_hubspot_v3(b"other", "POST", uri, sent, body, NOW)


def test_hubspot_v3_follows_the_documented_recipe_and_refuses_stale_requests():
    uri, body, stamp = "https://example.com/hubspot/webhooks", b"[]", NOW * 1000
    expected = base64.b64encode(hmac.new(b"s", b"POST" + uri.encode() + body + str(stamp).encode(),
                                         hashlib.sha256).digest()).decode()
    verify_hubspot_v3(b"s", "POST", uri, {"x-hubspot-signature-v3": expected,
                                          "x-hubspot-request-timestamp": str(stamp)}, body, NOW)
    old = stamp - 301_000
    stale = base64.b64encode(hmac.new(b"s", b"POST" + uri.encode() + body + str(old).encode(),
                                      hashlib.sha256).digest()).decode()
    with pytest.raises(SignatureError, match="5 minutes"):
        verify_hubspot_v3(b"s", "POST", uri, {"x-hubspot-signature-v3": stale,
                                              "x-hubspot-request-timestamp": str(old)}, body, NOW)
    with pytest.raises(SignatureError, match="not set"):
        verify_hubspot_v3(b"", "POST", uri, {}, body, NOW)
