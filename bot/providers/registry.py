"""The provider clients the services use, built lazily from Settings.

Lazy so that a bot configured for one provider runs without the other's credentials: a missing variable is
reported (MissingSetting, naming it) only when that provider is first used. One pacer is shared by all
clients, since its keys already carry provider, account and action; with RTCOPS_REDIS_URL it is the pacer shared
across replicas, whose state `pacer_health()` reports.
"""

from __future__ import annotations

import httpx

from bot.config import MissingSetting, Settings
from bot.providers.errors import ProviderError
from bot.providers.pacing import LanePacer, LocalPacer, ManagedPacer, Pacer, settings_rates
from bot.providers.retry import RetryPolicy
from bot.providers.signing_tencent import TencentCredentials
from bot.providers.signing_volcengine import VolcengineCredentials
from bot.providers.tencent_client import TencentClient
from bot.providers.tencent_models import HOSTS, Site
from bot.providers.volcengine_client import VolcengineClient

PROBE_ID = "rtcops-readyz-probe"
PROBE_SDK_APP_ID = 1400000000
AUTH_REFUSED = (
    "AuthFailure", "UnauthorizedOperation", "InvalidAccessKey", "SignatureDoesNotMatch", "MissingSignature",
    "MissingAuthenticationToken", "InvalidSecretToken", "InvalidAuthorization", "AccessDenied",
)  # fmt: skip
"""Codes (prefixes) by which Volcengine and Tencent Cloud refuse a caller's credentials or signature."""
NO_ANSWER = frozenset({"Timeout", "ConnectionFailed", "NetworkError", "MalformedResponse"})


def _secret_or_none(settings: Settings, field: str) -> str | None:
    value = getattr(settings, field)
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


class ProviderRegistry:
    def __init__(
        self,
        settings: Settings,
        *,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        # A pacer passed in belongs to the caller, who closes it; the one built here is closed by aclose().
        self._owned_pacer: ManagedPacer | None = None
        if pacer is None:
            pacer = self._owned_pacer = pacer_from_settings(settings)
        self._pacer: Pacer = pacer
        self._retry = retry or RetryPolicy.from_settings(settings)
        self._transport = transport
        self._volcengine: VolcengineClient | None = None
        self._tencent: dict[str, TencentClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, pacer: Pacer | None = None) -> ProviderRegistry:
        return cls(settings, pacer=pacer)

    @property
    def volcengine(self) -> VolcengineClient:
        if self._volcengine is None:
            s = self._settings
            credentials = VolcengineCredentials(
                access_key=s.require("volc_accesskey", "to call Volcengine"),
                secret_key=s.require("volc_secretkey", "to call Volcengine"),
                session_token=_secret_or_none(s, "volc_session_token"),
            )
            self._volcengine = VolcengineClient(
                s.volcengine_endpoint,
                s.volcengine_region,
                credentials,
                self._pacer,
                self._retry,
                s.provider_timeout_seconds,
                transport=self._transport,
            )
        return self._volcengine

    def tencent(self, site: Site | None = None) -> TencentClient:
        """The client for a site's host; RTCOPS_TENCENT_ENDPOINT, when set, replaces every site's host."""
        s = self._settings
        site = site or s.tencent_site
        client = self._tencent.get(site)
        if client is None:
            credentials = TencentCredentials(
                secret_id=s.require("tencentcloud_secret_id", "to call Tencent Cloud"),
                secret_key=s.require("tencentcloud_secret_key", "to call Tencent Cloud"),
                session_token=_secret_or_none(s, "tencentcloud_session_token"),
            )
            client = self._tencent[site] = TencentClient(
                s.tencent_endpoint or f"https://{HOSTS[site]}",
                credentials,
                self._pacer,
                self._retry,
                s.provider_timeout_seconds,
                site=site,
                default_region=s.tencentcloud_region,
                transport=self._transport,
            )
        return client

    def lane(self, name: str) -> ProviderRegistry:
        """Clients of their own whose calls are paced in lane `name` of this registry's pacer (see
        `bot.providers.pacing.settings_rates`): the watcher polls through one, so its reads use their share of
        each limit and never the share kept for changes. Close it with `aclose`; the pacer stays this one's."""
        return ProviderRegistry(self._settings, pacer=LanePacer(self._pacer, name), retry=self._retry, transport=self._transport)

    def configured(self) -> list[str]:
        """The providers whose credentials are set (the others are never called)."""
        s = self._settings
        found = []
        if s.volc_accesskey and _secret_or_none(s, "volc_secretkey"):
            found.append("volcengine")
        if s.tencentcloud_secret_id and _secret_or_none(s, "tencentcloud_secret_key"):
            found.append("tencent")
        return found

    async def credentials_problem(self, provider: str) -> str | None:
        """One signed read of a task that cannot exist (/readyz): None when the answer got past the provider's
        authentication (found or not, it proves the credentials), else one line with the provider's code."""
        try:
            if provider == "volcengine":
                await self.volcengine.get_push_mixed_stream_to_cdn_task(
                    {"AppId": PROBE_ID, "RoomId": PROBE_ID, "TaskId": PROBE_ID}
                )
            else:
                await self.tencent().describe_stream_ingest({"SdkAppId": PROBE_SDK_APP_ID, "TaskId": PROBE_ID})
        except MissingSetting as exc:
            return str(exc)
        except ProviderError as exc:
            if exc.http_status in (401, 403) or exc.code.startswith(AUTH_REFUSED):
                return f"credentials refused ({exc.code})"
            if exc.code in NO_ANSWER or (exc.http_status or 0) >= 500:
                return f"no usable answer ({exc.code})"
        return None

    def pacer_health(self) -> str | None:
        """None when pacing works as configured; otherwise one line for /readyz (e.g. the shared pacer fell back
        to a local share because Redis is unreachable). Calls keep being paced either way."""
        return self._pacer.health() if isinstance(self._pacer, ManagedPacer) else None

    async def aclose(self) -> None:
        clients: list[VolcengineClient | TencentClient] = [*self._tencent.values()]
        if self._volcengine is not None:
            clients.append(self._volcengine)
        self._volcengine, self._tencent = None, {}
        for client in clients:
            await client.aclose()
        if self._owned_pacer is not None:
            await self._owned_pacer.aclose()  # it starts again if the registry is used after this


def pacer_from_settings(settings: Settings) -> ManagedPacer:
    """The shared pacer when RTCOPS_REDIS_URL is set, else the local one. Redis and throttled-py are imported only
    then, so commands that never pace across replicas do not pay for them."""
    if settings.redis_url is None or not settings.redis_url.get_secret_value():
        return LocalPacer.from_settings(settings)
    from bot.providers.shared_pacing import RedisPacer

    return RedisPacer(settings.redis_url.get_secret_value(), settings_rates(settings))
