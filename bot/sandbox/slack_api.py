"""A fake Slack Web API (ASGI) that answers the way Slack does, so the bot can be tested end to end
without a workspace.

It is deliberately strict: a fake that accepts what Slack refuses would let broken messages pass the
tests and fail in production. It checks the token, required arguments, Block Kit structure and limits,
trigger_id expiry and single use, and the ``hash`` on views.update; it records every call so tests can
assert on what the bot really sent. It can also answer HTTP 429 with Retry-After on demand.

The limits follow Slack's published Block Kit reference; they are written out here independently of
slack_sdk.models, which the bot uses to build its blocks, so the two are a real second opinion.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TRIGGER_TTL = 3.0
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000

# --- Block Kit checks -------------------------------------------------------------------------------

_INTERACTIVE = {
    "button",
    "static_select",
    "multi_static_select",
    "external_select",
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "radio_buttons",
    "checkboxes",
    "plain_text_input",
    "number_input",
    "url_text_input",
    "email_text_input",
    "rich_text_input",
}
_INPUT_ONLY = {"plain_text_input", "number_input", "url_text_input", "email_text_input", "rich_text_input"}
_BLOCK_TYPES = {"section", "divider", "image", "actions", "context", "input", "header", "rich_text", "file", "video", "markdown"}


class _Checker:
    def __init__(self) -> None:
        self.slack_files: list[str] = []  # file ids that image blocks point at: the caller checks they exist
        self.errors: list[str] = []
        self.action_ids: set[str] = set()

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{path}]")

    def text(self, obj: Any, path: str, *, limit: int, plain_only: bool = False, required: bool = True) -> None:
        if obj is None:
            if required:
                self.err(path, "missing required field")
            return
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        kind = obj.get("type")
        if kind not in ("plain_text", "mrkdwn") or (plain_only and kind != "plain_text"):
            self.err(path + "/type", "must be plain_text" if plain_only else "must be plain_text or mrkdwn")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.err(path + "/text", "must be more than 0 characters")
        elif len(value) > limit:
            self.err(path + "/text", f"must be less than {limit + 1} characters")
        allowed = {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"}
        for key in set(obj) - allowed:
            self.err(f"{path}/{key}", "is not a valid property")

    def string(self, obj: dict[str, Any], key: str, path: str, *, limit: int, required: bool = False) -> None:
        value = obj.get(key)
        if value is None:
            if required:
                self.err(f"{path}/{key}", "missing required field")
            return
        if not isinstance(value, str) or (required and not value):
            self.err(f"{path}/{key}", "must be a non-empty string")
        elif len(value) > limit:
            self.err(f"{path}/{key}", f"must be less than {limit + 1} characters")

    def options(self, options: Any, path: str, *, limit: int, plain_only: bool) -> list[str]:
        if not isinstance(options, list) or not options:
            self.err(path, "must provide at least one option")
            return []
        if len(options) > limit:
            self.err(path, f"no more than {limit} items allowed")
        values: list[str] = []
        for i, opt in enumerate(options):
            p = f"{path}/{i}"
            if not isinstance(opt, dict):
                self.err(p, "must be an option object")
                continue
            self.text(opt.get("text"), p + "/text", limit=75, plain_only=plain_only)
            self.string(opt, "value", p, limit=150, required=True)
            if opt.get("description") is not None:
                self.text(opt.get("description"), p + "/description", limit=75, plain_only=plain_only)
            if isinstance(opt.get("value"), str):
                values.append(opt["value"])
        if len(set(values)) != len(values):
            self.err(path, "option values must be unique")
        return values

    def element(self, el: Any, path: str, *, in_input: bool) -> None:
        if not isinstance(el, dict):
            self.err(path, "must be an element object")
            return
        kind = el.get("type")
        if kind == "image":
            self.image_fields(el, path)
            return
        if kind not in _INTERACTIVE:
            self.err(path + "/type", f"unknown element type {kind!r}")
            return
        if kind in _INPUT_ONLY and not in_input:
            self.err(path + "/type", f"{kind} is only allowed in input blocks")
        action_id = el.get("action_id")
        if action_id is not None:
            self.string(el, "action_id", path, limit=255)
            if action_id in self.action_ids:
                self.err(path + "/action_id", f"action_id {action_id!r} is already used")
            self.action_ids.add(str(action_id))
        if el.get("placeholder") is not None:
            self.text(el["placeholder"], path + "/placeholder", limit=150, plain_only=True)
        if kind == "button":
            self.text(el.get("text"), path + "/text", limit=75, plain_only=True)
            self.string(el, "value", path, limit=2000)
            self.string(el, "url", path, limit=3000)
            if el.get("style") not in (None, "primary", "danger"):
                self.err(path + "/style", "must be primary or danger")
        elif kind in ("static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow"):
            limit = {"radio_buttons": 10, "checkboxes": 10, "overflow": 5}.get(kind, 100)
            values = self.options(el.get("options"), path + "/options", limit=limit, plain_only=kind.endswith("select"))
            initial = [el["initial_option"]] if "initial_option" in el else el.get("initial_options", [])
            for i, opt in enumerate(initial):
                if not isinstance(opt, dict) or opt.get("value") not in values:
                    self.err(f"{path}/initial_option/{i}", "must match one of the provided options")
        elif kind == "plain_text_input":
            self.string(el, "initial_value", path, limit=3000)
            max_length = el.get("max_length")
            if max_length is not None and (not isinstance(max_length, int) or not 1 <= max_length <= 3000):
                self.err(path + "/max_length", "must be between 1 and 3000")
        elif kind == "number_input":
            if not isinstance(el.get("is_decimal_allowed"), bool):
                self.err(path + "/is_decimal_allowed", "missing required field")
            for key in ("initial_value", "min_value", "max_value"):
                if key in el and not isinstance(el[key], str):
                    self.err(f"{path}/{key}", "must be a string")

    def image_fields(self, el: dict[str, Any], path: str) -> None:
        if ("image_url" in el) == ("slack_file" in el):
            self.err(path, "must provide exactly one of image_url or slack_file")
        if "slack_file" in el:
            file = el["slack_file"]
            if not isinstance(file, dict) or ("id" in file) == ("url" in file):
                self.err(path + "/slack_file", "must provide exactly one of id or url")
            elif "id" in file:
                self.slack_files.append(str(file["id"]))
        self.string(el, "image_url", path, limit=3000)
        self.string(el, "alt_text", path, limit=2000, required=True)

    def block(self, block: Any, path: str, *, surface: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.err(path, "must be a block object")
            return
        kind = block.get("type")
        if kind not in _BLOCK_TYPES:
            self.err(path + "/type", f"unknown block type {kind!r}")
            return
        self.action_ids = set()  # Slack wants action_ids unique within their block
        block_id = block.get("block_id")
        if block_id is not None:
            self.string(block, "block_id", path, limit=255)
            if block_id in block_ids:
                self.err(path + "/block_id", f"block_id {block_id!r} is already used")
            block_ids.add(str(block_id))
        if kind == "section":
            if block.get("text") is None and not block.get("fields"):
                self.err(path, "must provide text or fields")
            self.text(block.get("text"), path + "/text", limit=3000, required=False)
            fields = block.get("fields") or []
            if len(fields) > 10:
                self.err(path + "/fields", "no more than 10 items allowed")
            for i, f in enumerate(fields):
                self.text(f, f"{path}/fields/{i}", limit=2000)
            if block.get("accessory") is not None:
                self.element(block["accessory"], path + "/accessory", in_input=False)
        elif kind == "header":
            self.text(block.get("text"), path + "/text", limit=150, plain_only=True)
        elif kind == "image":
            self.image_fields(block, path)
            if block.get("title") is not None:
                self.text(block["title"], path + "/title", limit=2000, plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements or len(elements) > 10:
                self.err(path + "/elements", "must have between 1 and 10 items")
                return
            for i, el in enumerate(elements):
                if isinstance(el, dict) and el.get("type") == "image":
                    self.image_fields(el, f"{path}/elements/{i}")
                else:
                    self.text(el, f"{path}/elements/{i}", limit=3000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements or len(elements) > 25:
                self.err(path + "/elements", "must have between 1 and 25 items")
                return
            for i, el in enumerate(elements):
                self.element(el, f"{path}/elements/{i}", in_input=False)
        elif kind == "input":
            if surface == "message":
                self.err(path, "input blocks are only allowed in views")
            self.text(block.get("label"), path + "/label", limit=2000, plain_only=True)
            if block.get("hint") is not None:
                self.text(block["hint"], path + "/hint", limit=2000, plain_only=True)
            if block.get("element") is None:
                self.err(path + "/element", "missing required field")
            else:
                self.element(block["element"], path + "/element", in_input=True)


def slack_files(blocks: Any) -> list[str]:
    """The Slack file ids image blocks and elements in `blocks` point at."""
    checker = _Checker()
    if isinstance(blocks, list):
        for i, block in enumerate(blocks):
            checker.block(block, f"/blocks/{i}", surface="message", block_ids=set())
    return checker.slack_files


def check_blocks(blocks: Any, *, surface: str) -> list[str]:
    """Slack-style error strings for a list of blocks on a surface ("message", "modal" or "home")."""
    checker = _Checker()
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    limit = MESSAGE_BLOCKS if surface == "message" else VIEW_BLOCKS
    if len(blocks) > limit:
        checker.err("/blocks", f"no more than {limit} items allowed")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, f"/blocks/{i}", surface=surface, block_ids=block_ids)
    return checker.errors


def check_view(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return ["must be a view object [json-pointer:/view]"]
    checker = _Checker()
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.err("/view/type", "must be modal or home")
        return checker.errors
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", limit=24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                checker.text(view[key], f"/view/{key}", limit=24, plain_only=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and view.get("submit") is None:
            checker.err("/view/submit", "must provide submit when input blocks are present")
    checker.string(view, "private_metadata", "/view", limit=3000)
    checker.string(view, "callback_id", "/view", limit=255)
    checker.string(view, "external_id", "/view", limit=255)
    return checker.errors + check_blocks(view.get("blocks", []), surface=kind)


# --- State ------------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    team: str | None = None  # the workspace (or organisation) of the token that made it


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0
    metadata: dict[str, Any] | None = None
    team: str | None = None


@dataclass
class Workspace:
    team_id: str
    name: str
    enterprise_id: str | None = None


@dataclass
class Grant:
    """What a bot token speaks for: one workspace, or a whole organisation (an org-wide install)."""

    team_id: str | None
    enterprise_id: str | None = None
    org: bool = False
    revoked: bool = False

    @property
    def tenant(self) -> str:
        return str(self.enterprise_id if self.org else self.team_id)


@dataclass
class _Authorized:
    team_id: str
    enterprise_id: str | None
    org: bool
    user: str
    redirect_uri: str | None
    scopes: str


@dataclass
class WebFault:
    """A Web API misbehaviour on demand: calls of `method` (whose arguments `match` accepts) answer `error`
    with HTTP `status`, or are rate-limited with Retry-After `retry_after`, `times` times (None: until
    cleared). `applied` is set when the call is carried out before the error is answered (a lost answer)."""

    method: str
    error: str = "internal_error"
    status: int = 200
    times: int | None = 1
    retry_after: int | None = None
    match: Callable[[dict[str, Any]], bool] | None = None
    after_doing: bool = False


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None


@dataclass
class View:
    id: str
    hash: str
    view: dict[str, Any]
    user: str | None = None


class SlackError(Exception):
    def __init__(self, error: str, errors: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = errors or []


def _require(args: dict[str, Any], *names: str) -> None:
    for name in names:
        if args.get(name) in (None, ""):
            raise SlackError("invalid_arguments", [f"missing required field: {name}"])


def _json_arg(args: dict[str, Any], name: str) -> Any:
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise SlackError("invalid_arguments", [f"{name} is not valid JSON"]) from exc
    return value


class FakeSlack:
    """Fake workspaces: one from the constructor, with `bot_token` as its token, and any added with
    `add_workspace`, installed through the OAuth flow (`enable_oauth`, /oauth/v2/authorize, oauth.v2.access), each
    with a token of its own. A token sees only its own workspace's channels and users (an org-wide install's
    token, every workspace of its organisation), as Slack does: a post with the wrong workspace's token into a
    channel answers channel_not_found. ``app`` is the ASGI application; everything else is for tests to arrange
    and inspect."""

    def __init__(
        self,
        *,
        bot_token: str,
        team_id: str = "T0FAKE",
        bot_user_id: str = "UBOT",
        users: dict[str, str] | None = None,
        channels: dict[str, str] | None = None,
        usergroups: dict[str, list[str]] | None = None,
        base_url: str = "",
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.users = dict(users or {})
        self.channels = dict(channels or {})
        self.usergroups = {k: list(v) for k, v in (usergroups or {}).items()}
        self.base_url = base_url
        self.workspaces: dict[str, Workspace] = {team_id: Workspace(team_id, "Fake")}
        self.channel_team: dict[str, str] = dict.fromkeys(self.channels, team_id)
        self.user_team: dict[str, str] = dict.fromkeys(self.users, team_id)
        self.tokens: dict[str, Grant] = {bot_token: Grant(team_id)}
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.oauth_redirect_uri: str | None = None
        self._codes: dict[str, _Authorized] = {}
        self._grant: Grant | None = None
        self.app_token: str | None = None
        self.socket_received: list[dict[str, Any]] = []
        self._sockets: list[tuple[WebSocket, Any]] = []
        self.calls: list[Call] = []
        self.messages: list[Message] = []
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home: dict[str, View] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.time_zones: dict[str, str] = {}  # user -> IANA zone, as users.info reports it (UTC if unset)
        self.pins: set[tuple[str, str]] = set()
        self._triggers: dict[str, float] = {}
        self._responders: dict[str, tuple[str, str, str | None, int]] = {}
        self._rate_limits: dict[str, tuple[int, int]] = {}
        self._faults: list[WebFault] = []
        self._seq = count(1)
        self._epoch = int(time.time())
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/commands/{team}/{number}/{key}", self._respond, methods=["POST"]),
                Route("/oauth/v2/authorize", self._authorize, methods=["GET"]),
                WebSocketRoute("/socket-mode", self._socket),
            ]
        )

    # -- arranging ---------------------------------------------------------------------------------
    def add_workspace(
        self,
        team_id: str,
        *,
        name: str = "",
        users: dict[str, str] | None = None,
        channels: dict[str, str] | None = None,
        enterprise_id: str | None = None,
    ) -> None:
        """Another workspace (optionally in an Enterprise Grid organisation), its people and channels."""
        self.workspaces[team_id] = Workspace(team_id, name or team_id, enterprise_id)
        for user, user_name in (users or {}).items():
            self.users[user], self.user_team[user] = user_name, team_id
        for channel, channel_name in (channels or {}).items():
            self.channels[channel], self.channel_team[channel] = channel_name, team_id

    def enable_oauth(self, client_id: str, client_secret: str, redirect_uri: str | None = None) -> None:
        """The app's credentials and registered redirect URL, for the install flow."""
        self.client_id, self.client_secret, self.oauth_redirect_uri = client_id, client_secret, redirect_uri

    def enable_socket_mode(self, app_token: str) -> None:
        """Socket Mode: apps.connections.open takes this app-level token and hands out a WebSocket URL."""
        self.app_token = app_token

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    def socket_send(self, envelope: dict[str, Any]) -> None:
        """Send an envelope (a slash command, an interaction, an event) to the connected app, from any thread."""
        import asyncio

        websocket, loop = self._sockets[-1]
        asyncio.run_coroutine_threadsafe(websocket.send_json(envelope), loop).result(timeout=5)

    async def _socket(self, websocket: WebSocket) -> None:
        import asyncio

        await websocket.accept()
        self._sockets.append((websocket, asyncio.get_running_loop()))
        await websocket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "AFAKE"}})
        try:
            while True:
                message = await websocket.receive_json()
                self.socket_received.append(message)
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets = [(w, loop) for w, loop in self._sockets if w is not websocket]

    def uninstall(self, tenant: str) -> list[str]:
        """The app is removed from a workspace (or organisation): its tokens stop working. Returns them."""
        gone = [token for token, grant in self.tokens.items() if grant.tenant == tenant and not grant.revoked]
        for token in gone:
            self.tokens[token].revoked = True
        return gone

    def tokens_of(self, tenant: str) -> list[str]:
        return [token for token, grant in self.tokens.items() if grant.tenant == tenant and not grant.revoked]

    def issue_trigger(self) -> str:
        """A trigger_id as Slack would put in an interaction; it works once, within TRIGGER_TTL seconds."""
        trigger = f"{next(self._seq)}.{self._epoch}.fake{next(self._seq):08x}"
        self._triggers[trigger] = time.monotonic()
        return trigger

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url as Slack puts in a command or click, shaped like Slack's
        (`…/commands/<team>/<number>/<secret>`): up to 5 uses, answering the one user."""
        key = secrets.token_hex(12)
        self._responders[key] = (channel, user, message_ts, 5)
        team = self.channel_team.get(channel) or self.user_team.get(user) or self.team_id
        return f"{self.base_url.rstrip('/')}/commands/{team}/{next(self._seq)}{int(time.time())}/{key}"

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        self._rate_limits[method] = (times, retry_after)

    def fail(self, fault: WebFault) -> WebFault:
        """Make matching calls fail (see WebFault); returns it, so a test can `heal` it later."""
        self._faults.append(fault)
        return fault

    def heal(self, fault: WebFault | None = None) -> None:
        """Stop one fault, or all of them: Slack answers again."""
        self._faults = [f for f in self._faults if fault is not None and f is not fault]

    def _fault_for(self, method: str, args: dict[str, Any]) -> WebFault | None:
        for fault in self._faults:
            if fault.method == method and (fault.match is None or fault.match(args)):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- inspecting --------------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def failed_calls(self) -> list[Call]:
        return [c for c in self.calls if not c.ok]

    def channel_messages(self, channel: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def thread(self, channel: str, ts: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts == ts]

    def message(self, channel: str, ts: str) -> Message:
        for m in self.messages:
            if m.channel == channel and m.ts == ts:
                return m
        raise KeyError(ts)

    def ephemerals_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user]

    def permalink(self, channel: str, ts: str) -> str:
        return f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"

    # -- HTTP --------------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        limited = self._rate_limits.get(method)
        if limited and limited[0] > 0:
            self._rate_limits[method] = (limited[0] - 1, limited[1])
            self.calls.append(Call(method, {}, False, "ratelimited", 429))
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": str(limited[1])})
        args, body_token, is_json = await self._read_args(request)
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else (None if is_json else body_token)
        fault = self._fault_for(method, args)
        if fault is not None and not fault.after_doing:
            return self._fault_answer(method, args, fault)
        self._grant = None
        try:
            if method == "apps.connections.open":
                if not self.app_token or token != self.app_token:
                    raise SlackError("invalid_auth")
                url = self.base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/socket-mode"
                self.calls.append(Call(method, {}, True, None, 200))
                return JSONResponse({"ok": True, "url": url})
            if method == "oauth.v2.access":
                access = self._oauth_access(args, auth)
                self.calls.append(Call(method, {k: v for k, v in args.items() if k != "client_secret"}, True, None, 200))
                return JSONResponse({"ok": True, **access})
            if not token:
                raise SlackError("not_authed")
            grant = self.tokens.get(token)
            if grant is None:
                raise SlackError("invalid_auth")
            if grant.revoked:
                raise SlackError("token_revoked")
            self._grant = grant
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackError("unknown_method")
            result: dict[str, Any] = handler(args)
            if fault is not None:
                return self._fault_answer(method, args, fault)
        except SlackError as exc:
            self.calls.append(Call(method, args, False, exc.error, 200, self._team()))
            body: dict[str, Any] = {"ok": False, "error": exc.error}
            if exc.errors:
                body["errors"] = exc.errors
                body["response_metadata"] = {"messages": [f"[ERROR] {e}" for e in exc.errors]}
            return JSONResponse(body)
        self.calls.append(Call(method, args, True, None, 200, self._team()))
        return JSONResponse({"ok": True, **result})

    # -- the install flow ----------------------------------------------------------------------------
    async def _authorize(self, request: Request) -> Response:
        """Slack's authorize page, as if the user chose the workspace `team` and clicked Allow: back to the
        redirect URL with a code and the state. Fake-only parameters: `user` (who installs; the workspace's
        first user by default) and `org_install=1` (install for the whole organisation the workspace is in)."""
        q = request.query_params
        if not self.client_id or q.get("client_id") != self.client_id:
            return PlainTextResponse("invalid client_id", status_code=400)
        workspace = self.workspaces.get(q.get("team", ""))
        if workspace is None:
            return PlainTextResponse("choose a workspace: team=T…", status_code=400)
        org = q.get("org_install") == "1"
        if org and workspace.enterprise_id is None:
            return PlainTextResponse("an org-wide install needs an Enterprise Grid workspace", status_code=400)
        redirect = q.get("redirect_uri") or self.oauth_redirect_uri
        if not redirect:
            return PlainTextResponse("no redirect_uri", status_code=400)
        user = q.get("user") or next((u for u, t in self.user_team.items() if t == workspace.team_id), "U0INSTALLER")
        code = f"{int(time.time() * 1000)}.{secrets.randbelow(10**12):012d}.{secrets.token_hex(32)}"
        self._codes[code] = _Authorized(
            workspace.team_id, workspace.enterprise_id, org, user, q.get("redirect_uri"), q.get("scope", "")
        )
        return RedirectResponse(f"{redirect}?code={code}&state={q.get('state', '')}", status_code=302)

    def _oauth_access(self, args: dict[str, Any], auth: str) -> dict[str, Any]:
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not self.client_id or client_id != self.client_id or client_secret != self.client_secret:
            raise SlackError("invalid_client_id" if client_id != self.client_id else "bad_client_secret")
        found = self._codes.pop(str(args.get("code") or ""), None)
        if found is None:
            raise SlackError("invalid_code")
        if found.redirect_uri and args.get("redirect_uri") != found.redirect_uri:
            raise SlackError("bad_redirect_uri")
        grant = Grant(None if found.org else found.team_id, found.enterprise_id, found.org)
        token = f"xoxb-{grant.tenant}-{next(self._seq)}-{secrets.token_hex(12)}"
        self.tokens[token] = grant
        workspace = self.workspaces[found.team_id]
        enterprise = {"id": found.enterprise_id, "name": f"Org {found.enterprise_id}"} if found.enterprise_id else None
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": found.scopes,
            "bot_user_id": self.bot_user_id,
            "app_id": "AFAKE",
            "team": None if found.org else {"id": workspace.team_id, "name": workspace.name},
            "enterprise": enterprise,
            "authed_user": {"id": found.user},
            "is_enterprise_install": found.org,
        }

    # -- which workspace a call speaks for ------------------------------------------------------------
    def _team(self) -> str | None:
        return self._grant.tenant if self._grant is not None else None

    def _sees(self, team_id: str | None) -> bool:
        """Whether the calling token may see something of workspace `team_id`."""
        grant = self._grant
        if grant is None or team_id is None:
            return True
        if grant.org:
            workspace = self.workspaces.get(team_id)
            return workspace is not None and workspace.enterprise_id == grant.enterprise_id
        return grant.team_id == team_id

    def _user_seen(self, user: Any) -> bool:
        return isinstance(user, str) and user in self.users and self._sees(self.user_team.get(user))

    def _fault_answer(self, method: str, args: dict[str, Any], fault: WebFault) -> Response:
        if fault.retry_after is not None:
            self.calls.append(Call(method, args, False, "ratelimited", 429))
            headers = {"Retry-After": str(fault.retry_after)}
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429, headers=headers)
        self.calls.append(Call(method, args, False, fault.error, fault.status))
        return JSONResponse({"ok": False, "error": fault.error}, status_code=fault.status)

    async def _read_args(self, request: Request) -> tuple[dict[str, Any], str | None, bool]:
        args: dict[str, Any] = dict(request.query_params)
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        is_json = ctype.startswith("application/json")
        if is_json:
            try:
                loaded = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                loaded = {}
            if isinstance(loaded, dict):
                args.update(loaded)
        elif ctype.startswith("multipart/form-data"):
            form = await request.form()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        elif raw:
            args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        token = args.pop("token", None)
        return args, token, is_json

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        upload = self.uploads.get(file_id)
        if upload is None:
            return PlainTextResponse("not found", status_code=404)
        data = await request.body()
        if len(data) != upload["length"]:
            return PlainTextResponse(f"length mismatch: expected {upload['length']}, got {len(data)}", status_code=400)
        upload["data"] = data
        return PlainTextResponse(f"OK - {len(data)}")

    async def _respond(self, request: Request) -> Response:
        key = request.path_params["key"]
        responder = self._responders.get(key)
        try:
            payload = json.loads(await request.body())
        except json.JSONDecodeError:
            payload = None
        try:
            if responder is None or responder[3] <= 0:
                raise SlackError("expired_url")
            channel, user, message_ts, left = responder
            self._responders[key] = (channel, user, message_ts, left - 1)
            if not isinstance(payload, dict):
                raise SlackError("invalid_payload")
            text, blocks = self._message_content(payload)
            if payload.get("replace_original") in (True, "true"):
                if message_ts is None:
                    raise SlackError("no_original_message")
                msg = self.message(channel, message_ts)
                msg.text, msg.blocks, msg.edits = text, blocks, msg.edits + 1
            elif payload.get("response_type") == "in_channel":
                self.messages.append(Message(channel, self._ts(), text, blocks))
            else:
                self.ephemerals.append(Ephemeral(channel, user, text, blocks))
        except SlackError as exc:
            self.calls.append(Call("response_url", payload if isinstance(payload, dict) else {}, False, exc.error, 400))
            return PlainTextResponse(exc.error + ("\n" + "\n".join(exc.errors) if exc.errors else ""), status_code=400)
        self.calls.append(Call("response_url", payload, True, None, 200))
        return PlainTextResponse("ok")

    # -- helpers -----------------------------------------------------------------------------------
    def _ts(self) -> str:
        return f"{self._epoch}.{next(self._seq):06d}"

    def _channel(self, channel: Any) -> str:
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if channel in self.channels and self._sees(self.channel_team.get(channel)):
            return channel
        if self._user_seen(channel):
            return channel
        raise SlackError("channel_not_found")

    def _message_content(self, args: dict[str, Any], *, need_content: bool = True) -> tuple[str, list[dict[str, Any]]]:
        blocks = _json_arg(args, "blocks")
        text = args.get("text") or ""
        if need_content and not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        if not isinstance(text, str):
            raise SlackError("invalid_arguments", ["text must be a string"])
        if len(text) > MESSAGE_TEXT:
            raise SlackError("msg_too_long")
        if blocks is not None:
            errors = check_blocks(blocks, surface="message")
            errors += [
                f"slack_file {f} is not an image this app uploaded [json-pointer:/blocks]"
                for f in slack_files(blocks)
                if not self._image(f)
            ]
            if errors:
                raise SlackError("invalid_blocks", errors)
        return text, list(blocks or [])

    def _image(self, file_id: str) -> bool:
        data = (self.uploads.get(file_id) or {}).get("data")
        return isinstance(data, bytes) and data.startswith(b"\x89PNG\r\n\x1a\n")

    def _view_arg(self, args: dict[str, Any], *, kinds: tuple[str, ...]) -> dict[str, Any]:
        view = _json_arg(args, "view")
        errors = check_view(view)
        if not errors and view.get("type") not in kinds:
            errors = [f"view type must be {' or '.join(kinds)} [json-pointer:/view/type]"]
        if errors:
            raise SlackError("invalid_arguments", errors)
        return dict(view)

    def _stored_view(self, view: dict[str, Any], view_id: str, user: str | None) -> View:
        stored = View(id=view_id, hash=f"{time.time():.6f}.{next(self._seq):08x}", view=view, user=user)
        return stored

    def _view_json(self, v: View) -> dict[str, Any]:
        return {
            **v.view,
            "id": v.id,
            "hash": v.hash,
            "team_id": self.team_id,
            "state": {"values": {}},
            "private_metadata": v.view.get("private_metadata", ""),
            "callback_id": v.view.get("callback_id", ""),
            "root_view_id": v.id,
            "app_id": "AFAKE",
            "bot_id": "BFAKE",
        }

    # -- methods -----------------------------------------------------------------------------------
    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        grant = self._grant or Grant(self.team_id)
        workspace = self.workspaces.get(grant.team_id or "")
        answer: dict[str, Any] = {
            "url": "https://fake.slack.test/",
            "team": workspace.name if workspace else f"Org {grant.enterprise_id}",
            "user": "rtcops",
            "team_id": grant.team_id or "",
            "user_id": self.bot_user_id,
            "bot_id": "BFAKE",
            "is_enterprise_install": grant.org,
        }
        if grant.enterprise_id:
            answer["enterprise_id"] = grant.enterprise_id
        return answer

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel")
        channel = self._channel(args["channel"])
        text, blocks = self._message_content(args)
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None:
            parent = self.message(channel, thread_ts) if any(m.ts == thread_ts for m in self.messages) else None
            if parent is None:
                raise SlackError("thread_not_found")
        metadata = _json_arg(args, "metadata")
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_format")
        msg = Message(
            channel=channel, ts=self._ts(), text=text, blocks=blocks, thread_ts=thread_ts, metadata=metadata, team=self._team()
        )
        self.messages.append(msg)
        message = {"text": text, "blocks": blocks, "ts": msg.ts, "thread_ts": thread_ts}
        return {"channel": channel, "ts": msg.ts, "message": message}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "ts")
        channel = self._channel(args["channel"])
        try:
            msg = self.message(channel, args["ts"])
        except KeyError:
            raise SlackError("message_not_found") from None
        text, blocks = self._message_content(args)
        msg.text, msg.blocks, msg.edits = text, blocks, msg.edits + 1
        return {"channel": channel, "ts": msg.ts, "text": text}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "user")
        channel = self._channel(args["channel"])
        if not self._user_seen(args["user"]):
            raise SlackError("user_not_found")
        text, blocks = self._message_content(args)
        self.ephemerals.append(Ephemeral(channel, args["user"], text, blocks, args.get("thread_ts") or None))
        return {"message_ts": self._ts()}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "message_ts")
        channel = self._channel(args["channel"])
        try:
            self.message(channel, args["message_ts"])
        except KeyError:
            raise SlackError("message_not_found") from None
        return {"channel": channel, "permalink": self.permalink(channel, args["message_ts"])}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "trigger_id", "view")
        issued = self._triggers.pop(args["trigger_id"], None)
        if issued is None:
            raise SlackError("invalid_trigger_id")
        if time.monotonic() - issued > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        view = self._view_arg(args, kinds=("modal",))
        stored = self._stored_view(view, f"V{next(self._seq):08d}", None)
        self.views[stored.id] = stored
        return {"view": self._view_json(stored)}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "view")
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next((v.id for v in self.views.values() if v.view.get("external_id") == args["external_id"]), None)
        if not view_id:
            raise SlackError("invalid_arguments", ["missing required field: view_id or external_id"])
        current = self.views.get(view_id)
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current.hash:
            raise SlackError("hash_conflict")
        view = self._view_arg(args, kinds=("modal",))
        stored = self._stored_view(view, view_id, current.user)
        self.views[view_id] = stored
        return {"view": self._view_json(stored)}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "user_id", "view")
        if not self._user_seen(args["user_id"]):
            raise SlackError("user_not_found")
        current = self.home.get(args["user_id"])
        if args.get("hash") and current is not None and args["hash"] != current.hash:
            raise SlackError("hash_conflict")
        view = self._view_arg(args, kinds=("home",))
        stored = self._stored_view(view, current.id if current else f"V{next(self._seq):08d}", args["user_id"])
        self.home[args["user_id"]] = stored
        return {"view": self._view_json(stored)}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "user")
        name = self.users.get(args["user"])
        if name is None:
            raise SlackError("user_not_found")
        profile = {"display_name": name}
        tz = self.time_zones.get(args["user"], "UTC")
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        offset_seconds = int(offset.total_seconds()) if offset is not None else 0
        user = {"id": args["user"], "team_id": self.team_id, "name": name, "real_name": name, "profile": profile}
        return {"user": {**user, "tz": tz, "tz_label": tz, "tz_offset": offset_seconds}}

    def _m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "timestamp")
        channel = self._channel(args["channel"])
        try:
            self.message(channel, args["timestamp"])
        except KeyError:
            raise SlackError("message_not_found") from None
        if (channel, args["timestamp"]) in self.pins:
            raise SlackError("already_pinned")
        self.pins.add((channel, str(args["timestamp"])))
        return {}

    def _m_pins_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "timestamp")
        channel = self._channel(args["channel"])
        if (channel, args["timestamp"]) not in self.pins:
            raise SlackError("no_pin")
        self.pins.discard((channel, str(args["timestamp"])))
        return {}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "usergroup")
        if args["usergroup"] not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[args["usergroup"]])}

    def _m_usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        with_users = str(args.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for gid, members in self.usergroups.items():
            group: dict[str, Any] = {"id": gid, "team_id": self.team_id, "handle": gid.lower()}
            if with_users:
                group["users"] = list(members)
            groups.append(group)
        return {"usergroups": groups}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """A direct message with one user: its channel (D…) is where files for them go."""
        _require(args, "users")
        users = [u for u in str(args["users"]).split(",") if u]
        if len(users) != 1 or not self._user_seen(users[0]):
            raise SlackError("user_not_found")
        channel = f"D{users[0]}"
        self.channels.setdefault(channel, f"dm-{users[0]}")
        if users[0] in self.user_team:  # the DM belongs to the user's workspace
            self.channel_team[channel] = self.user_team[users[0]]
        return {"channel": {"id": channel}}

    def dm_files(self, user: str) -> list[dict[str, Any]]:
        """Files shared in the app's direct message with `user`."""
        return [f for m in self.messages if m.channel == f"D{user}" for f in m.files]

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel")
        channel = self._channel(args["channel"])
        return {"channel": {"id": channel, "name": self.channels.get(channel, channel), "is_member": True}}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "channel", "ts")
        channel = self._channel(args["channel"])
        try:
            parent = self.message(channel, args["ts"])
        except KeyError:
            raise SlackError("thread_not_found") from None
        replies = [parent, *self.thread(channel, parent.ts)]
        return {"messages": [self._listed(m, args) for m in replies]}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first, top-level messages only; metadata only with include_all_metadata, as Slack does."""
        _require(args, "channel")
        channel = self._channel(args["channel"])
        limit = int(args.get("limit") or 100)
        found = [m for m in reversed(self.messages) if m.channel == channel and m.thread_ts is None][:limit]
        return {"messages": [self._listed(m, args) for m in found], "has_more": False}

    def _listed(self, m: Message, args: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {"ts": m.ts, "text": m.text, "blocks": m.blocks, "thread_ts": m.thread_ts or m.ts}
        if m.metadata is not None and str(args.get("include_all_metadata", "")).lower() in ("1", "true"):
            item["metadata"] = m.metadata
        return item

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "filename", "length")
        try:
            length = int(args["length"])
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", ["length must be an integer"]) from None
        if length <= 0:
            raise SlackError("invalid_arguments", ["length must be positive"])
        file_id = f"F{next(self._seq):08d}"
        self.uploads[file_id] = {"filename": args["filename"], "length": length, "data": None}
        return {"file_id": file_id, "upload_url": f"{self.base_url.rstrip('/')}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        _require(args, "files")
        files = _json_arg(args, "files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments", ["files must be a non-empty array"])
        thread_ts = args.get("thread_ts") or None
        channel_id = args.get("channel_id") or None
        if thread_ts and not channel_id:
            raise SlackError("invalid_arguments", ["thread_ts requires channel_id"])
        shared: list[dict[str, Any]] = []
        for f in files:
            upload = self.uploads.get(str(f.get("id"))) if isinstance(f, dict) else None
            if upload is None or upload["data"] is None:
                raise SlackError("file_not_found")
            data: bytes = upload["data"]
            mimetype = "image/png" if data.startswith(b"\x89PNG\r\n\x1a\n") else "application/octet-stream"
            shared.append(
                {
                    "id": f["id"],
                    "title": f.get("title") or upload["filename"],
                    "name": upload["filename"],
                    "mimetype": mimetype,
                    "size": len(data),
                }
            )
        if channel_id:
            channel = self._channel(channel_id)
            if thread_ts and not any(m.channel == channel and m.ts == thread_ts for m in self.messages):
                raise SlackError("thread_not_found")
            comment = str(args.get("initial_comment") or "")
            msg = Message(channel, self._ts(), comment, [], thread_ts, files=shared, team=self._team())
            self.messages.append(msg)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}
