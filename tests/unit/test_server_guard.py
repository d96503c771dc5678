"""The pieces of the /slack/events check in bot/server.py on their own: the signature check against two other
implementations, the replay window's edges, where the signing secret comes from, and why the size cap is 1 MiB.
(tests/slack/test_request_guard.py and tests/e2e/test_slack_serve.py run them over HTTP.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.datastructures import Headers

from bot.sandbox.slack_signing import interaction_body, signature
from bot.server import MAX_BODY_BYTES, REPLAY_WINDOW_SECONDS, Refused, SlackSignature, _bolt_signing_secret, create_server

SECRET = "unit-signing-secret"
NOW = 1_750_000_000


def at(now: float) -> SlackSignature:
    return SlackSignature(SECRET, clock=lambda: now)


def headers(timestamp: str, sig: str) -> Headers:
    return Headers({"x-slack-request-timestamp": timestamp, "x-slack-signature": sig})


@given(body=st.binary(max_size=2048))
def test_any_body_signed_as_slack_signs_is_accepted_and_any_other_secret_is_not(body: bytes) -> None:
    """Raw bytes, UTF-8 or not: the sandbox signer (written from Slack's description) and this check agree."""
    check = at(NOW)
    ts, sig = check.check_headers(headers(str(NOW), signature(SECRET, str(NOW), body)))
    check.check_body(ts, sig, body)
    forged = signature(SECRET + "x", str(NOW), body)
    with pytest.raises(Refused) as refused:
        check.check_body(*check.check_headers(headers(str(NOW), forged)), body)
    assert refused.value.status == 401


@given(body=st.text(max_size=512))
def test_the_check_agrees_with_slack_sdks_verifier_which_bolt_runs_after_it(body: str) -> None:
    """Bolt's own verification (slack_sdk's SignatureVerifier) stays on behind this one; on every UTF-8 body the
    two accept the same signatures, so a request this check passes is not then refused by Bolt."""
    raw = body.encode()
    good = signature(SECRET, str(NOW), raw)
    sdk = SignatureVerifier(SECRET, clock=type("Fixed", (), {"now": lambda self: float(NOW)})())
    assert sdk.is_valid(raw, str(NOW), good)
    check = at(NOW)
    check.check_body(*check.check_headers(headers(str(NOW), good)), raw)


@pytest.mark.parametrize("skew", [-REPLAY_WINDOW_SECONDS, 0, REPLAY_WINDOW_SECONDS])
def test_a_timestamp_within_five_minutes_either_way_is_taken(skew: int) -> None:
    ts = str(NOW + skew)
    assert at(NOW).check_headers(headers(ts, signature(SECRET, ts, b""))) == (ts, signature(SECRET, ts, b""))


@pytest.mark.parametrize("skew", [-REPLAY_WINDOW_SECONDS - 1, REPLAY_WINDOW_SECONDS + 1, -NOW])
def test_a_timestamp_outside_the_window_is_refused_before_the_body(skew: int) -> None:
    ts = str(NOW + skew)
    with pytest.raises(Refused) as refused:
        at(NOW).check_headers(headers(ts, signature(SECRET, ts, b"")))
    assert refused.value.status == 401 and not refused.value.body_read
    assert "replay window" in refused.value.reason


def test_the_refusal_reasons_quote_nothing_the_sender_wrote() -> None:
    odd = "v0=<script>" + "f" * 60
    for given_headers in (headers("12ab<x>", "v0=" + "0" * 64), headers(str(NOW), odd), Headers({})):
        with pytest.raises(Refused) as refused:
            at(NOW).check_headers(given_headers)
        assert "script" not in refused.value.reason and "12ab" not in refused.value.reason


def test_the_secret_defaults_to_the_one_bolt_verifies_with() -> None:
    """Bolt keeps it in a private attribute; if a Bolt release moves it, this fails here instead of serving
    unverified (create_server refuses to start without a secret)."""
    app = AsyncApp(token="xoxb-unit", signing_secret=SECRET)
    assert _bolt_signing_secret(app) == SECRET
    create_server(app)


def test_there_is_no_server_without_a_secret() -> None:
    app = AsyncApp(token="xoxb-unit", signing_secret=SECRET)
    with pytest.raises(ValueError, match="signing secret"):
        create_server(app, signing_secret="")


def _section(i: int, text: str) -> dict[str, Any]:
    return {"type": "section", "block_id": f"b{i}", "text": {"type": "mrkdwn", "text": text}}


def test_a_payload_at_slacks_block_limits_fits_twice_in_the_cap() -> None:
    """Slack documents no largest request, so the cap is set from its block limits: a click that carries both
    a whole message (50 blocks of 3,000 characters) and a whole modal (100 such blocks, and 3,000 characters of
    private_metadata), as block_actions in a modal do, is about 0.5 MiB form-encoded in English.

    The cap is not above every possible payload: text that is mostly non-ASCII costs up to 9 bytes a character
    once percent-encoded, so a modal filled to the limits in Chinese would pass 2 MiB. rtcops builds its own
    messages and modals in English and quotes users only in short, bounded fields, so its payloads are far
    below this one."""
    prose = ("Volume for the lobby ingest goes to 70, approved by the on-call producer; rollback with /rtc. " * 40)[:3000]
    view = {
        "id": "V0LIMITS",
        "type": "modal",
        "callback_id": "editor",
        "private_metadata": "m" * 3000,
        "blocks": [_section(i, prose) for i in range(100)],
        "state": {"values": {}},
    }
    message = {"type": "message", "text": prose, "blocks": [_section(i, prose) for i in range(50)]}
    payload = {
        "type": "block_actions",
        "team": {"id": "T0"},
        "user": {"id": "U0"},
        "message": message,
        "view": view,
        "actions": [{"action_id": "a", "value": "v" * 2000}],
    }
    body = interaction_body(payload)
    assert len(json.dumps(payload)) > 450_000  # it really is at the limits
    assert 2 * len(body) < MAX_BODY_BYTES, f"{len(body)} bytes"
