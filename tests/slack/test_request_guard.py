"""/slack/events checks what it is sent before anything parses it (bot/server.py): the whole bot on loopback,
requests over real sockets, signed by bot/sandbox/slack_signing.py (written apart from the server's check).

Unsigned or forged requests get 401, oversized ones 413, signed but malformed ones 400; each refusal is one log
line that quotes nothing the sender wrote, and nothing anywhere logs a traceback.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import httpx
import pytest
from slack_support import SIGNING_SECRET, U1, Env

from bot.sandbox.raw_http import push
from bot.sandbox.slack_signing import command_body, signature, signed_headers
from bot.server import MAX_BODY_BYTES
from handlers.grammar import HELP

FORM = "application/x-www-form-urlencoded"
MARK = "zq-sender-text-zq"
"""Put in every hostile body, so a test can tell whether any log line quotes the body."""

MALFORMED: dict[str, tuple[bytes, str]] = {
    "payload is not JSON": (f"payload=not-json-{MARK}".encode(), FORM),
    "payload is a JSON array": (urlencode({"payload": f'[1, 2, "{MARK}"]'}).encode(), FORM),
    "payload is a JSON string": (urlencode({"payload": f'"{MARK}"'}).encode(), FORM),
    "JSON on a form content type, broken": (f'{{"type": "event_callback", "{MARK}"'.encode(), FORM),
    "JSON array declared as JSON": (f'[1, 2, "{MARK}"]'.encode(), "application/json"),
    "JSON object with odd shapes": (f'{{"team": 5, "authorizations": 7, "x": "{MARK}"}}'.encode(), "application/json"),
    "not UTF-8": (b"payload=\xff\xfe\xfa" + MARK.encode() + b"\xc3\x28", FORM),
}
"""Bodies Slack never sends. Before the check in bot/server.py each of these, signed or not, reached Bolt's parser,
and most answered 500 with a traceback in the log."""


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rtcops.server"]


def assert_log_clean(caplog: pytest.LogCaptureFixture) -> None:
    """No traceback anywhere, and no line quotes what a sender wrote."""
    for record in caplog.records:
        assert record.exc_info is None, f"{record.name} logged a traceback: {record.getMessage()}"
        assert MARK not in record.getMessage(), f"{record.name} quoted the body: {record.getMessage()}"
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_bodies_unsigned_get_401_and_signed_get_400_without_a_traceback(
    env: Env, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.INFO)
    body, content_type = MALFORMED[case]
    unsigned = await env.http.post(env.events_url, content=body, headers={"Content-Type": content_type})
    forged = await env.http.post(
        env.events_url, content=body, headers={**signed_headers("not-the-secret", body), "Content-Type": content_type}
    )
    signed = await env.post(body, headers={"Content-Type": content_type})
    assert (unsigned.status_code, forged.status_code, signed.status_code) == (401, 401, 400)
    assert len(refusals(caplog)) == 3, [r.getMessage() for r in refusals(caplog)]
    assert_log_clean(caplog)


ODD_TIMESTAMPS = {
    "words": lambda now: "not-a-number",
    "empty": lambda now: "",
    "with a plus sign": lambda now: f"+{now}",
    "with underscores": lambda now: f"{now:_}",
    "Arabic-Indic digits": lambda now: str(now).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    "5000 digits": lambda now: "9" * 5000,
    "negative": lambda now: f"-{now}",
    "with a fraction": lambda now: f"{now}.0",
}
"""Timestamps of the current time, or near it, written in forms int() takes (a plus sign, underscores, other
digits) or raises on: slack_sdk's verifier lets that ValueError out, which was a 500."""


