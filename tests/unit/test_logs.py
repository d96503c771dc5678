"""The log lines: one JSON object each (or a readable line), the context of the work on every line, and no
secret in any of them, whatever shape it takes or whoever logs it (rtcops, Bolt, slack_sdk)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs

SECRET = "fake-signing-secret-0123456789abcdef"
TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
RESPONSE_URL = "https://hooks.slack.com/commands/T0TEAM/1234567890123/abcdefABCDEF0123456789ab"
FAKE_RESPONSE_URL = "http://127.0.0.1:41234/commands/T0E2E/171234/0123456789abcdef01234567"
CODE = "1712345678901.000000123456.0123456789abcdef0123456789abcdef"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    logs.configure("DEBUG", "json", secrets=[SECRET, "short"], stream=out)
    try:
        yield out
    finally:
        root.handlers = before[0]
        root.setLevel(before[1])
        for name in (*logs.LIBRARIES, *logs.QUIET):
            logging.getLogger(name).setLevel(logging.NOTSET)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_line_is_one_json_object_with_the_context_it_was_written_in(captured: io.StringIO) -> None:
    log = logging.getLogger("rtcops.test")
    with logs.bound(team="T0TEAM", user="U0ALICE", request_id="r1", command="/rtc"):
        log.info("handled %s", "it", extra={"outcome": "ok"})
        with logs.bound(change_id=7):
            log.warning("moved")
    log.info("outside")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second, outside, failed = lines(captured)
    assert first["message"] == "handled it" and first["level"] == "info" and first["logger"] == "rtcops.test"
    assert first["team"] == "T0TEAM" and first["user"] == "U0ALICE" and first["request_id"] == "r1"
    assert first["command"] == "/rtc" and first["outcome"] == "ok" and "timestamp" in first
    assert second["change_id"] == 7 and second["team"] == "T0TEAM"
    assert "team" not in outside
    assert "ValueError: boom" in str(failed["exception"])


@pytest.mark.parametrize(
    "text",
    [
        f"token {TOKEN} here",
        f"headers: {{'Authorization': 'Bearer {TOKEN}'}}",
        f"the signing secret is {SECRET}",
        f"respond to {RESPONSE_URL} please",
        f"respond to {FAKE_RESPONSE_URL}",
        f"body_params: {{'code': '{CODE}', 'client_secret': 'abcdef123456'}}",
        "{'token': 'legacy-verification-token', 'team_id': 'T0TEAM'}",
        '{"access_token": "xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTAtMTIzNA", "refresh_token": "xoxe-1-My0xLTEyMzQ"}',
        "xapp-1-A0123456789-1234567890123-0123456789abcdef",
    ],
)
def test_secrets_are_redacted_in_every_shape(captured: io.StringIO, text: str) -> None:
    logging.getLogger("slack_sdk.web.async_base_client").debug(text)
    logging.getLogger("rtcops.test").info("%s", text, extra={"detail": text, "nested": {"value": [text]}})
    written = captured.getvalue()
    for secret in (TOKEN, SECRET, RESPONSE_URL, FAKE_RESPONSE_URL, CODE, "abcdef123456", "legacy-verification-token",
                   "MS0yLTEyMzQ1Njc4OTAtMTIzNA", "My0xLTEyMzQ", "0123456789abcdef01234567"):  # fmt: skip
        assert secret not in written
    assert logs.REDACTED in written
    assert all(isinstance(line, dict) for line in lines(captured))


def test_a_secret_json_would_escape_is_still_found(captured: io.StringIO) -> None:
    odd = 'pa"ss\\word-with-quotes'
    logs.configure("DEBUG", "json", secrets=[odd], stream=captured)
    logging.getLogger("rtcops.test").info("password %s", odd)
    assert "ss\\\\word" not in captured.getvalue() and 'pa\\"ss' not in captured.getvalue()


def test_bolt_lines_that_quote_a_request_body_are_rewritten(captured: io.StringIO) -> None:
    body = {"token": "legacy-verification-token", "response_url": RESPONSE_URL, "text": "layout finals"}
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    bolt.info(f"Invalid request signature detected (signature: v0=abc, timestamp: 1, body: {body})")
    bolt.warning(f"Unhandled request ({body})")
    bolt.info(f"something else with {body}")
    written = captured.getvalue()
    assert "layout finals" not in written and "legacy-verification-token" not in written
    assert [line["message"] for line in lines(captured)] == [
        "Bolt refused a request's signature (its body is not logged)",
        "no listener took a request (its body is not logged)",
        "a Bolt line that quoted a request body (left out)",
    ]


def test_text_on_a_terminal_and_json_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert logs.use_json("auto", io.StringIO()) and not logs.use_json("auto", Terminal())
    assert logs.use_json("json", Terminal()) and not logs.use_json("text", io.StringIO())
    out = Terminal()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logs.configure("INFO", "auto", stream=out)
        with logs.bound(team="T0TEAM"):
            logging.getLogger("rtcops.test").info("hello %s", TOKEN)
    finally:
        root.handlers = handlers
        root.setLevel(level)
    line = out.getvalue().strip()
    assert " INFO rtcops.test hello [redacted] team=T0TEAM" in line and not line.startswith("{")


def test_settings_secrets_lists_each_secret_and_each_key_of_a_list() -> None:
    from bot.config import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=TOKEN,
        token_keys="key-one-aaaaaaaa,key-two-bbbbbbbb",
        redis_url="redis://:redis-password-1@127.0.0.1:6379/0",
    )
    found = logs.settings_secrets(settings)
    assert TOKEN in found and "key-one-aaaaaaaa" in found and "key-two-bbbbbbbb" in found
    assert "redis-password-1" in found
