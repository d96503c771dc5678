"""/readyz: whether this replica can do its work now, part by part, each failing part named.

- **database**: a `SELECT 1`.
- **slack**: `auth.test` with the bot token (single workspace), or with the token of one installation chosen at
  random (several workspaces: each probe samples one, so a revoked installation shows within a few probes).
- **volcengine**, **tencent**: a cheap signed read (a Get / Describe of a task that cannot exist) for each
  provider whose credentials are configured: any answer that got past the provider's authentication is ready,
  an authentication refusal or no answer is not (`ProviderRegistry.credentials_problem`).
- **redis**: the shared pacer's health, when RTCOPS_REDIS_URL is set (`ProviderRegistry.pacer_health`).
- **outbox**: the oldest notice waiting for Slack is younger than RTCOPS_READY_OUTBOX_SECONDS.

Slack and the providers are asked at most once per `cache_seconds` (a load balancer probes every few seconds,
on every replica); the database and the outbox every time. /healthz stays the cheap liveness check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from bot import metrics
from bot.services import outbox
from bot.services.deps import Deps
from bot.slack_install import Workspaces

CHECK_SECONDS = 5
"""Longest any one part may take to answer before it counts as failing."""

Check = Callable[[], Awaitable[str | None]]


@dataclass
class Readiness:
    deps: Deps
    workspaces: Workspaces
    cache_seconds: float = 10.0
    _cached: dict[str, tuple[float, str | None]] = field(default_factory=dict)

    async def check(self) -> dict[str, str | None]:
        """Every part and its problem (None: ready), all asked at once."""
        parts: dict[str, Check] = {"database": self._database, "slack": self._cached_check("slack", self._slack)}
        for provider in self.deps.providers.configured():
            parts[provider] = self._cached_check(provider, self._provider(provider))
        if self.deps.settings.redis_url is not None and self.deps.settings.redis_url.get_secret_value():
            parts["redis"] = self._redis
        parts["outbox"] = self._outbox
        answers = await asyncio.gather(*(self._bounded(check) for check in parts.values()))
        found = dict(zip(parts, answers, strict=True))
        metrics.READY.set(0 if any(found.values()) else 1)
        return found

    async def database(self) -> str | None:
        """The database alone: what /healthz asks."""
        return await self._bounded(self._database)

    async def _bounded(self, check: Check) -> str | None:
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                return await check()
        except TimeoutError:
            return f"no answer within {CHECK_SECONDS:g} s"
        except Exception as exc:
            return f"check failed ({type(exc).__name__})"

    def _cached_check(self, name: str, check: Check) -> Check:
        async def cached() -> str | None:
            at, problem = self._cached.get(name, (float("-inf"), None))
            if time.monotonic() - at < self.cache_seconds:
                return problem
            problem = await self._bounded(check)
            self._cached[name] = (time.monotonic(), problem)
            return problem

        return cached

    async def _database(self) -> str | None:
        try:
            async with self.deps.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            return f"unreachable ({type(exc).__name__})"
        return None

    async def _slack(self) -> str | None:
        sample = await self.workspaces.sample()
        if sample is None:
            return None  # nothing installed yet: nothing to check, and /slack/install must stay reachable
        tenant, token = sample
        return await auth_problem(self.deps.settings.slack_api_url, token, tenant)

    def _provider(self, provider: str) -> Check:
        async def check() -> str | None:
            return await self.deps.providers.credentials_problem(provider)

        return check

    async def _redis(self) -> str | None:
        return self.deps.providers.pacer_health()

    async def _outbox(self) -> str | None:
        depth, age = await outbox.backlog(self.deps)
        limit = self.deps.settings.ready_outbox_seconds
        if depth and age > limit:
            return f"{depth} notices waiting; the oldest for {age:.0f} s (over {limit:g} s)"
        return None


async def auth_problem(api_url: str, token: str, who: str = "") -> str | None:
    """None when Slack takes the token (auth.test), else one line naming Slack's error (never the token)."""
    client = AsyncWebClient(token=token, base_url=api_url.rstrip("/") + "/", timeout=CHECK_SECONDS)
    where = f" for {who}" if who else ""
    try:
        await client.auth_test()
    except SlackApiError as exc:
        return f"auth.test{where} answered {exc.response.get('error') or exc.response.status_code}"
    except Exception as exc:
        return f"auth.test{where} got no answer ({type(exc).__name__})"
    return None


async def token_refused(api_url: str, token: str) -> str | None:
    """At start-up: Slack's error when it definitely refuses the token (wrong, revoked, deactivated), else None,
    also when Slack cannot be reached (the bot starts, and /readyz says so until it can)."""
    client = AsyncWebClient(token=token, base_url=api_url.rstrip("/") + "/", timeout=CHECK_SECONDS)
    try:
        await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in REFUSED_TOKEN:
            return error
    except Exception:
        return None
    return None


REFUSED_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type"}
)
"""auth.test errors that say the token itself is wrong."""