@pytest.mark.parametrize("form", sorted(ODD_TIMESTAMPS))
async def test_a_timestamp_that_is_not_plain_digits_gets_401_even_when_the_body_is_signed_with_it(
    env: Env, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    caplog.set_level(logging.INFO)
    timestamp = ODD_TIMESTAMPS[form](int(time.time()))
    body = command_body(env.command_fields(U1, "help"))
    headers = [
        (b"Content-Type", FORM.encode()),
        (b"X-Slack-Request-Timestamp", timestamp.encode()),
        (b"X-Slack-Signature", signature(SIGNING_SECRET, timestamp, body).encode()),
    ]
    answer = await env.http.post(env.events_url, content=body, headers=headers)
    assert answer.status_code == 401
    assert len(refusals(caplog)) == 1
    assert_log_clean(caplog)


@pytest.mark.parametrize(
    "forged",
    [
        {"X-Slack-Signature": "v0=" + "é" * 64},  # not ASCII: hmac.compare_digest raises TypeError on such a str
        {"X-Slack-Signature": "v1=" + "0" * 64},
        {"X-Slack-Signature": "V0=" + "A" * 64},
        {"X-Slack-Signature": ""},
    ],
)
async def test_a_signature_header_of_the_wrong_form_gets_401(
    env: Env, caplog: pytest.LogCaptureFixture, forged: dict[str, str]
) -> None:
    caplog.set_level(logging.INFO)
    body = command_body(env.command_fields(U1, "help"))
    headers = {**signed_headers(SIGNING_SECRET, body), **forged}
    encoded = [(k.encode(), v.encode("latin-1") if v.isascii() else v.encode()) for k, v in headers.items()]
    answer = await env.http.post(env.events_url, content=body, headers=encoded)
    assert answer.status_code == 401
    assert_log_clean(caplog)


async def test_a_repeated_signature_header_gets_401(env: Env) -> None:
    body = command_body(env.command_fields(U1, "help"))
    headers = list(signed_headers(SIGNING_SECRET, body).items())
    headers.append(("X-Slack-Signature", signature("not-the-secret", headers[1][1], body)))
    answer = await env.http.post(env.events_url, content=body, headers=headers)
    assert answer.status_code == 401


async def test_stale_and_future_timestamps_are_refused_before_the_body_is_read(env: Env) -> None:
    body = command_body(env.command_fields(U1, "help"))
    for skew in (-301, 301):
        answer = await env.post(body, timestamp=int(time.time()) + skew)
        assert answer.status_code == 401
    assert (await env.post(body, timestamp=int(time.time()) - 290)).status_code == 200


async def test_a_body_over_the_cap_gets_413_from_its_content_length_before_it_is_read(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    headers = {**signed_headers("not-the-secret", b""), "Content-Type": FORM}
    pushed = await push(env.events_url, headers, 64 * 1024 * 1024)
    assert pushed.status == 413
    assert pushed.sent < 16 * 1024 * 1024, "the answer came only after much of the body was taken"
    assert len(refusals(caplog)) == 1 and "limit" in refusals(caplog)[0].getMessage()
    assert (await env.command(U1, "help")).status_code == 200  # the server is still there


async def test_a_chunked_body_is_cut_off_once_past_the_cap(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    headers = {**signed_headers("not-the-secret", b""), "Content-Type": FORM}
    pushed = await push(env.events_url, headers, 64 * 1024 * 1024, chunked=True)
    assert pushed.status == 413
    assert pushed.sent < 16 * 1024 * 1024
    assert len(refusals(caplog)) == 1


async def test_an_unsigned_body_of_any_size_gets_401_before_it_is_read(env: Env) -> None:
    pushed = await push(env.events_url, {"Content-Type": FORM}, 64 * 1024 * 1024)
    assert pushed.status == 401
    assert pushed.sent < 16 * 1024 * 1024


async def test_a_signed_request_of_exactly_the_cap_is_served(env: Env) -> None:
    """The cap is on the body, and a body of exactly MAX_BODY_BYTES is still a request: off-by-one guard."""
    fields = env.command_fields(U1, "help")
    base = command_body({**fields, "padding": ""})
    body = command_body({**fields, "padding": "p" * (MAX_BODY_BYTES - len(base))})
    assert len(body) == MAX_BODY_BYTES
    answer = await env.post(body)
    assert answer.status_code == 200 and answer.json()["text"] == HELP
    over = command_body({**fields, "padding": "p" * (MAX_BODY_BYTES - len(base) + 1)})
    assert (await env.post(over)).status_code == 413


async def test_a_refusal_reaches_a_client_that_sends_the_whole_body_first(env: Env) -> None:
    """httpx writes all of a body before it reads; a small refused body still gets its answer, not a reset."""
    body = f"payload=not-json-{MARK}".encode()
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(3):
            assert (await http.post(env.events_url, content=body, headers={"Content-Type": FORM})).status_code == 401
