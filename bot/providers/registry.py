"""The provider clients the services use, built lazily from Settings.

Lazy so that a bot configured for one provider runs without the other's credentials: a missing variable is
reported (MissingSetting, naming it) only when that provider is first used. One pacer is shared by all
clients, since its keys already carry provider, account and action.
"""

from __future__ import annotations

import httpx

from bot.config import Settings
from bot.providers.pacing import LocalPacer, Pacer
from bot.providers.retry import RetryPolicy
from bot.providers.signing_tencent import TencentCredentials
from bot.providers.signing_volcengine import VolcengineCredentials
from bot.providers.tencent_client import TencentClient
from bot.providers.tencent_models import HOSTS, Site
from bot.providers.volcengine_client import VolcengineClient


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
        self._pacer = pacer or LocalPacer.from_settings(settings)
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

    async def aclose(self) -> None:
        clients: list[VolcengineClient | TencentClient] = [*self._tencent.values()]
        if self._volcengine is not None:
            clients.append(self._volcengine)
        self._volcengine, self._tencent = None, {}
        for client in clients:
            await client.aclose()
