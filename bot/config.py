"""The one Settings class: every environment variable the bot reads is declared here and nowhere else.

Provider credentials keep the providers' own variable names (operators already export them for the
providers' CLIs), so those fields carry explicit aliases instead of the RTCOPS_ prefix.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSetting(Exception):
    """A setting a command needs is absent; the message names the variable and nothing else."""

    def __init__(self, variable: str, purpose: str) -> None:
        super().__init__(f"{variable} is not set: it is required {purpose}.")
        self.variable = variable


class InvalidSetting(MissingSetting):
    """A setting is present but unusable. It subclasses MissingSetting so that the CLI's one handler for
    settings problems reports it as a line, not a traceback. The message names the variable and the rule,
    never the value: the value may be a secret or a URL with a password in it."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        Exception.__init__(self, "; ".join(f"invalid setting {name}: {rule}" for name, rule in problems))
        self.variable = problems[0][0] if problems else ""
        self.problems = problems

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidSetting:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append((name, str(error["msg"]).removeprefix("Value error, ")))
        return cls(problems)


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    # Multi-workspace install (Bolt's OAuth flow) when both are set; SLACK_BOT_TOKEN is then not used.
    slack_client_id: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_CLIENT_SECRET"))
    slack_redirect_uri: str | None = Field(None, validation_alias=_env("SLACK_REDIRECT_URI"))
    # Fernet keys (comma-separated, newest first) that encrypt the bot tokens stored by the OAuth flow.
    token_keys: SecretStr | None = Field(None, validation_alias=_env("RTCOPS_TOKEN_KEYS"))

    # repr=False: a PostgreSQL URL may carry a password, and a Settings object can end up in a log line.
    database_url: str = Field("sqlite+aiosqlite:///./rtcops.db", validation_alias=_env("DATABASE_URL"), repr=False)
    admin_users: str = Field("", validation_alias=_env("RTCOPS_ADMIN_USERS"))
    notify_channel: str | None = Field(None, validation_alias=_env("RTCOPS_NOTIFY_CHANNEL"))
    request_ttl_minutes: int = Field(30, ge=1, le=24 * 60, validation_alias=_env("RTCOPS_REQUEST_TTL_MINUTES"))

    volc_accesskey: str | None = Field(None, validation_alias=_env("VOLC_ACCESSKEY"))
    volc_secretkey: SecretStr | None = Field(None, validation_alias=_env("VOLC_SECRETKEY"))
    volc_session_token: SecretStr | None = Field(None, validation_alias=_env("VOLC_SESSION_TOKEN"))
    volcengine_endpoint: str = Field(
        "https://rtc.volcengineapi.com", validation_alias=_env("RTCOPS_VOLCENGINE_ENDPOINT")
    )
    volcengine_region: str = Field("cn-north-1", validation_alias=_env("RTCOPS_VOLCENGINE_REGION"))

    tencentcloud_secret_id: str | None = Field(None, validation_alias=_env("TENCENTCLOUD_SECRET_ID"))
    tencentcloud_secret_key: SecretStr | None = Field(None, validation_alias=_env("TENCENTCLOUD_SECRET_KEY"))
    tencentcloud_session_token: SecretStr | None = Field(
        None, validation_alias=_env("TENCENTCLOUD_SESSION_TOKEN")
    )
    tencent_endpoint: str | None = Field(None, validation_alias=_env("RTCOPS_TENCENT_ENDPOINT"))
    tencentcloud_region: str = Field("ap-singapore", validation_alias=_env("TENCENTCLOUD_REGION"))
    tencent_site: Literal["intl", "china"] = Field("intl", validation_alias=_env("RTCOPS_TENCENT_SITE"))

    # Pacing, per provider account and action (requests per second); defaults are the documented limits.
    volcengine_update_qps: float = Field(150.0, gt=0, validation_alias=_env("RTCOPS_VOLCENGINE_UPDATE_QPS"))
    volcengine_get_qps: float = Field(60.0, gt=0, validation_alias=_env("RTCOPS_VOLCENGINE_GET_QPS"))
    tencent_qps: float = Field(20.0, gt=0, validation_alias=_env("RTCOPS_TENCENT_QPS"))
    provider_timeout_seconds: float = Field(10.0, gt=0, validation_alias=_env("RTCOPS_PROVIDER_TIMEOUT"))
    provider_max_attempts: int = Field(4, ge=1, le=10, validation_alias=_env("RTCOPS_PROVIDER_MAX_ATTEMPTS"))
    provider_deadline_seconds: float = Field(30.0, gt=0, validation_alias=_env("RTCOPS_PROVIDER_DEADLINE"))
    # Pacing shared by every replica (bot/providers/shared_pacing.py); unset: each process paces alone. A secret:
    # the URL may carry a password.
    redis_url: SecretStr | None = Field(None, validation_alias=_env("RTCOPS_REDIS_URL"))

    sweep_seconds: float = Field(30.0, gt=0, le=3600, validation_alias=_env("RTCOPS_SWEEP_SECONDS"))
    """How often `rtcops serve` looks for changes whose process died mid-apply (they are settled once older
    than any apply can take)."""

    # Watching live tasks (bot/services/watcher.py).
    watch_read_share: float = Field(0.5, ge=0, le=0.9, validation_alias=_env("RTCOPS_WATCH_READ_SHARE"))
    """The share of each read action's QPS limit (Get, Describe) that polling may use; the rest is kept for
    changes and commands, so polling can never starve them. 0 turns polling off (callbacks still count)."""
    watch_interval_seconds: float = Field(5.0, gt=0, le=3600, validation_alias=_env("RTCOPS_WATCH_INTERVAL"))
    """The shortest time between two polls of one task; with more tasks than the budget reads in this time,
    a round takes tasks / budget instead."""
    watch_reconnecting_seconds: float = Field(
        30.0, ge=0, le=3600, validation_alias=_env("RTCOPS_WATCH_RECONNECTING_SECONDS")
    )
    """How long a task may be reconnecting (or retrying its source) before that is an incident."""
    watch_flap_seconds: float = Field(600.0, ge=0, le=86_400, validation_alias=_env("RTCOPS_WATCH_FLAP_SECONDS"))
    """A task that goes bad again within this long after recovering reopens its incident instead of a new one."""
    tencent_callback_key: SecretStr | None = Field(None, validation_alias=_env("RTCOPS_TENCENT_CALLBACK_KEY"))
    """The key TRTC signs stream-ingest callbacks with (console: callback key); unset, callbacks are refused."""

    schedule_grace_seconds: float = Field(120.0, ge=0, le=3600, validation_alias=_env("RTCOPS_SCHEDULE_GRACE_SECONDS"))
    """How late a scheduled change or cue may still fire when rtcops was not running at its time; later, it is
    reported missed instead."""


    log_level: str = Field("INFO", validation_alias=_env("RTCOPS_LOG_LEVEL"))
    log_format: Literal["auto", "json", "text"] = Field("auto", validation_alias=_env("RTCOPS_LOG_FORMAT"))
    """auto: text on a terminal, one JSON object per line anywhere else."""

    lease_seconds: float = Field(10.0, ge=1, le=600, validation_alias=_env("RTCOPS_LEASE_SECONDS"))
    """With several replicas on PostgreSQL, each periodic job runs on the replica holding its lease; when that
    replica dies another takes over within this many seconds (bot/services/scheduler.py)."""
    ready_outbox_seconds: float = Field(300.0, gt=0, validation_alias=_env("RTCOPS_READY_OUTBOX_SECONDS"))
    """/readyz fails when the oldest notice waiting for Slack is older than this."""

    audit_webhook_url: str | None = Field(None, validation_alias=_env("RTCOPS_AUDIT_WEBHOOK"))
    audit_webhook_key: SecretStr | None = Field(None, validation_alias=_env("RTCOPS_AUDIT_WEBHOOK_KEY"))

    @field_validator("audit_webhook_url", "slack_redirect_uri", "slack_client_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("volcengine_endpoint", "tencent_endpoint", "slack_api_url", "audit_webhook_url", "slack_redirect_uri")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

    @property
    def oauth(self) -> bool:
        """Multi-workspace mode: installations come from Bolt's OAuth flow, not from SLACK_BOT_TOKEN."""
        secret = self.slack_client_secret.get_secret_value() if self.slack_client_secret else ""
        return bool(self.slack_client_id and secret)

    @property
    def slack_authorize_url(self) -> str:
        """Slack's authorize page beside its Web API: https://slack.com/api/ → https://slack.com/oauth/v2/authorize."""
        base = self.slack_api_url.rstrip("/")
        return base.removesuffix("/api") + "/oauth/v2/authorize"

    @property
    def admin_user_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.admin_users.replace(";", ",").split(",") if u.strip())

    def require(self, field: str, purpose: str) -> str:
        """Return a required setting's value or stop with one line naming its environment variable."""
        value = getattr(self, field)
        text = value.get_secret_value() if isinstance(value, SecretStr) else ("" if value is None else str(value))
        if not text.strip():
            alias = type(self).model_fields[field].validation_alias
            name = alias.choices[0] if isinstance(alias, AliasChoices) else field.upper()
            raise MissingSetting(str(name), purpose)
        return text


def load_settings() -> Settings:
    """Settings from the environment and .env, or InvalidSetting with one line per unusable variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSetting.from_validation(exc) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
