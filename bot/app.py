"""The running bot, wired in one place: the store, the services' Deps, the Bolt app with every surface (one
workspace's token, or Bolt's OAuth flow for several), the backlog of acknowledged work, and the periodic jobs
(applier, outbox, recovery sweep, audit webhook) on the scheduler that runs each on one replica at a time.

`rtcops serve`, `rtcops demo`, the tests and the benchmarks all start the bot through `start`, so they run the
same thing. This is the composition root: it alone imports both the handlers and the store.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.contextvars import get_contextvars

from bot import logs, metrics
from bot.config import Settings
from bot.domain import ChangeState
from bot.providers.registry import ProviderRegistry
from bot.readiness import Readiness, token_refused
from bot.services import outbox, vitals, watch
from bot.services.audit_webhook import AuditWebhook
from bot.services.deps import Deps
from bot.services.recovery import in_flight_limit, recover_applying
from bot.services.reminders import remind_due
from bot.services.scheduler import DatabaseLeases, Leases, NoLeases, Scheduler
from bot.services.schedules import run_due
from bot.services.watcher import Watcher
from bot.services.worker import Applier
from bot.slack_install import BOT_SCOPES, Installations, SingleWorkspace, Workspaces, oauth_state_store, tenant_of, token_box
from bot.store.engine import create_engine, session_factory
from bot.store.schema import ensure_current
from bot.targets.base import EventRefused
from handlers import actions, bulk_actions, commands, errors, home, incidents, show_actions, views
from handlers.backlog import Backlog
from handlers.context import BACKLOG, DEPS, GROUPS, GroupDirectory
from handlers.lifecycle import POLL_SECONDS as OUTBOX_POLL_SECONDS
from handlers.lifecycle import Deliverer

log = logging.getLogger("rtcops.app")
requests_log = logging.getLogger("rtcops.requests")
CLOCK_SECONDS = 1.0
"""How often schedules and reminders are looked at: a scheduled change fires within this of its time."""
SURFACES = (errors, commands, views, incidents, bulk_actions, show_actions, actions, home)
"""In this order: `actions` registers the catch-all for buttons rtcops does not know, so it comes after every
other surface with buttons."""


class CannotStart(RuntimeError):
    """The settings cannot work: `rtcops serve` stops with this one line."""


class SlackTokenRefused(CannotStart):
    """Slack refused SLACK_BOT_TOKEN at start-up (auth.test)."""


def use_settings(client: AsyncWebClient, settings: Settings) -> None:
    """Point Bolt's own Web API client at SLACK_API_URL and make it retry HTTP 429, honouring Retry-After.

    Bolt builds this client itself from `token=`; handing it one of ours instead makes Bolt warn on every
    start that the SLACK_BOT_TOKEN it reads from the environment is unused. Each request's client copies
    base_url and the retry handlers from it."""
    client.base_url = settings.slack_api_url.rstrip("/") + "/"
    client.retry_handlers = [BriefRateLimitRetry(max_retry_count=2)]


class BriefRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 only when Slack asks for a short wait: an answer to one person must not hold a backlog slot
    for 30 s (the outbox, which has its own client, waits out long ones without holding anything)."""

    LONGEST_SECONDS = 2.0

    async def _can_retry_async(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        value = headers.get("retry-after")
        value = value[0] if isinstance(value, list) and value else value
        try:
            return float(str(value)) <= self.LONGEST_SECONDS
        except ValueError:
            return False


def build_bolt(
    settings: Settings,
    deps: Deps,
    backlog: Backlog,
    *,
    socket_mode: bool = False,
    installations: Installations | None = None,
) -> AsyncApp:
    """The whole Slack app. Over HTTP every request's signature is verified (SLACK_SIGNING_SECRET); in
    Socket Mode Slack authenticates the connection instead, so no signing secret is needed.

    With `installations` (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set) it serves any number of workspaces:
    Bolt's OAuth flow stores each installation, and each request is answered with its workspace's token,
    found in the store (the result of its auth.test is cached per token, so a request costs no extra call).
    Otherwise it is one workspace's app, with SLACK_BOT_TOKEN.

    process_before_response: Bolt answers as soon as a listener returns, instead of polling every 10 ms for
    an ack() made in a task of its own. Listeners ack and hand everything else to the backlog, so they
    return at once."""
    secret = None if socket_mode else settings.require("slack_signing_secret", "to verify requests from Slack")
    if installations is not None:
        client_secret = settings.require("slack_client_secret", "for the install flow")
        oauth = AsyncOAuthSettings(
            client_id=installations.client_id,
            client_secret=client_secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=settings.slack_redirect_uri,
            installation_store=installations,
            state_store=oauth_state_store(installations.engine),
            install_page_rendering_enabled=False,  # /slack/install sends the browser straight to Slack
            authorization_url=settings.slack_authorize_url,
            logger=logging.getLogger("slack_bolt.oauth"),
        )
        oauth.authorize = AsyncInstallationStoreAuthorize(
            logger=logging.getLogger("slack_bolt.authorize"),
            installation_store=installations,
            client_id=installations.client_id,
            client_secret=client_secret,
            cache_enabled=True,
        )
        app = AsyncApp(
            signing_secret=secret,
            oauth_settings=oauth,
            request_verification_enabled=not socket_mode,
            process_before_response=True,
        )
        _forget_on_uninstall(app, installations)
    else:
        token = settings.require("slack_bot_token", "to run the Slack bot")
        app = AsyncApp(
            token=token, signing_secret=secret, request_verification_enabled=not socket_mode, process_before_response=True
        )
    use_settings(app.client, settings)
    directory = GroupDirectory()

    @app.middleware
    async def provide(context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context[DEPS] = deps
        context[GROUPS] = directory
        context[BACKLOG] = backlog
        kind, what = request_kind(body)
        tenant = tenant_of(context.enterprise_id, context.team_id, context.is_enterprise_install)
        request_id = get_contextvars().get("request_id") or uuid.uuid4().hex[:16]  # HTTP: set by bot.server
        fields = {"team": tenant, "user": context.user_id, "channel": context.channel_id, **what, "request_id": request_id}
        started, outcome = time.perf_counter(), "error"
        with logs.bound(**fields):
            try:
                with backlog.acknowledging():
                    await next()
                outcome = "ok"
            finally:
                elapsed = time.perf_counter() - started
                metrics.SLACK_REQUESTS.labels(kind, outcome).inc()
                metrics.SLACK_ACK_SECONDS.labels(kind).observe(elapsed)
                requests_log.info(
                    "slack %s %s in %.1f ms", kind, outcome, elapsed * 1000, extra={"kind": kind, "outcome": outcome}
                )

    for surface in SURFACES:
        surface.register(app)
    return app


_DECISION = re.compile(r"^(\d{1,12}):[0-9a-f]{8,64}$")


def request_kind(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(type, {command|action: what}) of a Slack request, for its log line and metrics: `command` with the slash
    command; an interaction's type with its action_id or callback_id (and the change a decision button is
    about); `event_callback` with the event type."""
    if body.get("command"):
        return "command", {"command": str(body["command"])}
    kind = str(body.get("type") or "unknown")[:40]
    actions_ = body.get("actions") or []
    if actions_ and isinstance(actions_[0], dict) and actions_[0].get("action_id"):
        found: dict[str, Any] = {"action": str(actions_[0]["action_id"])[:100]}
        value = _DECISION.match(str(actions_[0].get("value") or ""))
        if value:  # a button on a request message carries "<request id>:<payload hash>" (handlers/actions.py)
            found["change_id"] = int(value.group(1))
        return kind, found
    view = body.get("view") or {}
    if isinstance(view, dict) and view.get("callback_id"):
        return kind, {"action": str(view["callback_id"])[:100]}
    event = body.get("event") or {}
    if isinstance(event, dict) and event.get("type"):
        return kind, {"action": str(event["type"])[:100]}
    return kind, {}


def _forget_on_uninstall(app: AsyncApp, installations: Installations) -> None:
    """app_uninstalled and tokens_revoked delete the tokens of the workspace (or organisation) they come from.
    Bolt's own listeners would leave an org-wide install's rows (they match the workspace id) and, for revoked
    bot tokens, the installation rows it reads tokens from; these match rows by tenant (bot.slack_install)."""

    async def uninstalled(context: AsyncBoltContext, ack: Callable[[], Awaitable[None]]) -> None:
        await ack()
        tenant = tenant_of(context.enterprise_id, context.team_id, context.is_enterprise_install)
        if tenant:
            gone = await installations.forget(tenant, org=bool(context.is_enterprise_install))
            log.warning("rtcops was uninstalled from %s: %d stored token rows deleted", tenant, gone, extra={"team": tenant})

    async def revoked(context: AsyncBoltContext, event: dict[str, Any], ack: Callable[[], Awaitable[None]]) -> None:
        await ack()
        tenant = tenant_of(context.enterprise_id, context.team_id, context.is_enterprise_install)
        tokens = event.get("tokens") or {}
        if not tenant:
            return
        org = bool(context.is_enterprise_install)
        if tokens.get("bot"):
            gone = await installations.forget(tenant, org=org)
            log.warning("the bot token of %s was revoked: %d stored token rows deleted", tenant, gone, extra={"team": tenant})
        if tokens.get("oauth"):
            await installations.forget(tenant, org=org, bot=False, user_ids=[str(u) for u in tokens["oauth"]])

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)


@dataclass
class Bot:
    """Everything `start` built; `stop` takes it down in order."""

    settings: Settings
    engine: AsyncEngine
    deps: Deps
    app: AsyncApp
    backlog: Backlog
    applier: Applier
    deliverer: Deliverer
    scheduler: Scheduler
    workspaces: Workspaces
    readiness: Readiness
    webhook: AuditWebhook | None = None
    watcher: Watcher | None = None
    loops: list[asyncio.Task[None]] = field(default_factory=list)

    def start_loops(self) -> None:
        """The periodic jobs (applier, outbox, sweep, clock, audit webhook) on the scheduler, and the watcher (which
        holds its own polling lease and workers), until `stop`."""
        self.scheduler.start()
        if self.watcher is not None and not self.loops:
            self.loops = [asyncio.get_running_loop().create_task(self.watcher.run())]

    async def provider_events(self, provider: str, headers: Mapping[str, Sequence[str]], body: bytes) -> tuple[int, str]:
        """What `POST /providers/<provider>/events` answers (bot.server): 200 once the events are applied, else
        the status and a reason for the log (`bot.services.watch.receive`)."""
        try:
            applied = await watch.receive(self.deps, provider, headers, body)
        except EventRefused as refused:
            return refused.status, refused.reason
        return 200, f"{applied} event(s) applied"

    async def settled(self) -> bool:
        """Nothing acknowledged, approved, applying or to be said is left: what tests wait for."""
        if self.backlog.pending or self.applier.busy or self.deliverer.busy:
            return False
        await self.applier.start_approved()
        return not self.applier.busy and await outbox.quiet(self.deps)

    async def refresh_metrics(self) -> None:
        """The gauges read from the database, set before /metrics answers."""
        found = await vitals.read(self.deps)
        metrics.refresh(changes=found.changes, oldest_open=found.oldest_open, outbox=found.outbox, states=STATES)

    async def health(self) -> str | None:
        """Liveness: the database answers (cheap; /readyz checks the rest)."""
        return await self.readiness.database()


def make_deps(settings: Settings, engine: AsyncEngine, providers: ProviderRegistry | None = None) -> Deps:
    sessions = session_factory(engine, audit_feed=bool(settings.audit_webhook_url))
    return Deps(sessions=sessions, providers=providers or ProviderRegistry.from_settings(settings), settings=settings)


def make_workspaces(settings: Settings, engine: AsyncEngine) -> tuple[Workspaces, Installations | None]:
    """Several workspaces (OAuth) when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set, else SLACK_BOT_TOKEN's one."""
    if settings.oauth:
        installations = Installations(str(settings.slack_client_id), engine, token_box(settings))
        return installations, installations
    return SingleWorkspace(settings.require("slack_bot_token", "to run the Slack bot")), None


def make_leases(settings: Settings, engine: AsyncEngine, deps: Deps) -> Leases:
    """PostgreSQL: leases, for any number of replicas. SQLite is one replica's store: no lease needed."""
    if engine.dialect.name == "postgresql":
        return DatabaseLeases(deps.sessions, settings.lease_seconds)
    return NoLeases()


async def start(
    settings: Settings,
    *,
    socket_mode: bool = False,
    backlog: Backlog | None = None,
    providers: ProviderRegistry | None = None,
) -> Bot:
    """Everything before traffic: schema check (SchemaNotCurrent if behind), the Slack token (SlackTokenRefused
    if Slack says it is wrong), Deps, the Bolt app, and the recovery of what a crash left applying or approved,
    reported in Slack like any outcome. `providers`: a registry of the caller's (a benchmark timing the calls),
    closed by `stop` like the default one."""
    if socket_mode and settings.oauth:
        raise CannotStart("several workspaces (SLACK_CLIENT_ID) need HTTP mode: Slack has no install flow for Socket Mode apps")
    engine = create_engine(settings.database_url)
    try:
        await ensure_current(engine)
        workspaces, installations = make_workspaces(settings, engine)
        if installations is None:
            refused = await token_refused(settings.slack_api_url, settings.require("slack_bot_token", "to run the Slack bot"))
            if refused is not None:
                raise SlackTokenRefused(f"Slack refused SLACK_BOT_TOKEN: auth.test answered {refused}")
    except BaseException:
        await engine.dispose()
        raise
    deps = make_deps(settings, engine, providers)
    backlog = backlog or Backlog()
    app = build_bolt(settings, deps, backlog, socket_mode=socket_mode, installations=installations)
    deliverer = Deliverer(deps, workspaces.token_for)
    applier = Applier(deps)
    webhook = None
    if settings.audit_webhook_url:
        key = settings.require("audit_webhook_key", "to sign the audit webhook's posts (RTCOPS_AUDIT_WEBHOOK is set)")
        webhook = AuditWebhook(deps, settings.audit_webhook_url, key)
    scheduler = Scheduler(make_leases(settings, engine, deps))
    watcher = Watcher(deps, tick_seconds=min(1.0, settings.watch_interval_seconds))
    bot = Bot(
        settings, engine, deps, app, backlog, applier, deliverer, scheduler, workspaces, Readiness(deps, workspaces), webhook,
        watcher,
    )  # fmt: skip
    scheduler.add("applier", applier.poll_seconds, applier.start_approved, wake=deps.signals.apply)
    scheduler.add("outbox", OUTBOX_POLL_SECONDS, deliverer.deliver_due, wake=deps.signals.deliver)
    scheduler.add("sweep", settings.sweep_seconds, lambda: sweep_once(bot))
    scheduler.add("clock", CLOCK_SECONDS, lambda: on_the_clock(bot))
    if webhook is not None:
        scheduler.add("audit_webhook", WEBHOOK_POLL_SECONDS, webhook.deliver_due)
    await sweep_once(bot)
    return bot


WEBHOOK_POLL_SECONDS = 1.0
STATES = tuple(state.value for state in ChangeState)


async def sweep_once(bot: Bot) -> None:
    """Settle requests whose process died applying, once older than any apply can take: each is sent again to
    find out (approved ones nobody started are the applier's). Every move is conditional, so replicas sweeping
    together settle, and tell, each once; what they found is said in its thread through the outbox."""
    recovered = await recover_applying(bot.deps, older_than=in_flight_limit(bot.deps))
    for outcome in recovered:
        log.warning("recovered request #%s on %s: %s (%s)", outcome.request_id, outcome.alias, outcome.state, outcome.detail)


async def on_the_clock(bot: Bot) -> None:
    """Time-driven promises: schedules come due (fired, or said missed), and approvers reminded at half a
    request's lifetime. Both are conditional moves in the store, so replicas doing this together do it once."""
    await run_due(bot.deps)
    await remind_due(bot.deps)


async def stop(bot: Bot, drain_seconds: float = 30.0) -> None:
    """Acknowledged work and applies in flight finish before the store and clients close: a user who saw the
    ack gets an answer. Notices not yet delivered wait in the store for the next process; the leases are given
    up, so another replica takes the periodic jobs over at once."""
    try:
        async with asyncio.timeout(drain_seconds):
            await bot.backlog.drain()
            # what that work approved is applied here, whether or not the applier's job has woken to it yet
            await bot.applier.start_approved()
            await bot.applier.drain()
            await bot.deliverer.drain()
            while await bot.deliverer.deliver_due():  # what those applies wrote: said now, not by the next process
                await bot.deliverer.drain()
    except TimeoutError:
        log.error("stopped with work unfinished; it is in the store, and the next process picks it up")
    await bot.scheduler.stop()
    for loop in bot.loops:
        loop.cancel()
    await asyncio.gather(*bot.loops, return_exceptions=True)
    if bot.webhook is not None:
        await bot.webhook.aclose()
    await bot.deps.providers.aclose()
    await bot.engine.dispose()
